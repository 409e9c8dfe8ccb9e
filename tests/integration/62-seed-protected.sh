#!/usr/bin/env bash
# The seed scenario with pindns: in the poisoned mount namespace, each
# example app started with pindns-exec and the lab policy sends its
# signed request to the stand-in on the legitimate address; the attacker
# receives nothing. FastAPI under uvicorn and under gunicorn (4
# UvicornWorkers), Django under gunicorn (4 sync workers) and uvicorn
# (ASGI). The audit log (level all) shows the accepted lookup in the
# app's own processes.
# tags: lab
# timeout: 240
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require curl pgrep setsid unshare "$PY" "$GUNICORN" "$BUILD/pindns"

seed_servers_up || exit 1
POL="$SEED_DIR/policy.yaml"
seed_policy "$POL"
check "the test policy passes pindns check" "$BUILD/pindns" check "$POL"

protected() {
	local kind=$1 pids lines
	APP_PORT=$(free_port)
	seed_cmd "$kind"
	: >"$ATTACKER_LOG"
	: >"$STANDIN_LOG"
	: >"$SEED_AUDIT"
	seed_app_start "$kind-pindns" pindns "$POL" -- "${SEED_CMD[@]}" || return
	seed_get /items/items/42
	check_eq "$kind with pindns: GET /items/items/42 is 200" 200 "$HTTP_CODE"
	check_eq "$kind with pindns: the stand-in's item" "$SEED_ITEM" \
		"$(json_norm <<<"$HTTP_BODY")"
	seed_get /items/items/43
	check_eq "$kind with pindns: an absent item is 404" 404 "$HTTP_CODE"
	seed_get /items/nosuchtable/42
	check_eq "$kind with pindns: DynamoDB's ResourceNotFoundException is 500" \
		500 "$HTTP_CODE"
	case "$kind" in
	*gunicorn)
		check_eq "$kind with pindns: 16 concurrent GETs all 200" "16 200" \
			"$(parallel_get 16 /items/items/42)" ;;
	esac
	check_eq "$kind with pindns: the attacker received nothing" "" \
		"$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
	lines=$(reqs "$STANDIN_LOG" | sort | uniq -c | awk '{ $1 = ""; print }' | sed 's/^ //')
	check_eq "$kind with pindns: the stand-in received the signed GetItems" \
		"POST DynamoDB_20120810.GetItem $AWS_ACCESS_KEY_ID $SEED_NAME:$SEED_PORT" \
		"$lines"
	pids=" $(app_pids)"
	lines=$(audit | awk -v pids="$pids" '
		$4 == "'"$SEED_NAME"'" && $2 == "accepted" && $5 == "'"$LAB_LEGIT_ADDR"'" &&
		index(pids, " " $1 " ") { n++ } END { print n + 0 }')
	if [ "$lines" -ge 1 ]; then
		ok "$kind with pindns: audit log: accepted $LAB_LEGIT_ADDR in the app's processes ($lines)"
	else
		not_ok "$kind with pindns: audit log: accepted $LAB_LEGIT_ADDR in the app's processes" \
			"expected: a line 'PID accepted - $SEED_NAME $LAB_LEGIT_ADDR' with PID in:$pids" \
			"got:" "$(audit)"
	fi
	check_eq "$kind with pindns: nothing refused or failed in the audit log" "" \
		"$(audit | awk '$2 != "accepted"')"
	pd_stop "$APP_PID" 1
}

protected fastapi-uvicorn
protected fastapi-gunicorn
protected django-gunicorn
protected django-uvicorn
