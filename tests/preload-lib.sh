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
