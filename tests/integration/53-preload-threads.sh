#!/usr/bin/env bash
# Threads and fork under the preload: 64 threads x 1,000 lookups mixing
# protected (answered), refused, absent, failing (temporary) and
# pass-through names (hosts file, numeric, DNS-dead), every answer
# checked; then a parent that resolves, forks 8 children that each
# resolve 100 times, and resolves again. Run by `make tsan` too (TSan
# build of the preload and the tool). The engine is the interface double
# (tests/tools/so_fake_engine.c), which also creates a thread of its own
# at start to exercise the engine_thread hook.
# tags: preload threads
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount "$BUILD/tools/gai-stress" "$BUILD/tools/fake_engine.so" \
	"$BUILD/libpindns.so"

DATA=$TOP/tests/data/preload
PRE=$(pd_preload_copy "$PD_TMP/pre") || { not_ok "preload copy"; exit 1; }
export PD_FAKE_ENGINE="p-dual.test accepted - 192.0.2.30,fd00::30;\
p-multi.test accepted - 198.51.100.7,127.0.0.9,192.0.2.99,fd00::77,2001:db8::1;\
p-v6.test accepted - 2001:db8::20;p-deny.test refused - ;\
p-nx.test nxdomain - ;p-fail.test failed - ;\
dual.test pinned - 192.0.2.10"
cases=(p-dual.test=ok:192.0.2.30,fd00::30
	p-multi.test=ok:198.51.100.7,127.0.0.9,192.0.2.99,fd00::77,2001:db8::1
	p-v6.test=ok:2001:db8::20 p-deny.test=EAI_FAIL p-nx.test=EAI_NONAME
	p-fail.test=EAI_AGAIN host4.test=ok:127.0.0.2 multi.test=ok:198.51.100.7,127.0.0.9,192.0.2.99,fd00::77,fe80::9
	dual.test=ok:192.0.2.10 nx.invalid=EAI_AGAIN 127.0.0.5=ok:127.0.0.5
	::1=ok:::1)

out=$(pd_etc_run "$DATA" "$PRE" "$BUILD/tools/gai-stress" -t 64 -n 1000 \
	"${cases[@]}" 2>&1)
rc=$?
check_eq "64 threads x 1,000 mixed lookups: exit status" 0 "$rc"
check_match "64 threads x 1,000 mixed lookups: all as expected" \
	'^ok - 64000 lookups in 64 threads, all as expected$' "$out"

out=$(pd_etc_run "$DATA" "$PRE" "$BUILD/tools/gai-stress" -f 8 -t 1 -n 100 \
	"${cases[@]}" 2>&1)
rc=$?
check_eq "fork: 8 children x 100 lookups: exit status" 0 "$rc"
check_match "fork: parent, 8 children x 100 lookups, parent again" \
	'^ok - 8 children x 1 threads x 100 lookups, and the parent before and after, all as expected$' \
	"$out"

# The engine not loaded before the fork: each child loads it, in threads.
out=$(pd_etc_run "$DATA" "$PRE" "$BUILD/tools/gai-stress" -f 8 -t 4 -n 100 \
	-p "${cases[@]}" 2>&1)
check_match "fork before the first name: children load the engine" \
	'^ok - 8 children x 4 threads x 100 lookups, and the parent after, all as expected$' \
	"$out"
