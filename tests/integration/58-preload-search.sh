#!/usr/bin/env bash
# Names glibc completes before it asks DNS: the search list (resolv.conf's
# `search`, LOCALDOMAIN, RES_OPTIONS' ndots) and HOSTALIASES. A short name
# that glibc would complete into a claimed name is a claimed lookup
# (SPEC §4.1): the candidates in glibc's order, the claimed ones through
# the engine, the others through libc. In the lab's poisoned namespace
# (every amazonaws.com name is the attacker's 127.0.66.6 in plain DNS;
# dynamodb.plain.lab.test is 127.0.20.2), under the lab policy:
#  - controls without pindns: each completion reaches the poisoner;
#  - with pindns, getaddrinfo, gethostbyname(_r), getent and python get
#    the lab's true address for `dynamodb` completed by each mechanism;
#  - glibc's order holds: an earlier unclaimed candidate that exists wins
#    as with glibc; a claimed candidate refused by the policy ends the
#    lookup (EAI_FAIL), never falling through to a later candidate;
#  - a name a rule claims as written is never completed (ndots:5, as in
#    Kubernetes: the poisoner is never asked for NAME.svc.cluster.local);
#  - names none of whose candidates a rule claims: byte for byte what
#    glibc gives (probe diff), trailing dots and aliases included.
# tags: lab preload threads
# timeout: 240
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare diff "$BUILD/tools/gai-probe" "$BUILD/tools/res-probe" \
	"$BUILD/libpindns.so" \
	"$TOP/tests/lab/poisoned" /usr/bin/python3 getent
lab_env

PRE=$(pd_preload_value)
unset PINDNS_PUBKEY PINDNS_LOG LOCALDOMAIN RES_OPTIONS HOSTALIASES
export PINDNS_POLICY=$LAB_POLICY
# The lab policy, and a rule that denies one name under amazonaws.com.
BLOCKING=$PD_TMP/blocking.yaml
{
	cat "$LAB_POLICY"
	printf '%s\n' "  - name: blocked" \
		"    match: [www.us-east-1.amazonaws.com]" "    action: deny"
} >"$BLOCKING"
AUDIT=$(sed -n 's/^ *target: file://p' "$LAB_POLICY")

# run [--conf LINE]... [ENV=V]... -- CMD : in the poisoned namespace,
# without pindns; pre: the same under the preload.
run() {
	local c=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do c+=("$1"); shift; done
	shift
	pd_poisoned "${c[@]}" -- env "$@"
}
pre() { pd_poisoned_pre "$@"; }
# q LINE... : the probe's queries, in $PD_TMP/q.
q() { printf '%s\n' "$@" >"$PD_TMP/q"; }
G=$BUILD/tools/gai-probe
addrs() { grep -o 'addr=[0-9.]*' | sort -u | tr '\n' ' ' | sed 's/ $//'; }

SEARCH=(--conf "search plain.test us-east-1.amazonaws.com")
Q=("gai dynamodb @null 2,1,0,0" "gai dynamodb 443 0,1,0,0x2"
	"ghbn dynamodb" "ghbnr dynamodb 1024" "ghbn2r dynamodb 2 1024")
N=dynamodb.us-east-1.amazonaws.com

# ------------------------------------------ search list, resolv.conf
q "${Q[@]}"
out=$(run "${SEARCH[@]}" -- "$G" <"$PD_TMP/q" 2>&1)
check_eq "control: glibc completes dynamodb through resolv.conf's search into the poisoner" \
	"addr=127.0.66.6" "$(addrs <<<"$out")"
: >"$AUDIT"
q "${Q[@]}"
out=$(pre "${SEARCH[@]}" -- "$G" <"$PD_TMP/q" 2>&1)
check_eq "search list: getaddrinfo, gethostbyname, _r, 2_r get the lab's address" \
	"addr=127.0.10.1" "$(addrs <<<"$out")"
check_eq "search list: every call answered (5 calls, no error)" 5 \
	"$(grep -cE '^  = (0 |hostent|rc=0 )' <<<"$out")"
check_match "search list: hostent name is the completed name" \
	"name=$N type=AF_INET" "$out"
check_match "search list: the audit log has the completed name, accepted" \
	"\"name\":\"$N\",\"rule\":\"dynamodb\",\"verdict\":\"accepted\"" \
	"$(cat "$AUDIT")"
# Programs not built with TSan cannot load a TSan-built preload: the
# real clients run in the other builds, the probes in all three.
if [ "$PINDNS_SAN" != tsan ]; then
	out=$(pre "${SEARCH[@]}" -- getent ahostsv4 dynamodb 2>&1)
	check_match "search list: getent ahostsv4 dynamodb" \
		"^127\.0\.10\.1 +STREAM $N" "$out"
	out=$(pre "${SEARCH[@]}" -- /usr/bin/python3 -c \
		'import socket; print(socket.getaddrinfo("dynamodb", 443, socket.AF_INET)[0][4][0], socket.gethostbyname("dynamodb"))' 2>&1)
	check_eq "search list: python3 getaddrinfo and gethostbyname" \
		"127.0.10.1 127.0.10.1" "$out"
fi

# res_search and res_nsearch: the same completion through the res_* door.
R=$BUILD/tools/res-probe
q "search dynamodb A" "nsearch dynamodb A" "search dynamodb AAAA"
out=$(run "${SEARCH[@]}" -- "$R" <"$PD_TMP/q" 2>&1)
check_match "control: res_search completes dynamodb into the poisoner" \
	"an $N\.  *[0-9A-Z]* IN A  127\.0\.66\.6" "$out"
out=$(pre "${SEARCH[@]}" -- "$R" <"$PD_TMP/q" 2>&1)
check_eq "res_search, res_nsearch: the lab's address, question completed" \
	"an $N. IN A 127.0.10.1
an $N. IN A 127.0.10.1
qd $N type=1 class=1
qd $N type=1 class=1" \
	"$(grep -E '^  (an|qd) ' <<<"$out" | sed 's/^  //; s/  */ /g; s/ [0-9a-zA-Z]* IN / IN /' | sort)"
# The name has no AAAA: glibc tries the last candidate, then says NO_DATA.
check_match "res_search AAAA: NO_DATA, as glibc after the whole list" \
	"search dynamodb AAAA
  = -1 h_errno=NO_DATA" "$out"
check_nomatch "res_search: never the poisoner's address" '127\.0\.66\.6' "$out"

# ------------------------------------------ LOCALDOMAIN, RES_OPTIONS
q "${Q[@]}"
out=$(run -- LOCALDOMAIN="plain.test us-east-1.amazonaws.com" \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "control: LOCALDOMAIN completes into the poisoner" \
	"addr=127.0.66.6" "$(addrs <<<"$out")"
q "${Q[@]}"
out=$(pre -- LOCALDOMAIN="plain.test us-east-1.amazonaws.com" \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "LOCALDOMAIN: the lab's address" "addr=127.0.10.1" "$(addrs <<<"$out")"
# dynamodb.us-east-1 has one dot: with ndots:2 the search list comes
# first, with the default ndots:1 the name as is (NXDOMAIN) first.
for o in ndots:2 ndots:1; do
	q "gai dynamodb.us-east-1 @null 2,1,0,0"
	out=$(run --conf "search amazonaws.com" -- RES_OPTIONS=$o \
		"$G" <"$PD_TMP/q" 2>&1)
	check_eq "control: RES_OPTIONS=$o, dynamodb.us-east-1 into the poisoner" \
		"addr=127.0.66.6" "$(addrs <<<"$out")"
	q "gai dynamodb.us-east-1 @null 2,1,0,0"
	out=$(pre --conf "search amazonaws.com" -- RES_OPTIONS=$o \
		"$G" <"$PD_TMP/q" 2>&1)
	check_eq "RES_OPTIONS=$o: dynamodb.us-east-1 gets the lab's address" \
		"addr=127.0.10.1" "$(addrs <<<"$out")"
done

# ------------------------------------------ HOSTALIASES
printf '%s\n' "# aliases" "ddb $N" "ddbx dynamodb.us-west-2.amazonaws.com" \
	"web www.plain.lab.test" >"$PD_TMP/aliases"
q "gai ddb @null 2,1,0,0" "ghbn ddb"
out=$(run -- HOSTALIASES="$PD_TMP/aliases" "$G" <"$PD_TMP/q" 2>&1)
check_eq "control: HOSTALIASES maps ddb into the poisoner" \
	"addr=127.0.66.6" "$(addrs <<<"$out")"
q "gai ddb @null 2,1,0,0" "ghbn ddb"
out=$(pre -- HOSTALIASES="$PD_TMP/aliases" "$G" <"$PD_TMP/q" 2>&1)
check_eq "HOSTALIASES: ddb gets the lab's address" "addr=127.0.10.1" \
	"$(addrs <<<"$out")"
q "gai ddbx @null 2,1,0,0"
out=$(pre -- HOSTALIASES="$PD_TMP/aliases" "$G" <"$PD_TMP/q" 2>&1)
check_match "HOSTALIASES: an alias to an off-pin answer is refused" \
	"= EAI_FAIL" "$out"

# ------------------------------------------ glibc's order
q "gai dynamodb @null 2,1,0,0"
out=$(pre --conf "search plain.lab.test us-east-1.amazonaws.com" -- \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "order: an earlier unclaimed candidate that exists wins, as with glibc" \
	"addr=127.0.20.2" "$(addrs <<<"$out")"
q "gai www @null 2,1,0,0"
out=$(run --conf "search us-east-1.amazonaws.com plain.lab.test" -- \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "control: www completes into the poisoner first" \
	"addr=127.0.66.6" "$(addrs <<<"$out")"
: >"$AUDIT"
q "gai www @null 2,1,0,0" "ghbn www"
out=$(pre --conf "search us-east-1.amazonaws.com plain.lab.test" -- \
	PINDNS_POLICY="$BLOCKING" "$G" <"$PD_TMP/q" 2>&1)
check_match "order: a claimed candidate denied by a rule fails the lookup (EAI_FAIL)" \
	"= EAI_FAIL" "$out"
check_match "order: gethostbyname too (NO_RECOVERY)" "h_errno=NO_RECOVERY" "$out"
check_nomatch "order: never the later candidate's nor the poisoner's address" \
	"addr=" "$out"
check_match "order: the refusal is in the audit log" \
	'"name":"www.us-east-1.amazonaws.com","rule":"blocked","verdict":"refused","reason":"deny-rule"' \
	"$(cat "$AUDIT")"
# res_search: the search ends at the refusal, and nothing after it is
# asked: the poisoner sees no query for "www." from the preload's run
# (the control's query, made after it, proves such a line gets there).
www() { grep -c " www\. A IN$" "$LAB_POISON_LOG"; }
W0=$(www)
q "search www A"
out=$(pre --conf "search us-east-1.amazonaws.com plain.lab.test" -- \
	PINDNS_POLICY="$BLOCKING" "$R" <"$PD_TMP/q" 2>&1)
check_match "order: res_search too (-1, NO_RECOVERY)" \
	"search www A
  = -1 h_errno=NO_RECOVERY" "$out"
q "query www. A"
out=$(run -- "$R" <"$PD_TMP/q" 2>&1)
www_seen() { [ "$(www)" -gt "$W0" ]; }
wait_for 30 www_seen
check_eq "order: res_search asked nothing after the refused candidate" \
	$((W0 + 1)) "$(www)"

# ------------------------------------------ claimed as written: no search
# glibc itself, with ndots:5, asks plain DNS for NAME.svc.cluster.local
# first (one A query, a line in the poisoner's log); pindns never does.
# The control runs after the preload's run, so once its line is in the
# log, a line from the preload's run would be too.
svc() { grep -c "$N\.svc\.cluster\.local\. A IN" "$LAB_POISON_LOG"; }
P0=$(svc)
q "gai $N @null 2,1,0,0"
out=$(pre --conf "search svc.cluster.local" --conf "options ndots:5" -- \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "ndots:5: a claimed name as written gets the lab's address" \
	"addr=127.0.10.1" "$(addrs <<<"$out")"
out=$(run --conf "search svc.cluster.local" --conf "options ndots:5" -- \
	"$G" <"$PD_TMP/q" 2>&1)
check_eq "control: glibc with ndots:5 gets the poisoner's address" \
	"addr=127.0.66.6" "$(addrs <<<"$out")"
svc_seen() { [ "$(svc)" -gt "$P0" ]; }
wait_for 30 svc_seen
check_eq "ndots:5: only glibc asked plain DNS for $N.svc.cluster.local, never pindns" \
	$((P0 + 1)) "$(svc)"

# ------------------------------------------ unclaimed: as glibc
set -f
{
	for n in www nx s3 www. dynamodb. web localhost www.plain.lab.test; do
		for h in - 0,1,0,0 2,1,0,0 10,1,0,0x8 0,1,0,0x2 10,0,0,0x1a; do
			echo "gai $n 443 $h"
		done
		echo "ghbn $n"; echo "ghbn2r $n 10 1024"; echo "ghbnr $n 16"
	done
} >"$PD_TMP/uq"
set +f
for conf in "search plain.lab.test us-east-1.amazonaws.com" \
    "search us-east-1.amazonaws.com plain.lab.test" "domain plain.lab.test"; do
	run --conf "$conf" -- HOSTALIASES="$PD_TMP/aliases" \
		"$BUILD/tools/gai-probe" <"$PD_TMP/uq" >"$PD_TMP/glibc.out" 2>&1
	pre --conf "$conf" -- HOSTALIASES="$PD_TMP/aliases" \
		"$BUILD/tools/gai-probe" <"$PD_TMP/uq" >"$PD_TMP/pre.out" 2>&1
	check_eq "unclaimed names under '$conf': identical to glibc's" "" \
		"$(diff -u "$PD_TMP/glibc.out" "$PD_TMP/pre.out" | head -n 40)"
done
check "the reference reached DNS through the search list (www -> 127.0.20.1)" \
	grep -q 'addr=127.0.20.1' "$PD_TMP/glibc.out"

# ------------------------------------------ threads
# 16 threads x 200 lookups of short names through the search list (the
# configuration read once and shared), claimed and unclaimed, every
# answer checked; make tsan runs this too.
out=$(pre --conf "search plain.lab.test us-east-1.amazonaws.com" -- \
	"$BUILD/tools/gai-stress" -t 16 -n 200 dynamodb=ok:127.0.20.2 \
	www=ok:127.0.20.1,2001:db8:20::1 2>&1)
check_match "threads: 16 x 200 search-list lookups, all as expected" \
	'^ok - 3200 lookups in 16 threads, all as expected$' "$out"
out=$(pre --conf "search us-east-1.amazonaws.com" -- \
	"$BUILD/tools/gai-stress" -t 16 -n 200 dynamodb=ok:127.0.10.1 2>&1)
check_match "threads: 16 x 200 completions into the claimed name, all the lab's" \
	'^ok - 3200 lookups in 16 threads, all as expected$' "$out"
