#!/usr/bin/env bash
# The audit log's file target takes only a regular file (issue 12, item
# 6). Through the preload and the real engine, a static rule, level all:
#  - a FIFO under the name (no reader): the first protected lookup used
#    to hang in open(2) forever; now it is answered at once, the target is
#    refused with one line on stderr, and the audit lines go to stderr
#    (as for any log file that cannot be opened);
#  - a symbolic link under the name, to an existing file or to a missing
#    one: never followed (a root process would append to, or create, any
#    file a writer of the log directory chose);
#  - after logrotate's rename, a symlink planted under the name is not
#    reopened: lines go on to the renamed file, one line on stderr says so;
#  - `pindns check` warns about each.
# tags: preload
# timeout: 90
. "$(dirname "$0")/../lib.sh"
require /usr/bin/python3 mkfifo "$BUILD/pindns" "$BUILD/tools/gai-probe" \
	"$BUILD/libpindns.so" "$BUILD/libpindns-engine.so"
unset PINDNS_PUBKEY PINDNS_LOG

policy() {	# policy FILE LOGPATH
	cat >"$1" <<EOF
version: 1
log:
  target: file:$2
  level: all
rules:
  - name: tgt
    match: [db.tgt.test]
    action: static
    addresses: [127.0.0.7]
EOF
}
# probe POLICY: one protected lookup, at most 10 s; output and stderr.
probe() {
	echo "gai db.tgt.test 443 2,1,0,0" | PINDNS_POLICY=$1 timeout 10 \
		env LD_PRELOAD="$(pd_preload_value)" \
		ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		"$BUILD/tools/gai-probe" 2>&1
	echo "exit=$?"
}

# A FIFO with no reader.
mkfifo "$PD_TMP/fifo.log"
policy "$PD_TMP/fifo.yaml" "$PD_TMP/fifo.log"
out=$(probe "$PD_TMP/fifo.yaml")
check_match "FIFO target: the lookup is answered, no hang" \
	'addr=127\.0\.0\.7 port=443' "$out"
check_match "FIFO target: the probe exits 0 (timeout would be 124)" \
	'^exit=0$' "$out"
check_match "FIFO target: refused, said on stderr" \
	'pindns: log file .*/fifo\.log is a FIFO.*: refused .*audit log goes to stderr' "$out"
check_match "FIFO target: the audit line goes to stderr instead" \
	'^\{"ts":.*"name":"db\.tgt\.test".*"verdict":"accepted"' "$out"
check_eq "FIFO target: still a FIFO" fifo \
	"$(stat -c %F "$PD_TMP/fifo.log" | sed 's/.*fifo.*/fifo/')"

# Symbolic links: to an existing file, and to a file that does not exist.
echo keep >"$PD_TMP/victim"
ln -s "$PD_TMP/victim" "$PD_TMP/link.log"
ln -s "$PD_TMP/created" "$PD_TMP/dangling.log"
for l in link dangling; do
	policy "$PD_TMP/$l.yaml" "$PD_TMP/$l.log"
	out=$(probe "$PD_TMP/$l.yaml")
	check_match "symlink ($l): the lookup is answered" \
		'addr=127\.0\.0\.7 port=443' "$out"
	check_match "symlink ($l): refused, said on stderr" \
		"pindns: log file .*/$l\\.log is a symbolic link: refused" "$out"
	check_match "symlink ($l): the audit line goes to stderr" \
		'"name":"db\.tgt\.test"' "$out"
done
check_eq "symlink: the file it points to is untouched" keep \
	"$(cat "$PD_TMP/victim")"
check "symlink: no file created where a dangling link points" \
	test ! -e "$PD_TMP/created"

# pindns check names each refused target (and still loads the policy).
for l in fifo link dangling; do
	out=$("$BUILD/pindns" check "$PD_TMP/$l.yaml" 2>&1)
	check_match "pindns check warns about the $l target" \
		"warning: log file .*/$l\\.log is a (FIFO|symbolic link): refused.*audit log would go to stderr" "$out"
done
out=$(PINDNS_LOG=file:$PD_TMP/fifo.log "$BUILD/pindns" check \
	"$PD_TMP/link.yaml" 2>&1)
check_match "pindns check warns about a refused PINDNS_LOG file" \
	'warning: PINDNS_LOG: log file .*/fifo\.log is a FIFO' "$out"

# After a rotation: a symlink planted under the name is not reopened.
LOG=$PD_TMP/rot.log
policy "$PD_TMP/rot.yaml" "$LOG"
echo keep >"$PD_TMP/victim2"
cat >"$PD_TMP/rot.py" <<'EOF'
import os, socket, sys, time
log, victim, err = sys.argv[1:4]
n = 0
def look():
    global n
    a = socket.getaddrinfo("db.tgt.test", 443, socket.AF_INET,
                           socket.SOCK_STREAM)
    assert a[0][4][0] == "127.0.0.7", a
    n += 1
look(); look()
os.rename(log, log + ".1")      # logrotate's rename ...
os.symlink(victim, log)         # ... and a link planted under the name
said = False
for _ in range(100):            # until the check has run (once a second)
    look()
    with open(err) as f:
        if "lines go on to the file open before" in f.read():
            said = True
            break
    time.sleep(0.1)
time.sleep(1.2)                 # past the next check: not said again
look()
print("said" if said else "never said", "lookups", n, flush=True)
EOF
out=$(PINDNS_POLICY=$PD_TMP/rot.yaml with_preload /usr/bin/python3 \
	"$PD_TMP/rot.py" "$LOG" "$PD_TMP/victim2" "$PD_TMP/rot.err" \
	2>"$PD_TMP/rot.err")
check_match "rotation then a planted symlink: refused, said on stderr" \
	'^said lookups [0-9]+$' "$out"
n=$(echo "$out" | sed -n 's/^said lookups //p')
check_eq "rotation: every line went on to the renamed file" "${n:-?}" \
	"$(grep -c '"name":"db.tgt.test"' "$LOG.1" 2>/dev/null)"
check_eq "rotation: the file the link points to is untouched" keep \
	"$(cat "$PD_TMP/victim2")"
check_eq "rotation: said once" 1 \
	"$(grep -c 'lines go on to the file open before' "$PD_TMP/rot.err")"
check_match "rotation: the message names the link" \
	'pindns: audit log file .*/rot\.log is a symbolic link: refused' \
	"$(cat "$PD_TMP/rot.err")"
