# shellcheck shell=bash
# pindns: helpers for the seed-scenario tests (issue 6). Source after
# tests/lib.sh and lab_env:
#     . "$TOP/tests/dynamodb/lib.sh"
# Starts the DynamoDB stand-in (on the lab's legitimate address) and the
# attacker (on the poisoner's answer) on one random port, starts the
# example apps inside the poisoned mount namespace with or without
# pindns-exec, and stops everything it started by PID (process group for
# the apps) even when a check fails.

PY=/usr/bin/python3
GUNICORN=/usr/bin/gunicorn
PEXEC="$TOP/scripts/pindns-exec"
POISONED="$TOP/tests/lab/poisoned"
DDB="$TOP/tests/dynamodb/ddb.py"
SEED_NAME=dynamodb.us-east-1.amazonaws.com
SEED_DIR="$PD_TMP/seed"
mkdir -p "$SEED_DIR"

# Fake static credentials: what the attacker must not see. The metadata
# service is disabled so boto3 never looks for a role off this machine.
export AWS_ACCESS_KEY_ID=AKIAPINDNSSEEDTEST01
export AWS_SECRET_ACCESS_KEY=pindns/seed/test/secret/not/a/real/one/0000
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB
# The apps must find no pindns of a parent test in their environment.
unset PINDNS_POLICY PINDNS_PUBKEY PINDNS_LOG
export PYTHONDONTWRITEBYTECODE=1

# Under a sanitized build the runtime must be preloaded before the
# instrumented libpindns.so that pindns-exec puts in front.
SEED_SAN_ENV=()
case "$PINDNS_SAN" in
asan)
	SEED_SAN_ENV=("LD_PRELOAD=$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
		"ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}")
	;;
esac

SEED_JSON="$TOP/tests/dynamodb/seed.json"
# What GET /items/items/42 returns when the stand-in answered.
SEED_ITEM='{"id":"42","n":42,"name":"the answer"}'

# seed_servers_up: the stand-in on LAB_LEGIT_ADDR:P and the attacker on
# LAB_ATTACKER_ADDR:P, the same P, so a poisoned answer really redirects
# the client. Sets SEED_PORT, STANDIN_PID, ATTACKER_PID, STANDIN_LOG,
# ATTACKER_LOG, SEED_ENDPOINT.
seed_servers_up() {
	local try p out
	STANDIN_LOG="$SEED_DIR/standin.jsonl"
	ATTACKER_LOG="$SEED_DIR/attacker.jsonl"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		p=$((20000 + RANDOM % 30000))
		: >"$STANDIN_LOG"
		: >"$ATTACKER_LOG"
		"$PY" "$DDB" standin --bind "$LAB_LEGIT_ADDR" --port "$p" \
			--seed "$SEED_JSON" --log "$STANDIN_LOG" \
			${SEED_CLOSE:+--close} >"$SEED_DIR/standin.out" 2>&1 &
		STANDIN_PID=$!
		pd_cleanup "pd_stop $STANDIN_PID"
		"$PY" "$DDB" attacker --bind "$LAB_ATTACKER_ADDR" --port "$p" \
			--log "$ATTACKER_LOG" ${SEED_CLOSE:+--close} \
			>"$SEED_DIR/attacker.out" 2>&1 &
		ATTACKER_PID=$!
		pd_cleanup "pd_stop $ATTACKER_PID"
		if wait_for 15 grep -q '^READY' "$SEED_DIR/standin.out" &&
			wait_for 15 grep -q '^READY' "$SEED_DIR/attacker.out"; then
			SEED_PORT=$p
			SEED_ENDPOINT="http://$SEED_NAME:$p"
			return 0
		fi
		out=$(cat "$SEED_DIR/standin.out" "$SEED_DIR/attacker.out")
		pd_stop "$STANDIN_PID"
		pd_stop "$ATTACKER_PID"
		grep -q 'cannot bind' <<<"$out" || break
	done
	not_ok "stand-in and attacker up on one port" \
		"expected: READY from both" "got: $out"
	return 1
}

# seed_cmd KIND: set SEED_CMD to the command line of an example app on
# 127.0.0.1:$APP_PORT. KIND: fastapi-uvicorn fastapi-gunicorn
# django-gunicorn django-uvicorn. SEED_GUNICORN_ARGS adds options.
seed_cmd() {
	local ex="$TOP/examples"
	case "$1" in
	fastapi-uvicorn)
		SEED_CMD=("$PY" -m uvicorn app:app --app-dir "$ex/fastapi"
			--host 127.0.0.1 --port "$APP_PORT" --log-level warning) ;;
	django-uvicorn)
		SEED_CMD=("$PY" -m uvicorn ddbsite.asgi:application
			--app-dir "$ex/django" --host 127.0.0.1 --port "$APP_PORT"
			--log-level warning) ;;
	fastapi-gunicorn)
		SEED_CMD=("$GUNICORN" -w 4 -k uvicorn.workers.UvicornWorker
			-c "$TOP/tests/dynamodb/gunicorn_hooks.py"
			--chdir "$ex/fastapi" -b "127.0.0.1:$APP_PORT"
			--graceful-timeout 5 ${SEED_GUNICORN_ARGS:-} app:app) ;;
	django-gunicorn)
		SEED_CMD=("$GUNICORN" -w 4 --chdir "$ex/django"
			-c "$TOP/tests/dynamodb/gunicorn_hooks.py"
			-b "127.0.0.1:$APP_PORT" --graceful-timeout 5
			${SEED_GUNICORN_ARGS:-} ddbsite.wsgi) ;;
	*) echo "seed_cmd: unknown $1" >&2; return 1 ;;
	esac
}

# seed_app_start's server (its locals label, pre, args): the app on PORT,
# the port in its arguments (APP_PORT before) replaced by PORT.
_seed_start() {
	local a
	for ((a = 0; a < ${#args[@]}; a++)); do
		case "${args[a]}" in
		"$APP_PORT") args[a]=$PORT ;;
		*":$APP_PORT") args[a]=${args[a]%:"$APP_PORT"}:$PORT ;;
		esac
	done
	APP_PORT=$PORT
	: >"$SEED_BOOTED"
	setsid env DYNAMODB_ENDPOINT="$SEED_ENDPOINT" SEED_BOOTED="$SEED_BOOTED" \
		"${SEED_SAN_ENV[@]}" ${SEED_APP_ENV:-} \
		"$POISONED" "$LAB_STATE" -- "${pre[@]}" "${args[@]}" \
		>"$APP_LOG" 2>&1 </dev/null &
	PD_PID=$!
}
_seed_up() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
		"http://127.0.0.1:$APP_PORT/healthz")" = 200 ]
}
_seed_taken() { grep -qiE 'address already in use|connection in use' "$APP_LOG"; }

# seed_app_start LABEL [pindns POLICY] -- CMD...: run CMD in the poisoned
# namespace (its own process group), with pindns-exec -p POLICY when
# asked, DYNAMODB_ENDPOINT set; wait until GET /healthz answers on
# APP_PORT. Sets APP_PID, APP_LOG and SEED_BOOTED (the file where
# gunicorn's workers write their PIDs: seed_workers). Returns 1 (with a
# not ok) when the app does not come up within SEED_START_SECS (default 90).
seed_app_start() {
	local label=$1 pre=() args
	shift
	if [ "$1" = pindns ]; then
		pre=("$PEXEC" -p "$2" --)
		shift 2
	fi
	[ "$1" = -- ] && shift
	args=("$@")
	APP_LOG="$SEED_DIR/$label.log"
	SEED_BOOTED="$SEED_DIR/$label.booted"
	# On another port when APP_PORT was taken first (tests/lib.sh).
	if pd_start_on_free_port "${SEED_START_SECS:-90}" 1 _seed_start \
		_seed_up _seed_taken "$APP_PORT"; then
		APP_PID=$PD_PID
		return 0
	fi
	APP_PID=$PD_PID
	not_ok "$label: app up on 127.0.0.1:$APP_PORT" \
		"expected: GET /healthz 200 within ${SEED_START_SECS:-90} s" \
		"got: $(pd_alive "$APP_PID" && echo "no answer" || echo "exited"); log:" \
		"$(tail -n 20 "$APP_LOG")"
	return 1
}

# seed_workers N: wait until N gunicorn workers have booted (each writes
# its PID to $SEED_BOOTED from post_worker_init: gunicorn_hooks.py), for
# at most SEED_START_SECS (default 90); the app answers /healthz as soon
# as the first one is up. Sets WORKERS to the booted PIDs, sorted, one
# space after each. Returns 1 (with a not ok) when fewer booted.
seed_workers() {
	local n=$1 t
	for ((t = 0; t < ${SEED_START_SECS:-90} * 10; t++)); do
		[ "$(grep -c . "$SEED_BOOTED")" -ge "$n" ] && break
		pd_alive "$APP_PID" || break
		sleep 0.1
	done
	WORKERS=$(sort -n "$SEED_BOOTED" | tr '\n' ' ')
	[ "$(wc -w <<<"$WORKERS")" -eq "$n" ] && return 0
	not_ok "$n gunicorn workers booted" "expected: $n PIDs in $SEED_BOOTED" \
		"got: $WORKERS"
	return 1
}

# seed_get PATH: GET on the app. Sets HTTP_CODE, HTTP_BODY, HTTP_MS.
seed_get() {
	local out
	out=$(curl -s -o "$SEED_DIR/body" -w '%{http_code} %{time_total}' \
		--max-time "${SEED_GET_MAX:-30}" "http://127.0.0.1:$APP_PORT$1")
	HTTP_CODE=${out%% *}
	HTTP_MS=$(awk -v t="${out#* }" 'BEGIN { printf "%d", t * 1000 }')
	HTTP_BODY=$(cat "$SEED_DIR/body" 2>/dev/null)
}

# json_norm: compact, key-sorted JSON of stdin (or the raw text).
json_norm() {
	"$PY" -c 'import json,sys
raw = sys.stdin.read()
try:
    print(json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")))
except ValueError:
    print(raw.strip())'
}

# reqs LOG: every request recorded in LOG, one a line: "METHOD TARGET
# ACCESS-KEY-ID HOST".
reqs() {
	"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["method"], r["target"] or "-", r["access_key_id"] or "-",
          r["headers"].get("Host", "-"))' "$1"
}

# seed_policy OUT [SED-EXPR...]: the lab policy with the audit log sent to
# $SEED_DIR/audit.log (level all), edited by the sed expressions.
seed_policy() {
	local out=$1 e args=()
	shift
	SEED_AUDIT="$SEED_DIR/audit.log"
	args=(-e "s|^\( *target:\).*|\1 file:$SEED_AUDIT|")
	for e in "$@"; do args+=(-e "$e"); done
	sed "${args[@]}" "$LAB_POLICY" >"$out"
}

# audit_lines REGEX: audit log lines matching REGEX (extended).
audit_lines() { grep -E -- "$1" "${SEED_AUDIT:-/dev/null}" 2>/dev/null; }

# app_pids: the app's process group (master and workers).
app_pids() { pgrep -g "$APP_PID" | sort -n | tr '\n' ' '; }

# audit [FILE]: the audit log (default $SEED_AUDIT) as "pid verdict
# reason name accepted-addresses" lines; a line that is not JSON shows
# as "BAD <line>".
audit() {
	"$PY" -c 'import json,sys
try:
    f = open(sys.argv[1])
except OSError:
    sys.exit(0)
for l in f:
    try:
        r = json.loads(l)
        print(r.get("pid"), r.get("verdict"), r.get("reason") or "-",
              r.get("name"), ",".join(r.get("accepted") or []) or "-")
    except (ValueError, AttributeError):
        print("BAD", l.strip())' "${1:-$SEED_AUDIT}"
}

# parallel_get N PATH: N GETs at once; prints the HTTP codes, sorted and
# counted ("16 200").
parallel_get() {
	local i
	for ((i = 0; i < $1; i++)); do
		curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 \
			"http://127.0.0.1:$APP_PORT$2" &
	done | sort | uniq -c | awk '{ print $1, $2 }' | tr '\n' ' ' | sed 's/ $//'
	wait
}
