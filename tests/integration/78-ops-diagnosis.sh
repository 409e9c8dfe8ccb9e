#!/usr/bin/env bash
# Diagnosis (issue 17, part 4): `pindns query` names each upstream tried
# and why it failed, `upstream` says which one answered or `none`, and the
# audit line of a failure carries the same list ("tried", bounded).
# Upstreams: a closed port (nothing listens: connection refused), the
# tampered server under the good server's SPKI pin (TLS authentication
# fails) and the good server.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
require "$BUILD/pindns" /usr/bin/python3
lab_env
PD="$BUILD/pindns"
N=dynamodb.us-east-1.amazonaws.com
AUD=$PD_TMP/audit.log
closed_port CLOSED || { not_ok "a closed port"; exit 1; }
unset PINDNS_PUBKEY PINDNS_LOG

# policy OUT PORT...: the lab policy with its one upstream repeated for
# each PORT, in order, audit to $AUD.
policy() {
	local out=$1
	shift
	/usr/bin/python3 - "$LAB_POLICY" "$AUD" "$@" >"$out" <<'PY'
import re, sys
src, aud, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
text = open(src).read()
m = re.search(r'(upstream_recursive_servers:\n)((?:  .*\n)+?)(?=\S)', text)
block = m.group(2)
new = ''.join(re.sub(r'tls_port: \d+', 'tls_port: ' + p, block) for p in ports)
text = text[:m.start(2)] + new + text[m.end(2):]
text = re.sub(r'(?m)^(  target:).*$', r'\1 file:' + aud, text)
sys.stdout.write(text)
PY
}
q() {
	: >"$AUD"
	out=$("$PD" query --audit "$@" 2>&1); rc=$?
	line=$(cat "$AUD")
}

policy "$PD_TMP/second.yaml" "$CLOSED" "$LAB_GOOD_PORT"
check "the two-upstream policy loads" "$PD" check "$PD_TMP/second.yaml"
q -p "$PD_TMP/second.yaml" "$N"
check_eq "closed then good: accepted" 0 "$rc"
check_match "closed then good: the closed one is named, with why" \
	"tried: +127\.0\.0\.1:$CLOSED +[^ ]" "$out"
check_match "closed then good: upstream is the good one" \
	"upstream: +127\.0\.0\.1:$LAB_GOOD_PORT" "$out"

policy "$PD_TMP/none.yaml" "$LAB_TAMPERED_PORT" "$CLOSED"
q -p "$PD_TMP/none.yaml" "$N"
check_match "none answers: the TLS failure is named" \
	"tried: +127\.0\.0\.1:$LAB_TAMPERED_PORT +[^ ]" "$out"
check_match "none answers: so is the closed port" \
	"tried: +127\.0\.0\.1:$CLOSED +[^ ]" "$out"
check_match "none answers: upstream none" '^upstream: +none$' "$out"
check_match "none answers: the audit line carries both, in order" \
	"\"upstream\":null,\"tried\":\[\{\"upstream\":\"127\.0\.0\.1:$LAB_TAMPERED_PORT\",\"why\":\"TLS authentication failed[^\"]*(\\\\\"[^\"]*)*\",\"count\":[0-9]+\},\{\"upstream\":\"127\.0\.0\.1:$CLOSED\",\"why\":\"[^\"]+\",\"count\":[0-9]+\}" \
	"$line"
check "none answers: the audit line is valid JSON" \
	/usr/bin/python3 -c 'import json, sys; json.loads(sys.argv[1])' "$line"

# The same upstream failing the same way again (listed twice here; a
# retry, A and AAAA) is one entry with a count, in both outputs.
policy "$PD_TMP/twice.yaml" "$CLOSED" "$CLOSED" "$LAB_GOOD_PORT"
q -p "$PD_TMP/twice.yaml" "$N"
check_eq "the same failure twice: accepted" 0 "$rc"
check_eq "the same failure twice: one tried line per why" \
	"$(grep "^tried: *127\.0\.0\.1:$CLOSED " <<<"$out" | sort -u | wc -l)" \
	"$(grep -c "^tried: *127\.0\.0\.1:$CLOSED " <<<"$out")"
check_match "... with its count" \
	"^tried: +127\.0\.0\.1:$CLOSED +[^ ].* x[2-9]$" "$out"
policy "$PD_TMP/twice-none.yaml" "$CLOSED" "$CLOSED"
q -p "$PD_TMP/twice-none.yaml" "$N"
check "the same failure twice, none answers: no entry repeated in the audit line" \
	/usr/bin/python3 -c 'import json, sys
t = json.loads(sys.argv[1])["tried"]
k = [(e["upstream"], e["why"]) for e in t]
sys.exit(not (len(k) == len(set(k)) and max(e["count"] for e in t) >= 2))' "$line"

q -p "$PD_TMP/none.yaml" --json "$N"
check_match "--json: tried list" \
	"\"upstream\":\"none\",\"tried\":\[\{\"upstream\":\"127\.0\.0\.1:$LAB_TAMPERED_PORT\"" "$out"

q -p "$LAB_POLICY" "$N"
check_nomatch "healthy: no tried line" '^tried:' "$out"
check_match "healthy: upstream named" "upstream: +127\.0\.0\.1:$LAB_GOOD_PORT" "$out"
