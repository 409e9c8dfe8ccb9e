#!/usr/bin/env bash
# Report mode (issue 17, part 3): `mode: report` (top level or per rule)
# resolves and judges as enforce mode does, but answers what only the
# pins or the CNAME check refuse, logged as verdict would-refuse:
#  - off-pin (dynamodb.us-west-2: 127.0.99.9) and CNAME escape
#    (dynamodb.ap-south-1 into example.net) answered and logged;
#    enforce refuses both;
#  - bogus (the tampered upstream) and deny rules stay refused;
#  - a rule's own mode wins over the top level's;
#  - never cached: a second lookup asks the upstream again;
#  - a `system` rule with pins answers libc's off-pin address;
#  - the stderr warning appears once per process; `pindns check` warns.
# tags: lab preload
# timeout: 180
. "$(dirname "$0")/../lib.sh"
require "$BUILD/pindns" "$BUILD/libpindns.so" "$BUILD/tools/gai-probe" \
	"$TOP/tests/lab/poisoned" unshare
lab_env
PD="$BUILD/pindns"
Z=amazonaws.com
AUD=$PD_TMP/audit.log
unset PINDNS_PUBKEY PINDNS_LOG

# policy OUT AWK-PROGRAM-LINES...: the lab policy, audit to $AUD at level
# all, with extra lines printed after `version: 1` (top) or after the
# dynamodb rule's name (RULE=...).
policy() {
	local out=$1 top=$2 rule=$3
	shift 3
	awk -v target="file:$AUD" -v top="$top" -v rule="$rule" '
	/^log:/ { skip = 1; print "log: {target: \"" target "\", level: all}"; next }
	skip && /^  / { next }
	{ skip = 0 }
	/^version: 1$/ { print; if (top != "") print top; next }
	/^  - name: dynamodb$/ { print; if (rule != "") print rule; next }
	{ print }' "$LAB_POLICY" | sed "$@" >"$out"
}
REP=$PD_TMP/report.yaml
ENF=$PD_TMP/enforce.yaml
RULE=$PD_TMP/rule-report.yaml
OVR=$PD_TMP/override.yaml
BOGUS=$PD_TMP/bogus.yaml
policy "$REP" "mode: report" "" -e ''
policy "$ENF" "" "" -e ''
policy "$RULE" "" "    mode: report" -e ''
policy "$OVR" "mode: report" "    mode: enforce" -e ''
policy "$BOGUS" "mode: report" "" -e 's|- 127\.0\.10\.0/24|- 127.0.0.0/8|' \
	-e "s|tls_port: $LAB_GOOD_PORT|tls_port: $LAB_TAMPERED_PORT|" \
	-e "s|value: $LAB_GOOD_PIN|value: $LAB_TAMPERED_PIN|"

# q POLICY NAME: pindns query --audit, stdout in $out, status in $rc,
# stderr in $err, the audit line in $line.
q() {
	: >"$AUD"
	out=$("$PD" query --audit -p "$1" "$2" 2>"$PD_TMP/err"); rc=$?
	err=$(cat "$PD_TMP/err")
	line=$(cat "$AUD")
}

# ------------------------------------------ check
out=$("$PD" check "$REP" 2>&1)
check_match "check: report mode is a warning naming the rules" \
	'warning: report mode \(rules: dynamodb\): answers outside the pins' "$out"
check_match "check: the rule is shown in report mode" \
	'dynamodb \(line [0-9]+\): secure, dnssec validate, pin 1 CIDR \(filter\), mode report' "$out"
out=$("$PD" check "$ENF" 2>&1)
check_nomatch "check: no report warning in enforce mode" 'report mode' "$out"
out=$("$PD" check "$OVR" 2>&1)
check_nomatch "check: the rule's mode enforce wins over the top level" \
	'warning: report mode' "$out"
printf 'version: 1\nmode: report\nrules:\n  - name: d\n    match: [x.test]\n    action: deny\n    mode: report\n' >"$PD_TMP/deny.yaml"
out=$("$PD" check "$PD_TMP/deny.yaml" 2>&1); rc=$?
check_eq "check: mode on a deny rule is an error" 1 "$rc"
check_match "check: ... saying why" "'mode' has no meaning for action deny" "$out"
printf 'version: 1\nmode: lax\n' >"$PD_TMP/bad.yaml"
out=$("$PD" check "$PD_TMP/bad.yaml" 2>&1)
check_match "check: a bad mode names the choices" 'mode.*enforce.*report' "$out"

# ------------------------------------------ enforce refuses
for pol in "$ENF" "$OVR"; do
	q "$pol" "dynamodb.us-west-2.$Z"
	check_eq "enforce ($(basename "$pol")): off-pin refused (exit 2)" 2 "$rc"
	check_match "enforce: audit refused outside-pin" \
		'"verdict":"refused","reason":"outside-pin"' "$line"
	q "$pol" "dynamodb.ap-south-1.$Z"
	check_eq "enforce ($(basename "$pol")): CNAME escape refused (exit 2)" 2 "$rc"
	check_nomatch "enforce: no report warning on stderr" 'report mode' "$err"
done

# ------------------------------------------ report answers
for pol in "$REP" "$RULE"; do
	b=$(basename "$pol")
	q "$pol" "dynamodb.us-west-2.$Z"
	check_eq "$b: off-pin answered (exit 0)" 0 "$rc"
	check_match "$b: query says would-refuse" \
		'verdict: +would-refuse \(outside-pin\)' "$out"
	check_match "$b: the off-pin address is given" \
		'address: +127\.0\.99\.9 +answered \(report mode\), would refuse' "$out"
	check_match "$b: audit line would-refuse outside-pin, address given" \
		'"verdict":"would-refuse","reason":"outside-pin".*"accepted":\["127\.0\.99\.9"\]' "$line"
	check_match "$b: one stderr warning naming the rule" \
		'^pindns: WARNING: policy .* is in report mode for rule\(s\) dynamodb' "$err"
	q "$pol" "dynamodb.ap-south-1.$Z"
	check_eq "$b: CNAME escape answered (exit 0)" 0 "$rc"
	check_match "$b: query says would-refuse cname-escape" \
		'verdict: +would-refuse \(cname-escape\)' "$out"
	check_match "$b: canonical name outside the rule" \
		'canonical: +[^ ]*example\.net' "$out"
	check_match "$b: audit would-refuse cname-escape" \
		'"verdict":"would-refuse","reason":"cname-escape"' "$line"
done

# In-pin names are untouched by report mode.
q "$REP" "dynamodb.us-east-1.$Z"
check_match "report: an in-pin answer is plain accepted" \
	'"verdict":"accepted","reason":null' "$line"

# ------------------------------------------ never turned into answers
q "$BOGUS" "dynamodb.us-east-1.$Z"
check_eq "report: bogus (tampered upstream) still refused (exit 2)" 2 "$rc"
check_match "report: audit refused bogus" '"verdict":"refused","reason":"bogus"' "$line"

# ------------------------------------------ preload: once per process,
# never cached (each lookup asks the upstream and logs would-refuse).
PRE=$(pd_preload_value)
pre() {
	case "$PINDNS_SAN" in
	asan) env ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		LD_PRELOAD="$PRE" "$@" ;;
	*) env LD_PRELOAD="$PRE" "$@" ;;
	esac
}
: >"$AUD"
probe='gai dynamodb.us-west-2.amazonaws.com 443 0,1,0,0x2
gai dynamodb.us-west-2.amazonaws.com 443 0,1,0,0x2
gai dynamodb.ap-south-1.amazonaws.com 443 0,1,0,0x2'
out=$(echo "$probe" | PINDNS_POLICY=$REP pre "$BUILD/tools/gai-probe" 2>"$PD_TMP/err")
check_eq "preload: three lookups answered" 3 "$(grep -c '= 0 ' <<<"$out")"
check_eq "preload: the warning once on stderr for three lookups" 1 \
	"$(grep -c 'is in report mode' "$PD_TMP/err")"
check_eq "preload: two would-refuse outside-pin lines, both from the upstream (not cached)" 2 \
	"$(grep '"verdict":"would-refuse","reason":"outside-pin"' "$AUD" |
		grep -c "\"upstream\":\"127.0.0.1:$LAB_GOOD_PORT\"")"
check_eq "preload: one would-refuse cname-escape line" 1 \
	"$(grep -c '"verdict":"would-refuse","reason":"cname-escape"' "$AUD")"
out=$(echo "$probe" | PINDNS_POLICY=$ENF pre "$BUILD/tools/gai-probe" 2>"$PD_TMP/err")
check_eq "preload, enforce: all three refused" 3 "$(grep -c 'EAI_FAIL' <<<"$out")"
check_eq "preload, enforce: no warning" 0 "$(grep -c 'report mode' "$PD_TMP/err")"

# A forked child is a process of its own: it says it again. (Python is
# not instrumented: not under TSan, as in 75-load-short.)
if [ "$PINDNS_SAN" = tsan ]; then
	echo "# the forked-child check not run under TSan (python is not instrumented)"
else
out=$(PINDNS_POLICY=$REP pre /usr/bin/python3 -c '
import os, socket
socket.getaddrinfo("dynamodb.us-west-2.amazonaws.com", 443)
pid = os.fork()
if pid == 0:
    socket.getaddrinfo("dynamodb.us-west-2.amazonaws.com", 443)
    os._exit(0)
os.waitpid(pid, 0)
socket.getaddrinfo("dynamodb.us-west-2.amazonaws.com", 443)' 2>&1)
check_eq "preload: one warning per process (parent and forked child)" 2 \
	"$(grep -c 'is in report mode' <<<"$out")"
fi

# ------------------------------------------ system rule with pins
SYS=$PD_TMP/system.yaml
SYSE=$PD_TMP/system-enforce.yaml
for f in "$SYS" "$SYSE"; do
	awk -v target="file:$AUD" -v mode="$([ "$f" = "$SYS" ] && echo report || echo enforce)" '
	/^log:/ { skip = 1; print "log: {target: \"" target "\", level: all}"; next }
	skip && /^  / { next }
	{ skip = 0 }
	/^  - name: dynamodb$/ && !done {
		print "  - name: vpc"
		print "    match: [dynamodb.sa-east-1.amazonaws.com]"
		print "    action: system"
		print "    pin: [127.0.10.0/24]"
		print "    mode: " mode
		done = 1
	}
	{ print }' "$LAB_POLICY" >"$f"
done
printf '127.0.0.1\tlocalhost\n127.0.66.7\tdynamodb.sa-east-1.amazonaws.com\n' >"$PD_TMP/hosts"
sysq() {
	: >"$AUD"
	out=$(echo 'gai dynamodb.sa-east-1.amazonaws.com 443 0,1,0,0x2' |
		PINDNS_POLICY=$1 "$TOP/tests/lab/poisoned" "$LAB_STATE" \
		--hosts "$PD_TMP/hosts" -- env LD_PRELOAD="$PRE" \
		${PINDNS_SAN:+ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0} \
		"$BUILD/tools/gai-probe" 2>&1)
}
sysq "$SYSE"
check_match "system + pins, enforce: libc's off-pin address refused" 'EAI_FAIL' "$out"
sysq "$SYS"
check_match "system + pins, report: libc's address answered" 'addr=127\.0\.66\.7 ' "$out"
check_match "system + pins, report: audit would-refuse" \
	'"rule":"vpc","verdict":"would-refuse","reason":"outside-pin"' "$(cat "$AUD")"
