#!/usr/bin/env bash
# The audit log file under logrotate, through the preload and the real
# engine in one long-lived process: lines go to the open file until the
# next policy check (once a second) notices that the name now points
# elsewhere (renamed away) or nowhere (removed); from then on they go to
# a new file under the name, none lost, none written twice.
# tags: preload
# timeout: 60
. "$(dirname "$0")/../lib.sh"
require /usr/bin/python3 "$BUILD/libpindns.so" "$BUILD/libpindns-engine.so"
unset PINDNS_PUBKEY PINDNS_LOG

LOG=$PD_TMP/audit.log
cat >"$PD_TMP/p.yaml" <<EOF
version: 1
log:
  target: file:$LOG
  level: all
rules:
  - name: rot
    match: [db.rot.test]
    action: static
    addresses: [127.0.0.7]
EOF
cat >"$PD_TMP/rot.py" <<'EOF'
import os, socket, sys, time
log = sys.argv[1]
def look(n):
    for _ in range(n):
        a = socket.getaddrinfo("db.rot.test", 443, socket.AF_INET,
                               socket.SOCK_STREAM)
        assert a[0][4][0] == "127.0.0.7", a
look(2)
os.rename(log, log + ".1")      # logrotate's rename
look(1)                         # same second: still the renamed file
time.sleep(1.3)
look(3)                         # the check has run: a new file
with open(log) as f:
    print("new file:", sum(1 for l in f if '"db.rot.test"' in l))
os.unlink(log)                  # removed outright
time.sleep(1.3)
look(2)
print("done")
EOF
out=$(PINDNS_POLICY=$PD_TMP/p.yaml with_preload /usr/bin/python3 \
	"$PD_TMP/rot.py" "$LOG" 2>&1)
check_eq "the process resolved throughout, the new file after the rename held 2 or 3 lines" \
	"ok done" "$(echo $out | sed -E 's/^new file: [23] done$/ok done/')"
n1=$(grep -c '"name":"db.rot.test"' "$LOG.1" 2>/dev/null)
n2=$(grep -c '"name":"db.rot.test"' "$LOG" 2>/dev/null)
check "renamed file kept the lines written before the check (3 or 4: $n1)" \
	test "${n1:-0}" -ge 3 -a "${n1:-0}" -le 4
check_eq "no line lost or doubled across the rename" 6 \
	"$(( ${n1:-0} + $(echo "$out" | sed -n 's/^new file: //p') ))"
check_eq "the removed file's successor holds the last 2 lookups" 2 "${n2:-0}"
check_eq "file recreated 0600" 600 "$(stat -c %a "$LOG" 2>/dev/null)"
