#!/usr/bin/env bash
# pindns check: the shipped policy loads; every bad fixture is refused with
# its exact FILE:LINE:COLUMN message and exit 1; the warnings show; a
# required signature is enforced; a missing policy is said to be missing;
# usage errors name the option; --help and --version everywhere.
. "$(dirname "$0")/../lib.sh"
PINDNS="$BUILD/pindns"
require "$PINDNS"
cd "$TOP" || exit 1
export -n PINDNS_PUBKEY PINDNS_POLICY
unset PINDNS_PUBKEY PINDNS_POLICY

out=$("$PINDNS" check policy/dynamodb.yaml 2>&1)
rc=$?
check_eq "shipped policy/dynamodb.yaml passes check" 0 "$rc"
check_match "the shipped policy checks with 0 warnings" "policy/dynamodb.yaml: OK, 0 warnings$" "$out"
check_match "summary lists the dynamodb rule" \
	"1\. dynamodb \(line [0-9]+\): secure, dnssec validate, pin [0-9]+ CIDRs \(filter\)" "$out"
check_match "summary lists an upstream" "1\.1\.1\.1:853  tls_auth_name cloudflare-dns\.com" "$out"
check_match "summary shows the default" "default \(names no rule matches\): system" "$out"

# Every bad fixture: exit 1, the exact message first on stderr.
n=0
for f in tests/data/policy/bad/*.yaml; do
	want=$(cat "${f%.yaml}.err")
	got=$("$PINDNS" check "$f" 2>&1 >/dev/null)
	rc=$?
	first=$(printf '%s\n' "$got" | head -n 1)
	if [ "$rc" -ne 1 ] || [ "$first" != "$want" ]; then
		not_ok "check $f" "expected: exit 1, $want" "got: exit $rc, $first"
	fi
	n=$((n + 1))
done
check_eq "every bad fixture refused with its message ($n files)" \
	"$n" "$(ls tests/data/policy/bad/*.yaml | wc -l)"
[ "$PD_FAILED" -eq 0 ] && ok "all $n bad fixtures: exit 1 and exact message"

out=$("$PINDNS" check tests/data/policy/warn/all-warnings.yaml 2>&1)
check_eq "warnings do not fail the check" 0 $?
check_match "warning: validate rule without pins" \
	"warning: rule 'unpinned': dnssec validate without pins" "$out"
check_match "warning: dnssec off" "warning: rule 'wide': dnssec off" "$out"
check_match "warning: /0 pin" "warning: rule 'wide': pin 0\.0\.0\.0/0 covers all of the IPv4" "$out"
check_match "warning: /1 pin" "warning: rule 'wide': pin ::/1 covers half of the IPv6" "$out"
check_nomatch "no warning for an upstream authenticated through the system CA store" \
	"warning: upstream 127\.0\.0\.1:8853" "$out"
check_match "warning: single SPKI pin" \
	"warning: upstream \[::1\]:853: a single SPKI pin and no backup pin" "$out"
check_match "warning count" "OK, 5 warnings" "$out"

out=$("$PINDNS" check tests/data/policy/warn/unprotected.yaml 2>&1)
check_match "warning: default system and nothing protected" \
	"warning: default: system and no rule protects anything" "$out"

# No argument: PINDNS_POLICY, as the preload reads it.
out=$(PINDNS_POLICY=policy/dynamodb.yaml "$PINDNS" check 2>&1)
check_match "check without argument reads PINDNS_POLICY" "policy/dynamodb.yaml: OK" "$out"
out=$(PINDNS_POLICY=/nonexistent/p.yaml "$PINDNS" check 2>&1)
check_eq "missing policy: exit 1" 1 "$?"
check_match "missing policy: says there is no such file, not that it is invalid" \
	"^pindns check: no policy file /nonexistent/p\.yaml$" "$out"
check_nomatch "missing policy: not called invalid" "invalid" "$out"
check_match "missing policy: how to name one" "pindns check POLICY\), or set PINDNS_POLICY" "$out"
check_match "missing policy: the shipped example, where this tree keeps it" \
	"install -D -m 0644 $TOP/policy/dynamodb\.yaml /nonexistent/p\.yaml" "$out"

# A key is configured: the unsigned policy is refused, as the preload would.
cp policy/dynamodb.yaml "$PD_TMP/p.yaml"
"$PINDNS" keygen "$PD_TMP/k" >/dev/null 2>&1
out=$(PINDNS_PUBKEY="$PD_TMP/k.pub" "$PINDNS" check "$PD_TMP/p.yaml" 2>&1)
check_eq "PINDNS_PUBKEY set, unsigned: exit 1" 1 $?
check_match "says the signature is missing" "p\.yaml\.sig: missing" "$out"
"$PINDNS" sign -k "$PD_TMP/k.key" "$PD_TMP/p.yaml" >/dev/null 2>&1
out=$(PINDNS_PUBKEY="$PD_TMP/k.pub" "$PINDNS" check "$PD_TMP/p.yaml" 2>&1)
check_eq "PINDNS_PUBKEY set, signed: exit 0" 0 $?
check_match "summary says signature valid" "signature valid \($PD_TMP/k\.pub\)" "$out"

check_rc "check with two arguments is a usage error" 1 "$PINDNS" check a b
out=$("$PINDNS" check a b 2>&1)
check_match "usage printed" "usage: pindns check \[POLICY\]" "$out"
out=$("$PINDNS" check --bogus policy/dynamodb.yaml 2>&1)
check_eq "unknown option: exit 1" 1 "$?"
check_match "unknown option: named" "^pindns check: unknown option '--bogus'" "$out"
out=$("$PINDNS" check -x 2>&1)
check_match "unknown short option: named" "^pindns check: unknown option '-x'" "$out"

# --help and --version, on the tool and on every command: exit 0, stdout.
for c in "" check query keygen sign verify pin version; do
	for o in -h --help; do
		out=$("$PINDNS" $c $o 2>/dev/null)
		rc=$?
		[ "$rc" = 0 ] && grep -q "^usage:" <<<"$out" ||
			not_ok "pindns $c $o" "expected: exit 0, usage on stdout" "got: exit $rc: $out"
	done
	out=$("$PINDNS" $c --version 2>/dev/null)
	rc=$?
	[ "$rc" = 0 ] && grep -q "^pindns [0-9]" <<<"$out" ||
		not_ok "pindns $c --version" "expected: exit 0, the version" "got: exit $rc: $out"
done
ok "-h, --help and --version on the tool and every command"
