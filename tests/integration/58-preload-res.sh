#!/usr/bin/env bash
# The res_query door (SPEC §4.1) in the lab's poisoned namespace, under the
# lab policy, read back with libresolv's parser (tools/res-probe):
#  - control: without pindns every res_* call gets the poisoner's answer;
#  - claimed A/AAAA: the lab's true address, question echoed as asked,
#    AD set (validated), TTL the remaining one, the CNAME chain, NXDOMAIN
#    and NODATA as they are with glibc's return values and h_errno; a
#    refusal -1 / NO_RECOVERY, a temporary failure -1 / TRY_AGAIN; a short
#    buffer cut with TC and the full length returned;
#  - every name and form a program binds: res_query, res_search,
#    res_querydomain, res_nquery, res_nsearch, res_nquerydomain and
#    __res_query@GLIBC_2.2.5;
#  - other types (MX) and classes for a claimed name: refused, logged, and
#    never sent to the (poisoned) system resolver;
#  - unclaimed names: the same bytes, return values and h_errno with and
#    without pindns (message ID aside: glibc draws it at random);
#  - a `system` rule with pins: libc's reply held against the pins.
# tags: lab preload
# timeout: 180
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare diff "$BUILD/tools/res-probe" "$BUILD/libpindns.so" \
	"$TOP/tests/lab/poisoned"
lab_env

PRE=$(pd_preload_value)
export PINDNS_POLICY=$PD_TMP/policy.yaml
unset PINDNS_PUBKEY PINDNS_LOG
AUDIT=$PD_TMP/audit.log
# The lab policy with its own audit log (level all).
sed "s|^  target: .*|  target: file:$AUDIT|" "$LAB_POLICY" >"$PINDNS_POLICY"
poisoned() { pd_poisoned "$@"; }
poisoned_pre() { pd_poisoned_pre -- "$@"; }
probe() { poisoned -- "$BUILD/tools/res-probe"; }
probe_pre() { poisoned_pre "$BUILD/tools/res-probe"; }
# no_hex : the probe's output without its hex lines.
no_hex() { grep -v '^  hex '; }
# blk CALL OUT : the lines OUT shows for CALL (the call, then its result).
blk() { awk -v c="$1" '$0 == c { p = 1; print; next } /^[^ ]/ { p = 0 } p' <<<"$2"; }

N=dynamodb.us-east-1.amazonaws.com

# ------------------------------------------------ control
out=$(echo "query $N A" | probe)
check_match "control: without pindns res_query gets the poisoner's address" \
	"an $N\.  +[0-9a-zA-Z]+ IN A  127\.0\.66\.6" "$out"
out=$(printf 'query dynamodb.xx-none-1.amazonaws.com A\nquery %s MX\n' "$N" | probe)
check_match "control: the poisoner answers a name that does not exist" \
	'127\.0\.66\.6' "$out"
check "control: the poisoner received the MX query" \
	grep -q "$N\. MX IN" "$LAB_POISON_LOG"

# ------------------------------------------------ claimed A / AAAA
mark=$(grep -c . "$LAB_POISON_LOG")
out=$(probe_pre <<EOF | no_hex
query $N A
query DynamoDB.US-East-1.amazonaws.com. A
query dynamodb.eu-central-1.amazonaws.com A
query dynamodb.eu-west-1.amazonaws.com AAAA
query dynamodb.xx-none-1.amazonaws.com A
query dynamodb.eu-north-1.amazonaws.com A
query dynamodb.us-west-2.amazonaws.com A
query dynamodb.ap-south-1.amazonaws.com A
query $N MX
class $N CH A
query $N A 40
EOF
)
# TTLs: the zone's 300 s, counted down by the upstream and the cache.
# ns_sprintrr (ns_format_ttl) writes one unit in capitals ("5M", "37S")
# and several in small letters ("4m37s"): under 60 s left (a lab up for
# over 4 minutes, as on a loaded machine) the TTL is "NNS".
check_eq "every TTL is the remaining one (300 s at most, above 0)" "" \
	"$(grep '^  an ' <<<"$out" | grep -Ev '  ([1-4]m[0-9]+s|[1-5]M|[1-9][0-9]?S) IN ')"
out=$(sed -E 's/^(  an [^ ]+)  [0-9a-zA-Z]+ IN /\1  TTL IN /' <<<"$out")
check_eq "claimed A: the lab's address, AD, the question echoed" \
"query $N A
  = 98 h_errno=untouched
  hdr qr=1 op=0 aa=0 tc=0 rd=1 ra=1 ad=1 cd=0 rcode=0 qd=1 an=1 ns=0 ar=0
  qd $N type=1 class=1
  an $N.  TTL IN A  127.0.10.1" "$(blk "query $N A" "$out")"
check_eq "the question as asked (case and trailing dot)" \
	"  qd DynamoDB.US-East-1.amazonaws.com type=1 class=1" \
	"$(blk "query DynamoDB.US-East-1.amazonaws.com. A" "$out" | grep "^  qd")"
check_eq "a CNAME chain: the CNAME, then the address at its target, AD" \
"query dynamodb.eu-central-1.amazonaws.com A
  = 188 h_errno=untouched
  hdr qr=1 op=0 aa=0 tc=0 rd=1 ra=1 ad=1 cd=0 rcode=0 qd=1 an=2 ns=0 ar=0
  qd dynamodb.eu-central-1.amazonaws.com type=1 class=1
  an dynamodb.eu-central-1.amazonaws.com.  TTL IN CNAME  ddb-edge.eu-central-1.amazonaws.com.
  an ddb-edge.eu-central-1.amazonaws.com.  TTL IN A  127.0.10.7" \
	"$(blk "query dynamodb.eu-central-1.amazonaws.com A" "$out")"
check_eq "AAAA outside the pins (eu-west-1): refused" \
"query dynamodb.eu-west-1.amazonaws.com AAAA
  = -1 h_errno=NO_RECOVERY" \
	"$(blk "query dynamodb.eu-west-1.amazonaws.com AAAA" "$out")"
check_eq "NXDOMAIN: -1, HOST_NOT_FOUND, the reply (rcode 3, AD) in the buffer" \
"query dynamodb.xx-none-1.amazonaws.com A
  = -1 h_errno=HOST_NOT_FOUND
  hdr qr=1 op=0 aa=0 tc=0 rd=1 ra=1 ad=1 cd=0 rcode=3 qd=1 an=0 ns=0 ar=0" \
	"$(blk "query dynamodb.xx-none-1.amazonaws.com A" "$out")"
check_eq "NODATA: -1, NO_DATA, the empty NOERROR reply in the buffer" \
"query dynamodb.eu-north-1.amazonaws.com A
  = -1 h_errno=NO_DATA
  hdr qr=1 op=0 aa=0 tc=0 rd=1 ra=1 ad=1 cd=0 rcode=0 qd=1 an=0 ns=0 ar=0" \
	"$(blk "query dynamodb.eu-north-1.amazonaws.com A" "$out")"
for c in "query dynamodb.us-west-2.amazonaws.com A" \
    "query dynamodb.ap-south-1.amazonaws.com A" "query $N MX" "class $N CH A"; do
	check_eq "refused ($c): -1, NO_RECOVERY, nothing written" \
		"$c
  = -1 h_errno=NO_RECOVERY" "$(blk "$c" "$out")"
done
check_eq "a short buffer: cut, TC set, the full length returned" \
"query $N A 40
  = 98 h_errno=untouched
  hdr qr=1 op=0 aa=0 tc=1 rd=1 ra=1 ad=1 cd=0 rcode=0 qd=1 an=1 ns=0 ar=0
  ns_initparse failed" "$(blk "query $N A 40" "$out")"
check_nomatch "never the poisoner's address, never past the buffer" \
	'127\.0\.66\.6|WROTE PAST' "$out"
check_match "the MX refusal is in the audit log" \
	"\"name\":\"$N\".*\"verdict\":\"refused\",\"reason\":\"other-type\"" \
	"$(cat "$AUDIT")"
check_eq "nothing claimed reached the poisoned resolver" "" \
	"$(tail -n +$((mark + 1)) "$LAB_POISON_LOG" | grep amazonaws)"

# ------------------------------------------------ every name and form
out=$(probe_pre <<EOF | no_hex
search $N A
nquery $N A
nsearch $N A
querydomain dynamodb us-east-1.amazonaws.com A
querydomain $N. - A
nquerydomain dynamodb us-east-1.amazonaws.com A
old $N A
search dynamodb.xx-none-1.amazonaws.com A
EOF
)
check_eq "each form answers from the engine" 7 \
	"$(grep -c '^  an dynamodb\.us-east-1\.amazonaws\.com\.  .* IN A  127\.0\.10\.1$' <<<"$out")"
check_eq "res_search leaves HOST_NOT_FOUND on success, as glibc" \
	"  = 98 h_errno=HOST_NOT_FOUND" "$(blk "search $N A" "$out" | grep '^  = ')"
check_eq "res_nsearch sets the state's h_errno as well" \
	"  = 98 h_errno=HOST_NOT_FOUND res_h_errno=HOST_NOT_FOUND" \
	"$(blk "nsearch $N A" "$out" | grep '^  = ')"
check_eq "res_search of a claimed NXDOMAIN" "  = -1 h_errno=HOST_NOT_FOUND" \
	"$(blk "search dynamodb.xx-none-1.amazonaws.com A" "$out" | grep '^  = ')"
check_nomatch "every form: never the poisoner's" '127\.0\.66\.6' "$out"

# ------------------------------------------------ temporary failure
# An upstream that accepts and never answers (hung), a short budget.
HUNGPOL=$PD_TMP/hung.yaml
sed -e "s|tls_port: .*|tls_port: $LAB_HUNG_PORT|" \
	-e '/tls_pubkey_pinset:/,/value:/d' "$PINDNS_POLICY" >"$HUNGPOL"
echo "timeout_ms: 300" >>"$HUNGPOL"
out=$(echo "query $N A" | PINDNS_POLICY=$HUNGPOL probe_pre | no_hex)
check_eq "every upstream timed out: -1, TRY_AGAIN" \
"query $N A
  = -1 h_errno=TRY_AGAIN" "$out"

# ------------------------------------------------ unclaimed names
{
	for n in www.plain.lab.test WWW.Plain.Lab.Test. nx.plain.lab.test \
	    s3.us-east-1.amazonaws.com localhost; do
		for t in A AAAA MX TXT; do
			echo "query $n $t"; echo "search $n $t"
			echo "nquery $n $t"; echo "nsearch $n $t"
		done
		echo "old $n A"; echo "class $n CH A"
		echo "querydomain $n - A"; echo "nquerydomain $n - AAAA"
	done
	echo "querydomain www plain.lab.test A"
	echo "querydomain s3 us-east-1.amazonaws.com AAAA"
	echo "query www.plain.lab.test A 40"
} >"$PD_TMP/q"
probe <"$PD_TMP/q" >"$PD_TMP/glibc.out" 2>&1
probe_pre <"$PD_TMP/q" >"$PD_TMP/pre.out" 2>&1
check "the reference is DNS: the poisoner's A and an NXDOMAIN" \
	grep -q 'rcode=3' "$PD_TMP/glibc.out"
check_eq "unclaimed names: the same bytes, return values and h_errno" "" \
	"$(diff -u "$PD_TMP/glibc.out" "$PD_TMP/pre.out" | head -n 40)"
check_eq "all $(grep -c . "$PD_TMP/q") calls answered" \
	"$(grep -c '^  = ' "$PD_TMP/glibc.out")" "$(grep -c . "$PD_TMP/q")"

# ------------------------------------------------ system rule with pins
SYSPOL=$PD_TMP/system-pinned.yaml
awk '
	/^  - name: dynamodb$/ && !done {
		print "  - name: plain-in"
		print "    match: [www.plain.lab.test]"
		print "    action: system"
		print "    pin: [127.0.20.0/24, \"2001:db8:20::/48\"]"
		print "  - name: vpc"
		print "    match: [dynamodb.ap-east-1.amazonaws.com]"
		print "    action: system"
		print "    pin: [127.0.10.0/24]"
		done = 1
	}
	{ print }' "$PINDNS_POLICY" >"$SYSPOL"
check "the system-pinned policy is valid" "$BUILD/pindns" check "$SYSPOL"
q="query www.plain.lab.test A
query www.plain.lab.test AAAA
query www.plain.lab.test MX"
check_eq "system + pins, inside the pins: libc's reply byte for byte" \
	"$(echo "$q" | probe)" "$(echo "$q" | PINDNS_POLICY=$SYSPOL probe_pre)"
out=$(echo "query dynamodb.ap-east-1.amazonaws.com A" |
	PINDNS_POLICY=$SYSPOL probe_pre | no_hex)
check_eq "system + pins: the poisoner's address refused, libc's reply wiped" \
"query dynamodb.ap-east-1.amazonaws.com A
  = -1 h_errno=NO_RECOVERY
  hdr qr=0 op=0 aa=0 tc=0 rd=0 ra=0 ad=0 cd=0 rcode=0 qd=0 an=0 ns=0 ar=0" "$out"
