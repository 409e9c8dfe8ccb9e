#!/usr/bin/env bash
# The policy file changes under running workers (SPEC §3: re-read when it
# changes, a version that fails to load is refused and logged, the old
# one stays in force): deleted, emptied, cut in half, replaced by a
# directory, made unreadable, replaced by a 2 MiB file. A 16-thread load
# (hd_load, as an unprivileged user so that mode 000 means unreadable)
# runs throughout and must see no wrong answer and no crash; each refused
# version is logged (once, not once per lookup); a valid new version is
# then taken up.
# tags: lab
# timeout: 120
# (Not tagged threads: setpriv / gunicorn are uninstrumented programs, and
# preloading clang's shared TSan runtime into them crashes here.)
. "${TOP:?run me through tests/run or tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
L=$BUILD/tools/hd_load
G=$BUILD/tools/hd_gai
require "$L" "$G" setpriv "$BUILD/libpindns.so"
lab_env
N=dynamodb.us-east-1.amazonaws.com
W=$PD_TMP/w		# world-readable: the load runs as nobody
mkdir -p "$W/pol"
chmod 755 "$PD_TMP" "$W" "$W/pol"
touch "$W/audit.log"
chmod 666 "$W/audit.log"
POL=$W/pol/policy.yaml
hd_policy "$W/orig.yaml" LOG="$W/audit.log"
cp "$W/orig.yaml" "$POL"
chmod 644 "$W/orig.yaml" "$POL"

cases=("$N=ok:127.0.10.1" dynamodb.us-west-2.amazonaws.com=EAI_FAIL
	dynamodb.ap-south-1.amazonaws.com=EAI_FAIL
	www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1)
hd_run "$POL" setpriv --reuid=65534 --regid=65534 --clear-groups \
	"$L" -t 16 -d 16 -w 1 -l 5000 "${cases[@]}" >"$W/load.out" \
	2>"$W/load.err" &
load=$!
pd_cleanup "kill $load"
sleep 1.5

restore() { rm -rf "$POL"; cp "$W/orig.yaml" "$POL"; chmod 644 "$POL"; }
step() {	# step DESC: hold a broken state long enough to be seen
	sleep 1.6
	restore
	sleep 1.2
}
rm -f "$POL"; step deleted
: >"$POL"; step empty
head -c "$(($(stat -c %s "$W/orig.yaml") / 2))" "$W/orig.yaml" >"$POL"; step half
rm -f "$POL"; mkdir "$POL"; step directory
chmod 000 "$POL"; step unreadable
{ cat "$W/orig.yaml"; head -c 2200000 /dev/zero | tr '\0' '#'; echo; } >"$POL"
step huge
wait "$load"
rc=$?
out=$(cat "$W/load.out")
check_eq "16 threads through 6 broken policy versions: hd_load exit 0" 0 "$rc"
check_match "no wrong answer: the old policy stayed in force" \
	'^ok - no wrong answer in [1-9][0-9]* lookups' "$out"
check_match "refusals stayed refusals" \
	'^ok - dynamodb\.us-west-2\.amazonaws\.com: [1-9][0-9]* lookups, 0 wrong' "$out"
check_nomatch "no crash, no sanitizer report" \
	'AddressSanitizer|runtime error|Segmentation|Aborted' "$(cat "$W/load.err")"
# Logged: each refused version once (stderr or the audit log), not once
# per lookup.
n=$(cat "$W/load.err" "$W/audit.log" | grep -c "$POL")
if [ "$n" -ge 5 ] && [ "$n" -le 12 ]; then
	ok "each refused policy version logged once or so ($n lines naming it)"
else
	not_ok "each refused policy version logged once" \
		"expected: 5..12 lines naming $POL (6 refused versions)" \
		"got: $n: $(cat "$W/load.err" | head -n 20)"
fi

# A valid change is taken up by a running process: us-west-2 denied.
coproc GAI { hd_run "$POL" "$G" 2>"$PD_TMP/co.err"; }
echo "$N" >&"${GAI[1]}"
read -r -t 20 l <&"${GAI[0]}"
check_match "before the change: $N accepted" 'rc=0 .*127\.0\.10\.1$' "$l"
hd_policy "$POL" LOG="$W/audit.log"
# Put the deny first: a rule earlier in the file wins.
sed -i 's/^rules:$/rules:\n  - name: deny-east-1\n    match: [dynamodb.us-east-1.amazonaws.com]\n    action: deny/' "$POL"
sleep 1.3
echo "$N" >&"${GAI[1]}"
read -r -t 20 l <&"${GAI[0]}"
check_match "after a valid change: the new policy is in force (deny)" \
	'rc=EAI_FAIL ' "$l"
exec {GAI[1]}>&-
wait "$GAI_PID"
