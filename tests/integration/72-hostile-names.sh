#!/usr/bin/env bash
# 1,000 distinct hostile names through a protected rule and its cache, in
# one process under the preload: names of the maximum length (253), with
# the maximum number of labels, with every byte value getaddrinfo takes
# (1..255) inside a label, and 63-octet labels of random bytes. Each gets
# an answer (any code) within timeout_ms, the process survives, memory
# stays bounded (cache max_entries 100) and a cache hit is no slower
# after the flood than before it.
# tags: lab threads
# timeout: 180
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
G=$BUILD/tools/hd_gai
require "$G" "$BUILD/libpindns.so" /usr/bin/python3
lab_env
N=dynamodb.us-east-1.amazonaws.com
# Every hostile name falls under **.hd.amazonaws.com, which the lab zone
# does not hold: the upstream answers NXDOMAIN, cached negatively.
hd_policy "$PD_TMP/p.yaml" ENTRIES=100 LOG="$PD_TMP/h.log" RULES='  - name: hostile
    match: ["**.hd.amazonaws.com"]
    action: secure
    dnssec: validate
    pin: [127.0.10.0/24]'

/usr/bin/python3 - "$PD_TMP/names" <<'PY'
import random, sys
random.seed(8)
Z = ".hd.amazonaws.com"
out = []
def fill(prefix_labels):
    return ".".join(prefix_labels) + Z
# 250 names of exactly 253 characters: 63-character labels, the last
# label shortened to fit.
for i in range(250):
    room = 253 - len(Z)
    labels = []
    while room > 0:
        n = min(63, room - (1 if labels else 0))
        if labels:
            room -= 1
        if n <= 0:
            break
        labels.append(("%03d" % i + "x" * 63)[:n])
        room -= n
    out.append(fill(labels).encode())
# 250 names with the most labels: one-character labels up to 253.
for i in range(250):
    labels = ["%d" % (i % 10)] + [chr(97 + (i // 10 + k) % 26)
                                   for k in range(200)]
    name = fill(labels)
    while len(name) > 253:
        labels.pop()
        name = fill(labels)
    out.append(name.encode())
# Every byte value 1..255 except '.' inside a label (the dot would split
# it), as raw bytes: 254 names.
for b in range(1, 256):
    if b == 0x2e:
        continue
    out.append(b"b%02x" % b + bytes([b]) + b"z" + Z.encode())
# The rest: 63-octet labels of random bytes (no NUL, no dot).
while len(out) < 1000:
    lab = bytes(random.choice([x for x in range(1, 256) if x != 0x2e])
                for _ in range(63))
    out.append(b"r%d." % len(out) + lab + Z.encode())
assert len(set(out)) == 1000
with open(sys.argv[1], "wb") as f:
    f.write(b"\0".join(out) + b"\0")
PY
check_eq "1000 distinct hostile names generated" 1000 \
	"$(tr -cd '\0' <"$PD_TMP/names" | wc -c)"

{
	printf '%s\0' "$N" "!bench $N 3000" "!rss"
	cat "$PD_TMP/names"
	printf '%s\0' "!rss" "!bench $N 3000" "$N"
} >"$PD_TMP/input"
np0=$(grep -c 'hd\.amazonaws\.com' "$LAB_POISON_LOG")
t0=$(date +%s)
hd_run "$PD_TMP/p.yaml" "$G" -0 <"$PD_TMP/input" >"$PD_TMP/out" 2>"$PD_TMP/err"
rc=$?
dt=$(($(date +%s) - t0))
check_eq "the process survived 1000 hostile names (exit 0, ${dt}s)" 0 "$rc"
n=$(grep -ac ' rc=' "$PD_TMP/out")
check_eq "every name got an answer line" 1002 "$n"
slow=$(grep -a ' rc=' "$PD_TMP/out" | sed -n 's/.* ms=\([0-9]*\)\..*/\1/p' |
	awk '$1 > 2500' | wc -l)
check_eq "none waited past timeout_ms + noise (2500 ms)" 0 "$slow"
acc=$(grep -a '\.hd\.amazonaws\.com rc=0 ' "$PD_TMP/out" | head -n 3)
check_eq "no hostile name was answered with an address" "" "$acc"
codes=$(grep -a ' rc=' "$PD_TMP/out" | sed 's/.* rc=\([A-Z_0-9]*\) .*/\1/' |
	sort | uniq -c | tr -s ' \n' ' ')
ok "result codes: $codes"
# Names the policy's normaliser takes (the LDH ones) are the rule's and
# reach the cache and the upstream; a name it cannot normalise goes to
# the default rule (system), where glibc refuses it without sending a
# query. Either way no hostile name may leave over plain DNS.
ne=$(grep -c '"rule":"hostile"' "$PD_TMP/h.log")
if [ "$ne" -ge 500 ]; then
	ok "$ne of the names went through the rule and its cache (>= 500)"
else
	not_ok "the LDH names went through the rule and its cache" \
		"expected: >= 500 audit lines for rule hostile" "got: $ne"
fi
check_eq "no hostile name was asked over plain DNS (poisoner's log)" \
	"$np0" "$(grep -c 'hd\.amazonaws\.com' "$LAB_POISON_LOG")"
check_nomatch "no sanitizer report" 'AddressSanitizer|runtime error' \
	"$(cat "$PD_TMP/err")"

b=($(sed -n 's/^bench .* median_us \([0-9.]*\) p99_us \([0-9.]*\) wrong \([0-9]*\)/\1 \2 \3/p' "$PD_TMP/out"))
r=($(sed -n 's/^rss_kb \([0-9]*\) fds \([0-9]*\)/\1 \2/p' "$PD_TMP/out"))
if [ ${#b[@]} -eq 6 ] && [ ${#r[@]} -eq 4 ]; then
	ok "figures: hit median ${b[0]} us before, ${b[3]} us after; p99 ${b[1]} -> ${b[4]} us; RSS ${r[0]} -> ${r[2]} kB; fds ${r[1]} -> ${r[3]}"
	check_eq "cache hits right before and after (0 wrong)" "0 0" "${b[2]} ${b[5]}"
	awk -v a="${b[0]}" -v c="${b[3]}" 'BEGIN { exit !(c <= 2 * a + 20) }' &&
		ok "hits not slowed: median ${b[3]} us <= 2 x ${b[0]} + 20 us" ||
		not_ok "hits not slowed by the flood" \
			"expected: median <= 2 x ${b[0]} + 20 us" "got: ${b[3]} us"
	g=$((r[2] - r[0]))
	[ "$g" -le "$(hd_rss_bound 16384)" ] && ok "memory bounded: RSS grew $g kB (<= 16 MiB)" ||
		not_ok "memory bounded" "expected: RSS growth <= 16384 kB" "got: $g kB"
	[ $((r[3] - r[1])) -le 4 ] && ok "descriptors flat (${r[1]} -> ${r[3]})" ||
		not_ok "descriptors flat" "got: ${r[1]} -> ${r[3]}"
else
	not_ok "bench and rss figures printed" "got: $(grep -a '^bench\|^rss' "$PD_TMP/out")"
fi
check_match "the protected name still resolves after the flood" \
	"^$N rc=0 .* addrs=127\.0\.10\.1\$" "$(tail -n 1 "$PD_TMP/out")"
