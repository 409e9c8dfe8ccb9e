# pindns hardening tests: shared helpers (sourced after tests/lib.sh and
# lab_env). Policies for the lab, and running a tool under the preload in
# the poisoned namespace (so that a name the engine passes to libc goes
# to the lab's poisoner, never to the machine's resolver).

# hd_policy OUT [VAR=VALUE...]: write a pindns policy for the lab (the CA
# and anchor files pinned by sha256, so a signed copy loads).
#   UP      upstreams, space-separated PORT or PORT/PIN (default: good, pinned)
#   DNSSEC  the dynamodb rule's dnssec (validate)
#   TIMEOUT timeout_ms (1000)     STALE  cache.stale_ttl (0)
#   MINTTL MAXTTL ENTRIES          cache keys (0, 300, 10000)
#   LOG     audit log file ($PD_TMP/audit.log), level all
#   RULES   extra YAML rule items appended after the dynamodb rule
#   PINS    the dynamodb rule's pins, space-separated ($LAB_PINS)
hd_policy() {
	local out=$1 UP="$LAB_GOOD_PORT/$LAB_GOOD_PIN" DNSSEC=validate \
		TIMEOUT=1000 STALE=0 MINTTL=0 MAXTTL=300 ENTRIES=10000 \
		LOG="$PD_TMP/audit.log" RULES="" PINS="$LAB_PINS" kv u port pin
	shift
	for kv in "$@"; do local "$kv"; done
	{
		echo "version: 1"
		echo "upstream_recursive_servers:"
		for u in $UP; do
			port=${u%%/*}
			pin=""
			[ "$u" != "$port" ] && pin=${u#*/}
			echo "  - address_data: 127.0.0.1"
			echo "    tls_port: $port"
			echo "    tls_auth_name: $LAB_AUTH_NAME"
			if [ -n "$pin" ]; then
				echo "    tls_pubkey_pinset:"
				echo "      - digest: sha256"
				echo "        value: $pin"
			fi
		done
		cat <<-YAML
		tls_ca_file:
		  path: $LAB_CA
		  sha256: $(sha256sum "$LAB_CA" | cut -d' ' -f1)
		dnssec_trust_anchors:
		  - path: $LAB_TA_DS
		    sha256: $(sha256sum "$LAB_TA_DS" | cut -d' ' -f1)
		timeout_ms: $TIMEOUT
		idle_timeout_ms: 10000
		cache:
		  max_entries: $ENTRIES
		  min_ttl: $MINTTL
		  max_ttl: $MAXTTL
		  stale_ttl: $STALE
		log:
		  target: file:$LOG
		  level: all
		default: system
		rules:
		  - name: dynamodb
		    match:
		      - dynamodb.*.amazonaws.com
		      - dynamodb-fips.*.amazonaws.com
		      - "*.ddb.*.amazonaws.com"
		      - streams.dynamodb.*.amazonaws.com
		    action: secure
		    dnssec: $DNSSEC
		    pin:
		YAML
		for u in $PINS; do echo "      - \"$u\""; done
		cat <<-YAML
		    cname:
		      - "**.amazonaws.com"
		YAML
		[ -n "$RULES" ] && printf '%s\n' "$RULES"
	} >"$out"
}

# hd_run POLICY CMD...: CMD under the preload with PINDNS_POLICY, in the
# poisoned namespace; the sanitizer runtime first in a sanitizer build.
hd_run() {
	local pol=$1
	shift
	"$TOP/tests/lab/poisoned" "$LAB_STATE" -- env \
		LD_PRELOAD="$(pd_preload_value)" PINDNS_POLICY="$pol" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		"$@"
}

# hd_field LINE KEY: the value of KEY=... in an hd_gai result line.
hd_field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# hd_in_pins ADDRS: every address of a comma list lies in 127.0.10.0/24.
hd_in_pins() {
	local a
	for a in ${1//,/ }; do
		case "$a" in 127.0.10.*) ;; *) return 1 ;; esac
	done
	return 0
}

# hd_rss_bound KB: the RSS growth allowed; under a sanitizer (ASan's
# quarantine, TSan's shadow) RSS says nothing about leaks, so no bound
# there: the plain build checks it, valgrind and LeakSanitizer check leaks.
hd_rss_bound() { if [ -n "$PINDNS_SAN" ]; then echo 100000000; else echo "$1"; fi; }

# hd_proc_stat PID: "THREADS FDS RSS_KB" of a process (0 0 0 once it is
# gone, so the three fields always line up).
hd_proc_stat() {
	cat "/proc/$1/status" 2>/dev/null |
	    awk -v fds="$(ls "/proc/$1/fd" 2>/dev/null | wc -l)" '
		/^Threads:/ { t = $2 } /^VmRSS:/ { r = $2 }
		END { print t + 0, fds + 0, r + 0 }'
}

# hd_reload_load DIR SECONDS [HD_LOAD_FLAG...]: what the reload tests
# (79-engine-reload-backends, stress 76-reload-resources) stand on: in
# DIR the lab policy a.yaml, b.yaml (the same rules plus a comment: a
# different file) and p.yaml (a copy of a.yaml, the one in force), and
# hd_load resolving a protected name in 4 threads for SECONDS under
# p.yaml, output in DIR/load.out. Sets HD_LOAD (the background job, for
# wait) and HD_LOAD_PID (hd_load itself, for hd_proc_stat).
hd_reload_load() {
	local dir=$1 secs=$2 L=$BUILD/tools/hd_load
	shift 2
	mkdir -p "$dir"
	hd_policy "$dir/a.yaml" LOG="$dir/audit.log"
	{ cat "$dir/a.yaml"; echo "# b"; } >"$dir/b.yaml"
	cp "$dir/a.yaml" "$dir/p.yaml"
	hd_run "$dir/p.yaml" "$L" -t 4 -d "$secs" -w 1 "$@" \
		dynamodb.us-east-1.amazonaws.com=ok:127.0.10.1 >"$dir/load.out" 2>&1 &
	HD_LOAD=$!
	pd_cleanup "kill $HD_LOAD"
	sleep 3
	HD_LOAD_PID=$(pgrep -n -f "$L -t 4 -d $secs ")
}
