#!/usr/bin/env bash
# scripts/pindns-aws-pins on the ip-ranges subset: the exact us-east-1
# list, all 94 DYNAMODB prefixes covered exactly by the merged list, the
# in-place rewrite of one rule (byte for byte elsewhere), refusals.
. "$(dirname "$0")/../lib.sh"
PINS="$TOP/scripts/pindns-aws-pins"
RANGES="$TOP/tests/data/policy/aws-pins/ip-ranges-subset.json"
require "$PINS" python3 /usr/bin/python3 "$BUILD/pindns"
[ -r "$RANGES" ] || { not_ok "ip-ranges subset readable" "got: $RANGES"; exit 1; }
cd "$PD_TMP" || exit 1

want='pin:
  # pindns-aws-pins: ip-ranges.json syncToken 1787433425, createDate 2026-08-22-21-17-05
  # services DYNAMODB; regions us-east-1; IPv6 none (AWS publishes no IPv6 prefixes for these services)
  - 3.218.180.0/22
  - 35.71.68.0/22
  - 35.71.76.0/22
  - 52.94.0.0/22
  - 52.119.224.0/20'
check_eq "us-east-1: exact merged, sorted list" "$want" \
	"$("$PINS" --region us-east-1 "$RANGES")"
check_eq "the same with Debian's python3" "$want" \
	"$(/usr/bin/python3 "$PINS" --region us-east-1 "$RANGES")"
check_eq "--service is case-insensitive, DYNAMODB the default" "$want" \
	"$("$PINS" --service dynamodb --region us-east-1 "$RANGES")"

# Every region: the merged list covers exactly the 94 published prefixes.
"$PINS" "$RANGES" | sed -n 's/^  - //p' >all.txt
res=$(python3 - "$RANGES" all.txt <<'PY'
import ipaddress, json, sys
d = json.load(open(sys.argv[1]))
src = [ipaddress.ip_network(p["ip_prefix"]) for p in d["prefixes"]
       if p["service"] == "DYNAMODB"]
out = [ipaddress.ip_network(l.strip()) for l in open(sys.argv[2])]
ok = len(src) == 94
ok &= all(any(s.subnet_of(o) for o in out) for s in src)
ok &= sum(o.num_addresses for o in out) == \
    sum(n.num_addresses for n in ipaddress.collapse_addresses(src))
ok &= out == sorted(out) and all(not a.overlaps(b) for a, b in zip(out, out[1:]))
ok &= list(ipaddress.collapse_addresses(out)) == out    # nothing left to merge
print("ok" if ok else "bad: %d source prefixes, %d out" % (len(src), len(out)))
PY
)
check_eq "all regions: 94 prefixes covered exactly, merged, sorted" ok "$res"
check_eq "no IPv6 DYNAMODB prefix exists" 0 "$(grep -c ':' all.txt)"
n6=$("$PINS" --region us-east-1 --ipv6-service AMAZON "$RANGES" | grep -c '^  - .*:')
check_match "--ipv6-service AMAZON adds IPv6 ranges ($n6)" '^[1-9][0-9]*$' "$n6"

check_rc "unknown region refused" 1 "$PINS" --region us-east-9 "$RANGES"
out=$("$PINS" --region us-east-9 "$RANGES" 2>&1)
check_match "and says so" "no prefix for DYNAMODB in region us-east-9" "$out"
check_rc "missing file refused" 1 "$PINS" /nonexistent.json
check_rc "--rule without --policy is a usage error" 2 "$PINS" --rule x "$RANGES"

# In place: only the rule's pin block changes, byte for byte.
D="$TOP/tests/data/policy/aws-pins"
cp "$D/before.yaml" p.yaml
check "rewrite the dynamodb rule" "$PINS" --region us-east-1 --rule dynamodb \
	--policy p.yaml "$RANGES"
if cmp -s p.yaml "$D/after.yaml"; then
	ok "rewritten file equals the expected one byte for byte"
else
	not_ok "rewritten file equals the expected one byte for byte" \
		"$(diff -u "$D/after.yaml" p.yaml)"
fi
"$PINS" --region us-east-1 --rule dynamodb --policy p.yaml "$RANGES" 2>/dev/null
check "second run changes nothing" cmp p.yaml "$D/after.yaml"
sed "s|\.\./anchors/|$TOP/tests/data/policy/anchors/|" p.yaml >loadable.yaml
check "rewritten policy loads" "$BUILD/pindns" check loadable.yaml

cp p.yaml before-refusal.yaml
check_rc "unknown rule refused" 1 "$PINS" --rule nope --policy p.yaml "$RANGES"
out=$("$PINS" --rule nope --policy p.yaml "$RANGES" 2>&1)
check_match "and says so" "rule 'nope' not found" "$out"
check "file untouched after a refusal" cmp p.yaml before-refusal.yaml

# The shipped policy regenerates to itself from the same snapshot.
cp "$TOP/policy/dynamodb.yaml" ship.yaml
"$PINS" --rule dynamodb --policy ship.yaml "$RANGES" 2>/dev/null
check "shipped policy's pins are the subset file's, merged" \
	cmp ship.yaml "$TOP/policy/dynamodb.yaml"

# A signed policy: the script says the signature is now stale.
"$BUILD/pindns" keygen k >/dev/null
"$BUILD/pindns" sign -k k.key ship.yaml >/dev/null
out=$("$PINS" --region eu-west-1 --rule dynamodb --policy ship.yaml "$RANGES" 2>&1)
check_match "warns that the .sig is stale" "ship\.yaml\.sig no longer matches" "$out"
check_rc "and it no longer verifies" 1 "$BUILD/pindns" verify -k k.pub ship.yaml
