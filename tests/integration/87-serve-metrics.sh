#!/usr/bin/env bash
# pindns serve --metrics-file (issue 14 part 5): a known mix of queries
# (kdig, UDP and TCP) against serve on the lab; the file parses as
# Prometheus text format, its counts match the mix, it is replaced whole
# (rename), and `pindns stats` reads it and serve's record alike.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
lab_env
require kdig /usr/bin/python3 "$BUILD/pindns"
PD="$BUILD/pindns"
N=dynamodb.us-east-1.amazonaws.com
P=$PD_TMP/serve.yaml
# The lab policy, plus a static and a deny rule (no network for those).
/usr/bin/python3 - "$LAB_POLICY" >"$P" <<'PY'
import sys
t = open(sys.argv[1]).read()
t = t.replace("rules:\n", """rules:
  - name: st
    match: [a.static.test]
    action: static
    addresses: [192.0.2.1]
  - name: dn
    match: [d.static.test]
    action: deny
""", 1)
sys.stdout.write(t)
PY
check "the serve policy loads" "$PD" check "$P"
M=$PD_TMP/metrics/pindns.prom
mkdir -p "$PD_TMP/metrics"
out=$("$PD" serve -p "$P" --metrics-interval 1 2>&1); rc=$?
check_eq "--metrics-interval without --metrics-file: usage error" 1 "$rc"
out=$("$PD" serve -p "$P" --metrics-file "$M" --metrics-interval 0 2>&1); rc=$?
check_eq "--metrics-interval 0: usage error" 1 "$rc"

serve_start() {
	"$PD" serve -p "$P" -l "127.0.0.1@$PORT" -u root --metrics-file "$M" \
		--metrics-interval 1 >"$PD_TMP/serve.log" 2>&1 &
	PD_PID=$!
}
serve_up() { grep -q "listening on" "$PD_TMP/serve.log"; }
serve_taken() { grep -q "Address already in use" "$PD_TMP/serve.log"; }
pd_start_on_free_port 20 0 serve_start serve_up serve_taken ||
	not_ok "serve started" "$(cat "$PD_TMP/serve.log")"
SRV=$PD_PID
check "the metrics file is written at start" wait_for 10 test -s "$M"

k() { kdig +time=5 +retry=0 @127.0.0.1 -p "$PORT" "$@"; }
# The mix: 3 UDP A of the secure name (1 miss, 2 hits), 2 static, 1 deny,
# 1 TCP AAAA of the static name (nodata), 1 TXT of a claimed name.
for i in 1 2 3; do k +short "$N" A >/dev/null; done
k +short a.static.test A >/dev/null
k +short a.static.test A >/dev/null
k d.static.test A >/dev/null
k +tcp a.static.test AAAA >/dev/null
k "$N" TXT >/dev/null

v() {	# the value of one sample of the file
	/usr/bin/python3 - "$M" "$1" <<'PY'
import sys
for l in open(sys.argv[1]):
    if l.startswith(sys.argv[2] + " "):
        print(l.split()[1].split(".")[0])
PY
}
answers_are() { test "$(v pindns_answer_duration_seconds_count)" = "$1"; }
check "the file counts the 8 queries within a few seconds" \
	wait_for 10 answers_are 8

check "the metrics file parses as Prometheus text format" \
	/usr/bin/python3 - "$M" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"'
sample = re.compile(r'^(%s)(\{(?:%s)(?:,%s)*\})? (-?[0-9.eE+-]+|\+Inf|NaN)$' % (name, lab, lab))
types, seen = {}, set()
for l in open(sys.argv[1]).read().splitlines():
    if l.startswith("# TYPE "):
        _, _, n, t = l.split(" ")
        assert t in ("counter", "gauge", "histogram"), l
        assert n not in types, "TYPE twice: " + n
        types[n] = t
        continue
    if l.startswith("# HELP ") or not l:
        continue
    m = sample.match(l)
    assert m, "not a sample: " + l
    base = re.sub(r'_(bucket|sum|count)$', '', m.group(1))
    assert m.group(1) in types or base in types, "no TYPE: " + l
    if types.get(m.group(1)) == "counter":
        assert m.group(1).endswith("_total"), l
    seen.add(m.group(1))
b = [l for l in open(sys.argv[1]) if "_bucket{" in l]
vals = [float(l.split()[-1]) for l in b]
assert vals == sorted(vals) and 'le="+Inf"' in b[-1], "buckets"
assert "pindns_queries_total" in seen
PY
L='pindns_lookups_total{verdict='
c() { grep -F "$1" "$M" | awk '{print $2}'; }
check_eq "accepted: 3 secure + 2 static" 5 "$(c "${L}\"accepted\",reason=\"\"}")"
check_eq "refused deny-rule: 1" 1 "$(c "${L}\"refused\",reason=\"deny-rule\"}")"
check_eq "refused other-type: 1" 1 "$(c "${L}\"refused\",reason=\"other-type\"}")"
check_eq "absent nodata: 1 (the static name has no AAAA)" 1 \
	"$(c "${L}\"absent\",reason=\"nodata\"}")"
check_eq "cache misses: 1 (the first secure lookup)" 1 "$(v pindns_cache_misses_total)"
check_eq "cache hits: 2" 2 "$(v pindns_cache_hits_total)"
check_eq "queries over UDP answered: 7" 7 \
	"$(c 'pindns_queries_total{transport="udp",action="answered"}')"
check_eq "queries over TCP answered: 1" 1 \
	"$(c 'pindns_queries_total{transport="tcp",action="answered"}')"
check_eq "upstream failures: 0" 0 "$(v pindns_upstream_failures_total)"
check_match "the policy in force, with its sha256" \
	"^pindns_policy_info\{path=\"$P\",sha256=\"$(sha256sum "$P" | cut -d' ' -f1)\",key_id=\"\"\} 1$" \
	"$(cat "$M")"
check "no temporary file left beside it" \
	test "$(ls "$PD_TMP/metrics")" = pindns.prom

out=$("$PD" stats "$M"); rc=$?
check_eq "stats FILE: exit 0" 0 "$rc"
check_match "stats FILE: lookups" "^lookups: +8$" "$out"
check_match "stats FILE: refusals by reason" "^  refused +2 +deny-rule 1 +other-type 1$" "$out"
check_match "stats FILE: cache" "^cache: +2 hits, 1 misses" "$out"
check_match "stats FILE: queries" "^  udp +7: answered 7, forwarded 0, refused 0$" "$out"
check_match "stats FILE: latency" "^answer latency: +8 answers, mean" "$out"
out=$("$PD" stats "$SRV"); rc=$?
check_eq "stats PID of serve (its record): exit 0" 0 "$rc"
check_match "... the same lookups" "^lookups: +8$" "$out"
printf 'not metrics at all {\n' >"$PD_TMP/bad.prom"
out=$("$PD" stats "$PD_TMP/bad.prom" 2>&1); rc=$?
check_eq "stats of a file that is not the format: exit 1" 1 "$rc"
check_match "... says where" "bad.prom:1: not Prometheus text format" "$out"

kill -TERM "$SRV"
wait "$SRV"
check_eq "serve stops with 0 on SIGTERM" 0 "$?"
check "serve's record is removed when it stops" \
	test ! -e "$PINDNS_RUNTIME_DIR/$SRV"
