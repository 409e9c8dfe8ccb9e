#!/usr/bin/env bash
# Replacing the policy changes behaviour in running workers, without a
# restart; a tampered replacement is refused and the old policy stays in
# force. FastAPI under gunicorn (4 UvicornWorkers) in the poisoned
# namespace, pindns-exec with PINDNS_PUBKEY set, so every version must
# carry a valid signature (pindns sign). The stand-in closes every HTTP
# connection, so every request makes a lookup. Default cache settings:
# a cached answer must not outlive the policy that accepted it.
#   A  the lab policy, signed                 -> 200
#   B  pins 127.0.99.0/24 (excludes .10.1)    -> 503, refused outside-pin
#   C  A's content, B's signature (tampered)  -> refused, B stays: 503
#   D  A's content, signed again              -> 200
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require curl pgrep setsid unshare "$PY" "$GUNICORN" "$BUILD/pindns"

SEED_CLOSE=1
seed_servers_up || exit 1
K="$SEED_DIR/k"
POL="$SEED_DIR/policy.yaml"
check "pindns keygen" "$BUILD/pindns" keygen "$K"
seed_policy "$SEED_DIR/A.yaml"
seed_policy "$SEED_DIR/B.yaml" 's|- 127\.0\.10\.0/24|- 127.0.99.0/24|'

# install VERSION [nosign]: put SEED_DIR/VERSION.yaml in place the way an
# operator should: signature first, then the policy by rename (a new
# inode, so a running process sees the change). With nosign the old
# signature stays: a tampered policy.
install_policy() {
	cp "$SEED_DIR/$1.yaml" "$POL.new"
	if [ "${2:-}" != nosign ]; then
		"$BUILD/pindns" sign -k "$K.key" "$POL.new" >/dev/null 2>&1 ||
			not_ok "pindns sign $1"
		mv -f "$POL.new.sig" "$POL.sig"
	fi
	mv -f "$POL.new" "$POL"
	# Reload is checked at most once a second, on a lookup.
	sleep 1.5
}

install_policy A
check "pindns verify of version A" "$BUILD/pindns" verify -k "$K.pub" "$POL"
APP_PORT=$(free_port)
seed_cmd fastapi-gunicorn
: >"$SEED_AUDIT"
SEED_APP_ENV="PINDNS_PUBKEY=$K.pub" \
	seed_app_start reload pindns "$POL" -- "${SEED_CMD[@]}" || exit 1
MASTER=$APP_PID
WORKERS=$(pgrep -P "$MASTER" | sort -n | tr '\n' ' ')
check_eq "4 workers" 4 "$(wc -w <<<"$WORKERS")"

# phase LABEL WANT-CODE: rounds of 12 GETs at once until every worker
# has made a lookup under the new file (each process re-reads the policy
# on its own lookups: a worker that made none would still hold the
# previous version); every GET must give WANT-CODE.
phase() {
	local round codes bad="" missing w
	for round in 1 2 3 4 5 6 7 8; do
		codes=$(parallel_get 12 /items/items/42)
		[ "$codes" = "12 $2" ] || bad="$bad [round $round: $codes]"
		missing=""
		for w in $WORKERS; do
			audit | awk -v w="$w" '$1 == w' | grep -q . || missing="$missing $w"
		done
		[ -z "$missing" ] && break
	done
	check_eq "$1: every worker looked up ($round rounds of 12 GETs)" "" "$missing"
	check_eq "$1: every GET answered $2 (count code)" "" "$bad"
}

: >"$SEED_AUDIT"
phase "A (signed)" 200
check_eq "A: the attacker received nothing" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"

: >"$SEED_AUDIT"
install_policy B
phase "B (signed, pins exclude the endpoint) in the running workers" 503
check_match "B: audit log: refused outside-pin for $LAB_LEGIT_ADDR" \
	"^[0-9]+ refused outside-pin $SEED_NAME -\$" \
	"$(audit | sort -u -k2 | head -n 1)"
check_eq "B: nothing accepted after the switch" "" \
	"$(audit | awk '$2 == "accepted"')"

: >"$SEED_AUDIT"
lines0=$(wc -l <"$APP_LOG")
install_policy A nosign
phase "C (A's content under B's signature: tampered) refused, B stays in force" 503
check_eq "C: nothing accepted" "" "$(audit | awk '$2 == "accepted"')"
said=$(tail -n +"$((lines0 + 1))" "$APP_LOG"; cat "$SEED_AUDIT")
check_match "C: the refused reload is logged with the policy's path" \
	"$(sed 's/[.]/\\./g' <<<"$POL")" "$said"

: >"$SEED_AUDIT"
install_policy A
phase "D (A again, signed) in the same workers" 200
check_eq "D: audit log: only accepted $LAB_LEGIT_ADDR" "" \
	"$(audit | awk '$2 != "accepted" || $5 != "'"$LAB_LEGIT_ADDR"'"')"
check_eq "D: the same master and workers: no restart" "$WORKERS" \
	"$(pgrep -P "$MASTER" | sort -n | tr '\n' ' ')"
check_eq "the attacker received nothing, in any phase" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
