#!/usr/bin/env bash
# failalloc.so (allocation-failure injection, tests/tools/so_failalloc.c)
# fails exactly the allocation it is asked to, counts only calls made
# from the chosen objects (not libc's allocations for itself), and
# reports what it counted. The OOM sweeps (4x-oom-*) stand on this.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
F=$BUILD/tools/failalloc.so
P=$BUILD/tools/alloc_probe
require "$F" "$P"
# Under ASan the shim goes before the runtime (it finds ASan's malloc with
# RTLD_NEXT); ASan must be told not to insist on coming first.
[ "$PINDNS_SAN" = asan ] &&
	export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0

# run NTH [SPAN]: the probe's output on one line, then the report.
run() {
	rm -f "$PD_TMP/rep"
	LD_PRELOAD="$F" PD_FAILALLOC_OBJS=alloc_probe PD_FAILALLOC_NTH=$1 \
		PD_FAILALLOC_SPAN=${2:-1} PD_FAILALLOC_REPORT="$PD_TMP/rep" \
		"$P" 2 | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $3 }'
	echo " | $(cat "$PD_TMP/rep" 2>/dev/null)"
}

check_eq "count only: 14 calls from the program, none failed" \
	"ok ok ok ok ok ok ok ok ok ok ok ok ok ok | counted 14 failed 0" "$(run 0)"
fns="malloc calloc realloc strdup strndup posix_memalign aligned_alloc"
i=0
for fn in $fns $fns; do
	i=$((i + 1))
	want=""
	for j in $(seq 1 14); do
		[ "$j" = "$i" ] && want="$want NULL" || want="$want ok"
	done
	check_eq "NTH=$i fails the ${i}th call ($fn) and only it" \
		"${want# } | counted 14 failed 1" "$(run "$i")"
done
check_eq "SPAN=3 fails three in a row" \
	"ok ok ok ok NULL NULL NULL ok ok ok ok ok ok ok | counted 14 failed 3" \
	"$(run 5 3)"
check_eq "SPAN=0 fails every one from NTH on" \
	"ok ok ok ok ok ok ok ok ok ok ok ok NULL NULL | counted 14 failed 2" \
	"$(run 13 0)"
out=$(LD_PRELOAD="$F" PD_FAILALLOC_OBJS=libnothing.so PD_FAILALLOC_NTH=1 \
	PD_FAILALLOC_REPORT="$PD_TMP/rep2" "$P" 1 | grep -c NULL)
check_eq "an object not loaded: nothing fails" "0" "$out"
check_eq "... and nothing is counted" "counted 0 failed 0" "$(cat "$PD_TMP/rep2")"
# Calls made by other objects (here: ls and its libraries) are not
# counted when only the program is chosen, and the shim does not break
# a program that allocates a lot.
out=$(LD_PRELOAD="$F" PD_FAILALLOC_OBJS=/nonexistent PD_FAILALLOC_NTH=1 \
	ls -la /usr/lib 2>&1 | wc -l)
[ "$out" -gt 10 ] && ok "a busy program runs normally under the shim ($out lines)" ||
	not_ok "a busy program runs normally under the shim" "got: $out lines"
