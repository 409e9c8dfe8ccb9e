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
seed_workers 4 || exit 1
ok "4 workers booted: $WORKERS"

# phase LABEL WANT-CODE VERDICT [strict]: GETs until the new file is in
# force in every worker, then one more round that must be all WANT-CODE.
# Each process re-reads the policy on its own lookups, at most once a
# second, and one thread reloads while lookups racing it in other
# threads of the same process still use the version in force: until a
# worker has logged its first VERDICT line, an answer under the previous
# version is tolerated; after it, never (strict: not even before).
phase() {
	local label=$1 code=$2 verdict=$3 strict=${4:-} round codes missing w
	local bad="" late
	for round in 1 2 3 4 5 6 7 8; do
		codes=$(parallel_get 12 /items/items/42)
		[ -n "$strict" ] && [ "$codes" != "12 $code" ] &&
			bad="$bad [round $round: $codes]"
		missing=""
		for w in $WORKERS; do
			audit | awk -v w="$w" -v v="$verdict" '$1 == w && $2 == v' |
				grep -q . || missing="$missing $w"
		done
		[ -z "$missing" ] && break
	done
	check_eq "$label: in force in every worker ($round rounds of 12 GETs)" "" "$missing"
	# After a worker's first VERDICT line, only VERDICT lines.
	late=$(audit | awk -v v="$verdict" '{ if ($2 == v) seen[$1] = 1;
		else if (seen[$1]) print }')
	[ -n "$strict" ] && late=$(audit | awk -v v="$verdict" '$2 != v')
	check_eq "$label: no worker went back to the previous version" "" "$late"
	: >"$SEED_AUDIT"
	codes=$(parallel_get 12 /items/items/42)
	check_eq "$label: then 12 concurrent GETs all $code" "12 $code" "$codes"
	check_eq "$label: and only $verdict lookups" "" \
		"$(audit | awk -v v="$verdict" '$2 != v')"
	[ -z "$strict" ] ||
		check_eq "$label: every GET of the polled rounds answered $code" "" "$bad"
}

: >"$SEED_AUDIT"
phase "A (signed)" 200 accepted strict
check_eq "A: the attacker received nothing" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"

: >"$SEED_AUDIT"
install_policy B
phase "B (signed, pins exclude the endpoint) in the running workers" 503 refused
check_eq "B: the refusals are outside-pin, for $SEED_NAME" \
	"refused outside-pin $SEED_NAME -" "$(audit | cut -d' ' -f2- | sort -u)"

: >"$SEED_AUDIT"
lines0=$(wc -l <"$APP_LOG")
install_policy A nosign
phase "C (A's content under B's signature: tampered) refused, B stays in force" \
	503 refused strict
said=$(tail -n +"$((lines0 + 1))" "$APP_LOG" | grep '^pindns: ' | sort -u)
check_match "C: the refused reload is logged (stderr), the old policy kept" \
	"^pindns: cannot load policy $(sed 's/[.]/\\./g' <<<"$POL").*; keeping the policy in force" \
	"$said"

: >"$SEED_AUDIT"
install_policy A
phase "D (A again, signed) in the same workers" 200 accepted
check_eq "D: audit log: accepted $LAB_LEGIT_ADDR only" \
	"accepted - $SEED_NAME $LAB_LEGIT_ADDR" "$(audit | cut -d' ' -f2- | sort -u)"
# A worker that gunicorn restarted would have booted again: the boot
# file holds exactly the four first PIDs, and each is still running.
check_eq "D: the same workers, none booted again: no restart" "$WORKERS" \
	"$(sort -n "$SEED_BOOTED" | tr '\n' ' ')"
check_eq "D: the four workers still run" "" \
	"$(for w in $WORKERS; do pd_alive "$w" || echo "$w gone"; done)"
check_eq "the attacker received nothing, in any phase" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
