#!/usr/bin/env bash
# The DoT backend (libpindns-dot.so, loaded with dlopen as the engine
# does) watched from outside with strace: a lookup connects to the
# configured upstream and nowhere else, reads no resolv.conf, /etc/hosts or
# ~/.getdns; a forked child that frees the inherited backend writes nothing
# on the parent's TLS connection; no engine socket survives exec.
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
require strace "$BUILD/tools/dot_probe" "$BUILD/libpindns-dot.so"
lab_env
# LeakSanitizer cannot run under ptrace (sanitizer builds).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}

probe=("$BUILD/tools/dot_probe" -s "$BUILD/libpindns-dot.so" -A "$LAB_UP_ADDR"
	-n "$LAB_AUTH_NAME" -c "$LAB_CA" -a "$LAB_TA_DS")
names=(dynamodb.us-east-1.amazonaws.com dynamodb.eu-west-1.amazonaws.com
	dynamodb.xx-none-1.amazonaws.com)

# ------------------------------------------------------------ traffic
st=$PD_TMP/traffic.strace
# Warm-up (not traced).
out=$("${probe[@]}" -u "$LAB_GOOD_PORT" -u "$LAB_GOOD2_PORT" \
	-u "$LAB_INSECURE_PORT" -- "${names[@]:0:2}" 2>&1 >/dev/null)
out=$(strace -f -qq -o "$st" -e trace=connect,sendto,sendmsg,sendmmsg \
	"${probe[@]}" -u "$LAB_GOOD_PORT" -- "${names[@]}" 2>&1)
rc=$?
check_eq "traced lookups succeed" 0 "$rc"
check_match "traced lookups: answers" \
	'dynamodb.us-east-1.amazonaws.com status=ok .*a=127.0.10.1' "$out"
inet=$(grep -E 'connect\(|sendto\(|sendmsg\(|sendmmsg\(' "$st" |
	grep -E 'sa_family=AF_INET6?|sin6?_port' || true)
n=$(printf '%s\n' "$inet" | grep -c 'connect(' || true)
[ "$n" -ge 1 ] && ok "the lookups connected ($n connect calls)" ||
	not_ok "the lookups connected" "expected: a connect() in the trace" \
		"got: $(head -n 20 "$st")"
want="sin_port=htons($LAB_GOOD_PORT), sin_addr=inet_addr(\"$LAB_UP_ADDR\")"
bad=$(printf '%s\n' "$inet" | grep -v -F "$want" | grep -v '^$' || true)
check_eq "every connection and datagram goes to $LAB_UP_ADDR:$LAB_GOOD_PORT" \
	"" "$bad"
unix=$(grep -E 'connect\(.*AF_UNIX' "$st" || true)
check_eq "no local socket either (nscd, syslog, ...)" "" "$unix"

# ------------------------------------------------------------ files
st=$PD_TMP/files.strace
out=$(HOME=$PD_TMP/home strace -f -qq -o "$st" -e trace=%file \
	"${probe[@]}" -u "$LAB_GOOD_PORT" -- "${names[0]}" 2>&1)
check_eq "traced lookup (files) succeeds" 0 "$?"
seen=$(grep -E '\.getdns|resolv\.conf|/etc/hosts|nsswitch' "$st" || true)
check_eq "no ~/.getdns, resolv.conf, /etc/hosts or nsswitch.conf touched" \
	"" "$seen"
check_match "the policy's anchor file is read" "$LAB_TA_DS" "$(cat "$st")"

# ------------------------------------------------------------ fork
st=$PD_TMP/fork.strace
out=$(strace -f -qq -yy -o "$st" \
	-e trace=write,writev,sendto,sendmsg,sendmmsg,shutdown,dup3 \
	"${probe[@]}" -u "$LAB_GOOD_PORT" -F -- "${names[0]}" 2>&1)
rc=$?
check_eq "fork run succeeds (parent and child)" 0 "$rc"
child=$(printf '%s\n' "$out" | sed -n 's/^child-pid: //p')
lport=$(printf '%s\n' "$out" |
	sed -n 's/^parent-sockets: [0-9]*:\([0-9]*\).*/\1/p' | head -n 1)
check_match "the parent held a connection before the fork" '^[0-9]+$' "$lport"
check_match "the child freed the inherited backend" 'child: freed' "$out"
check_match "the parent resolves after the child exits" \
	'parent-after-fork: .*status=ok' "$out"
# The child's writes on the parent's connection (its local port), if any.
leak=$(grep -E "^$child " "$st" |
	grep -E "(write|writev|sendto|sendmsg|sendmmsg|shutdown)\\(" |
	grep -F "127.0.0.1:$lport->" || true)
check_eq "the child writes nothing on the parent's TLS connection" "" "$leak"
# It did try (the close_notify getdns writes on destroy) - into /dev/null.
check_match "the child's close_notify went to /dev/null" \
	"^$child +write\\([0-9]+</dev/null" "$(grep -E "^$child " "$st")"
again=$(printf '%s\n' "$out" | sed -n 's/^parent-sockets: //p' | tail -n 1)
check_match "the parent kept its connection" ":$lport\$" "$again"

# ------------------------------------------------------------ exec
out=$("${probe[@]}" -u "$LAB_GOOD_PORT" -E -- "${names[0]}" 2>&1)
check_eq "exec run succeeds" 0 "$?"
check_eq "an exec'd program inherits no engine socket" "exec-sockets: 0" \
	"$(printf '%s\n' "$out" | grep '^exec-sockets:')"
