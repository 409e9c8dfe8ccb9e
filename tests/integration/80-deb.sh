#!/usr/bin/env bash
# make deb: the Debian package builds (debhelper, dpkg-buildpackage) with
# lintian silent, `apt-get install ./pindns_*.deb` installs it, the seed
# scenario runs from the installed files only (/usr/bin/pindns-exec, the
# libraries in /usr/lib/<multiarch>/pindns: FastAPI + boto3 in the
# poisoned namespace reach the stand-in, not the attacker), and
# `apt-get purge` leaves nothing behind.
#
# The install happens where the machine's state cannot be changed: this
# script runs its second half in a private mount namespace (unshare -m)
# with an overlay on /usr, /etc and /var whose upper layer is in the
# test's temporary directory; apt and dpkg write there, and the layer
# goes away with the test, whatever happens to it. The purge also runs
# on every exit path.
# tags: lab
# timeout: 300
. "$(dirname "$0")/../lib.sh"

if [ "${1:-}" != inner ]; then
	require make dpkg-buildpackage lintian unshare apt-get dpkg-query
	W="$PD_TMP/deb"
	mkdir -p "$W"
	t0=$(date +%s)
	out=$(make -C "$TOP" --no-print-directory BUILD="$W" deb 2>&1)
	rc=$?
	check_eq "make deb builds the package, lintian silent ($(($(date +%s) - t0)) s)" 0 "$rc"
	[ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -n 30 | sed 's/^/#   /'; exit 1; }
	check_eq "lintian: no error, no warning" "" \
		"$(grep -E '^[EW]: ' <<<"$out")"
	deb=$(ls "$W"/deb/pindns_*_*.deb 2>/dev/null | head -n 1)
	check "the .deb is there" test -f "$deb"
	check_match "Depends from dpkg-shlibdeps: getdns, libsodium, libssl, libyaml" \
		'libgetdns10 .*libsodium23 .*libssl3 .*libyaml-0-2' \
		"$(dpkg-deb -f "$deb" Depends 2>&1)"

	# The machine's view of the package before and after.
	host_state() {
		dpkg-query -W -f='${Status} ${Version}\n' pindns 2>&1
		ls -l /usr/bin/pindns /usr/bin/pindns-exec /usr/lib/*/pindns 2>&1
	}
	before=$(host_state)
	U="$PD_TMP/overlay"
	mkdir -p "$U"
	PD_DEB=$deb PD_OVERLAY=$U unshare -m --propagation private -- \
		bash "$0" inner
	rc=$?
	[ "$rc" = 0 ] || PD_FAILED=1
	check_eq "the machine's own state is unchanged (dpkg, /usr)" "$before" "$(host_state)"
	check_eq "after the purge, nothing of pindns in the overlay's upper layer" "" \
		"$(cd "$U" && find . -path ./work -prune -o -iname '*pindns*' -print 2>/dev/null)"
	exit 0
fi

# ------------------------------------------------------------ inside

lab_env
. "$TOP/tests/dynamodb/lib.sh"
SEED_SAN_ENV=()	# the package is not instrumented
require curl pgrep setsid "$PY" mount
deb=$PD_DEB
U=$PD_OVERLAY

# An overlay on each of /usr, /etc, /var. Mounts under them (a
# container's /etc/resolv.conf) are kept: bound again on top.
for d in usr etc var; do
	mkdir -p "$U/$d" "$U/work/$d" "$U/orig/$d" || exit 1
	mount --rbind "/$d" "$U/orig/$d" || { not_ok "bind /$d"; exit 1; }
	subs=$(findmnt -rn -o TARGET | grep "^/$d/" | sort)
	if ! mount -t overlay overlay \
		-o "lowerdir=/$d,upperdir=$U/$d,workdir=$U/work/$d" "/$d"; then
		not_ok "overlay on /$d"
		exit 1
	fi
	for m in $subs; do
		mount --bind "$U/orig$m" "$m" || { not_ok "bind $m again"; exit 1; }
	done
done
ok "overlay on /usr, /etc and /var in a private mount namespace"

purge() { DEBIAN_FRONTEND=noninteractive apt-get purge -y -q pindns >/dev/null 2>&1; }
pd_cleanup purge
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s)
out=$(apt-get install -y -q --no-install-recommends "$deb" 2>&1)
rc=$?
check_eq "apt-get install ./$(basename "$deb") ($(($(date +%s) - t0)) s)" 0 "$rc"
[ "$rc" = 0 ] || { printf '%s\n' "$out" | tail -n 20 | sed 's/^/#   /'; exit 1; }
check_eq "dpkg: installed" "install ok installed" \
	"$(dpkg-query -W -f='${Status}' pindns 2>&1)"

MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
L=/usr/lib/$MA/pindns
check_eq "the libraries in $L" "libpindns-dot.so libpindns-engine.so libpindns.so" \
	"$(ls "$L" 2>&1 | tr '\n' ' ' | sed 's/ $//')"
check_eq "the tools in /usr/bin" "/usr/bin/pindns /usr/bin/pindns-aws-pins /usr/bin/pindns-exec" \
	"$(ls /usr/bin/pindns* 2>&1 | tr '\n' ' ' | sed 's/ $//')"
for p in 1:pindns 1:pindns-exec 1:pindns-aws-pins 5:pindns.yaml 7:pindns; do
	check_match "man ${p#*:}(${p%%:*}) is installed" \
		"^/usr/share/man/man${p%%:*}/${p#*:}\.${p%%:*}\.gz$" \
		"$(man -w "${p%%:*}" "${p#*:}" 2>&1)"
done
EX=/usr/share/doc/pindns/examples/dynamodb.yaml
check_match "the example policy passes the installed pindns check, 0 warnings" \
	"^$EX: OK, 0 warnings$" "$(/usr/bin/pindns check "$EX" 2>&1)"
C=/usr/share/bash-completion/completions
check_eq "bash completion for pindns and pindns-exec" "pindns pindns" \
	"$(basename "$(readlink -f "$C/pindns")") $(basename "$(readlink -f "$C/pindns-exec")")"
check_match "bash completion completes a subcommand" '^query$' \
	"$(bash -c ". $C/pindns; COMP_WORDS=(pindns qu); COMP_CWORD=1; _pindns; echo \"\${COMPREPLY[*]}\"" 2>&1)"
check_match "no policy: the installed pindns-exec names -p and the packaged example" \
	"no such file; name one with -p POLICY .*install -D -m 0644 $EX /nonexistent/policy\.yaml" \
	"$(/usr/bin/pindns-exec -p /nonexistent/policy.yaml -- true 2>&1)"

# The seed scenario, from the installed files only: no source tree.
seed_servers_up || exit 1
POL="$SEED_DIR/policy.yaml"
seed_policy "$POL"
APP_PORT=$(free_port)
seed_cmd fastapi-uvicorn
PEXEC=/usr/bin/pindns-exec	# seed_app_start uses it
: >"$SEED_AUDIT"
BUILD=/nonexistent seed_app_start deb pindns "$POL" -- "${SEED_CMD[@]}" || exit 1
seed_get /items/items/42
check_eq "packaged pindns, FastAPI: GET /items/items/42 is 200" 200 "$HTTP_CODE"
check_eq "packaged pindns, FastAPI: the stand-in's item" "$SEED_ITEM" \
	"$(json_norm <<<"$HTTP_BODY")"
check_eq "the app has the packaged preload, engine and backend mapped" \
	"$L/libpindns-dot.so $L/libpindns-engine.so $L/libpindns.so" \
	"$(grep -o "/[^ ]*libpindns[^ ]*" "/proc/$APP_PID/maps" 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//')"
check_eq "packaged pindns: the attacker received nothing" "" \
	"$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
check_match "packaged pindns: audit log: accepted $LAB_LEGIT_ADDR" \
	"accepted - $SEED_NAME $LAB_LEGIT_ADDR" "$(audit)"
pd_stop "$APP_PID" 1

out=$(apt-get purge -y -q pindns 2>&1)
check_eq "apt-get purge pindns" 0 "$?"
st=$(dpkg-query -W -f='${Status}' pindns 2>/dev/null)
[ "$st" = "unknown ok not-installed" ] && st=""
check_eq "dpkg: not installed after the purge" "not installed" "${st:-not installed}"
check_eq "nothing of pindns left under /usr, /etc, /var/lib/dpkg/info" "" \
	"$(find /usr /etc /var/lib/dpkg/info -iname '*pindns*' 2>/dev/null)"
