#!/usr/bin/env bash
# `pindns status [PID...]` (issue 17, part 4) against a process started
# with pindns-exec that forks a worker (as a gunicorn master does), and
# against processes without the preload; `pindns-exec -v` prints the
# policy it is about to enforce.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require setsid sha256sum /usr/bin/python3 "$BUILD/pindns"
PD="$BUILD/pindns"
P=$PD_TMP/policy.yaml
cp "$LAB_POLICY" "$P"
unset PINDNS_PUBKEY PINDNS_LOG

# ------------------------------------------ pindns-exec -v
out=$(env "${SEED_SAN_ENV[@]}" "$PEXEC" -v -p "$P" -- true 2>&1); rc=$?
check_eq "pindns-exec -v: the command runs" 0 "$rc"
check_match "pindns-exec -v: says what it enforces" \
	"^pindns-exec: enforcing, for true:" "$out"
check_match "pindns-exec -v: the rules of the policy" \
	'1\. dynamodb \(line [0-9]+\): secure, dnssec validate, pin 1 CIDR' "$out"
out=$(env "${SEED_SAN_ENV[@]}" "$PEXEC" -p "$P" -- true 2>&1)
check_eq "pindns-exec without -v: silent" "" "$out"

# ------------------------------------------ a protected master and worker
READY=$PD_TMP/ready
setsid env "${SEED_SAN_ENV[@]}" "$PEXEC" -p "$P" -- /usr/bin/python3 -c '
import os, socket, sys, time
socket.getaddrinfo("dynamodb.us-east-1.amazonaws.com", 443)
pid = os.fork()
if pid == 0:
    time.sleep(120)
    os._exit(0)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %d\n" % (os.getpid(), pid))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$READY" >"$PD_TMP/app.log" 2>&1 &
APP=$!
pd_cleanup "pd_stop $APP 1"
wait_for 30 test -s "$READY" || not_ok "the app started" "$(cat "$PD_TMP/app.log")"
read -r MASTER WORKER <"$READY"
SHA=$(sha256sum "$P" | cut -d' ' -f1)

out=$("$PD" status "$MASTER" "$WORKER"); rc=$?
check_eq "status master worker: exit 0 (both protected)" 0 "$rc"
check_match "status: the master named" "^$MASTER \(python3\):" "$out"
check_match "status: the worker named" "^$WORKER \(python3\):" "$out"
check_eq "status: the preload loaded in both" 2 \
	"$(grep -cE '^  preload: +loaded \(/.*/libpindns\.so\)' <<<"$out")"
check_eq "status: the engine loaded in both (a lookup was made)" 2 \
	"$(grep -cE '^  engine: +loaded' <<<"$out")"
check_eq "status: the policy path from the environment, in both" 2 \
	"$(grep -cF "  policy:    $P" <<<"$out")"
check_eq "status: the file's sha256, as sha256sum says" 2 \
	"$(grep -cF "sha256 $SHA" <<<"$out")"
check_match "status: the file loads, unsigned" 'loads, not signed' "$out"
check_match "status: counts not recorded, said so" 'counts: +not recorded' "$out"

out=$("$PD" status); rc=$?
check_eq "status without PID: exit 0" 0 "$rc"
check_match "status without PID: finds the master" "^$MASTER \(python3\):" "$out"
check_match "status without PID: finds the worker" "^$WORKER \(python3\):" "$out"
check_nomatch "status without PID: not this shell (no preload)" "^$$ " "$out"

# ------------------------------------------ unprotected, missing
out=$("$PD" status $$); rc=$?
check_eq "status of a process without the preload: exit 2" 2 "$rc"
check_match "... says so" 'preload: +NOT loaded' "$out"
out=$("$PD" status "$MASTER" $$); rc=$?
check_eq "status protected + unprotected: exit 2" 2 "$rc"
sleep 0 & gone=$!; wait "$gone"
out=$("$PD" status "$gone"); rc=$?
check_eq "status of a process that is gone: exit 2" 2 "$rc"
check_match "... no such process" "^$gone: no such process" "$out"
out=$("$PD" status abc 2>&1); rc=$?
check_eq "status abc: usage error" 1 "$rc"
check_match "... named" "not a process id: 'abc'" "$out"

# A policy that no longer loads: said, with why.
printf 'version: 1\nbogus_key: 1\n' >"$P"
out=$("$PD" status "$MASTER")
check_match "status: a file that does not load now is said so" \
	"does not load .*unknown key 'bogus_key'" "$out"
pd_stop "$APP" 1
