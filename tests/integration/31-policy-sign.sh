#!/usr/bin/env bash
# pindns keygen / sign / verify: modes, round trip, one-byte tamper, wrong
# key, missing .sig, secret key readable by others, no overwrite.
. "$(dirname "$0")/../lib.sh"
PINDNS="$BUILD/pindns"
require "$PINDNS" stat
cd "$PD_TMP" || exit 1

check "keygen writes a key pair" "$PINDNS" keygen k1
check_eq "secret key mode" 600 "$(stat -c %a k1.key)"
check_eq "public key mode" 644 "$(stat -c %a k1.pub)"
check_match "public key file format" \
	'^untrusted comment: pindns public key [0-9a-f]{16}$' "$(head -n 1 k1.pub)"
check_eq "public key is base64 of 42 octets" 42 "$(sed -n 2p k1.pub | base64 -d | wc -c)"
check_eq "secret key is base64 of 74 octets" 74 "$(sed -n 2p k1.key | base64 -d | wc -c)"
check_rc "keygen refuses to overwrite" 1 "$PINDNS" keygen k1
"$PINDNS" keygen k2 >/dev/null

cp "$TOP/policy/dynamodb.yaml" p.yaml
check "sign" "$PINDNS" sign -k k1.key p.yaml
check_match "signature file format" \
	'^untrusted comment: pindns signature of p\.yaml by key [0-9a-f]{16}$' \
	"$(head -n 1 p.yaml.sig)"
check "verify with the right key" "$PINDNS" verify -k k1.pub p.yaml
check "verify accepts POLICY -k KEY too" "$PINDNS" verify p.yaml -k k1.pub
check_rc "verify with another key fails" 1 "$PINDNS" verify -k k2.pub p.yaml
out=$("$PINDNS" verify -k k2.pub p.yaml 2>&1)
check_match "and names the signing key" "signed by key [0-9a-f]{16}, not by key [0-9a-f]{16}" "$out"

# Flip one bit of one byte in the middle of the file.
printf '\x%02x' $(( $(od -An -tu1 -j 200 -N1 p.yaml) ^ 1 )) |
	dd of=p.yaml bs=1 seek=200 count=1 conv=notrunc 2>/dev/null
check_rc "one-byte tamper: verify fails" 1 "$PINDNS" verify -k k1.pub p.yaml
check_rc "one-byte tamper: check with PINDNS_PUBKEY fails" 1 \
	env PINDNS_PUBKEY=k1.pub "$PINDNS" check p.yaml

cp "$TOP/policy/dynamodb.yaml" p.yaml
check "restored file verifies" "$PINDNS" verify -k k1.pub p.yaml
rm p.yaml.sig
check_rc "missing .sig: verify fails" 1 "$PINDNS" verify -k k1.pub p.yaml
out=$("$PINDNS" verify -k k1.pub p.yaml 2>&1)
check_match "missing .sig: message" "p\.yaml\.sig: missing" "$out"

chmod 644 k1.key
check_rc "world-readable secret key refused" 1 "$PINDNS" sign -k k1.key p.yaml
out=$("$PINDNS" sign -k k1.key p.yaml 2>&1)
check_match "message says why" "accessible to group or others \(mode 0644\)" "$out"
chmod 640 k1.key
check_rc "group-readable secret key refused" 1 "$PINDNS" sign -k k1.key p.yaml
check_eq "no .sig written" "absent" "$([ -e p.yaml.sig ] && echo present || echo absent)"
chmod 600 k1.key
check "0600 secret key signs" "$PINDNS" sign -k k1.key p.yaml

check_rc "sign without -k is a usage error" 1 "$PINDNS" sign p.yaml
check_rc "verify without POLICY is a usage error" 1 "$PINDNS" verify -k k1.pub
check_rc "keygen without BASENAME is a usage error" 1 "$PINDNS" keygen
out=$("$PINDNS" sign p.yaml 2>&1)
check_match "usage printed" "usage: pindns sign -k SECRET_KEY POLICY" "$out"
check "sign: -k after POLICY" "$PINDNS" sign p.yaml -k k1.key
out=$("$PINDNS" verify --bogus -k k1.pub p.yaml 2>&1)
check_eq "verify: unknown option: exit 1" 1 "$?"
check_match "verify: unknown option named" "^pindns verify: unknown option '--bogus'" "$out"
