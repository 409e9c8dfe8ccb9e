#!/usr/bin/env bash
# `pindns status [PID...]` (issue 17, part 4) against a process started
# with pindns-exec that forks a worker (as a gunicorn master does), and
# against processes without the preload; `pindns-exec -v` prints the
# policy it is about to enforce. Each process's record (part 5): the
# version in force and counts matching the lookups made, the new version
# after a reload, records that must not be trusted refused.
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
# The master looks the name up 3 times, forks a worker, and then once
# more each time $GO appears (writing $DONE). The worker looks it up
# until its own record appears (at its first engine poll after the fork)
# and writes how many times it did.
export PINDNS_RUNTIME_DIR=$PD_TMP/run
READY=$PD_TMP/ready GO=$PD_TMP/go DONE=$PD_TMP/done WREADY=$PD_TMP/wready
setsid env "${SEED_SAN_ENV[@]}" "$PEXEC" -p "$P" -- /usr/bin/python3 -c '
import os, socket, sys, time
ready, go, done, wready, run = sys.argv[1:6]
N = "dynamodb.us-east-1.amazonaws.com"
for i in range(3):
    socket.getaddrinfo(N, 443)
def put(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
pid = os.fork()
if pid == 0:
    n = 0
    while not os.path.exists("%s/%d" % (run, os.getpid())):
        socket.getaddrinfo(N, 443)
        n += 1
        time.sleep(0.1)
    put(wready, "%d\n" % n)
    time.sleep(120)
    os._exit(0)
put(ready, "%d %d\n" % (os.getpid(), pid))
end = time.time() + 120
while time.time() < end:
    if os.path.exists(go):
        os.unlink(go)
        socket.getaddrinfo(N, 443)
        put(done, "1")
    time.sleep(0.05)' "$READY" "$GO" "$DONE" "$WREADY" "$PINDNS_RUNTIME_DIR" \
	>"$PD_TMP/app.log" 2>&1 &
APP=$!
pd_cleanup "pd_stop $APP 1"
wait_for 30 test -s "$READY" || not_ok "the app started" "$(cat "$PD_TMP/app.log")"
read -r MASTER WORKER <"$READY"
wait_for 30 test -s "$WREADY" ||
	not_ok "the worker made its record" "$(cat "$PD_TMP/app.log")"
WN=$(cat "$WREADY")
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
	"$(grep -cF "file now:  sha256 $SHA" <<<"$out")"
check_match "status: the file loads, unsigned" 'loads, not signed' "$out"
check_eq "status: the version in force, from each record" 2 \
	"$(grep -cE "^ +sha256 $SHA, unsigned, since .* \(load 1\)$" <<<"$out")"
check_eq "status: the record names the policy in force" 2 \
	"$(grep -cF "  in force:  $P" <<<"$out")"
check_match "status: the master's counts match its 3 lookups" \
	"^  counts: +3 lookups: 3 accepted \(0 stale\), 0 absent, 0 refused" "$out"
check_match "status: the worker counts its own lookups, not its parent's" \
	"^  counts: +$WN lookups: $WN accepted" "$out"
check_match "status: the master's lookups after the first, from a cache" \
	"cache 2 hits, 1 misses" "$out"
out=$("$PD" stats "$MASTER"); rc=$?
check_eq "stats PID: exit 0" 0 "$rc"
check_match "stats PID: the lookups" "^lookups: +3$" "$out"
check_match "stats PID: accepted" "^  accepted +3$" "$out"

# ------------------------------------------ a reload: the new version
printf '# changed\n' >>"$P"
SHA2=$(sha256sum "$P" | cut -d' ' -f1)
reloaded() {
	rm -f "$DONE"; touch "$GO"
	wait_for 10 test -e "$DONE" || return 1
	"$PD" status "$MASTER" |
		grep -qE "^ +sha256 $SHA2, unsigned, .*\(load 2\)$"
}
check "status after a reload: the new version in force" wait_for 20 reloaded
out=$("$PD" status "$MASTER")
check_nomatch "... not the old one" "sha256 $SHA, unsigned" "$out"

# ------------------------------------------ records not to trust
REC=$PINDNS_RUNTIME_DIR/$MASTER
check "the master's record: mode 0600" test "$(stat -c %a "$REC")" = 600
chmod 0666 "$REC"
out=$("$PD" status "$MASTER")
check_match "a world-writable record is refused, said so" \
	"record: .*writable by group or others \(mode 0666\): record not trusted" "$out"
check_nomatch "... and no counts shown" "^  counts:" "$out"
chmod 0600 "$REC"
chown nobody "$REC"
out=$("$PD" status "$MASTER")
check_match "a record owned by another user is refused" \
	"record: .*owned by uid [0-9]+, not by the process's uid 0: record not trusted" "$out"
chown root "$REC"
# A record planted under another process's pid (a copy of the master's),
# and one cut short: both refused, never read.
sleep 60 & VICTIM=$!
pd_cleanup "kill $VICTIM 2>/dev/null"
# status reads where a process keeps its record from its environment:
# until the child has exec'd sleep, /proc/PID/environ is still the one
# this shell was started with, without PINDNS_RUNTIME_DIR (lib.sh sets it).
victim_execd() { tr '\0' '\n' <"/proc/$VICTIM/environ" | grep -q '^PINDNS_RUNTIME_DIR='; }
wait_for 10 victim_execd
cp "$REC" "$PINDNS_RUNTIME_DIR/$VICTIM"
out=$("$PD" stats "$VICTIM" 2>&1); rc=$?
check_eq "a record copied under another pid: refused" 1 "$rc"
check_match "... said so" "made by pid $MASTER, not $VICTIM: record not trusted" "$out"
truncate -s 100 "$PINDNS_RUNTIME_DIR/$VICTIM"
out=$("$PD" stats "$VICTIM" 2>&1)
check_match "a truncated record is refused" \
	"100 bytes, not [0-9]+ \(truncated or not a record of this version\)" "$out"
kill "$VICTIM"; wait "$VICTIM" 2>/dev/null
out=$("$PD" status "$MASTER")
check_match "the master's own record is read again once put right" \
	"^  counts: +[0-9]+ lookups" "$out"

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
