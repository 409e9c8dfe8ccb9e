#!/usr/bin/env bash
# tags: lab threads
# timeout: 200
# pindns serve sends unclaimed queries to the nameservers of
# system_resolv_conf as glibc's stub does (resolver/resp_stub.c), the
# lab's plain resolver second behind a first one that fails:
#  - nothing listening on the first (port unreachable): the second
#    answers, at once;
#  - a first that never answers, options timeout:1: the second answers
#    after about a second (the first was asked first);
#  - a first that answers SERVFAIL or REFUSED: the second's reply;
#    only failing ones: the last failure byte for byte;
#  - attempts:1 timeout:1 and only a silent one: SERVFAIL after ~1 s, not
#    glibc's default 5 s; rotate: both servers used, without: the first;
#  - TCP: the first that takes a connection;
#  - the loop check covers every nameserver, not only the first.
# Each reply equals the system resolver's (byte for byte: kdig's view
# without the ID).
. "$(dirname "$0")/../lib.sh"
lab_env
PY=/usr/bin/python3
PINDNS=$BUILD/pindns
require kdig "$PY" "$PINDNS"
"$PY" -c 'import dns.message' || { not_ok "python3-dnspython installed"; exit 1; }
[ "$PINDNS_SAN" = asan ] &&
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

U=www.plain.lab.test
POL=$PD_TMP/policy.yaml
UP=$PD_TMP/upstream.conf
sed '/^rules:/,$d' "$LAB_POLICY" >"$POL"
echo "system_resolv_conf: $UP" >>"$POL"
sed -n '/^rules:/,$p' "$LAB_POLICY" >>"$POL"
check "the test policy is valid" "$PINDNS" check "$POL"

rnd() { echo "127.$((RANDOM % 200 + 20)).$1.$((RANDOM % 250 + 2))"; }

# A fake nameserver on ADDR:53: MODE silent, servfail, refused or
# answer:IP (an A record); each query it gets is a line in FILE.
NS=$PD_TMP/ns.py
cat >"$NS" <<'EOF'
import socket, sys, threading
import dns.message, dns.rcode, dns.rrset
addr, mode, log, ready = sys.argv[1:5]
def reply(wire):
    q = dns.message.from_wire(wire)
    r = dns.message.make_response(q)
    if mode == "servfail":
        r.set_rcode(dns.rcode.SERVFAIL)
    elif mode == "refused":
        r.set_rcode(dns.rcode.REFUSED)
    elif mode.startswith("answer:"):
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN",
                                            "A", mode[7:]))
    return r.to_wire()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((addr, 53))
open(ready, "w").close()
while True:
    wire, peer = u.recvfrom(65535)
    with open(log, "a") as f:
        f.write("q\n")
    if mode != "silent":
        u.sendto(reply(wire), peer)
EOF
# fake NAME MODE: the address in $FAKE, started and waited for.
fake() {
	local i
	for i in 1 2 3 4 5 6 7 8; do
		FAKE=$(rnd 54)
		rm -f "$PD_TMP/$1.ready"
		"$PY" "$NS" "$FAKE" "$2" "$PD_TMP/$1.log" "$PD_TMP/$1.ready" \
			2>"$PD_TMP/$1.err" &
		local pid=$!
		pd_cleanup "kill $pid"
		wait_for 10 test -f "$PD_TMP/$1.ready" && return 0
		kill "$pid" 2>/dev/null
	done
	return 1
}
queries() { [ -f "$PD_TMP/$1.log" ] && wc -l <"$PD_TMP/$1.log" || echo 0; }

# serve NAME: pindns serve with $UP on a free loopback :53, in $S.
SPID=
serve() {
	local i
	[ -n "$SPID" ] && kill "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
	for i in 1 2 3 4 5 6 7 8; do
		S=$(rnd 53)
		"$PINDNS" serve -p "$POL" -l "$S" 2>"$PD_TMP/$1.err" &
		SPID=$!
		pd_cleanup "kill $SPID"
		wait_for 20 grep -q "listening on" "$PD_TMP/$1.err" && return 0
		kill "$SPID" 2>/dev/null
	done
	return 1
}
strip() { sed 's/id: [0-9]*//'; }
want() { kdig @"$LAB_POISON_ADDR" +timeout=3 +noall +answer +authority +header "$@" 2>&1 | strip; }
got() { kdig @"$S" +timeout=8 +retry=0 +noall +answer +authority +header "$@" 2>&1 | strip; }
elapsed() { t0=$(date +%s%N); OUT=$(got "$@"); MS=$((($(date +%s%N) - t0) / 1000000)); }

W=$(want $U A)
check_match "control: the plain resolver answers $U" "NOERROR" "$W"

# ------------------------------------------------ a dead first
DEAD=$(rnd 55)
printf 'nameserver %s\nnameserver %s\n' "$DEAD" "$LAB_POISON_ADDR" >"$UP"
serve dead || { not_ok "pindns serve starts" "$(cat "$PD_TMP/dead.err")"; exit 1; }
elapsed $U A
check_eq "nothing on the first: the second's reply" "$W" "$OUT"
check "nothing on the first: at once ($MS ms < 1000)" test "$MS" -lt 1000
check_eq "nothing on the first: NXDOMAIN as the second says" \
	"$(want nx.plain.lab.test AAAA)" "$(got nx.plain.lab.test AAAA)"
check_eq "TCP, nothing on the first: the second's reply" "$W" "$(got +tcp $U A)"

# ------------------------------------------------ a silent first
fake silent silent || { not_ok "a silent nameserver starts"; exit 1; }
SILENT=$FAKE
printf 'options timeout:1\nnameserver %s\nnameserver %s\n' "$SILENT" \
	"$LAB_POISON_ADDR" >"$UP"
serve silent || { not_ok "pindns serve starts" "$(cat "$PD_TMP/silent.err")"; exit 1; }
elapsed $U A
check_eq "a silent first (timeout:1): the second's reply" "$W" "$OUT"
check "a silent first: after its timeout ($MS ms in 900..3000)" \
	test "$MS" -ge 900 -a "$MS" -lt 3000
check "a silent first: asked first" test "$(queries silent)" -ge 1

printf 'options timeout:1 attempts:1\nnameserver %s\n' "$SILENT" >"$UP"
serve silent1 || { not_ok "pindns serve starts" "$(cat "$PD_TMP/silent1.err")"; exit 1; }
elapsed $U A
check_match "only a silent one: SERVFAIL from us, never silence" "status: SERVFAIL" "$OUT"
check "only a silent one, timeout:1 attempts:1: within 2.5 s ($MS ms)" test "$MS" -lt 2500

# ------------------------------------------------ SERVFAIL and REFUSED
for mode in servfail refused; do
	fake "$mode" "$mode" || { not_ok "a $mode nameserver starts"; exit 1; }
	eval "F_$mode=$FAKE"
	printf 'nameserver %s\nnameserver %s\n' "$FAKE" "$LAB_POISON_ADDR" >"$UP"
	serve "s$mode" || { not_ok "pindns serve starts" "$(cat "$PD_TMP/s$mode.err")"; exit 1; }
	elapsed $U A
	check_eq "a first that says $mode: the second's reply" "$W" "$OUT"
	check "a first that says $mode: at once ($MS ms < 1000)" test "$MS" -lt 1000
	check "a first that says $mode: asked first" test "$(queries "$mode")" -ge 1
done
# shellcheck disable=SC2154
printf 'options attempts:1\nnameserver %s\nnameserver %s\n' "$F_servfail" "$F_refused" >"$UP"
serve allbad || { not_ok "pindns serve starts" "$(cat "$PD_TMP/allbad.err")"; exit 1; }
check_eq "only failing ones: the last one's reply as it sent it" \
	"$(kdig @"$F_refused" +timeout=3 +noall +answer +authority +header $U A 2>&1 | strip)" \
	"$(got $U A)"

# ------------------------------------------------ rotate
fake one answer:127.0.77.1 || { not_ok "nameserver one starts"; exit 1; }
ONE=$FAKE
fake two answer:127.0.77.2 || { not_ok "nameserver two starts"; exit 1; }
TWO=$FAKE
printf 'nameserver %s\nnameserver %s\n' "$ONE" "$TWO" >"$UP"
serve norot || { not_ok "pindns serve starts" "$(cat "$PD_TMP/norot.err")"; exit 1; }
a=$(for i in 1 2 3 4 5 6; do kdig @"$S" +timeout=3 +retry=0 +short $U A; done | sort -u | tr '\n' ' ')
check_eq "without rotate: always the first" "127.0.77.1 " "$a"
printf 'options rotate\nnameserver %s\nnameserver %s\n' "$ONE" "$TWO" >"$UP"
serve rot || { not_ok "pindns serve starts" "$(cat "$PD_TMP/rot.err")"; exit 1; }
a=$(for i in 1 2 3 4 5 6; do kdig @"$S" +timeout=3 +retry=0 +short $U A; done | sort -u | tr '\n' ' ')
check_eq "rotate: both, in turn" "127.0.77.1 127.0.77.2 " "$a"

# ------------------------------------------------ the loop check
kill "$SPID" 2>/dev/null
wait "$SPID" 2>/dev/null
SPID=
ME=$(rnd 53)
printf 'nameserver %s\nnameserver %s\n' "$LAB_POISON_ADDR" "$ME" >"$UP"
out=$("$PINDNS" serve -p "$POL" -l "$ME" 2>&1)
check_match "a second nameserver that is its own address: refused at start" \
	"one of our own listen addresses.*loop" "$out"
check_nomatch "no sanitizer report from any daemon" \
	"ERROR: AddressSanitizer|WARNING: ThreadSanitizer|runtime error:" \
	"$(cat "$PD_TMP"/*.err)"
