#!/usr/bin/env bash
# Refused and failed lookups turn into a quick 503 from the seed app
# (FastAPI, uvicorn, under pindns-exec in the poisoned namespace), and the
# audit log says why; nothing reaches the attacker or the stand-in.
#   off-pin      dynamodb.us-west-2 answers 127.0.99.9, outside the pins
#   bogus        the upstream forges us-east-1 A under the real RRSIG
#                (pins widened to 127.0.0.0/8 so only DNSSEC can catch it)
#   cname-escape ap-south-1 is a signed CNAME into unsigned example.net
#                (pins widened: only the CNAME check can catch it)
#   timeout      the upstream accepts TCP and never answers; timeout_ms 1000
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require curl pgrep setsid unshare "$PY" "$BUILD/pindns"

seed_servers_up || exit 1
WIDE='s|- 127\.0\.10\.0/24|- 127.0.0.0/8|'

# refused LABEL REGION WANT-VERDICT WANT-REASON LIMIT-MS SED...: start the
# app for dynamodb.REGION.amazonaws.com with the lab policy edited by the
# sed expressions, GET an item, expect a 503 within LIMIT-MS and one
# audit line "VERDICT REASON NAME".
refused() {
	local label=$1 region=$2 verdict=$3 reason=$4 limit=$5 pol name
	shift 5
	pol="$SEED_DIR/policy-$label.yaml"
	seed_policy "$pol" "$@"
	name=dynamodb.$region.amazonaws.com
	: >"$SEED_AUDIT"
	: >"$ATTACKER_LOG"
	: >"$STANDIN_LOG"
	APP_PORT=$(free_port)
	seed_cmd fastapi-uvicorn
	SEED_ENDPOINT="http://$name:$SEED_PORT" \
		seed_app_start "refused-$label" pindns "$pol" -- "${SEED_CMD[@]}" || return
	seed_get /items/items/42
	check_eq "$label: GET /items/items/42 is 503" 503 "$HTTP_CODE"
	check_match "$label: the app says the endpoint could not be reached" \
		"DynamoDB unreachable: Could not connect to the endpoint URL: .*$name" \
		"$HTTP_BODY"
	if [ "$HTTP_MS" -lt "$limit" ]; then
		ok "$label: 503 after $HTTP_MS ms (< $limit ms)"
	else
		not_ok "$label: 503 within $limit ms" "expected: < $limit ms" \
			"got: $HTTP_MS ms"
	fi
	check_eq "$label: audit log: one $verdict $reason line for $name, nothing accepted" \
		"$verdict $reason $name -" \
		"$(audit | awk -v p=" $(app_pids)" 'index(p, " " $1 " ") { $1 = ""; print }' |
			sed 's/^ //' | sort -u)"
	check_eq "$label: the attacker received nothing" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
	check_eq "$label: the stand-in received nothing" "" "$(reqs "$STANDIN_LOG" | sort | uniq -c)"
	seed_get /healthz
	check_eq "$label: the app is still healthy" 200 "$HTTP_CODE"
	pd_stop "$APP_PID" 1
}

# The refusals need no timeout: bound them by the policy's timeout_ms
# (2000) plus generous scheduling slack for a shared machine.
refused off-pin us-west-2 refused outside-pin 3500
refused bogus us-east-1 refused bogus 3500 "$WIDE" \
	"s|tls_port: $LAB_GOOD_PORT|tls_port: $LAB_TAMPERED_PORT|" \
	"s|value: $LAB_GOOD_PIN|value: $LAB_TAMPERED_PIN|"
refused cname-escape ap-south-1 refused cname-escape 3500 "$WIDE"
# A hung upstream: the lookup gives up after timeout_ms (1000) and the
# app answers 503 soon after.
refused timeout us-east-1 failed timeout 3000 \
	"s|^version: 1\$|version: 1\ntimeout_ms: 1000|" \
	"s|tls_port: $LAB_GOOD_PORT|tls_port: $LAB_HUNG_PORT|"
