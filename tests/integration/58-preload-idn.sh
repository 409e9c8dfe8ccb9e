#!/usr/bin/env bash
# AI_IDN: glibc turns a non-ASCII name into IDNA A-labels (libidn2, NFKC)
# before it looks anything up, so fullwidth "ｄｙｎａｍｏｄｂ.us-east-1..."
# is queried as the protected "dynamodb.us-east-1.amazonaws.com". The
# preload must decide on that converted name, or the spelling would go to
# libc and out over plain DNS:
#  - in a UTF-8 locale the fullwidth spelling gets the policy's answer (a
#    static rule, then a deny rule) and no DNS query leaves the process;
#  - an unprotected Unicode name under AI_IDN answers exactly as glibc
#    does (the A-label form in a private /etc/hosts), with and without
#    the preload; and in the C locale both fail with EAI_IDN_ENCODE.
# tags: preload
# timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount diff strace "$BUILD/tools/gai-probe" "$BUILD/libpindns.so"

ETC=$PD_TMP/etc
pd_preload_etc "$ETC"
# bücher.example in A-label form, as libidn2 writes it.
printf '127.0.0.1 localhost\n127.0.0.9 xn--bcher-kva.example\n' >"$ETC/hosts"
PRE=$(pd_preload_value)
unset PINDNS_PUBKEY PINDNS_LOG

FW=$(printf '\357\275\204\357\275\231\357\275\216\357\275\201\357\275\215\357\275\217\357\275\204\357\275\202').us-east-1.amazonaws.com
UNI=$(printf 'b\303\274cher.example')
AI_IDN=0x40 AI_CANONNAME=0x2

policy() {	# policy FILE ACTION-LINES
	printf 'version: 1\ndefault: system\nrules:\n  - name: dynamodb\n    match: [dynamodb.us-east-1.amazonaws.com]\n%s\n' "$2" >"$1"
}
policy "$PD_TMP/static.yaml" "    action: static
    addresses: [127.0.0.42]"
policy "$PD_TMP/deny.yaml" "    action: deny"

# probe LOCALE POLICY QUERY: the probe's output, and "dns-sent" when the
# process sent anything to port 53 (strace).
probe() {
	local out
	out=$(echo "$3" | pd_etc_run "$ETC" "$PRE" env LC_ALL="$1" \
		PINDNS_POLICY="$2" strace -f -qq -e trace=connect,sendto,sendmmsg \
		-o "$PD_TMP/strace" "$BUILD/tools/gai-probe" 2>&1)
	printf '%s\n' "$out"
	grep -q 'htons(53)' "$PD_TMP/strace" && echo dns-sent
	return 0
}

out=$(probe C.UTF-8 "$PD_TMP/static.yaml" "gai $FW 443 2,1,0,$((AI_IDN | AI_CANONNAME))")
check_match "UTF-8, AI_IDN: the fullwidth spelling gets the static answer" \
	'addr=127\.0\.0\.42 port=443 canon=dynamodb\.us-east-1\.amazonaws\.com' "$out"
check_nomatch "UTF-8, AI_IDN: no DNS query for the protected name" 'dns-sent' "$out"

out=$(probe C.UTF-8 "$PD_TMP/deny.yaml" "gai $FW 443 2,1,0,$AI_IDN")
check_match "UTF-8, AI_IDN, deny rule: EAI_FAIL" '= EAI_FAIL' "$out"
check_nomatch "UTF-8, AI_IDN, deny rule: no DNS query" 'dns-sent' "$out"

out=$(probe C.UTF-8 "$PD_TMP/static.yaml" "gai $FW 443 2,1,0,0")
check_match "UTF-8 without AI_IDN: glibc's own refusal (no query)" \
	'= EAI_NONAME' "$out"
check_nomatch "UTF-8 without AI_IDN: no DNS query" 'dns-sent' "$out"

# Unprotected names: byte-identical to glibc, in both locales.
for loc in C.UTF-8 C; do
	q=$(printf 'gai %s 80 0,1,0,%s\ngai %s 80 2,0,0,%s\nghbn %s\n' \
		"$UNI" $((AI_IDN | AI_CANONNAME)) "$UNI" "$AI_IDN" "$UNI")
	want=$(echo "$q" | pd_etc_run "$ETC" "" env LC_ALL=$loc \
		"$BUILD/tools/gai-probe" 2>&1)
	got=$(echo "$q" | pd_etc_run "$ETC" "$PRE" env LC_ALL=$loc \
		PINDNS_POLICY="$PD_TMP/static.yaml" "$BUILD/tools/gai-probe" 2>&1)
	check_eq "$loc: an unprotected Unicode name answers as glibc does" \
		"$want" "$got"
done
check_match "C.UTF-8: glibc finds the A-label name in /etc/hosts" \
	'addr=127\.0\.0\.9' "$(echo "gai $UNI 80 2,1,0,$AI_IDN" |
	pd_etc_run "$ETC" "" env LC_ALL=C.UTF-8 "$BUILD/tools/gai-probe")"
