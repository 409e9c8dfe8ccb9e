#!/usr/bin/env bash
# gunicorn --preload: the FastAPI seed app resolves the endpoint at import
# time, in the gunicorn master, before the 4 UvicornWorkers are forked,
# so the master holds pindns's DoT connection when it forks. Then:
#   - every worker answers correctly (stand-in reached, attacker nothing,
#     an accepted lookup in the audit log from each worker's own pid);
#   - no worker writes on (or shuts down) the master's TLS connection:
#     strace -f -yy of the whole tree records every write, writev,
#     sendto, sendmsg and shutdown with the socket's addresses; each
#     worker's DoT traffic goes over a connection of its own;
#   - the master's connection is still established at the end (a worker
#     writing a TLS close_notify on it would have made the server close
#     it).
# The policy sets cache max_ttl 0 so that workers really look up (an
# answer inherited through fork would hide the question) and an idle
# timeout of 60 s so that the master's connection stays open meanwhile.
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require curl pgrep setsid unshare strace "$PY" "$GUNICORN" "$BUILD/pindns"

SEED_CLOSE=1	# a new HTTP connection, so a new lookup, per request
seed_servers_up || exit 1
POL="$SEED_DIR/policy.yaml"
seed_policy "$POL" \
	's|^version: 1$|version: 1\nidle_timeout_ms: 60000\ncache:\n  max_ttl: 0|'
check "the test policy passes pindns check" "$BUILD/pindns" check "$POL"
GOODHEX=$(printf '%04X' "$LAB_GOOD_PORT")

# master_conns PID: "LOCALPORT STATE" of PID's TCP sockets to the good
# upstream (from /proc/PID/fd and /proc/net/tcp; state 01 = established).
master_conns() {
	local inodes lp st
	inodes=$(ls -l "/proc/$1/fd" 2>/dev/null |
		sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p' | tr '\n' ' ')
	awk -v ino=" $inodes" -v rp="$GOODHEX" 'FNR > 1 {
		split($2, l, ":"); split($3, r, ":")
		if (r[2] == rp && index(ino, " " $10 " ")) print l[2], $4 }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null |
		while read -r lp st; do echo "$((16#$lp)) $st"; done | sort -u
}

APP_PORT=$(free_port)
SEED_GUNICORN_ARGS=--preload
seed_cmd fastapi-gunicorn
ST="$SEED_DIR/strace.log"
: >"$SEED_AUDIT"
SEED_APP_ENV=DYNAMODB_RESOLVE_AT_START=1 \
	seed_app_start preload pindns "$POL" -- strace -f -yy -qq -s 0 -o "$ST" \
	-e trace=clone,clone3,fork,vfork,write,writev,sendto,sendmsg,sendmmsg,shutdown \
	"${SEED_CMD[@]}" || exit 1

MASTER=$(pgrep -P "$APP_PID" | head -n 1)
# The app answers as soon as one worker is up; under load the others may
# still be forking: give them time to all be there before listing them.
four_workers() { [ "$(pgrep -P "${MASTER:-0}" | wc -l)" -ge 4 ]; }
wait_for 30 four_workers
WORKERS=$(pgrep -P "${MASTER:-0}" | sort -n | tr '\n' ' ' | sed 's/ $//')
check_eq "gunicorn --preload: 4 workers under the master ($MASTER)" 4 \
	"$(wc -w <<<"$WORKERS")"
check_match "the master resolved the endpoint at import, before forking: $LAB_LEGIT_ADDR" \
	"^app: pid $MASTER: $SEED_NAME resolves to $LAB_LEGIT_ADDR\$" \
	"$(grep '^app: pid' "$APP_LOG")"
check_eq "audit log: the master's lookup was accepted" \
	"$MASTER accepted - $SEED_NAME $LAB_LEGIT_ADDR" \
	"$(audit | awk -v m="$MASTER" '$1 == m' | head -n 1)"
before=$(master_conns "$MASTER")
check_match "the master holds an established DoT connection to the upstream" \
	'^[0-9]+ 01$' "$before"

# Requests until each worker has made a lookup of its own (bounded).
missing=$WORKERS
badcodes=""
for round in 1 2 3 4 5 6 7 8 9 10; do
	codes=$(parallel_get 12 /items/items/42)
	[ "$codes" = "12 200" ] || badcodes="$badcodes [round $round: $codes]"
	missing=""
	for w in $WORKERS; do
		audit | awk -v w="$w" '$1 == w && $2 == "accepted"' | grep -q . ||
			missing="$missing $w"
	done
	[ -z "$missing" ] && break
done
check_eq "every worker made its own accepted lookup (after $round rounds of 12 GETs)" \
	"" "$missing"
check_eq "every GET answered 200 (count code)" "" "$badcodes"
check_eq "audit log: nothing but accepted $LAB_LEGIT_ADDR" "" \
	"$(audit | awk '$2 != "accepted" || $5 != "'"$LAB_LEGIT_ADDR"'"')"
check_eq "the attacker received nothing" "" "$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
check_match "the stand-in received the GetItems" \
	"^ *[0-9]+ POST DynamoDB_20120810.GetItem $AWS_ACCESS_KEY_ID " \
	"$(reqs "$STANDIN_LOG" | sort | uniq -c)"
after=$(master_conns "$MASTER")
if [ -n "$before" ] && [ "$before" = "$after" ]; then
	ok "the master's DoT connection is still established, same port ($after)"
else
	not_ok "the master's DoT connection is still established, same port" \
		"expected: $before" "got: $after"
fi

pd_stop "$APP_PID" 1
conns=$("$PY" "$TOP/tests/dynamodb/strace_conns.py" "$ST" "$LAB_GOOD_PORT")
mports=$(awk -v m="$MASTER" '$1 == m { print $3 }' <<<"$conns")
check_match "strace: the master wrote on its DoT connection" '^[0-9]+' "$mports"
bad="" own=""
for w in $WORKERS; do
	wp=$(awk -v w="$w" '$1 == w { print $3 }' <<<"$conns")
	[ -n "$wp" ] && own="$own $w"
	for p in ${wp//,/ }; do
		case ",$mports," in *",$p,"*) bad="$bad $w:$p" ;; esac
	done
done
check_eq "strace: no worker wrote on the master's connection (port $mports)" "" "$bad"
check_eq "strace: every worker wrote on a DoT connection of its own" \
	" $WORKERS" "$own"
check_eq "strace: no shutdown() on any DoT connection" "" \
	"$(grep '^OPS' <<<"$conns")"
# Every child of the master is a worker, also one gunicorn started late or
# respawned under load (not in $WORKERS): what they wrote is checked above
# only for the listed ones, so check here that no child of the master used
# the master's port, and that nothing else wrote to the upstream at all.
bad=""
for line in $(awk -v m="$MASTER" '$2 == m { print $1 ":" $3 }' <<<"$conns"); do
	for p in $(tr , ' ' <<<"${line#*:}"); do
		case ",$mports," in *",$p,"*) bad="$bad ${line%%:*}:$p" ;; esac
	done
done
check_eq "strace: no child of the master wrote on the master's connection" "" "$bad"
others=$(awk -v m="$MASTER" '$1 != "OPS" && $1 != m && $2 != m' <<<"$conns")
check_eq "strace: no other process wrote to the upstream" "" "$others"
