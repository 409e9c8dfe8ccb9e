#!/usr/bin/env bash
# make demo's script (scripts/demo), run as the README's first command
# runs it: its own lab in a temporary directory, exit status 0 only when
# every outcome is the expected one; the side-by-side table says what the
# servers' logs and the audit log said; everything it started is gone
# afterwards, also when it is interrupted half way (Ctrl-C).
# timeout: 180
. "$(dirname "$0")/../lib.sh"
require curl pgrep setsid unshare /usr/bin/python3 "$BUILD/pindns"
# (Under make asan the demo preloads the sanitizer runtime itself where
# needed: PINDNS_SAN is in the environment.)

t0=$(date +%s%N)
out=$(TMPDIR=$PD_TMP timeout 100 "$TOP/scripts/demo" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
if [ "$rc" = 0 ]; then ok "scripts/demo exits 0 ($ms ms)"; else
	not_ok "scripts/demo exits 0" "got: exit $rc" "$out"; fi
if [ "$ms" -lt 60000 ]; then ok "scripts/demo takes under a minute"; else
	not_ok "scripts/demo takes under a minute" "got: $ms ms"; fi
row() { grep -E "^   $1 " <<<"$out" | head -n 1; }
check_match "table: without pindns the request went to the attacker, with pindns to DynamoDB" \
	'request went to +attacker 127\.0\.66\.6:[0-9]+ +DynamoDB 127\.0\.10\.1:[0-9]+$' \
	"$(row 'request went to')"
check_match "table: the async door (aiohttp + aiodns) went to the attacker without pindns, to DynamoDB with it" \
	'async door +200, to attacker 127\.0\.66\.6:[0-9]+ +200, to DynamoDB 127\.0\.10\.1:' "$out"
check_match "table: the attacker captured the access key id without pindns, nothing with it" \
	'attacker captured +AKIA[A-Z0-9]+ +nothing$' "$(row 'attacker captured')"
check_match "table: the audit log accepted the legitimate address" \
	'audit log +\(no pindns: nothing recorded\) +accepted 127\.0\.10\.1' "$(row 'audit log')"
check_match "table: the forged answer was refused with a 503" \
	'app answered +503 ' "$(grep -A4 '^4\. ' <<<"$out" | grep 'app answered')"
check_match "it says the real amazonaws.com is not DNSSEC-signed and the pins carry the weight" \
	'the real amazonaws.com is NOT DNSSEC-signed.*'$'\n''.*'$'\n''.*address pins' "$out"
check_nomatch "no UNEXPECTED outcome" 'UNEXPECTED' "$out"
check_eq "the demo removed its temporary directory" "" \
	"$(ls -d "$PD_TMP"/pindns-demo.* 2>/dev/null)"

# Interrupted half way: SIGINT to the demo's process group (what Ctrl-C
# sends to the foreground job) while its apps run; everything must be
# gone after. A background job of this script would start with SIGINT
# ignored, which a shell cannot undo: the demo starts through a small
# launcher that restores the default and makes its own process group.
TMPDIR=$PD_TMP /usr/bin/python3 -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.setsid()
os.execv(sys.argv[1], sys.argv[1:])' "$TOP/scripts/demo" >"$PD_TMP/int.out" 2>&1 &
demo=$!
pd_cleanup "kill -KILL -- -$demo"
wait_for 60 grep -q '^3\. ' "$PD_TMP/int.out"
sleep 1
kill -INT -- "-$demo"
for ((i = 0; i < 300; i++)); do kill -0 "$demo" 2>/dev/null || break; sleep 0.1; done
kill -KILL -- "-$demo" 2>/dev/null
wait "$demo"
check_eq "interrupted: exit status 130 (within 30 s)" 130 "$?"
check_match "interrupted: it says it tore everything down" '^Torn down: ' \
	"$(cat "$PD_TMP/int.out")"
left=$(ps -eo pid=,args= | grep -F "$PD_TMP/pindns-demo." | grep -v grep)
check_eq "interrupted: no process of the demo left" "" "$left"
check_eq "interrupted: its temporary directory is gone" "" \
	"$(ls -d "$PD_TMP"/pindns-demo.* 2>/dev/null)"
