#!/usr/bin/env bash
# tags: lab threads
# timeout: 400
# pindns serve (SPEC §8) in the lab's poisoned namespace, resolv.conf
# pointing at it on a loopback address, port 53:
#  - control: without it, the poisoner's address for every client;
#  - claimed names: kdig, dig, getent ahosts (no preload), a Python
#    process started with env -i and a static musl program get the lab's
#    true address; AD with DO; the client address in the audit line;
#  - unclaimed names: the same reply as the system resolver gives;
#  - refusals with RCODE and EDE: off-pin, CNAME escape, deny rule, other
#    type, bogus (tampered upstream), MITM, a hung upstream (SERVFAIL
#    within timeout_ms, never silence); TC over UDP and the TCP retry;
#  - hostile clients: odd queries, bad TCP frames, slowloris, 1,000 TCP
#    connections, a UDP flood from many ports: others still answered,
#    descriptors and memory bounded;
#  - a loop to its own address refused at start; SIGHUP and change
#    reload under load, the old policy kept when the new one fails (and
#    when it is made unreadable); SIGTERM under load: exit 0.
. "$(dirname "$0")/../lib.sh"
lab_env
PY=/usr/bin/python3
CL=$TOP/tests/tools/serve_clients.py
PINDNS=$BUILD/pindns
require kdig dig musl-gcc unshare getent "$PY" "$PINDNS" "$TOP/tests/lab/poisoned"
"$PY" -c 'import dns.message' || { not_ok "python3-dnspython installed"; exit 1; }
[ "$PINDNS_SAN" = asan ] &&
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

N=dynamodb.us-east-1.amazonaws.com
T=127.0.10.1
POISON=127.0.66.6
UP=$PD_TMP/upstream.conf
AUDIT=$PD_TMP/audit.log
echo "nameserver $LAB_POISON_ADDR" >"$UP"

# The lab policy with the system resolver in its own file, its own audit
# log and a deny rule and a static rule too big for 512 bytes.
# mkpol PORT PIN > FILE: the same against another lab upstream.
mkpol() {
	sed -e "s|^  target: .*|  target: file:$AUDIT|" \
		-e "s|^    tls_port: .*|    tls_port: $1|" \
		-e "s|^        value: .*|        value: $2|" "$LAB_POLICY" |
		sed '/^rules:/,$d'
	echo "system_resolv_conf: $UP"
	echo "timeout_ms: 1000"
	echo "rules:"
	echo "  - name: denied"
	echo "    match: [dynamodb.me-south-1.amazonaws.com]"
	echo "    action: deny"
	echo "  - name: big"
	echo "    match: [big.static.test]"
	echo "    action: static"
	printf '    addresses: ['
	for i in $(seq 1 60); do printf '"127.0.30.%d"%s' "$i" "$([ "$i" = 60 ] || echo ,)"; done
	echo ']'
	sed -n '/^rules:/,$p' "$LAB_POLICY" | tail -n +2
}
POL=$PD_TMP/policy.yaml
mkpol "$LAB_GOOD_PORT" "$LAB_GOOD_PIN" >"$POL"
check "the test policy is valid" "$PINDNS" check "$POL"

# serve_launch NAME ARGS...: pindns serve ARGS... in the background, its
# stderr in $PD_TMP/NAME.err; sets PD_PID. serve_up NAME: it listens.
serve_launch() {
	local name=$1
	shift
	"$PINDNS" serve "$@" 2>"$PD_TMP/$name.err" &
	PD_PID=$!
}
serve_up() { grep -q "listening on" "$PD_TMP/$1.err"; }
# start_serve NAME ARGS...: serve_launch, then wait until it listens;
# sets SPID.
start_serve() {
	serve_launch "$@"
	SPID=$PD_PID
	pd_cleanup "kill $SPID"
	if ! wait_for 20 serve_up "$1"; then
		kill "$SPID" 2>/dev/null
		return 1
	fi
}
# serve_on_free_port NAME ARGS...: pindns serve ARGS... -l 127.0.0.1@PORT
# on a free port (tests/lib.sh), its stderr in $PD_TMP/NAME.err; sets
# SPID and port.
_sv_start() { serve_launch "$_sv_name" "${_sv_args[@]}" -l "127.0.0.1@$PORT"; }
_sv_up() { serve_up "$_sv_name"; }
_sv_taken() { grep -q "Address already in use" "$PD_TMP/$_sv_name.err"; }
serve_on_free_port() {
	_sv_name=$1
	shift
	_sv_args=("$@")
	pd_start_on_free_port 20 0 _sv_start _sv_up _sv_taken || return 1
	SPID=$PD_PID
	port=$PORT
}
# A free loopback address for port 53 (resolv.conf has no port).
for _ in 1 2 3 4 5 6 7 8; do
	S=127.$((RANDOM % 200 + 20)).53.$((RANDOM % 250 + 2))
	start_serve main -p "$POL" -l "$S" && break
	S=
done
[ -n "$S" ] || { not_ok "pindns serve starts on a loopback :53" "$(cat "$PD_TMP/main.err")"; exit 1; }
MAIN=$SPID
ok "pindns serve listens on $S@53"

poisoned() { "$TOP/tests/lab/poisoned" "$LAB_STATE" "$@"; }
served() { poisoned --nameserver "$S" -- "$@"; }
kd() { kdig @"$S" +timeout=3 +retry=0 "$@" 2>&1; }

# ------------------------------------------------ control: the attack is live
check_match "control: getent without serve gets the poisoner's address" \
	"^$POISON " "$(poisoned -- getent ahosts $N)"

# ------------------------------------------------ claimed names
MUSL=$PD_TMP/musl-gai
cat >"$MUSL.c" <<'EOF'
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv)
{
	struct addrinfo h, *r, *p;
	char b[64];
	int e;

	memset(&h, 0, sizeof(h));
	h.ai_family = AF_INET;
	h.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(argv[1], NULL, &h, &r)) != 0) {
		printf("error %d\n", e);
		return 1;
	}
	for (p = r; p != NULL; p = p->ai_next)
		printf("%s\n", inet_ntop(AF_INET, &((struct sockaddr_in *)
		    p->ai_addr)->sin_addr, b, sizeof(b)));
	return 0;
}
EOF
check "a static musl program builds" musl-gcc -static -o "$MUSL" "$MUSL.c"
check_match "the musl program is static" "statically linked|static-pie" "$(file -L "$MUSL" 2>&1 || true)"
check_match "control: static musl without serve gets the poisoner's" "^$POISON$" \
	"$(poisoned -- "$MUSL" $N)"
check_eq "static musl program: the lab's address" "$T" "$(served "$MUSL" $N)"
check_match "getent ahosts (no preload): the lab's address" "^$T +STREAM" \
	"$(served getent ahosts $N)"
check_nomatch "getent ahosts: never the poisoner's" "$POISON" "$(served getent ahosts $N)"
check_eq "env -i python3: the lab's address" "$T" \
	"$(served env -i "$PY" -c "import socket; print(socket.getaddrinfo('$N', 443, socket.AF_INET)[0][4][0])")"
out=$(kd +dnssec $N A)
check_match "kdig: the lab's address" "^$N\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+$T" "$out"
check_match "kdig +dnssec: AD set, DO echoed" "Flags: qr rd ra ad;.*" "$out"
check_match "kdig +dnssec: DO echoed in the OPT" "flags: do;" "$out"
check_match "dig: the lab's address" "^$N\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+$T" "$(dig @"$S" +tries=1 $N A 2>&1)"
check_match "kdig over TCP: the lab's address" "^$N\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+$T" "$(kd +tcp $N A)"
check_match "audit line carries the client address" \
	"\"client\":\"127\.0\.0\.1:[0-9]+\",\"name\":\"$N\"" "$(cat "$AUDIT")"

# ------------------------------------------------ unclaimed names
for name in www.plain.lab.test nx.plain.lab.test; do
	for t in A AAAA MX; do
		want=$(kdig @"$LAB_POISON_ADDR" +timeout=3 +noall +answer +authority +header "$name" $t 2>&1 |
			sed 's/id: [0-9]*//')
		got=$(kd +noall +answer +authority +header "$name" $t | sed 's/id: [0-9]*//')
		check_eq "unclaimed $name $t: as the system resolver answers" "$want" "$got"
	done
done
check_eq "getent ahosts, unclaimed: as the system resolver" \
	"$(poisoned -- getent ahosts www.plain.lab.test)" "$(served getent ahosts www.plain.lab.test)"

# ------------------------------------------------ refusals: RCODE and EDE
refused() { # DESC RCODE EDE ARGS...
	local d=$1 rc=$2 ede=$3 out
	shift 3
	out=$(kd +edns "$@")
	check_match "$d: $rc" "status: $rc" "$out"
	check_match "$d: EDE $ede" "EDE: $ede " "$out"
	check_nomatch "$d: no address" "IN\s+A\s" "$out"
}
refused "off-pin (us-west-2)" REFUSED 15 dynamodb.us-west-2.amazonaws.com A
refused "CNAME escape (ap-south-1)" REFUSED 15 dynamodb.ap-south-1.amazonaws.com A
refused "deny rule" REFUSED 15 dynamodb.me-south-1.amazonaws.com A
refused "other type for a claimed name" REFUSED 21 $N MX
check_match "refusals are audited with the client" \
	"\"client\":\"127\.0\.0\.1:[0-9]+\",\"name\":\"dynamodb.us-west-2.amazonaws.com\".*\"reason\":\"outside-pin\"" \
	"$(cat "$AUDIT")"

# TC over UDP without EDNS (60 addresses > 512 bytes), and kdig's TCP retry.
check_match "a long answer over UDP: TC set" "Flags: qr (aa )?tc" \
	"$(kd +notcp +ignore +noedns big.static.test A)"
check_eq "the TCP retry gets all 60 addresses" 60 \
	"$(kd +short big.static.test A | grep -c '^127\.0\.30\.')"

# Attack upstreams: one serve each, on a high port.
attack() { # NAME PORT PIN
	local pol=$PD_TMP/$1.yaml port
	mkpol "$2" "$3" >"$pol"
	serve_on_free_port "$1" -p "$pol" || {
		not_ok "$1: serve starts" "$(cat "$PD_TMP/$1.err")"
		return 1
	}
	AT="@127.0.0.1 -p $port"
}
if attack tampered "$LAB_TAMPERED_PORT" "$LAB_TAMPERED_PIN"; then
	# shellcheck disable=SC2086
	out=$(kdig $AT +timeout=3 +retry=0 +edns $N A 2>&1)
	check_match "bogus (tampered RRSIG): REFUSED" "status: REFUSED" "$out"
	check_match "bogus: EDE 6 (DNSSEC Bogus)" "EDE: 6 " "$out"
	check_nomatch "bogus: the forged address never served" "127\.0\.66\.6" "$out"
fi
if attack mitm "$LAB_MITM_PORT" "$LAB_GOOD_PIN"; then
	# shellcheck disable=SC2086
	out=$(kdig $AT +timeout=3 +retry=0 +edns $N A 2>&1)
	check_match "MITM (another key): refused or failed" "status: (REFUSED|SERVFAIL)" "$out"
	check_match "MITM: EDE 22 (No Reachable Authority)" "EDE: 22 " "$out"
	check_nomatch "MITM: no address" "IN\s+A\s" "$out"
fi
if attack hung "$LAB_HUNG_PORT" "$LAB_GOOD_PIN"; then
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	out=$(kdig $AT +timeout=5 +retry=0 +edns $N A 2>&1)
	ms=$((($(date +%s%N) - t0) / 1000000))
	check_match "hung upstream: SERVFAIL, never silence" "status: SERVFAIL" "$out"
	check_match "hung upstream: with an EDE" "EDE: 2[23] " "$out"
	check "hung upstream: answered within timeout_ms (1000) + 1.5 s ($ms ms)" \
		test "$ms" -lt 2500
fi

# ------------------------------------------------ hostile clients
fds() { ls "/proc/$MAIN/fd" | wc -l; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$MAIN/status"; }
alive() { kd +short $N A | grep -qx "$T"; }
# Under a flood a datagram may be lost in the socket's queue, as with any
# UDP server: a client that retries (as every stub does) is answered.
alive_retry() { kdig @"$S" +timeout=1 +retry=4 +short $N A 2>&1 | grep -qx "$T"; }
fd0=$(fds)
rss0=$(rss)
out=$("$PY" "$CL" odd "$S" 53)
check_match "two questions: REFUSED" "^two-questions: REFUSED" "$out"
check_match "a reply sent to it: never answered (no loop)" "^reply: none" "$out"
check_match "garbage: dropped" "^garbage: none" "$out"
check_match "no question: dropped" "^header-only: none" "$out"
check "after odd queries: still answering" alive
out=$("$PY" "$CL" frames "$S" 53)
check_eq "bad TCP frames: each connection closed" \
	"huge-declared: closed zero-length: closed garbage-frame: closed cut-frame: closed" \
	"$(echo $out)"
check_eq "TCP pipelining: 20 queries in one write, 20 answers" "answered 20 of 20" \
	"$("$PY" "$CL" pipeline "$S" 53 20)"

# Slowloris: 20 connections dribbling a byte every 0.5 s are closed after
# the idle time (10 s) although bytes keep coming; others answered meanwhile.
"$PY" "$CL" slowloris "$S" 53 20 25 >"$PD_TMP/slow.out" &
slow=$!
pd_cleanup "kill $slow"
wait_for 5 test "$(fds)" -ge $((fd0 + 20))
check "during slowloris: UDP answered" alive
check_match "during slowloris: TCP answered" "$T" "$(kd +tcp +short $N A)"
wait "$slow"
check_match "slowloris: every dribbling connection closed by the idle timeout" \
	"^closed 20 of 20, last at ([0-9]|1[0-4])\." "$(cat "$PD_TMP/slow.out")"

# 1,000 TCP connections held open: beyond the limit they are closed at
# once; UDP answers go on; descriptors stay bounded; TCP serves again after.
rm -f "$PD_TMP/held" "$PD_TMP/release"
"$PY" "$CL" hold "$S" 53 1000 "$PD_TMP/held" "$PD_TMP/release" &
holder=$!
pd_cleanup "kill $holder"
wait_for 60 test -s "$PD_TMP/held"
check "1,000 TCP connections: UDP still answered" alive
n=$(fds)
check "1,000 TCP connections: descriptors bounded ($n, before $fd0)" test "$n" -le $((fd0 + 2 * 128 + 16))
touch "$PD_TMP/release"
wait "$holder"
wait_for 15 test "$(fds)" -le $((fd0 + 4))
check_match "after they close: TCP answered again" "$T" "$(kd +tcp +short $N A)"

# A UDP flood from 200 source ports (claimed, unclaimed, absent names) at
# 5,000 queries/s: below what the daemon answers, so a query of another
# client must get through (a flood beyond a server's capacity fills the
# kernel's socket queue, where nobody can tell one client from another).
"$PY" "$CL" flood "$S" 53 200 10 5000 $N www.plain.lab.test nx.plain.lab.test \
	dynamodb.us-west-2.amazonaws.com "r$RANDOM.bench.amazonaws.com" >"$PD_TMP/flood.out" &
flood=$!
pd_cleanup "kill $flood"
sleep 1	# not a race: only to be inside the flood when asking
check "during a UDP flood: a claimed name answered (with retries)" alive_retry
wait "$flood"
check_match "the flood was sent (about 50,000)" "^sent [0-9]{5,}" "$(cat "$PD_TMP/flood.out")"
check "after the flood: still answering (with retries)" alive_retry
wait_for 15 test "$(fds)" -le $((fd0 + 4))
n=$(fds)
check "after the hostile clients: descriptors back ($n, before $fd0)" test "$n" -le $((fd0 + 4))
r=$(rss)
if [ -n "$PINDNS_SAN" ]; then
	ok "memory: not judged under a sanitizer (ASan's quarantine keeps freed memory; RSS $r kB)"
else
	check "memory bounded: RSS $r kB (before $rss0 kB) < before + 64 MB" test "$r" -lt $((rss0 + 65536))
fi
check "the daemon is alive" kill -0 "$MAIN"

# ------------------------------------------------ start-up refusals
echo "nameserver $S" >"$PD_TMP/loop.conf"
sed "s|^system_resolv_conf: .*|system_resolv_conf: $PD_TMP/loop.conf|" "$POL" >"$PD_TMP/loop.yaml"
out=$("$PINDNS" serve -p "$PD_TMP/loop.yaml" -l "127.0.0.1@$(free_port)" -l "$S@53" 2>&1)
check_match "a nameserver that is its own address: refused at start" "one of our own listen addresses.*loop" "$out"
check_rc "the loop: exit 1" 1 "$PINDNS" serve -p "$PD_TMP/loop.yaml" -l "$S@53"
check_rc "-u with an unknown user: exit 1" 1 "$PINDNS" serve -p "$POL" -l "127.0.0.1@$(free_port)" -u no-such-user-pd
check_rc "-l 0.0.0.0: exit 1" 1 "$PINDNS" serve -p "$POL" -l 0.0.0.0

# ------------------------------------------------ reload, SIGTERM under load
# A second daemon as nobody, so that a policy made unreadable is.
RP=$PD_TMP/reload.yaml
cp "$POL" "$RP"
chmod 0644 "$RP"
chmod 0755 "$PD_TMP"
serve_on_free_port reload -p "$RP" -u nobody ||
	{ not_ok "serve -u nobody starts" "$(cat "$PD_TMP/reload.err")"; exit 1; }
R=$SPID
check_match "privileges dropped" "running as nobody" "$(cat "$PD_TMP/reload.err")"
check_eq "the daemon runs as nobody" 65534 "$(awk '/^Uid:/ {print $3}' /proc/$R/status)"
"$PY" "$CL" load 127.0.0.1 "$port" 60 $N "$PD_TMP/stop" >"$PD_TMP/load.out" &
loader=$!
pd_cleanup "kill $loader"
for i in 1 2 3; do
	kill -HUP "$R"
	wait_for 10 test "$(grep -c '^pindns serve: SIGHUP' "$PD_TMP/reload.err")" -ge "$i"
done
check_match "SIGHUP: read again" "SIGHUP: policy (unchanged|reloaded)" "$(cat "$PD_TMP/reload.err")"
# A policy change that denies the name, picked up without a signal.
sed '/^rules:/a\  - name: deny-east\n    match: [dynamodb.us-east-1.amazonaws.com]\n    action: deny' \
	"$POL" >"$RP.new" && mv "$RP.new" "$RP"
chmod 0644 "$RP"
refused_now() { kdig @127.0.0.1 -p "$port" +timeout=3 $N A | grep -q "status: REFUSED"; }
wait_for 10 refused_now
check "a changed file is reloaded without a signal: the new rule in force" refused_now
# A broken policy: refused, the old one stays.
echo "version: 2" >"$RP"
kill -HUP "$R"
wait_for 10 grep -q "the new policy was refused" "$PD_TMP/reload.err"
check_match "a broken policy: refused and said" "SIGHUP: the new policy was refused" "$(cat "$PD_TMP/reload.err")"
check_match "a broken policy: the old one stays (deny)" "status: REFUSED" "$(kdig @127.0.0.1 -p "$port" +timeout=3 $N A)"
# Unreadable while running.
cp "$POL" "$RP"
kill -HUP "$R"
wait_for 10 test "$(grep -c 'SIGHUP: policy reloaded' "$PD_TMP/reload.err")" -ge 1
check_match "the good policy back" "$T" "$(kdig @127.0.0.1 -p "$port" +timeout=3 +short $N A)"
chmod 000 "$RP"
kill -HUP "$R"
wait_for 10 test "$(grep -c 'the new policy was refused' "$PD_TMP/reload.err")" -ge 2
check_match "unreadable policy: said" "Permission denied" "$(cat "$PD_TMP/reload.err")"
check_match "unreadable policy: the old one still answers" "$T" "$(kdig @127.0.0.1 -p "$port" +timeout=3 +short $N A)"
chmod 0644 "$RP"
touch "$PD_TMP/stop"
wait "$loader"
out=$(cat "$PD_TMP/load.out")
check_match "reload under load: every query answered" "^answered=[0-9]+ lost=0 " "$out"

# SIGTERM during load: exit 0, at once.
"$PY" "$CL" flood 127.0.0.1 "$port" 20 3 0 $N www.plain.lab.test >/dev/null &
flood=$!
sleep 0.5	# inside the flood; the checks below wait on the exit itself
kill -TERM "$R"
wait_for 5 sh -c "! kill -0 $R 2>/dev/null"
wait "$R"
check_eq "SIGTERM under load: exit 0" 0 "$?"
check_match "SIGTERM: said" "stopping \(SIGTERM\)" "$(cat "$PD_TMP/reload.err")"
wait "$flood"
check "the main daemon survived everything" kill -0 "$MAIN"
# Under make asan / tsan the daemons' reports go to their stderr (and
# _exit after SIGTERM skips the sanitizers' exit code): read them.
check_nomatch "no sanitizer report from any daemon" \
	"ERROR: AddressSanitizer|WARNING: ThreadSanitizer|runtime error:" \
	"$(cat "$PD_TMP"/*.err)"
