#!/usr/bin/env bash
# The benchmark harness (make bench) as a smoke, so it cannot rot: the
# quick mode of bench/run (a few tenths of a second per run) in its own
# network and mount namespace with its own lab, daemons and /etc. Checks
# that every path, phase and target produced figures and that no lookup
# failed; the figures themselves are never judged (no timed assertion).
# Not tagged lab: bench/run starts a lab inside its namespace, where the
# runner's lab cannot be reached.
# timeout: 240
. "$(dirname "$0")/../lib.sh"
require unshare unbound stubby kdig hyperfine dnsperf kresd /usr/bin/python3 \
	"$BUILD/bench/plain_gai" "$BUILD/bench/plain_spawn" "$BUILD/bench/plain_dns"

out=$PD_TMP/bench
log=$PD_TMP/bench.log
PATHS="hosts unbound unbound-miss stubby stubby+dnssec pindns pindns-batched
preload-only pindns-miss pindns-miss-dnssec pindns-rtt10 pindns-rtt10-dnssec
stubby-rtt10 stubby+dnssec-rtt10"

BENCH_THREADS="1 64" "$TOP/bench/run" --quick --out "$out" >"$log" 2>&1
rc=$?
check_eq "bench/run --quick exits 0" 0 "$rc"
[ "$rc" = 0 ] || sed -n '/FAILED\|error/p' "$log" | head -n 20 | sed 's/^/#   /'

# ------------------------------------------------------------ matrix
res=$out/results.txt
for p in $PATHS; do
	for t in 1 64; do
		line=$(grep -F " path=$p label=t$t " "$res" 2>/dev/null | head -n 1)
		check_match "$p at $t threads ran without a failed lookup" \
			' rc=0 .* errors=0 .* p50_us=[0-9.]+ .* p99_us=[0-9.]+ ' \
			"${line:-no line for $p t$t in $res}"
	done
done
# The workload really ran threads and measured something.
line=$(grep -F " path=hosts label=t64 " "$res" 2>/dev/null | head -n 1)
check_match "plain_gai reports its thread count and a non-zero rate" \
	' threads=64 .* ops=[1-9][0-9]* .* ops_s=[1-9]' "$line"

# ------------------------------------------------------------ phases
pt=$(cat "$out/passthrough.txt" 2>/dev/null)
for c in numeric null hosts hostent dns; do
	for side in libc preload; do
		check_match "pass-through $c ($side) ran without a failed call" \
			"case=$c side=$side rc=0 threads=1 .* errors=0 .* p50_us=[0-9.]+" "$pt"
	done
done
st=$(cat "$out/startup.txt" 2>/dev/null)
for c in true python; do
	check_match "start-up of $c measured by plain_spawn" \
		"cmd=$c tool=plain_spawn pairs=[0-9]+ base_us=[0-9.]+ \
with_us=[0-9.]+ ratio=[0-9.]+ base_kb=[0-9]+ with_kb=[0-9]+" "$st"
	for side in base with; do
		check_match "start-up of $c ($side) cross-checked by hyperfine" \
			"cmd=$c tool=hyperfine side=$side median_us=[0-9.]+" "$st"
	done
done
mem=$(cat "$out/memory.txt" 2>/dev/null)
for p in pindns-miss unbound-miss; do
	check_match "memory of $p sampled along the way" \
		"path=$p mem calls=[0-9]+ rss_kb=[1-9]" "$mem"
	check_match "memory run of $p resolved every name" \
		"path=$p threads=1 .* errors=0 " "$mem"
done
rf=$(cat "$out/refresh.txt" 2>/dev/null)
for l in refresh refresh-min1 control; do
	check_match "refresh-ahead $l run without a failed lookup" \
		"path=pindns label=$l rc=0 .* errors=0 .* p999_us=[0-9.]+" "$rf"
done
for l in refresh refresh-min1; do
	check_match "refresh-ahead $l counted the upstream queries" \
		"label=$l upstream_a_queries=[0-9]+" "$rf"
done

# The serve phase (bench/serve.sh): every local resolver answered each
# kind of run.
sv=$(cat "$out/serve.txt" 2>/dev/null)
for s in pindns-serve unbound kresd stubby; do
	for k in "cached clients=1" "cached clients=64" "miss clients=1"; do
		check_match "serve phase: $s ${k% *} (${k#* }) ran" \
			"server=$s mode=${k% *} ${k#* } qps=[0-9]+ p50_us=[0-9.]+ p99_us=[0-9.]+ .* rc=0" "$sv"
	done
done

# --quick counts the hosts path only (the engine under valgrind is slow
# to come up); make bench adds unbound and pindns the same way. valgrind
# cannot run a sanitizer build's programs: then the report must say so.
if [ -n "$PINDNS_SAN" ]; then
	check_match "callgrind is reported as not run in a $PINDNS_SAN build" \
		"Instructions per call: not counted in a $PINDNS_SAN build" \
		"$(cat "$out/report.md" 2>/dev/null)"
else
	check_match "callgrind counted the instructions per call of hosts" \
		"path=hosts calls=[0-9]+ ir_per_call=[1-9][0-9]* first_n_per_call=[0-9]+ stable=[01]" \
		"$(cat "$out/callgrind.txt" 2>/dev/null)"
fi

# ------------------------------------------------------------ report
rep=$(cat "$out/report.md" 2>/dev/null)
check_match "the report names the machine and the command" \
	'on [0-9]+ cores .* Command: `make bench BENCH_QUICK=1`' "$rep"
for p in $PATHS pindns-first; do
	check_match "the report has a row for $p" "^\\| ${p//+/\\+} \\| " "$rep"
done
[ -n "$PINDNS_SAN" ] ||
	check_match "the report breaks the hosts path down per function" \
		'^\| `_nss_files_gethostbyname4_r \(libc\)` \| [0-9,]+ \| [0-9,]+ \|' "$rep"
check_match "the report has the serve table with ratios to unbound" \
	'^\| pindns-serve / unbound \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|' "$rep"
check_match "the report has the per-repetition ratios" \
	'^\| pindns-miss / stubby \| [0-9.]+ \| [0-9.]+ \|' "$rep"
n=$(printf '%s\n' "$rep" | grep -cE '\| (met|\*\*missed\*\*) \|$')
# 9 of issue 7 and 3 of issue 14 (pindns serve against unbound).
check_eq "every issue-7 and issue-14 target is measured (met or missed)" 12 "$n"

# ------------------------------------------------------------ cleanup
# Nothing the run started is left: its lab and daemons recorded PIDs.
left=""
for f in "$out"/lab/run/*.pid "$out"/daemons/*.pid; do
	[ -s "$f" ] || continue
	read -r pid _ <"$f"
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && left="$left $f"
done
check_eq "no lab server or daemon outlives bench/run" "" "$left"
exit 0
