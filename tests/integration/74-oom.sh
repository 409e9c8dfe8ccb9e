#!/usr/bin/env bash
# Allocation failure injected in the engine (failalloc.so, see
# tests/tools/so_failalloc.c): the Nth allocation made by code in
# libpindns-engine.so or libpindns-dot.so fails, for every N the run
# makes (sampled evenly when there are more than MAX), through the
# preload. Each run must end cleanly: no crash (signal), no hang, every
# result an allowed one: the protected name accepted with its real
# address or failed, the refused name never accepted, the pass-through
# name as libc answers it or failed.
# tags: lab
# timeout: 300
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
G=$BUILD/tools/hd_gai
F=$BUILD/tools/failalloc.so
require "$G" "$F" "$BUILD/libpindns.so" "$BUILD/libpindns-engine.so"
lab_env
N=dynamodb.us-east-1.amazonaws.com
R=dynamodb.us-west-2.amazonaws.com
S=www.plain.lab.test
MAX=${HD_OOM_MAX:-120}
hd_policy "$PD_TMP/p.yaml"
OBJS=libpindns-engine.so:libpindns-dot.so

# sweep NTH: one run; prints its output and "exit=N".
sweep() {
	"$TOP/tests/lab/poisoned" "$LAB_STATE" -- env \
		LD_PRELOAD="$F:$(pd_preload_value)" PINDNS_POLICY="$PD_TMP/p.yaml" \
		ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0 \
		PD_FAILALLOC_OBJS=$OBJS PD_FAILALLOC_NTH="$1" \
		PD_FAILALLOC_REPORT="$PD_TMP/report" \
		timeout -s KILL 30 "$G" "$N" "$N" "$R" "$S" "$N" 2>&1
	echo "exit=$?"
}

rm -f "$PD_TMP/report"
out=$(sweep 0)
check_match "no failure injected: $N accepted" "^$N rc=0 .* addrs=127\.0\.10\.1\$" "$out"
check_match "no failure injected: $R refused" "^$R rc=EAI_FAIL " "$out"
# Every process under the shim appends a line (timeout, env, hd_gai):
# the run is the one that counted most.
K=$(sed -n 's/^counted \([0-9]*\) .*/\1/p' "$PD_TMP/report" | sort -n | tail -n 1)
if [ "${K:-0}" -gt 10 ]; then
	ok "the engine made $K allocations in that run"
else
	not_ok "the engine's allocations are counted" \
		"expected: more than 10" "got: '$K' ($(cat "$PD_TMP/report"))"
	exit 1
fi
step=$(((K + MAX - 1) / MAX))
bad=0 runs=0 fails=0
for ((n = 1; n <= K; n += step)); do
	runs=$((runs + 1))
	rm -f "$PD_TMP/report"
	out=$(sweep "$n")
	why=""
	grep -q '^exit=0$' <<<"$out" || why="exit status $(grep '^exit=' <<<"$out")"
	grep -q 'AddressSanitizer\|runtime error' <<<"$out" && why="sanitizer report"
	while read -r l; do
		case "$l" in
		"$N rc=0 "*) [[ "$l" == *" addrs=127.0.10.1" ]] || why="wrong address: $l" ;;
		"$R rc=0 "*) why="refusal turned into an answer: $l" ;;
		"$S rc=0 "*) [[ "$l" =~ addrs=(127\.0\.20\.1|2001:db8:20::1)(,|$) ]] ||
			why="wrong pass-through: $l" ;;
		*" rc=EAI_AGAIN "*|*" rc=EAI_FAIL "*|*" rc=EAI_MEMORY "*|*" rc=EAI_SYSTEM "*)
			fails=$((fails + 1)) ;;
		*" rc="*) why="unexpected code: $l" ;;
		esac
	done <<<"$(grep ' rc=' <<<"$out")"
	[ "$(grep -c ' rc=' <<<"$out")" = 5 ] || why="${why:-only $(grep -c ' rc=' <<<"$out") of 5 results}"
	if [ -n "$why" ]; then
		bad=$((bad + 1))
		[ "$bad" -le 5 ] && not_ok "allocation $n of $K fails: clean" "got: $why" \
			"$(head -n 8 <<<"$out")"
	fi
done
check_eq "allocation failure at $runs points (of $K): every run clean" 0 "$bad"
ok "figures: $runs runs, $fails lookups failed cleanly with an EAI_ code"
