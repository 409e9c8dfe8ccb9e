#!/usr/bin/env bash
# `pindns query` against the lab: the explanation (rule, action, upstream,
# DNSSEC status, chain, each address accepted or dropped and why, TTL,
# port of a SERVICE), --json, the exit codes (0 accepted, 1 usage or no
# policy, 2 refused, 3 temporary failure, 4 absent), options after NAME,
# the audit line it writes with --audit only, and
# that a static rule is answered without a single network socket.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
require strace /usr/bin/python3
lab_env
PD="$BUILD/pindns"
P="$LAB_POLICY"
Z=amazonaws.com

# q ARGS... : run pindns query, output in $out, exit status in $rc.
q() { out=$("$PD" query "$@" 2>&1); rc=$?; }

q -p "$P" "dynamodb.us-east-1.$Z" https
check_eq "us-east-1: exit 0 (accepted)" 0 "$rc"
check_match "us-east-1: rule and action" $'rule: +dynamodb\naction: +secure' "$out"
check_match "us-east-1: verdict accepted" 'verdict: +accepted' "$out"
check_match "us-east-1: upstream is the lab's good server" "upstream: +127\.0\.0\.1:$LAB_GOOD_PORT" "$out"
check_match "us-east-1: DNSSEC secure" 'dnssec: +secure' "$out"
check_match "us-east-1: address accepted" 'address: +127\.0\.10\.1 +accepted' "$out"
check_match "us-east-1: TTL shown" 'ttl: +[0-9]+ s' "$out"
check_match "us-east-1: port of https" 'port: +443/tcp' "$out"
check_match "us-east-1: time shown" 'time: +[0-9]+\.[0-9]+ ms' "$out"

q -p "$P" "dynamodb.us-west-1.$Z"
check_eq "us-west-1: exit 0" 0 "$rc"
check_match "us-west-1: off-pin address dropped and why" 'address: +127\.0\.99\.8 +dropped: outside the pins' "$out"
check_match "us-west-1: in-pin address accepted" 'address: +127\.0\.10\.8 +accepted' "$out"

q -p "$P" "dynamodb.eu-central-1.$Z"
check_match "eu-central-1: chain shown" "chain: +dynamodb\.eu-central-1\.$Z -> ddb-edge\.eu-central-1\.$Z" "$out"
check_match "eu-central-1: canonical name" "canonical: +ddb-edge\.eu-central-1\.$Z" "$out"

q -p "$P" "dynamodb.ap-south-1.$Z"
check_eq "ap-south-1 (CNAME escape): exit 2" 2 "$rc"
check_match "ap-south-1: reason" 'verdict: +refused \(cname-escape\)' "$out"
q -p "$P" "dynamodb.us-west-2.$Z"
check_eq "us-west-2 (off-pin): exit 2" 2 "$rc"
check_match "us-west-2: refused outside the pins" 'address: +127\.0\.99\.9 +refused: outside the pins' "$out"
q -p "$P" "dynamodb.xx-none-1.$Z"
check_eq "xx-none-1 (NXDOMAIN): exit 4" 4 "$rc"
check_match "xx-none-1: absent" 'verdict: +absent \(nxdomain\)' "$out"
q -p "$P" -4 "dynamodb.eu-north-1.$Z"
check_eq "eu-north-1 -4 (NODATA): exit 4" 4 "$rc"
check_match "eu-north-1: nodata" 'absent \(nodata\)' "$out"

q -p "$P" localhost
check_eq "localhost: exit 0" 0 "$rc"
check_match "localhost: answered by libc" 'answered by libc' "$out"

# --json: one valid object with the same facts.
q -p "$P" --json "dynamodb.us-west-1.$Z" https
check_eq "--json: exit 0" 0 "$rc"
j=$(printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
acc = [a["address"] for a in d["addresses"] if a["accepted"]]
drop = [a["address"] + ":" + a["why"] for a in d["addresses"] if not a["accepted"]]
print(d["rule"], d["action"], d["verdict"], d["dnssec"], ",".join(acc),
      ";".join(drop), d["ports"][0]["port"], d["exit"])' 2>&1)
check_eq "--json: fields" "dynamodb secure accepted secure 127.0.10.8 127.0.99.8:dropped: outside the pins 443 0" "$j"
q -p "$P" --json 'we"ird\name'
j=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])' 2>&1)
check_eq "--json: hostile name escaped and round-trips" 'we"ird\name' "$j"

# Usage errors: exit 1 and the usage line on stderr.
q
check_eq "no NAME: exit 1" 1 "$rc"
check_match "no NAME: usage printed" 'usage: pindns query' "$out"
q -p
check_eq "-p without a file: exit 1" 1 "$rc"
q --bogus x
check_eq "unknown option: exit 1" 1 "$rc"
check_match "unknown option: named" "^pindns query: unknown option '--bogus'" "$out"
q "dynamodb.us-east-1.$Z" -p "$P"
check_eq "options after NAME (query NAME -p POLICY): exit 0" 0 "$rc"
q "dynamodb.eu-north-1.$Z" -4 -p "$P"
check_eq "options after NAME: -4 applied (eu-north-1 NODATA: exit 4)" 4 "$rc"
q -p "$PD_TMP/no-such-policy.yaml" "dynamodb.us-east-1.$Z"
check_eq "missing policy: exit 1 (configuration error), not 2 (refused)" 1 "$rc"
check_match "missing policy: said, with -p" \
	"^pindns query: no policy file $PD_TMP/no-such-policy\.yaml"$'\n'".*-p POLICY" "$out"
printf 'version: 1\nbogus: 1\n' >"$PD_TMP/invalid.yaml"
q -p "$PD_TMP/invalid.yaml" "dynamodb.us-east-1.$Z"
check_eq "invalid policy: exit 1" 1 "$rc"
check_match "invalid policy: the loader's message" "invalid\.yaml:2:1: unknown key 'bogus'" "$out"
q -p "$P" "dynamodb.us-east-1.$Z" no-such-service-xyz
check_eq "unknown service: exit 1" 1 "$rc"
check_match "unknown service: said so" "service 'no-such-service-xyz'" "$out"

# Attackers and a dead upstream, on copies of the lab policy.
sed -e "s/tls_port: $LAB_GOOD_PORT/tls_port: $LAB_MITM_PORT/" \
	-e '/tls_pubkey_pinset:/,/value:/d' "$P" >"$PD_TMP/mitm.yaml"
q -p "$PD_TMP/mitm.yaml" "dynamodb.us-east-1.$Z"
check_eq "MITM upstream: exit 2" 2 "$rc"
check_match "MITM upstream: tls-auth" 'refused \(tls-auth\)' "$out"
sed -e "s/tls_port: $LAB_GOOD_PORT/tls_port: $LAB_HUNG_PORT/" \
	-e '/tls_pubkey_pinset:/,/value:/d' "$P" >"$PD_TMP/hung.yaml"
printf 'timeout_ms: 500\n' >>"$PD_TMP/hung.yaml"
q -p "$PD_TMP/hung.yaml" "dynamodb.us-east-1.$Z"
check_eq "hung upstream: exit 3" 3 "$rc"
check_match "hung upstream: failed (timeout)" 'failed \(timeout\)' "$out"

# The audit line of a query (the lab policy logs level all to a file):
# written with --audit only.
n0=$(grep -c 'dynamodb.us-west-2' "$LAB_AUDIT_LOG" 2>/dev/null)
q -p "$P" "dynamodb.us-west-2.$Z"
check_eq "query without --audit writes no audit line" "$n0" "$(grep -c 'dynamodb.us-west-2' "$LAB_AUDIT_LOG")"
q -p "$P" --audit "dynamodb.us-west-2.$Z"
line=$(grep 'dynamodb.us-west-2' "$LAB_AUDIT_LOG" | tail -n 1)
check_eq "query --audit wrote one audit line" $((n0 + 1)) "$(grep -c 'dynamodb.us-west-2' "$LAB_AUDIT_LOG")"
check_match "audit line: SPEC fields" "^\{\"ts\":\"[0-9T:.-]+Z\",\"pid\":[0-9]+,\"name\":\"dynamodb\.us-west-2\.$Z\",\"rule\":\"dynamodb\",\"verdict\":\"refused\",\"reason\":\"outside-pin\",\"dnssec\":\"secure\",\"upstream\":\"127\.0\.0\.1:$LAB_GOOD_PORT\",\"addresses\":\[\"127\.0\.99\.9\"\],\"accepted\":\[\],\"ms\":[0-9]+\.[0-9]\}$" "$line"

# A static rule: no DNS at all (no inet socket, no connect).
cat >"$PD_TMP/static.yaml" <<EOS
$(sed -n '1,/^rules:/p' "$P")
  - name: local
    match: [dynamodb.local.test]
    action: static
    addresses: [127.0.0.1, "::1"]
EOS
ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=socket,connect \
	-o "$PD_TMP/static.trace" \
	"$PD" query -p "$PD_TMP/static.yaml" dynamodb.local.test >"$PD_TMP/static.out" 2>&1
rc=$?
check_eq "static rule: exit 0" 0 "$rc"
check_match "static rule: both addresses" $'127\.0\.0\.1 +accepted\n.*::1 +accepted' "$(cat "$PD_TMP/static.out")"
check_eq "static rule: no inet socket, no connect" "" \
	"$(grep -E 'socket\(AF_INET|connect\(' "$PD_TMP/static.trace")"
