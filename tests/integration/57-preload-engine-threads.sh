#!/usr/bin/env bash
# Threads and fork with the real engine (libpindns-engine.so, `static`,
# `deny` and `system` rules, no network): 64 threads x 1,000 mixed lookups
# (answered, refused, pass-through from the hosts file, failing DNS,
# numeric), every answer checked; a parent that resolves, 8 forked
# children x 100 lookups, the parent again; and children that load the
# engine only after the fork. Run by `make tsan` too.
# tags: preload threads
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount "$BUILD/tools/gai-stress" "$BUILD/libpindns.so" \
	"$BUILD/libpindns-engine.so"

DATA=$TOP/tests/data/preload
TABLE=$DATA/protected.table
ETC=$PD_TMP/etc
pd_preload_etc "$ETC"
{ echo "127.0.0.1 localhost"; echo "127.0.0.2 host4.test"
	pd_hosts_from "$TABLE"; } >"$ETC/hosts"
PRE=$(pd_preload_value)
unset PINDNS_PUBKEY PINDNS_LOG
export PINDNS_POLICY=$PD_TMP/policy.yaml
pd_static_policy "$TABLE" "$PINDNS_POLICY" "$PD_TMP/audit.log"

cases=(p-dual.test=ok:192.0.2.30,fd00::30
	p-multi.test=ok:198.51.100.7,127.0.0.9,192.0.2.99,10.1.2.3,169.254.1.1,fd00::77,fe80::9,2001:db8::1,fd00::2,2002:c000:204::1,fec0::5
	p-v6.test=ok:2001:db8::20 p-deny.test=EAI_FAIL host4.test=ok:127.0.0.2
	nx.invalid=EAI_AGAIN 127.0.0.5=ok:127.0.0.5)
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-stress" -t 64 -n 1000 \
	"${cases[@]}" 2>&1)
check_match "real engine: 64 threads x 1,000 mixed lookups" \
	'^ok - 64000 lookups in 64 threads, all as expected$' "$out"
# TSan's deadlock detector tracks at most 64 held locks per thread and
# the engine's fork handler takes every engine lock (resolver/engine_state.c):
# under TSan that limit, not a deadlock, stops a forking child.
[ "$PINDNS_SAN" = tsan ] && export TSAN_OPTIONS="$TSAN_OPTIONS detect_deadlocks=0"
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-stress" -f 8 -t 1 -n 100 \
	"${cases[@]}" 2>&1)
check_match "real engine: parent, 8 children x 100, parent" \
	'^ok - 8 children x 1 threads x 100 lookups, and the parent before and after' \
	"$out"
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-stress" -f 8 -t 2 -n 100 \
	-p "${cases[@]}" 2>&1)
check_match "real engine: children load it after fork" \
	'^ok - 8 children x 2 threads x 100 lookups, and the parent after' "$out"

