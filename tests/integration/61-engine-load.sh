#!/usr/bin/env bash
# The engine loaded as the preload loads it (dlopen of libpindns-engine.so,
# pindns_engine_v1): names no rule claims, static and deny rules never map
# getdns and never open a socket; the first secure lookup loads the
# backend (libpindns-dot.so, getdns) and connects to the policy's upstream.
# tags: lab
# timeout: 60
. "$(dirname "$0")/../lib.sh"
lab_env
PROBE="$BUILD/tools/engine_probe"
ENGINE="$BUILD/libpindns-engine.so"
require "$PROBE"

cat >"$PD_TMP/p.yaml" <<EOS
$(sed -n '1,/^rules:/p' "$LAB_POLICY")
  - name: local
    match: [dynamodb.local.test]
    action: static
    addresses: [127.0.0.1]
  - name: blocked
    match: [blocked.test]
    action: deny
$(sed -n '/^rules:/,$p' "$LAB_POLICY" | sed 1d)
EOS

out=$("$PROBE" "$ENGINE" "$PD_TMP/p.yaml" www.example.org localhost \
	dynamodb.local.test blocked.test -m -s \
	dynamodb.us-east-1.amazonaws.com -m -s 2>&1)
check_match "unclaimed name handed to libc" '^www\.example\.org system' "$out"
check_match "static answered" 'dynamodb\.local\.test accepted - 127\.0\.0\.1' "$out"
check_match "deny refused" 'blocked\.test refused deny-rule' "$out"
first=$(printf '%s\n' "$out" | sed -n '/^getdns:/{p;q}')
check_eq "no getdns mapped after libc, static and deny names" "getdns: unmapped" "$first"
check_match "and no socket opened" $'getdns: unmapped\nsockets: 0' "$out"
check_match "secure name resolved" 'dynamodb\.us-east-1\.amazonaws\.com accepted - 127\.0\.10\.1' "$out"
check_match "secure lookup mapped getdns" $'accepted - 127\\.0\\.10\\.1\ngetdns: mapped' "$out"
check_match "and holds one upstream connection" $'getdns: mapped\nsockets: 1' "$out"
