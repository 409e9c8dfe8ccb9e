#!/usr/bin/env bash
# tags: lab threads
# timeout: 240
# Load on the responder of programs that send DNS themselves (short
# version; `make stress` runs it for 60 s with SOCK_LOAD_SECS=60): in
# the poisoned namespace, under the preload,
#  - a C client (tools/sock-probe load): 32 threads asking a claimed and
#    an unclaimed name in turn over connect+send and sendto, a new socket
#    every 16 questions (the claimed ones answered by the fast door on
#    the asking thread, the descriptors reused all the time), and 16
#    threads calling getaddrinfo;
#  - python: 32 threads each with its own c-ares channel (pycares) and 8
#    calling getaddrinfo, with the process's descriptors and RSS sampled
#    after warm-up and at the end.
# SOCK_LOAD_THREADS sets the 32.
# Zero wrong answers, nothing lost, descriptors and memory flat.
# Under `make tsan` only the C half runs (python is not instrumented and
# cannot load a TSan-built preload).
. "$(dirname "$0")/../lib.sh"
lab_env
PROBE=$BUILD/tools/sock-probe
PY=/usr/bin/python3
require unshare "$PROBE" "$BUILD/libpindns.so" "$PY"
SECS=${SOCK_LOAD_SECS:-10}
NT=${SOCK_LOAD_THREADS:-32}
export PINDNS_POLICY=$LAB_POLICY
unset PINDNS_PUBKEY PINDNS_LOG
N=dynamodb.us-east-1.amazonaws.com
pre() {
	case "$PINDNS_SAN" in
	asan) set -- env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		LD_PRELOAD="$(pd_preload_value)" "$@" ;;
	*) set -- env LD_PRELOAD="$(pd_preload_value)" "$@" ;;
	esac
	"$TOP/tests/lab/poisoned" "$LAB_STATE" -- "$@"
}

out=$(pre "$PROBE" load "$LAB_POISON_ADDR" $N "$SECS" "$NT" 2>&1)
echo "$out" | sed 's/^/# /'
check_match "C client, $NT+$((NT / 2)) threads for $SECS s: no wrong or lost answer" \
	"^answers [1-9][0-9]* wrong 0 lost 0$" "$(tail -n 1 <<<"$out")"

if [ "$PINDNS_SAN" = tsan ]; then
	echo "# the python half is not run under TSan"
	exit
fi
out=$(pre "$PY" "$TOP/tests/tools/sock_load.py" "$LAB_POISON_ADDR" "$SECS" \
	"$NT" $((NT / 4)) 2>&1)
echo "$out" | sed 's/^/# /'
read -r _ answers _ wrong _ errors _ fd0 fd1 _ rss0 rss1 <<<"$(tail -n 1 <<<"$out")"
check_match "pycares, $NT channels + $((NT / 4)) getaddrinfo threads: answers" \
	'^[1-9][0-9]*$' "${answers:-}"
check_eq "pycares: no wrong answer" 0 "${wrong:-x}"
check_eq "pycares: no error" 0 "${errors:-x}"
# Descriptors: the responder's forward sockets are bounded (FWD_MAX) and
# were all made during warm-up; RSS within 10% + 2 MB of the warm-up's.
check "descriptors flat ($fd0 after warm-up, $fd1 at the end)" \
	test "${fd1:-999999}" -le "$((${fd0:-0} + 4))"
# Under a sanitizer (ASan's quarantine) RSS says nothing about leaks.
if [ -n "$PINDNS_SAN" ]; then
	echo "# RSS not judged under $PINDNS_SAN"
else
	check "RSS flat (${rss0:-?} kB after warm-up, ${rss1:-?} kB at the end)" \
		test "${rss1:-999999999}" -le "$((${rss0:-0} * 11 / 10 + 2048))"
fi
