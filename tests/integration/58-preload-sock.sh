#!/usr/bin/env bash
# tags: lab preload
# timeout: 300
# Programs that send DNS themselves (SPEC §4.1, last row) in the lab's
# poisoned namespace, under the lab policy:
#  - control: without pindns each client gets the poisoner's address;
#  - claimed names, with pindns: the lab's true address for aiodns,
#    pycares, dnspython (UDP, TCP, a resolver falling back to TCP after a
#    TC reply), Node's dns.resolve4/resolve6 and a dns.Resolver with
#    setServers, aiohttp's AsyncResolver POSTing to the DynamoDB
#    stand-in, and a C client over connect+send, sendto, sendmsg,
#    sendmmsg/recvmmsg, an AF_INET6 socket and TCP, each seeing the reply
#    come from the server it asked (recvfrom/recvmsg/recvmmsg and
#    getpeername report it);
#  - unclaimed names: the same reply bytes with and without pindns;
#  - refusals: REFUSED with an RFC 8914 EDE (outside the pins, deny rule,
#    other type), SERVFAIL with one when every upstream times out, in the
#    audit log; a `system` rule with pins holds the server's reply;
#  - fork (the inherited socket, a new one, a child whose parent is gone)
#    and exec (no descriptor of the responder crosses it);
#  - no responder (descriptors exhausted, engine unloadable): a claimed
#    question fails to send, never reaches the poisoner.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
PROBE=$BUILD/tools/sock-probe
CLIENTS=$TOP/tests/tools/dns_clients.py
JS=$TOP/tests/tools/dns_clients.js
NODE=/usr/bin/node
require unshare diff "$PROBE" "$BUILD/libpindns.so" "$PY" "$NODE" \
	"$TOP/tests/lab/poisoned" "$BUILD/tools/dgramcount.so"
"$PY" -c 'import aiodns, pycares, aiohttp, dns.resolver' ||
	{ not_ok "python3-aiodns, -pycares, -aiohttp, -dnspython installed"; exit 1; }

PRE=$(pd_preload_value)
POL=$PD_TMP/policy.yaml
AUDIT=$PD_TMP/audit.log
# The lab policy with its own audit log, the lab's IPv6 range in the
# pins, a deny rule and a static rule too long for a 512-byte UDP reply.
{
	sed -e "s|^  target: .*|  target: file:$AUDIT|" "$LAB_POLICY" |
		sed '/^rules:/q'
	echo "  - name: denied"
	echo "    match: [dynamodb.me-south-1.amazonaws.com]"
	echo "    action: deny"
	echo "  - name: big"
	echo "    match: [big.static.test]"
	echo "    action: static"
	printf '    addresses: ['
	for i in $(seq 1 60); do printf '"127.0.30.%d"%s' "$i" "$([ "$i" = 60 ] || echo ,)"; done
	echo ']'
	sed -n '/^rules:/,$p' "$LAB_POLICY" | tail -n +2 |
		sed 's|^      - 127.0.10.0/24$|&\n      - "2001:db8:10::/48"|'
} >"$POL"
check "the test policy is valid" "$BUILD/pindns" check "$POL"
export PINDNS_POLICY=$POL
unset PINDNS_PUBKEY PINDNS_LOG

poisoned() { "$TOP/tests/lab/poisoned" "$LAB_STATE" -- "$@"; }
pre() {
	case "$PINDNS_SAN" in
	asan) poisoned env \
		ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		LD_PRELOAD="$PRE" "$@" ;;
	*) poisoned env LD_PRELOAD="$PRE" "$@" ;;
	esac
}
S=$LAB_POISON_ADDR
N=dynamodb.us-east-1.amazonaws.com
E6=dynamodb.eu-north-1.amazonaws.com	# AAAA only, 2001:db8:10::6
T=127.0.10.1
POISON=127.0.66.6

# ------------------------------------------------ control: the attack is live
for m in aiodns pycares udp tcp resolver; do
	check_match "control $m: without pindns the poisoner's address" \
		"^$N A (NOERROR )?$POISON" "$(poisoned "$PY" "$CLIENTS" $m "$S" $N 2>&1)"
done
out=$(poisoned "$NODE" "$JS" "$S" $N 2>&1)
check_eq "control node: every call gets the poisoner's address" 2 \
	"$(grep -c "resolve4 $POISON$" <<<"$out")"
out=$(poisoned "$PROBE" sendto "$S" $N 2>&1)
check_match "control C client: the poisoner's address" "IN A[[:space:]]+$POISON" "$out"

# ------------------------------------------------ claimed names, every client
mark=$(grep -c . "$LAB_POISON_LOG")
out=$(pre "$PY" "$CLIENTS" aiodns "$S" $N $E6 2>&1)
check_eq "aiodns: the lab's addresses (A, NODATA, AAAA-only name)" \
"$N A $T
$N AAAA error 1
$E6 A error 1
$E6 AAAA 2001:db8:10::6" "$out"
out=$(pre "$PY" "$CLIENTS" aiodns - $N 2>&1)
check_eq "aiodns on resolv.conf's server" "$N A $T
$N AAAA error 1" "$out"
out=$(pre "$PY" "$CLIENTS" pycares "$S" $N $E6 2>&1)
check_eq "pycares: the lab's addresses" \
"$N A $T
$N AAAA error 1
$E6 A error 1
$E6 AAAA 2001:db8:10::6" "$out"
check_eq "dnspython over UDP" "$N A NOERROR $T " \
	"$(pre "$PY" "$CLIENTS" udp "$S" $N 2>&1)"
check_eq "dnspython over TCP" "$N A NOERROR $T " \
	"$(pre "$PY" "$CLIENTS" tcp "$S" $N 2>&1)"
check_eq "dnspython's Resolver" "$N A $T" \
	"$(pre "$PY" "$CLIENTS" resolver "$S" $N 2>&1)"
out=$(pre "$NODE" "$JS" "$S" $N $E6 2>&1)
check_eq "node: dns.resolve4/6 and a Resolver with setServers" \
"$N dns.resolve4 $T
$N dns.resolve6 error ENODATA
$N Resolver.resolve4 $T
$N Resolver.resolve6 error ENODATA
$E6 dns.resolve4 error ENODATA
$E6 dns.resolve6 2001:db8:10::6
$E6 Resolver.resolve4 error ENODATA
$E6 Resolver.resolve6 2001:db8:10::6" "$out"

for m in connect sendto sendmsg v6 tcp mmsg; do
	out=$(pre "$PROBE" $m "$S" $N 2>&1)
	want_from="$S#53"
	[ $m = v6 ] && want_from="::ffff:$S#53"
	check_nomatch "C client $m: never the poisoner's address" "$POISON" "$out"
	check_eq "C client $m: the lab's address, id matches, from the server asked" \
		"" "$(grep -E '^  (from|peer|id|an) ' <<<"$out" | sort -u |
		grep -Ev "^  (from|peer) $want_from\$|^  id ok\$|IN A[[:space:]]+$T\$")"
	check_match "C client $m: answered" "IN A[[:space:]]+$T" "$out"
done

# ------------------------------------------------ the fast door
# A question the engine answers without the network is answered on the
# program's thread as it is sent (send on a connected socket, sendto and
# sendmsg from a new unbound socket): no other thread of the program
# receives a datagram for it (dgramcount.so counts what they receive;
# whether the reply is already queued when the send returns is up to the
# kernel, which under load hands loopback delivery to ksoftirqd), and it
# is byte for byte the reply the responder's thread gives to the same
# query sent by sendmmsg (which never takes the fast door).
for q in "$N A" "$N AAAA" "dynamodb.me-south-1.amazonaws.com A" \
    "big.static.test A"; do
	# shellcheck disable=SC2086
	out=$(PRE="$PRE $BUILD/tools/dgramcount.so" pre "$PROBE" same "$S" \
		$q 10 2>&1)
	check_match "fast door, $q: answered on the sending thread" \
		" direct 30/30 " "$out"
	check_match "fast door, $q: byte for byte the responder's reply" \
		" same 30/30\$" "$out"
	check_nomatch "fast door, $q: never the poisoner's address" \
		"$POISON" "$out"
done
check_eq "nothing claimed reached the poisoner" "" \
	"$(tail -n +$((mark + 1)) "$LAB_POISON_LOG" | grep -i 'dynamodb\.')"

# ------------------------------------------------ TC and the TCP fallback
out=$(pre "$PY" "$CLIENTS" udp "$S" big.static.test 2>&1)
check_eq "a reply past 512 bytes: TC set, cut to the question" \
	"big.static.test A NOERROR  tc" "$out"
out=$(pre "$PY" "$CLIENTS" resolver "$S" big.static.test 2>&1)
check_eq "dnspython's Resolver asks again over TCP: all 60 addresses" 60 \
	"$(wc -w <<<"${out#big.static.test A }")"
out=$(pre "$PY" "$CLIENTS" tcp "$S" big.static.test 2>&1)
check_match "over TCP the whole answer" "127\.0\.30\.60" "$out"

# ------------------------------------------------ aiohttp's AsyncResolver
seed_servers_up || exit 1
URL=http://$N:$SEED_PORT/
out=$(poisoned "$PY" "$CLIENTS" aiohttp "$S" "$URL" 2>&1)
check_match "control aiohttp: without pindns the POST goes to the attacker" \
	"forged" "$out"
check_match "control aiohttp: the attacker got it" "GetItem" \
	"$(cat "$ATTACKER_LOG")"
: >"$ATTACKER_LOG"
: >"$STANDIN_LOG"
out=$(pre "$PY" "$CLIENTS" aiohttp "$S" "$URL" 2>&1)
check_match "aiohttp AsyncResolver: the stand-in's item" '"the answer"' "$out"
check_eq "aiohttp AsyncResolver: the attacker got nothing" "" \
	"$(cat "$ATTACKER_LOG")"
check_match "aiohttp AsyncResolver: the stand-in got the POST" "GetItem" \
	"$(cat "$STANDIN_LOG")"

# ------------------------------------------------ unclaimed: byte for byte
for q in "www.plain.lab.test A" "www.plain.lab.test AAAA" \
    "www.plain.lab.test MX" "nx.plain.lab.test A" \
    "s3.us-east-1.amazonaws.com A" "WWW.Plain.Lab.Test TXT"; do
	# shellcheck disable=SC2086
	a=$(poisoned "$PY" "$CLIENTS" wire "$S" $q 2>&1)
	# shellcheck disable=SC2086
	b=$(pre "$PY" "$CLIENTS" wire "$S" $q 2>&1)
	check_eq "unclaimed $q: the server's reply byte for byte" "$a" "$b"
done
a=$(poisoned "$PROBE" tcp "$S" www.plain.lab.test 2>&1)
check_eq "unclaimed over TCP: the same reply" "$a" \
	"$(pre "$PROBE" tcp "$S" www.plain.lab.test 2>&1)"
check_match "the reference is the poisoner's reply" "127\.0\.20\.1" "$a"

# ------------------------------------------------ refusals
ede() { pre "$PY" "$CLIENTS" ede "$S" "$@" 2>&1; }
check_eq "outside the pins: REFUSED, EDE 15 (Blocked)" \
	"REFUSED edns 0 ede=15:pindns: outside-pin" \
	"$(ede dynamodb.us-west-2.amazonaws.com A)"
check_eq "deny rule: REFUSED, EDE 15" "REFUSED edns 0 ede=15:pindns: deny-rule" \
	"$(ede dynamodb.me-south-1.amazonaws.com A)"
check_eq "another type for a claimed name: REFUSED, EDE 21 (Not Supported)" \
	"REFUSED edns 0 ede=21:pindns: other-type" "$(ede $N MX)"
check_eq "NXDOMAIN as it is" "NXDOMAIN edns 0 no-ede" \
	"$(ede dynamodb.xx-none-1.amazonaws.com A)"
out=$(pre "$PY" "$CLIENTS" udp "$S" dynamodb.us-west-2.amazonaws.com 2>&1)
check_eq "without EDNS: REFUSED, no OPT" \
	"dynamodb.us-west-2.amazonaws.com A REFUSED  " "$out"
HUNG=$PD_TMP/hung.yaml
sed -e "s|tls_port: .*|tls_port: $LAB_HUNG_PORT|" \
	-e '/tls_pubkey_pinset:/,/value:/d' "$POL" >"$HUNG"
echo "timeout_ms: 300" >>"$HUNG"
check_eq "every upstream timed out: SERVFAIL, EDE 22 (No Reachable Authority)" \
	"SERVFAIL edns 0 ede=22:pindns: timeout" \
	"$(PINDNS_POLICY=$HUNG ede dynamodb.us-east-2.amazonaws.com A)"
for r in outside-pin deny-rule other-type timeout; do
	check_match "audit log: the $r refusal" "\"reason\":\"$r\"" \
		"$(cat "$AUDIT")"
done

SYSPOL=$PD_TMP/system-pinned.yaml
awk '
	/^  - name: dynamodb$/ && !done {
		print "  - name: plain-in"
		print "    match: [www.plain.lab.test]"
		print "    action: system"
		print "    pin: [127.0.20.0/24, \"2001:db8:20::/48\"]"
		print "  - name: vpc"
		print "    match: [dynamodb.ap-east-1.amazonaws.com]"
		print "    action: system"
		print "    pin: [127.0.10.0/24]"
		done = 1
	}
	{ print }' "$POL" >"$SYSPOL"
a=$(poisoned "$PY" "$CLIENTS" wire "$S" www.plain.lab.test A 2>&1)
check_eq "system + pins, inside: the server's reply byte for byte" "$a" \
	"$(PINDNS_POLICY=$SYSPOL pre "$PY" "$CLIENTS" wire "$S" www.plain.lab.test A 2>&1)"
check_eq "system + pins, the poisoner's address: REFUSED" \
	"REFUSED edns 0 ede=15:pindns: outside-pin" \
	"$(PINDNS_POLICY=$SYSPOL ede dynamodb.ap-east-1.amazonaws.com A)"

# ------------------------------------------------ fork and exec
out=$(pre "$PROBE" fork "$S" $N 2>&1)
check_eq "fork: parent, inherited socket and new socket all answered" 3 \
	"$(grep -cE "IN A[[:space:]]+$T\$" <<<"$out")"
check_nomatch "fork: every reply from the server asked" \
	"from (127\.0\.0\.1|::1)|MISMATCH|$POISON" "$out"
out=$(pre "$PROBE" orphan "$S" $N 2>&1)
check_match "fork: a child whose parent is gone asks its own responder" \
	"orphan, new socket:
  from $S#53
  peer $S#53
  id ok
  rcode 0 tc 0 an 1 ar 0
  an $N\.  [0-9a-zA-Z]+ IN A  $T" "$out"
a=$(poisoned "$PROBE" exec "$S" www.plain.lab.test 2>&1 | tail -n 1)
check_eq "exec: no socket of the responder crosses it (the program's own only)" \
	"$a" "$(pre "$PROBE" exec "$S" www.plain.lab.test 2>&1 | tail -n 1)"

# ------------------------------------------------ no responder
mark=$(grep -c . "$LAB_POISON_LOG")
out=$(pre "$PROBE" exhaust "$S" $N 2>&1)
check_match "no descriptor for a responder: a claimed question is not sent" \
	"no descriptor left.*
  send error Connection refused" "$out"
check_eq "... and never reached the poisoner" "" \
	"$(tail -n +$((mark + 1)) "$LAB_POISON_LOG" | grep -i 'dynamodb\.')"
out=$(pre "$PROBE" exhaust "$S" www.plain.lab.test 2>&1)
check_match "no descriptor for a responder: an unclaimed one is sent as it is" \
	"no descriptor left.*
  from ::ffff:$S#53
  id ok
  rcode 0" "$out"
LONE=$PD_TMP/lone
mkdir -p "$LONE"
cp "$BUILD/libpindns.so" "$LONE/"
PRE=${PRE/$BUILD\/libpindns.so/$LONE/libpindns.so}
for m in connect sendto; do
	out=$(pre "$PROBE" $m "$S" $N 2>/dev/null)
	check_match "engine unloadable, $m: refused (ECONNREFUSED)" \
		"error Connection refused" "$out"
done
