#!/usr/bin/env bash
# The default public key /etc/pindns/policy.pub (SPEC §2): only "no such
# file" means no key. A worker running as another user that cannot look
# into a 0700 /etc/pindns must not take that for "no key" and accept an
# unsigned policy (issue 12, item 4).
#
# Nothing under the machine's /etc is touched: each case runs in a private
# mount namespace with an overlay on /etc whose upper layer is a scratch
# directory, so /etc/pindns exists only there. The probe runs as nobody
# (setpriv), under the preload, with an unsigned policy whose static rule
# answers 127.0.0.42.
# tags: preload
# timeout: 60
. "$(dirname "$0")/../lib.sh"
require unshare mount setpriv "$BUILD/tools/gai-probe" "$BUILD/pindns" \
	"$BUILD/libpindns.so" "$BUILD/libpindns-engine.so"
unset PINDNS_PUBKEY PINDNS_LOG PINDNS_POLICY

W=$PD_TMP/w		# readable by nobody
mkdir -p "$W"
chmod 755 "$PD_TMP" "$W"
POL=$W/policy.yaml
printf '%s\n' 'version: 1' 'default: system' 'rules:' \
	'  - name: local' '    match: [db.local.test]' '    action: static' \
	'    addresses: [127.0.0.42]' >"$POL"
chmod 644 "$POL"
"$BUILD/pindns" keygen "$W/k" >/dev/null || { not_ok "pindns keygen"; exit 1; }

# as_nobody_with MODE CMD...: CMD as nobody, in a namespace where
# /etc/pindns is a directory of MODE holding a policy.pub (MODE "none":
# no /etc/pindns at all).
as_nobody_with() {
	local mode=$1 d
	shift
	d=$(mktemp -d "$PD_TMP/ov.XXXXXX")
	mkdir "$d/upper" "$d/work"
	unshare -m --propagation private -- /bin/sh -c '
		d=$1 mode=$2 key=$3; shift 3
		mount -t overlay overlay \
		    -o "lowerdir=/etc,upperdir=$d/upper,workdir=$d/work" /etc ||
		    exit 97
		if [ "$mode" != none ]; then
			mkdir /etc/pindns && cp "$key" /etc/pindns/policy.pub &&
			chmod 644 /etc/pindns/policy.pub &&
			chmod "$mode" /etc/pindns || exit 98
		fi
		exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	' sh "$d" "$mode" "$W/k.pub" "$@"
}
probe() {	# probe MODE: the probe's result for the protected name
	echo "gai db.local.test 443 2,1,0,0" |
		as_nobody_with "$1" env LD_PRELOAD="$(pd_preload_value)" \
		PINDNS_POLICY="$POL" "$BUILD/tools/gai-probe" 2>&1
}

out=$(probe none)
check_match "no /etc/pindns: the unsigned policy is in force" \
	'addr=127\.0\.0\.42' "$out"
out=$(probe 755)
check_match "/etc/pindns 0755 with a key: the unsigned policy is refused" \
	'= EAI_FAIL' "$out"
check_nomatch "/etc/pindns 0755: no static answer" '127\.0\.0\.42' "$out"
out=$(probe 700)
check_match "/etc/pindns 0700, not searchable by nobody: refused too" \
	'= EAI_FAIL' "$out"
check_nomatch "/etc/pindns 0700: no static answer" '127\.0\.0\.42' "$out"
check_match "/etc/pindns 0700: stderr says why" \
	'pindns: .*/etc/pindns/policy\.pub.*Permission denied' "$out"

out=$(as_nobody_with 700 "$BUILD/pindns" check "$POL" 2>&1)
rc=$?
check_eq "pindns check as nobody, /etc/pindns 0700: invalid" 1 "$rc"
check_match "pindns check says the key cannot be read" \
	'/etc/pindns/policy\.pub.*Permission denied' "$out"
out=$(as_nobody_with none "$BUILD/pindns" check "$POL" 2>&1)
rc=$?
check_eq "pindns check as nobody, no /etc/pindns: valid" 0 "$rc"
check_match "pindns check, no /etc/pindns: not signed" 'not signed' "$out"
