#!/usr/bin/env bash
# Memory and descriptors under the preload: valgrind --leak-check=full over
# 10,000 getaddrinfo/freeaddrinfo pairs (plus gethostbyname_r), protected
# and pass-through, and the open descriptor count stable over 10,000
# lookups including failures (refused, absent, temporary, DNS-dead,
# pinned). In an ASan build LeakSanitizer does valgrind's part.
# tags: preload
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount "$BUILD/tools/gai-stress" "$BUILD/tools/fake_engine.so" \
	"$BUILD/libpindns.so"

DATA=$TOP/tests/data/preload
PRE=$(pd_preload_copy "$PD_TMP/pre") || { not_ok "preload copy"; exit 1; }
export PD_FAKE_ENGINE="p-dual.test accepted real.test 192.0.2.30,fd00::30;\
p-multi.test accepted - 198.51.100.7,127.0.0.9,192.0.2.99,fd00::77;\
p-deny.test refused - ;p-nx.test nxdomain - ;p-fail.test failed - ;\
dual.test pinned - 192.0.2.10;multi.test pinned - 203.0.113.1"
protected=(p-dual.test=ok:192.0.2.30,fd00::30
	p-multi.test=ok:198.51.100.7,127.0.0.9,192.0.2.99,fd00::77)
failing=(p-deny.test=EAI_FAIL p-nx.test=EAI_NONAME p-fail.test=EAI_AGAIN
	multi.test=EAI_FAIL nx.invalid=EAI_AGAIN)
passthrough=(host4.test=ok:127.0.0.2 dual.test=ok:192.0.2.10
	127.0.0.5=ok:127.0.0.5)

# Descriptors: 10,000 lookups of every kind in one process.
out=$(pd_etc_run "$DATA" "$PRE" "$BUILD/tools/gai-stress" -c -t 1 -n 10000 \
	"${protected[@]}" "${failing[@]}" "${passthrough[@]}" 2>&1)
check_match "descriptors stable over 10,000 lookups including failures" \
	'^ok - open descriptors stable' "$out"
check_match "and every one of them as expected" \
	'^ok - 10[0-9]{3} lookups in 1 threads, all as expected$' "$out"

leakcheck() {	# leakcheck WHAT CASES...
	local what=$1 out rc
	shift
	if [ "$PINDNS_SAN" = asan ]; then
		out=$(ASAN_OPTIONS=detect_leaks=1:verify_asan_link_order=0 \
			pd_etc_run "$DATA" "$PRE" "$BUILD/tools/gai-stress" \
			-t 1 -n 10000 "$@" 2>&1)
		rc=$?
		check_eq "LeakSanitizer: no leak over 10,000 $what lookups" 0 "$rc"
		return
	fi
	require valgrind
	out=$(pd_etc_run "$DATA" "$PRE" valgrind --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--show-leak-kinds=definite,indirect -q \
		"$BUILD/tools/gai-stress" -t 1 -n 10000 "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "valgrind: no leak, no error over 10,000 $what lookups"
	else
		not_ok "valgrind: no leak, no error over 10,000 $what lookups" \
			"expected: exit 0" "got: exit $rc" \
			"$(echo "$out" | head -n 40)"
	fi
	check_match "valgrind run checked every $what lookup" \
		'^ok - 10000 lookups in 1 threads, all as expected$' "$out"
}
leakcheck protected "${protected[@]}" "${failing[@]:0:3}"
leakcheck pass-through "${passthrough[@]}" "${failing[@]:3}"
