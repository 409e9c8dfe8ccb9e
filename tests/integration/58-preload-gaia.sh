#!/usr/bin/env bash
# getaddrinfo_a and gai_suspend / gai_error / gai_cancel (SPEC §4.1) in
# the lab's poisoned namespace, under the lab policy (tools/gaia-probe):
#  - control: glibc's own getaddrinfo_a hands the poisoner's address out
#    for a claimed name;
#  - a batch mixing claimed (accepted, refused) and unclaimed (answered,
#    NXDOMAIN, numeric) names in every mode: GAI_WAIT, GAI_NOWAIT with
#    SIGEV_NONE, without a sigevent, SIGEV_SIGNAL (SI_ASYNCNL and the
#    value), SIGEV_THREAD (the value, on another thread): the lab's true
#    addresses and glibc's own answers for the unclaimed names;
#  - gai_cancel of a running, a done and a queued request; gai_suspend's
#    timeout, EINTR and all-done answers (a hung upstream makes the slow
#    request).
# tags: lab preload threads
# timeout: 180
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare diff "$BUILD/tools/gaia-probe" "$BUILD/libpindns.so" \
	"$TOP/tests/lab/poisoned"
lab_env

PRE=$(pd_preload_value)
export PINDNS_POLICY=$LAB_POLICY
unset PINDNS_PUBKEY PINDNS_LOG
poisoned() { pd_poisoned "$@"; }
poisoned_pre() { pd_poisoned_pre -- "$@"; }
probe() { poisoned -- "$BUILD/tools/gaia-probe" "$@"; }
probe_pre() { poisoned_pre "$BUILD/tools/gaia-probe" "$@"; }

N=dynamodb.us-east-1.amazonaws.com
CLAIMED="$N dynamodb.eu-central-1.amazonaws.com dynamodb.us-west-2.amazonaws.com"
UNCLAIMED="www.plain.lab.test nx.plain.lab.test s3.us-east-1.amazonaws.com 127.0.0.5"
MIXED="$N www.plain.lab.test dynamodb.us-west-2.amazonaws.com nx.plain.lab.test 127.0.0.5 dynamodb.eu-central-1.amazonaws.com"
# The answers for MIXED, in list order.
want_mixed="[0] $N = 0
    127.0.10.1
[1] www.plain.lab.test = 0
    127.0.20.1
    2001:db8:20::1
[2] dynamodb.us-west-2.amazonaws.com = EAI_FAIL
[3] nx.plain.lab.test = EAI_NONAME
[4] 127.0.0.5 = 0
    127.0.0.5
[5] dynamodb.eu-central-1.amazonaws.com = 0
    127.0.10.7"

# glibc's own getaddrinfo_a starts its helper threads inside libc, where
# ThreadSanitizer does not see them: a TSan-built program using it
# crashes. The references that need it run in the other builds only.
GLIBC_REF=1
if [ "$PINDNS_SAN" = tsan ]; then
	GLIBC_REF=
	echo "# the glibc references not run under TSan: glibc's getaddrinfo_a helpers crash a TSan-built program"
fi

# ------------------------------------------------ control
if [ -n "$GLIBC_REF" ]; then
	out=$(probe wait $CLAIMED 2>&1)
	check_match "control: glibc's getaddrinfo_a gets the poisoner's address" \
		'^    127\.0\.66\.6$' "$out"
fi

# ------------------------------------------------ every mode, mixed batch
out=$(probe_pre wait $MIXED 2>&1)
check_eq "GAI_WAIT: claimed names from the engine, the others from libc" \
	"getaddrinfo_a = 0
$want_mixed" "$out"
for m in none null; do
	out=$(probe_pre $m $MIXED 2>&1)
	check_eq "GAI_NOWAIT ($m), gai_suspend until done: the same answers" \
		"getaddrinfo_a = 0
$want_mixed" "$out"
done
out=$(probe_pre signal $MIXED 2>&1)
check_eq "SIGEV_SIGNAL: one signal once all are done, SI_ASYNCNL, the value" \
	"getaddrinfo_a = 0
signal code=SI_ASYNCNL value=4711
$want_mixed" "$out"
out=$(probe_pre thread $MIXED 2>&1)
check_eq "SIGEV_THREAD: the function on another thread with the value" \
	"getaddrinfo_a = 0
thread value=4712 other-thread=1
$want_mixed" "$out"
# ------------------------------------------------ unclaimed: as glibc
if [ -n "$GLIBC_REF" ]; then
	check "the glibc reference agrees on SIGEV_SIGNAL" \
		grep -q 'signal code=SI_ASYNCNL value=4711' <(probe signal $UNCLAIMED 2>&1)
	for m in wait signal thread; do
		check_eq "unclaimed names ($m): the answers glibc's getaddrinfo_a gives" \
			"$(probe $m $UNCLAIMED 2>&1)" "$(probe_pre $m $UNCLAIMED 2>&1)"
	done
fi

# ------------------------------------------------ cancel, suspend
# An upstream that accepts and never answers: each claimed lookup takes
# the policy's timeout (3 s), long against what the probe does meanwhile.
HUNGPOL=$PD_TMP/hung.yaml
sed -e "s|tls_port: .*|tls_port: $LAB_HUNG_PORT|" \
	-e '/tls_pubkey_pinset:/,/value:/d' "$LAB_POLICY" >"$HUNGPOL"
echo "timeout_ms: 3000" >>"$HUNGPOL"
t0=$(date +%s%N)
out=$(PINDNS_POLICY=$HUNGPOL probe_pre cancel $N 127.0.0.5 2>&1)
ms=$((($(date +%s%N) - t0) / 1000000))
# Two timeouts in a row (the 21st waits for a helper); a burst handed to
# one idle helper, one request after the other, took eleven.
check "a burst of 21 runs on 20 helpers at once: ${ms} ms < 5 x 3000 ms" \
	test "$ms" -lt 15000
check_eq "gai_cancel: running, done, queued; the slow one fails (EAI_AGAIN)" \
	"getaddrinfo_a = 0
cancel running = EAI_NOTCANCELED
cancel done = EAI_ALLDONE
getaddrinfo_a = 0
cancel queued = EAI_CANCELED
gai_error of it = EAI_CANCELED
the other 20: 20 x EAI_AGAIN
[0] $N = EAI_AGAIN
[1] 127.0.0.5 = 0
    127.0.0.5" "$out"
out=$(PINDNS_POLICY=$HUNGPOL probe_pre suspend $N 2>&1)
check_eq "gai_suspend: timeout EAI_AGAIN, a signal EAI_INTR, nothing left EAI_ALLDONE" \
	"getaddrinfo_a = 0
suspend 100 ms = EAI_AGAIN
suspend, a signal = EAI_INTR
suspend, all done = EAI_ALLDONE
[0] $N = EAI_AGAIN" "$out"
