#!/usr/bin/env bash
# The audit log on syslog, and PINDNS_LOG. In a private mount namespace
# with its own /dev (the real one has no /dev/log here, and tests never
# touch the host's), a datagram listener on /dev/log receives one
# RFC 3164 message per audited lookup: "<PRI>pindns[PID]: {json}",
# facility auth, warning for refusals and info for acceptances; the
# program's own syslog identity is not touched (no openlog). PINDNS_LOG
# overrides the policy's target; a bad value is said on stderr.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
require unshare mount /usr/bin/python3
PROBE="$BUILD/tools/engine_probe"
ENGINE="$BUILD/libpindns-engine.so"
require "$PROBE"

cat >"$PD_TMP/p.yaml" <<EOS
version: 1
log:
  target: syslog
  level: all
rules:
  - name: local
    match: [dynamodb.local.test]
    action: static
    addresses: [127.0.0.1]
  - name: blocked
    match: [blocked.test]
    action: deny
EOS

cat >"$PD_TMP/ns.sh" <<'EOS'
set -eu
T=$1 PROBE=$2 ENGINE=$3
mount --make-rprivate /
mkdir -p "$T/olddev"
mount --bind /dev "$T/olddev"
mount -t tmpfs -o mode=0755 pindns-dev /dev
for n in null zero urandom random; do
	: >"/dev/$n"
	mount --bind "$T/olddev/$n" "/dev/$n"
done
/usr/bin/python3 - "$T/syslog.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
open(sys.argv[1] + ".ready", "w").close()
s.settimeout(5)
with open(sys.argv[1], "w") as out:
    try:
        while True:
            out.write(s.recv(65536).decode("utf-8", "replace") + "\n")
            out.flush()
            s.settimeout(0.5)
    except socket.timeout:
        pass
PY
for _ in $(seq 1 50); do [ -e "$T/syslog.out.ready" ] && break; sleep 0.1; done
"$PROBE" "$ENGINE" "$T/p.yaml" dynamodb.local.test blocked.test www.example.org
wait
EOS
out=$(unshare -m bash "$PD_TMP/ns.sh" "$PD_TMP" "$PROBE" "$ENGINE" 2>&1)
check_match "probe ran in the namespace" 'dynamodb\.local\.test accepted' "$out"
log=$(cat "$PD_TMP/syslog.out" 2>/dev/null)
check_eq "two messages (static, deny; the libc name is not audited)" 2 \
	"$(printf '%s\n' "$log" | grep -c 'pindns\[')"
check_match "acceptance: <38> (auth.info), tag, JSON" \
	'^<38>pindns\[[0-9]+\]: \{"ts":"[^"]+","pid":[0-9]+,"name":"dynamodb\.local\.test","rule":"local","verdict":"accepted"' "$log"
check_match "refusal: <36> (auth.warning)" \
	'^<36>pindns\[[0-9]+\]: \{.*"name":"blocked\.test","rule":"blocked","verdict":"refused","reason":"deny-rule"' "$log"
check_nomatch "no newline kept inside a message" '\}\\n' "$log"

# PINDNS_LOG overrides the policy's target (here: syslog -> a file).
PINDNS_LOG="file:$PD_TMP/override.log" "$PROBE" "$ENGINE" "$PD_TMP/p.yaml" \
	blocked.test >/dev/null 2>&1
check_match "PINDNS_LOG=file:... gets the line instead of syslog" \
	'^\{"ts":"[^"]+","pid":[0-9]+,"name":"blocked\.test","rule":"blocked","verdict":"refused","reason":"deny-rule"' \
	"$(cat "$PD_TMP/override.log" 2>/dev/null)"
PINDNS_LOG="journal" "$PROBE" "$ENGINE" "$PD_TMP/p.yaml" blocked.test \
	>"$PD_TMP/bad.out" 2>&1
check_match "a bad PINDNS_LOG is said on stderr" \
	"PINDNS_LOG: bad log target 'journal'" "$(cat "$PD_TMP/bad.out")"
