#!/usr/bin/env bash
# Load, short version (make stress runs the 60 s one): 64 threads in one
# process for 6 s mixing protected hits, misses (a new name each time,
# NXDOMAIN), refusals (outside the pins, CNAME escape) and pass-through
# names, under the preload; then 8 gunicorn workers doing a protected
# lookup per request under wrk for 8 s. Zero wrong answers, zero
# crashes, memory and descriptors flat after warm-up.
# tags: lab threads
# timeout: 180
# Under `make tsan` only the hd_load half runs: python (gunicorn) is not
# instrumented and cannot load a TSan-built preload (its __tsan_*
# symbols come from an instrumented executable); the plain and ASan runs
# cover the gunicorn half.
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
. "$TOP/tests/stress/gunicorn-load"
L=$BUILD/tools/hd_load
require "$L" "$BUILD/libpindns.so" wrk curl /usr/bin/gunicorn
lab_env
# The AAAA of eu-west-1 is pinned too: a dual-stack answer under load.
hd_policy "$PD_TMP/p.yaml" PINS="$LAB_PINS 2001:db8:10::/48"
out=$(hd_run "$PD_TMP/p.yaml" "$L" -t 64 -d "${HD_LOAD_SECS:-6}" -w 2 \
	-l 5000 -m "$(hd_rss_bound "${HD_LOAD_RSS_KB:-8192}")" \
	dynamodb.us-east-1.amazonaws.com=ok:127.0.10.1 \
	dynamodb.eu-west-1.amazonaws.com=ok:127.0.10.5,2001:db8:10::5 \
	'dynamodb.x%u.amazonaws.com=EAI_NONAME' \
	dynamodb.us-west-2.amazonaws.com=EAI_FAIL \
	dynamodb.ap-south-1.amazonaws.com=EAI_FAIL \
	www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1 \
	localhost=ok:127.0.0.1,::1 2>&1)
rc=$?
echo "$out"
check_eq "hd_load, 64 threads: exit 0" 0 "$rc"
if [ "$PINDNS_SAN" = tsan ]; then
	echo "# gunicorn half not run under TSan (python is not instrumented)"
	exit
fi
hd_policy "$PD_TMP/gun.yaml"
hd_gunicorn_load "${HD_GUN_SECS:-8}" 8
