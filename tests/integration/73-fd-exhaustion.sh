#!/usr/bin/env bash
# Descriptor exhaustion: the process has used up its descriptors (all
# but FREE of RLIMIT_NOFILE taken) when it makes its first protected
# lookup, so the engine cannot open its policy, its log, or a socket.
# Every lookup ends cleanly (an answer, or EAI_AGAIN / EAI_FAIL /
# EAI_SYSTEM / EAI_MEMORY), never a crash, never a hang, never a forged
# or wrong address; once descriptors are free again the same process
# recovers. Also under `ulimit -n` of a few descriptors from the start.
# And an AI_IDN name first looked up while no descriptor is free (libidn2
# cannot be loaded then): refused, never handed to libc, which would
# convert it later and query the protected name over plain DNS.
# tags: lab
# timeout: 120
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
G=$BUILD/tools/hd_gai
require "$G" "$BUILD/libpindns.so"
lab_env
N=dynamodb.us-east-1.amazonaws.com
hd_policy "$PD_TMP/p.yaml"
ALLOWED='rc=(0 .* addrs=127\.0\.10\.1$|(EAI_AGAIN|EAI_FAIL|EAI_SYSTEM|EAI_MEMORY) )'

# feed OUT FIRST... -- THEN... -- CMD...: run CMD (under hd_run) with
# FIRST on its stdin; once it has printed "closed" (its spare
# descriptors are back) in OUT, wait 1.5 s, past the engine's
# once-a-second retry counted from the failures before that line, and
# only then send THEN. Prints OUT and "exit=STATUS". The wait starts at
# hd_gai's own line, not when the input was written: under load the
# process may start, and fail, a second or more after that.
feed() {
	local out=$1 first=() then=() pid rc
	shift
	while [ "$1" != -- ]; do first+=("$1"); shift; done
	shift
	while [ "$1" != -- ]; do then+=("$1"); shift; done
	shift
	rm -f "$PD_TMP/in"
	mkfifo "$PD_TMP/in"
	hd_run "$PD_TMP/p.yaml" "$@" <"$PD_TMP/in" >"$out" 2>"$PD_TMP/err" &
	pid=$!
	exec 3>"$PD_TMP/in"
	printf '%s\n' "${first[@]}" >&3
	wait_for 60 grep -qx closed "$out"
	sleep 1.5
	printf '%s\n' "${then[@]}" >&3
	exec 3>&-
	wait "$pid"
	rc=$?
	cat "$out"
	echo "exit=$rc"
}

for free in 0 1 2 3 4 6 8; do
	out=$(feed "$PD_TMP/out" "$N" dynamodb-fips.us-east-1.amazonaws.com \
		'!close-spare' -- streams.dynamodb.us-east-1.amazonaws.com \
		www.plain.lab.test -- "$G" -F "$free")
	l1=$(grep "^$N " <<<"$out")
	check_match "$free descriptors free: a clean result" \
		"^$N $ALLOWED" "$l1"
	ms=$(hd_field "$l1" ms)
	[ "${ms%.*}" -le 2500 ] 2>/dev/null && ok "$free free: within timeout_ms ($ms ms)" ||
		not_ok "$free free: within timeout_ms" "got: $l1"
	check_match "$free free: the process survived" '^exit=0$' "$out"
	check_match "$free free: descriptors back, the same process recovers" \
		'^streams\.dynamodb\.us-east-1\.amazonaws\.com rc=0 .* addrs=127\.0\.10\.3$' "$out"
	check_match "$free free: ... and passes other names to libc again" \
		'^www\.plain\.lab\.test rc=0 .* addrs=.*127\.0\.20\.1' "$out"
	check_nomatch "$free free: no sanitizer report" \
		'AddressSanitizer|runtime error' "$(cat "$PD_TMP/err")"
done
for lim in 6 8 10 12 16; do
	out=$(hd_run "$PD_TMP/p.yaml" sh -c "ulimit -n $lim && exec \"$G\" $N" \
		2>&1; echo "exit=$?")
	check_match "ulimit -n $lim: a clean result" "^$N $ALLOWED" "$out"
	check_match "ulimit -n $lim: no crash" '^exit=0$' "$out"
done

# AI_IDN: the fullwidth spelling of $N (NFKC maps it to $N). With no
# descriptor free libidn2 cannot be loaded; the name must be refused (as
# glibc refuses it when it cannot load libidn2), and converted and
# protected once descriptors are back: not handed to libc, which would
# then convert it itself and ask the poisoner.
FW=$(printf '\357\275\204\357\275\231\357\275\216\357\275\201\357\275\215\357\275\217\357\275\204\357\275\202').us-east-1.amazonaws.com
out=$(feed "$PD_TMP/out" "$FW" '!close-spare' -- "$FW" -- \
	env LC_ALL=C.UTF-8 "$G" -i -F 0)
l1=$(grep "^$FW " <<<"$out" | head -n 1)
l2=$(grep "^$FW " <<<"$out" | sed -n 2p)
check_match "AI_IDN, no descriptor free: refused without a query" \
	' rc=EAI_IDN_ENCODE ' "$l1"
check_match "AI_IDN, descriptors back: converted, answered by the policy" \
	' rc=0 .* addrs=127\.0\.10\.1$' "$l2"
check_nomatch "AI_IDN: never the poisoner's address" '127\.0\.66\.' "$out"
check_match "AI_IDN: the process survived" '^exit=0$' "$out"
