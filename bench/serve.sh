# shellcheck shell=bash
# bench/run's serve phase (sourced by bench/run, inside its namespace, after
# the lab, unbound, stubby and the bench policy are set up): four local
# resolvers on loopback, each in front of the lab's DoT upstream, asked
# by dnsperf side by side in one run:
#   pindns-serve  pindns serve with the bench policy (engine cache)
#   unbound       the caching, validating unbound of the matrix
#   kresd         Knot Resolver, caching and validating, TLS forward
#   stubby        stubby+dnssec of the matrix (no cache: every query is
#                 a DoT exchange, validated)
# Cached: the HIT name, already asked once, for SERVE_SECS seconds by one
# client asking one question at a time (bench/plain_dns -k udp: dnsperf
# with one query in flight waits ~0.4 ms between queries whatever the
# server, a ceiling of its own), then by 64 dnsperf clients with one
# query in flight each (-c 64 -q 64): queries per second, p50 and p99
# latency. Validated miss: SERVE_MISS names of the signed zone none of
# them has seen (each server its own slice of s<N>.bench), one at a time
# (dnsperf -c 1 -q 1: its latency is the server's). The servers take
# turns within each of SERVE_REPS repetitions, each repetition starting
# with the next one. Lines in serve.txt:
#   rep=R server=S mode=cached|miss clients=C qps=Q p50_us=.. p99_us=..
#   mean_us=.. sent=N lost=N rc=0
# dnsperf -v prints every answer with its latency; bench/serve_stats.py
# turns that into the line.

SERVE_PINDNS_ADDR=127.0.0.60
KRESD_ADDR=127.0.0.58
STUBBY_SERVE=stubby+dnssec

start_kresd() {
	local d=$OUT/daemons/kresd
	mkdir -p "$d/cache"
	cat >"$d/config.lua" <<-EOF
	-- Written by bench/run: dnsperf -> this kresd (UDP, cache) -> DoT.
	net.listen('$KRESD_ADDR', 53, { kind = 'dns' })
	net.ipv6 = false
	cache.open(100 * MB, 'lmdb://$d/cache')
	-- The lab's signed root, not the real one.
	trust_anchors.remove('.')
	trust_anchors.add_file('$LAB_TA_DS', true)
	policy.add(policy.all(policy.TLS_FORWARD({
	    { '$LAB_UP_ADDR@$LAB_GOOD_PORT', hostname = '$LAB_AUTH_NAME',
	      ca_file = '$LAB_CA' } })))
	EOF
	launch kresd kresd -n -q -c "$d/config.lua" "$d"
}

start_pindns_serve() {
	local pol=$OUT/policy-serve.yaml
	sed '/^rules:/,$d' "$OUT/policy.yaml" >"$pol"
	printf 'system_resolv_conf: %s\n' "$ETC/resolv.dead" >>"$pol"
	sed -n '/^rules:/,$p' "$OUT/policy.yaml" >>"$pol"
	# As root it would become the user pindns; -u root keeps it able to
	# read OUT (the bench's, 0700 under some umasks).
	launch pindns-serve "$BUILD/pindns" serve -p "$pol" \
		-l "$SERVE_PINDNS_ADDR" -u root
}

# serve_one REP SERVER ADDR: one client, one question at a time (the HIT
# name), its line appended to serve.txt.
serve_one() {
	local line f
	line=$("$BUILD/bench/plain_dns" -k udp -s "$3" -d "$SERVE_SECS" "$HIT")
	# "kind=udp calls=N errors=E us_p50=.. us_p90=.. us_p99=.. us_mean=.."
	# as serve.txt's fields: calls errors q/s p50 p99 mean.
	read -r -a f < <(awk -v l="$line" -v s="$SERVE_SECS" 'BEGIN {
		n = split(l, w, " ")
		for (i = 1; i <= n; i++) { split(w[i], kv, "="); v[kv[1]] = kv[2] }
		if (v["errors"] == "") v["errors"] = 1
		printf "%d %d %.0f %s %s %s\n", v["calls"], v["errors"],
		    v["calls"] / s, v["us_p50"], v["us_p99"], v["us_mean"] }')
	echo "rep=$1 server=$2 mode=cached clients=1 qps=${f[2]} p50_us=${f[3]}" \
		"p99_us=${f[4]} mean_us=${f[5]} sent=${f[0]} lost=${f[1]} rc=0" \
		>>"$OUT/serve.txt"
	[ "${f[1]}" = 0 ] && [ "${f[0]}" -gt 0 ] || {
		failed_runs=$((failed_runs + 1))
		say "  serve $2 cached c1: FAILED ($line)"
	}
}

# serve_dnsperf REP SERVER ADDR MODE CLIENTS FILE ARGS...: one dnsperf run,
# its line appended to serve.txt.
serve_dnsperf() {
	local rep=$1 server=$2 addr=$3 mode=$4 c=$5 file=$6 log line t=1
	shift 6
	log=$LOGS/dnsperf-$server-$mode-c$c-r$rep.log
	# dnsperf's own threads: two send and receive for many clients (the
	# machine has few cores to share with the server under test).
	[ "$c" -gt 1 ] && t=2
	dnsperf -s "$addr" -d "$file" -c "$c" -q "$c" -T "$t" \
		-t 5 -v "$@" >"$log" 2>&1
	line=$(/usr/bin/python3 "$BENCH_DIR/serve_stats.py" "$log")
	echo "rep=$rep server=$server mode=$mode clients=$c $line" \
		>>"$OUT/serve.txt"
	# A datagram lost in a flood of 64 clients is the flood's (the
	# kernel's socket buffer), counted in the line; more than 1 % of
	# them, or none answered, is a failed run.
	[[ "$line" == *" rc=0"* ]] && awk -v l="$line" 'BEGIN {
		split(l, f, " "); for (i in f) { split(f[i], kv, "="); v[kv[1]] = kv[2] }
		exit !(v["sent"] > 0 && v["lost"] <= v["sent"] / 100) }' || {
		failed_runs=$((failed_runs + 1))
		say "  serve $server $mode c$c: FAILED ($log)"
	}
}

phase_serve() {
	local r s addr n0 i order
	declare -A addr_of=([pindns-serve]=$SERVE_PINDNS_ADDR
		[unbound]=$UNBOUND_ADDR [kresd]=$KRESD_ADDR
		[stubby]=${STUBBY_ADDR[$STUBBY_SERVE]})
	local servers="pindns-serve unbound kresd stubby"
	command -v dnsperf >/dev/null && command -v kresd >/dev/null ||
		die "serve phase: dnsperf or kresd missing (scripts/install-deps bench)"
	say "serve: $SERVE_REPS repetitions, ${SERVE_SECS}s per cached run," \
		"$SERVE_MISS validated misses per server"
	: >"$OUT/serve.txt"
	[ -s "$OUT/daemons/unbound.pid" ] || {
		start_unbound
		ready unbound "$UNBOUND_ADDR"
	}
	[ -s "$OUT/daemons/$STUBBY_SERVE.pid" ] || {
		start_stubby "$STUBBY_SERVE" 1 "$LAB_GOOD_PORT"
		ready "$STUBBY_SERVE" "${STUBBY_ADDR[$STUBBY_SERVE]}"
	}
	start_kresd
	start_pindns_serve
	ready kresd "$KRESD_ADDR"
	ready pindns-serve "$SERVE_PINDNS_ADDR"
	for s in $servers; do
		ready_ad "$s" "${addr_of[$s]}"
	done
	echo "$HIT A" >"$OUT/serve-hit.txt"
	# Each server and repetition its own slice of the signed names,
	# after the ones the matrix uses from 0 up.
	n0=$((VAL_NAMES / 2))
	for ((r = 1; r <= SERVE_REPS; r++)); do
		# Each repetition starts with the next server: none is always
		# first (or last) when the machine's load drifts.
		order=$(tr ' ' '\n' <<<"$servers" | awk -v k="$r" '
			{ s[NR - 1] = $0 } END { for (i = 0; i < NR; i++)
			    print s[(i + k - 1) % NR] }')
		for s in $order; do
			addr=${addr_of[$s]}
			serve_one "$r" "$s" "$addr"
			serve_dnsperf "$r" "$s" "$addr" cached 64 \
				"$OUT/serve-hit.txt" -l "$SERVE_SECS"
			for ((i = 0; i < SERVE_MISS; i++)); do
				echo "s$((n0 + i)).bench.amazonaws.com A"
			done >"$OUT/serve-miss.txt"
			n0=$((n0 + SERVE_MISS))
			serve_dnsperf "$r" "$s" "$addr" miss 1 \
				"$OUT/serve-miss.txt" -n 1
		done
	done
	[ "$n0" -le "$VAL_NAMES" ] ||
		say "serve: more misses than the lab's $VAL_NAMES names: some were cached"
}
