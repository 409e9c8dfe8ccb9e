#!/usr/bin/env bash
# The policy file changes under running workers (SPEC §3: re-read when it
# changes, a version that fails to load or verify is refused and logged,
# the old one stays in force): deleted, emptied, cut in half, replaced by
# a directory, made unreadable, replaced by a 2 MiB file. A 16-thread
# load (hd_load, as an unprivileged user so that mode 000 means
# unreadable) runs throughout and must see no wrong answer and no crash;
# each refused version is logged (once, not once per lookup); a new
# version is taken up once it is signed, not before.
#
# The policy is signed (PINDNS_PUBKEY): a file cut at a line boundary can
# still be a valid policy (the rules gone, `default: system`), and then
# it is one; only the signature tells a truncated file from an intended
# one. The load without a key is checked too: every version that does
# not parse is refused there as well.
# tags: lab
# timeout: 150
# (Not tagged threads: setpriv / gunicorn are uninstrumented programs, and
# preloading clang's shared TSan runtime into them crashes here.)
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
L=$BUILD/tools/hd_load
G=$BUILD/tools/hd_gai
P=$BUILD/pindns
require "$L" "$G" "$P" setpriv "$BUILD/libpindns.so"
lab_env
N=dynamodb.us-east-1.amazonaws.com
W=$PD_TMP/w		# world-readable: the load runs as nobody
mkdir -p "$W/pol"
chmod 755 "$PD_TMP" "$W" "$W/pol"
touch "$W/audit.log"
chmod 666 "$W/audit.log"
POL=$W/pol/policy.yaml
hd_policy "$W/orig.yaml" LOG="$W/audit.log"
"$P" keygen "$W/k" >/dev/null || { not_ok "pindns keygen"; exit 1; }
chmod 644 "$W/k.pub"
cp "$W/orig.yaml" "$POL"
"$P" sign -k "$W/k.key" "$POL" >/dev/null || { not_ok "pindns sign"; exit 1; }
chmod 644 "$W/orig.yaml" "$POL" "$POL.sig"

cases=("$N=ok:127.0.10.1" dynamodb.us-west-2.amazonaws.com=EAI_FAIL
	dynamodb.ap-south-1.amazonaws.com=EAI_FAIL
	www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1)

restore() { rm -rf "$POL"; cp "$W/orig.yaml" "$POL"; chmod 644 "$POL"; }
step() {	# step: hold a state past one check (once a second)
	sleep 1.25
	restore
	sleep 1.15
}
# churn: the six broken versions, each followed by the original again
# (a new inode each time: a reload of the same policy).
churn() {
	rm -f "$POL"; step
	: >"$POL"; step
	head -c "$CUT" "$W/orig.yaml" >"$POL"
	step
	rm -f "$POL"; mkdir "$POL"; step
	chmod 000 "$POL"; step
	{ cat "$W/orig.yaml"; head -c 2200000 /dev/zero | tr '\0' '#'; echo; } >"$POL"
	step
}

# load KEYENV OUT: the 16-thread load as nobody for the whole churn
# (6 steps of 2.4 s after 1.5 s), in the background; sets $load.
load() {
	hd_run "$POL" env $1 setpriv --reuid=65534 --regid=65534 \
		--clear-groups "$L" -t 16 -d 17 -w 1 -l 5000 -f "$FDS" \
		-m "$(hd_rss_bound 16384)" \
		"${cases[@]}" >"$2.out" 2>"$2.err" &
	load=$!
	pd_cleanup "kill $load"
	sleep 1.5
}
# The original copied back (a new inode, the same bytes) is no new
# policy, and nothing is left behind by the refused versions:
# descriptors stay flat.
FDS=${HD_CHURN_FDS:-4}
for run in signed unsigned; do
	: >"$W/audit.log"
	if [ "$run" = signed ]; then
		# Half the file, wherever that falls.
		CUT=$(($(stat -c %s "$W/orig.yaml") / 2))
		load "PINDNS_PUBKEY=$W/k.pub" "$W/$run"
	else
		# Inside the word "cache": no policy either way.
		CUT=$(($(grep -bo '^cache:' "$W/orig.yaml" | cut -d: -f1) + 3))
		load "HD_RUN=$run" "$W/$run"
	fi
	churn
	wait "$load"
	rc=$?
	out=$(cat "$W/$run.out")
	echo "$out" | grep '^# ' | sed "s/^# /# $run: /"
	if [ "$rc" -eq 0 ]; then
		ok "$run: 16 threads through 6 broken policy versions: hd_load exit 0"
	else
		not_ok "$run: 16 threads through 6 broken policy versions: hd_load exit 0" \
			"got: exit $rc" "$(grep '^not ok' <<<"$out")"
	fi
	check_match "$run: no wrong answer: the old policy stayed in force" \
		'^ok - no wrong answer in [1-9][0-9]* lookups' "$out"
	check_match "$run: refusals stayed refusals" \
		'^ok - dynamodb\.us-west-2\.amazonaws\.com: [1-9][0-9]* lookups, 0 wrong' "$out"
	check_match "$run: descriptors flat (<= $FDS more)" \
		'^ok - descriptors flat' "$out"
	check_nomatch "$run: no crash, no sanitizer report" \
		'AddressSanitizer|runtime error|Segmentation|Aborted' "$(cat "$W/$run.err")"
	# Logged: each refused version once (stderr or the audit log), not
	# once per lookup.
	n=$(cat "$W/$run.err" "$W/audit.log" | grep -c "cannot load policy $POL")
	if [ "$n" -ge 5 ] && [ "$n" -le 12 ]; then
		ok "$run: each refused policy version logged once or so ($n lines)"
	else
		not_ok "$run: each refused policy version logged once" \
			"expected: 5..12 lines naming $POL (6 refused versions)" \
			"got: $n: $(head -n 20 "$W/$run.err")"
	fi
	ok "$run: what was logged: $(sed -n "s|.*cannot load policy $POL[:0-9]*: ||p" \
		"$W/$run.err" | sed 's/; keeping.*//' | tr '\n' '|')"
done
# The cut file: refused for its signature, whatever it parses to.
check_match "signed: the cut version was refused for its signature" \
	'signature' "$(cat "$W/signed.err")"

# A new version is taken up by a running process once it is signed:
# a deny rule for the name, first unsigned (refused, the old policy
# stays), then signed.
restore
coproc GAI { hd_run "$POL" env PINDNS_PUBKEY="$W/k.pub" "$G" 2>"$PD_TMP/co.err"; }
ask() {	# ask NAME: one result line back
	local l=dead
	echo "$1" >&"${GAI[1]}"
	read -r -t 20 l <&"${GAI[0]}"
	echo "$l"
}
check_match "before the change: $N accepted" 'rc=0 .*127\.0\.10\.1$' "$(ask "$N")"
# Put the deny first: a rule earlier in the file wins.
sed 's/^rules:$/rules:\n  - name: deny-east-1\n    match: [dynamodb.us-east-1.amazonaws.com]\n    action: deny/' \
	"$W/orig.yaml" >"$W/deny.yaml"
cp "$W/deny.yaml" "$POL"
sleep 1.3
check_match "an unsigned new version: refused, the old policy in force" \
	'rc=0 .*127\.0\.10\.1$' "$(ask "$N")"
"$P" sign -k "$W/k.key" "$POL" >/dev/null
sleep 1.3
check_match "signed: the new policy is in force (deny)" 'rc=EAI_FAIL ' \
	"$(ask "$N")"
exec {GAI[1]}>&-
wait "$GAI_PID"
check_match "the refused unsigned version was logged" \
	"cannot load policy $POL.*signature" "$(cat "$PD_TMP/co.err")"
