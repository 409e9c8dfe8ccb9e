#!/usr/bin/env bash
# hd_load (tests/tools/hd_load.c), the mixed-load driver of the hardening
# tests, checked on names the lab's system resolver answers, under the
# preload: it counts right answers as right, reports a wrong answer or a
# wrong error code with what was expected, and measures RSS and
# descriptors. Names go to the lab's poisoner only (tests/lab/poisoned),
# never to the machine's resolver.
# tags: lab threads
# timeout: 90
. "$(dirname "$0")/../lib.sh"
L=$BUILD/tools/hd_load
. "$TOP/tests/stress/lib.sh"
require "$L" "$BUILD/libpindns.so"
lab_env
P="$TOP/tests/lab/poisoned"

# The lab policy claims only the DynamoDB names: these all pass to libc.
run() { "$P" "$LAB_STATE" -- env LD_PRELOAD="$(pd_preload_value)" \
	PINDNS_POLICY="$LAB_POLICY" \
	${ASAN_OPTIONS:+ASAN_OPTIONS=$ASAN_OPTIONS} "$L" "$@" 2>&1; }
[ "$PINDNS_SAN" = asan ] &&
	export ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0

out=$(run -t 16 -d 2 -w 0.5 -m "$(hd_rss_bound 8192)" www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1 \
	'nx%u.plain.lab.test=EAI_NONAME' localhost=ok:127.0.0.1,::1)
rc=$?
check_eq "16 threads, right expectations: exit 0" 0 "$rc"
check_match "every case counted and right" \
	'ok - www\.plain\.lab\.test: [1-9][0-9]* lookups, 0 wrong' "$out"
check_match "%u makes distinct names (cache misses), each NXDOMAIN" \
	'ok - nx%u\.plain\.lab\.test: [1-9][0-9]* lookups, 0 wrong' "$out"
check_match "RSS and descriptors reported" \
	'# rss_kb after .* warm-up [0-9]+, at end [0-9]+' "$out"
n=$(sed -n 's/^# threads 16, .* lookups \([0-9]*\),.*/\1/p' <<<"$out")
[ "${n:-0}" -gt 100 ] && ok "a real load: $n lookups in 2 s" ||
	not_ok "a real load: more than 100 lookups in 2 s" "got: '$n'" "$out"

out=$(run -t 4 -d 1 -w 0.2 www.plain.lab.test=ok:127.0.10.1 \
	localhost=EAI_FAIL)
rc=$?
check_eq "wrong expectations: exit 1" 1 "$rc"
check_match "a wrong address is reported with what was expected" \
	'# WRONG www\.plain\.lab\.test: expected 0 127\.0\.10\.1, got addresses' "$out"
check_match "a wrong code is reported" \
	'# WRONG localhost: expected EAI_FAIL, got code 0' "$out"
check_match "the summary line fails" 'not ok - no wrong answer' "$out"
check_rc "a bad case is a usage error" 2 "$L" -d 1 'bad-case'
