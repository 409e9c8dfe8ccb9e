#!/usr/bin/env bash
# The seed scenario without pindns: the attack is real here. The FastAPI
# seed app (uvicorn) and the Django example (gunicorn, 4 sync workers)
# run in the poisoned mount namespace, where glibc's resolver gets the
# poisoner's answer for dynamodb.us-east-1.amazonaws.com. The request
# boto3 signs with the app's access key goes to the attacker, who records
# it, and the app serves the attacker's forged item. Nothing reaches the
# stand-in on the legitimate address.
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require curl pgrep setsid unshare "$PY" "$GUNICORN"

seed_servers_up || exit 1
ok "stand-in on $LAB_LEGIT_ADDR:$SEED_PORT, attacker on $LAB_ATTACKER_ADDR:$SEED_PORT"

# The stand-in really is DynamoDB enough for boto3, by address (outside
# the namespace, no name involved).
out=$("$PY" - "http://$LAB_LEGIT_ADDR:$SEED_PORT" <<'EOF' 2>&1
import sys, boto3
c = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=sys.argv[1])
print(c.describe_table(TableName="items")["Table"]["TableStatus"],
      c.get_item(TableName="items", Key={"id": {"S": "42"}})["Item"]["name"]["S"],
      "Item" in c.get_item(TableName="items", Key={"id": {"S": "7"}}))
try:
    c.get_item(TableName="nope", Key={"id": {"S": "1"}})
except c.exceptions.ResourceNotFoundException as e:
    print(e.response["Error"]["Code"])
EOF
)
check_eq "boto3 against the stand-in: DescribeTable, GetItem, absent item, error shape" \
	"ACTIVE the answer False
ResourceNotFoundException" "$out"
: >"$STANDIN_LOG"

# The poisoned namespace answers the attacker's address for the endpoint.
out=$("$POISONED" "$LAB_STATE" -- getent ahosts "$SEED_NAME" | awk 'NR == 1 { print $1 }')
check_eq "poisoned namespace: $SEED_NAME resolves to the attacker" \
	"$LAB_ATTACKER_ADDR" "$out"

# attack KIND: run the app unprotected, GET the item, check the capture.
attack() {
	local kind=$1 n0 caught
	APP_PORT=$(free_port)
	seed_cmd "$kind"
	: >"$ATTACKER_LOG"
	: >"$STANDIN_LOG"
	seed_app_start "$kind-plain" -- "${SEED_CMD[@]}" || return
	seed_get /items/items/42
	check_eq "$kind without pindns: GET /items/items/42 is 200" 200 "$HTTP_CODE"
	check_eq "$kind without pindns: the app served the attacker's forged item" \
		'{"forged":"by the attacker","id":"42"}' "$(json_norm <<<"$HTTP_BODY")"
	caught=$(reqs "$ATTACKER_LOG")
	check_eq "$kind without pindns: the attacker received the signed GetItem" \
		"POST DynamoDB_20120810.GetItem $AWS_ACCESS_KEY_ID $SEED_NAME:$SEED_PORT" \
		"$caught"
	check_match "$kind without pindns: with a SigV4 Authorization header" \
		"^AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/[0-9]{8}/us-east-1/dynamodb/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}\$" \
		"$("$PY" -c 'import json,sys
print(json.loads(open(sys.argv[1]).readline())["headers"]["Authorization"])' "$ATTACKER_LOG" 2>&1)"
	check_eq "$kind without pindns: the stand-in received nothing" "" \
		"$(reqs "$STANDIN_LOG")"
	pd_stop "$APP_PID" 1
}

attack fastapi-uvicorn
attack django-gunicorn
