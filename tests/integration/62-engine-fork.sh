#!/usr/bin/env bash
# fork(): a child of a process whose engine holds a TLS connection keeps
# the cache, builds its own backend on its first miss, and never writes
# on the parent's inherited socket (strace of every thread of the child);
# the parent keeps resolving afterwards.
# tags: lab
# timeout: 60
. "$(dirname "$0")/../lib.sh"
require strace
lab_env
PROBE="$BUILD/tools/engine_probe"
ENGINE="$BUILD/libpindns-engine.so"
require "$PROBE"
T="$PD_TMP/fork.trace"

# LeakSanitizer cannot run under ptrace.
out=$(ASAN_OPTIONS=detect_leaks=0 strace -f -qq -o "$T" \
	-e trace=clone,clone3,fork,vfork,connect,write,writev,sendto,sendmsg,shutdown,close,dup2,dup3 \
	"$PROBE" "$ENGINE" "$LAB_POLICY" dynamodb.us-east-1.amazonaws.com -s -f \
	dynamodb.us-east-1.amazonaws.com dynamodb.eu-central-1.amazonaws.com 2>&1)
rc=$?
check_eq "probe ran" 0 "$rc"
check_match "child: cached name accepted" $'child:\ndynamodb\\.us-east-1\\.amazonaws\\.com accepted' "$out"
check_match "child: new name accepted (its own backend)" $'child:\n.*\ndynamodb\\.eu-central-1\\.amazonaws\\.com accepted' "$out"
check_match "parent: resolves after the child" $'parent:\n.*\ndynamodb\\.eu-central-1\\.amazonaws\\.com accepted' "$out"
fds=$(printf '%s\n' "$out" | sed -n 's/^fds: //p')
check_match "parent held an upstream socket at fork" '^[0-9]+(,[0-9]+)*$' "$fds"

# The child process and its threads, from the clone calls.
main=$(awk 'NR == 1 { print $1 }' "$T")
# strace splits a call another thread interrupts: "clone(... <unfinished
# ...>", later "<... clone resumed>...) = PID" (the main thread has one
# call in progress at a time, so its next resumed line is that one).
child=$(awk -v m="$main" '$1 == m && $2 ~ /^(clone|fork|vfork)\(/ &&
	!/CLONE_THREAD/ { if ($NF ~ /^[0-9]+$/) { print $NF; exit } p = 1; next }
	p && $1 == m && /resumed>/ { print $NF; exit }' "$T")
check_match "found the child in the trace" '^[0-9]+$' "$child"
tids=$(awk -v c="$child" 'BEGIN { s[c] = 1 }
	($1 in s) && $2 ~ /^clone3?\(/ && /CLONE_THREAD/ {
		if ($NF ~ /^[0-9]+$/) s[$NF] = 1; else w[$1] = 1; next }
	($1 in w) && /<\.\.\. clone3? resumed>/ {
		delete w[$1]; if ($NF ~ /^[0-9]+$/) s[$NF] = 1 }
	END { for (k in s) print k }' "$T" | sort -n | tr '\n' ' ')
# For each inherited fd: any write/send/shutdown on it by the child before
# the child's own connect() reuses that number is a write on the parent's
# TLS session.
bad=""
for fd in ${fds//,/ }; do
	hit=$(awk -v fd="$fd" -v tl="$tids" '
		BEGIN { n = split(tl, a, " "); for (i = 1; i <= n; i++) s[a[i]] = 1 }
		!($1 in s) { next }
		$2 ~ "^connect\\(" fd "," { exit }
		$2 ~ "^(write|writev|sendto|sendmsg|shutdown)\\(" fd "," { print; exit }' "$T")
	[ -n "$hit" ] && bad="$bad fd $fd: $hit"
done
check_eq "child wrote nothing on the parent's socket(s) $fds" "" "$bad"
