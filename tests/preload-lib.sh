# pindns: helpers for the preload's integration tests (source after lib.sh).

# pd_preload_copy DIR [ENGINE.so] : put a copy of libpindns.so in DIR, with
# ENGINE.so beside it as libpindns-engine.so (none when ENGINE is "-"),
# and print the LD_PRELOAD value for it (sanitizer runtime first when the
# build is sanitized). The preload finds its engine in its own directory.
pd_preload_copy() {
	local dir=$1 engine=${2:-$BUILD/tools/fake_engine.so} v
	mkdir -p "$dir" || return 1
	cp "$BUILD/libpindns.so" "$dir/" || return 1
	if [ "$engine" != - ]; then
		cp "$engine" "$dir/libpindns-engine.so" || return 1
	fi
	v="$dir/libpindns.so"
	case "$PINDNS_SAN" in
	asan) v="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so):$v" ;;
	esac
	echo "$v"
}

# pd_fake_spec TABLE : the PD_FAKE_ENGINE value answering each line
# "NAME ADDR..." of TABLE with those addresses (accepted, no CNAME).
pd_fake_spec() {
	local n a
	while read -r n a; do
		case "$n" in ''|'#'*) continue ;; esac
		printf '%s accepted - %s;' "$n" "$(echo $a | tr ' ' ,)"
	done <"$1"
}

# pd_preload_etc ETC : a private /etc for pd_etc_run, made in ETC: the
# preload tests' resolv.conf, nsswitch.conf and host.conf; each test
# writes its own ETC/hosts.
pd_preload_etc() {
	mkdir -p "$1" &&
	cp "$TOP/tests/data/preload/resolv.conf" \
	    "$TOP/tests/data/preload/nsswitch.conf" \
	    "$TOP/tests/data/preload/host.conf" "$1/"
}

# pd_table_etc ETC TABLE : pd_preload_etc, with ETC/hosts giving localhost
# and each name of TABLE its addresses (glibc's reference answers).
pd_table_etc() {
	pd_preload_etc "$1" &&
	{ echo "127.0.0.1 localhost"; pd_hosts_from "$2"; } >"$1/hosts"
}

# pd_hosts_from TABLE : /etc/hosts lines for TABLE, each name's IPv4
# addresses first, then its IPv6 ones (the order DNS answers come in).
pd_hosts_from() {
	local n a x
	while read -r n a; do
		case "$n" in ''|'#'*) continue ;; esac
		for x in $a; do case $x in *:*) ;; *) echo "$x $n" ;; esac; done
		for x in $a; do case $x in *:*) echo "$x $n" ;; esac; done
	done <"$1"
}

# pd_etc_run ETC PRELOAD CMD... : CMD in a private mount namespace with
# ETC's files over /etc (pd_private_etc), with LD_PRELOAD=PRELOAD (none
# when PRELOAD is empty) and the sanitizer options the build needs.
pd_etc_run() {
	local etc=$1 pre=$2
	shift 2
	if [ -z "$pre" ]; then
		pd_private_etc "$etc" "$@"
		return
	fi
	case "$PINDNS_SAN" in
	asan) pd_private_etc "$etc" env \
		ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		LD_PRELOAD="$pre" "$@" ;;
	*) pd_private_etc "$etc" env LD_PRELOAD="$pre" "$@" ;;
	esac
}

# pd_protected_queries TABLE : probe queries for the names of TABLE for
# which a hosts-file answer is what DNS would give (the name has addresses
# of the family asked, or AI_V4MAPPED maps them): every family, socket
# type, protocol and a list of flag sets, four services, and the
# gethostbyname family with ample and short buffers.
pd_protected_queries() {
	local n addrs a has4 has6 s fam st p f
	local services="@null 80 https nonsense"
	local flags="0 1 2 8 0x10 0x18 0x20 0x28 0x38 0x1a 0x400 0x40 0x80 0x3a 0x800"
	set -f
	while read -r n addrs; do
		case "$n" in ''|'#'*) continue ;; esac
		has4=0 has6=0
		for a in $addrs; do
			case $a in *:*) has6=1 ;; *) has4=1 ;; esac
		done
		for s in $services; do
			echo "gai $n $s -"
			for fam in 0 2 10 1; do for st in 0 1 2 3; do
			for p in 0 6 17; do for f in $flags; do
				[ $fam = 2 ] && [ $has4 = 0 ] && continue
				[ $fam = 10 ] && [ $has6 = 0 ] &&
					[ $((f & 8)) = 0 ] && continue
				echo "gai $n $s $fam,$st,$p,$f"
			done; done; done; done
		done
		echo "ghbn2 $n 1"
		if [ $has4 = 1 ]; then
			echo "ghbn $n"; echo "ghbn2 $n 2"
			echo "ghbnr $n 4096"; echo "ghbnr $n 16"
			echo "ghbn2r $n 2 4096"
		fi
		if [ $has6 = 1 ]; then
			echo "ghbn2 $n 10"; echo "ghbn2r $n 10 4096"
			echo "ghbn2r $n 10 30"
		fi
	done <"$1"
	set +f
}

# pd_dnsify FILE : glibc's output for names answered from /etc/hosts,
# rewritten to what glibc leaves for the same answer from DNS behind
# "hosts: files dns" (the preload's contract for protected names): after
# a success getaddrinfo leaves errno 0 (files: untouched, or ERANGE when
# its buffer grew) unless the sort's connect() set it, and
# gethostbyname_r's *h_errnop is NETDB_SUCCESS (files: HOST_NOT_FOUND)
# with the global h_errno HOST_NOT_FOUND (files: untouched).
pd_dnsify() {
	sed -e 's/^  = 0 errno=\(untouched\|0\|ERANGE\)$/  = 0 errno=0/' \
	    -e 's/^\(  = rc=0 result=ret\) h_errnop=HOST_NOT_FOUND h_errno=untouched /\1 h_errnop=NETDB_SUCCESS h_errno=HOST_NOT_FOUND /' \
	    "$1"
}

# pd_static_policy TABLE FILE AUDITLOG [ADDRS-FOR-p-v4.test] : write FILE, a
# policy answering each name of TABLE from a `static` rule with the same
# addresses (p-v4.test's replaced by ADDRS when given), p-deny.test denied,
# every other name to libc, refusals logged to AUDITLOG. Written to a
# temporary file and renamed, so a reader never sees half of it.
pd_static_policy() {
	local table=$1 file=$2 audit=$3 alt=${4:-} n a i=0
	{
		echo "version: 1"
		echo "log: {target: \"file:$audit\", level: deny}"
		echo "default: system"
		echo "rules:"
		echo "  - {name: denied, match: [p-deny.test], action: deny}"
		while read -r n a; do
			case "$n" in ''|'#'*) continue ;; esac
			[ "$n" = p-v4.test ] && [ -n "$alt" ] && a=$alt
			echo "  - name: r$((i++))"
			echo "    match: [$n]"
			echo "    action: static"
			echo "    addresses: [$(echo $a | sed 's/ /, /g;
				s/\([0-9a-f:]*:[0-9a-f:.]*\)/"\1"/g')]"
		done <"$table"
	} >"$file.tmp" && mv "$file.tmp" "$file"
}

# pd_poisoned [--conf LINE] [--nameserver A] [--hosts F] -- CMD... : CMD in
# the lab's poisoned namespace (tests/lab/poisoned; needs lab_env).
pd_poisoned() { "$TOP/tests/lab/poisoned" "$LAB_STATE" "$@"; }

# pd_poisoned_pre [OPTIONS] -- CMD... : the same under the preload
# (PRE when set, else this build's), set inside the namespace so that
# only CMD runs with it.
pd_poisoned_pre() {
	local a=() PD_PRE_ENV
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	pd_pre_env "${PRE:-}"
	pd_poisoned "${a[@]}" -- env "${PD_PRE_ENV[@]}" "$@"
}
