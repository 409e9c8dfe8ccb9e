#!/usr/bin/env bash
# The preload with the real engine in the lab's poisoned namespace
# (tests/lab/poisoned: the system resolver is the lab's poisoner, which
# answers every amazonaws.com name with 127.0.66.6), under the lab policy
# (LAB_POLICY: dynamodb names secure over DoT, pinned to 127.0.10.0/24):
#  - names no rule claims come back exactly as glibc gives them, through
#    glibc's DNS path this time (probe diff, with and without the preload);
#  - real clients (/usr/bin/python3 socket.getaddrinfo and gethostbyname,
#    curl, getent ahosts) get the lab's true addresses for protected
#    names, never the poisoner's;
#  - a `system` rule with pins over the poisoned resolver refuses the
#    poisoner's address and passes a hosts-file answer inside the pins.
# tags: lab preload
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare diff "$BUILD/tools/gai-probe" "$BUILD/libpindns.so" \
	"$TOP/tests/lab/poisoned"
lab_env

PRE=$(pd_preload_value)
export PINDNS_POLICY=$LAB_POLICY
unset PINDNS_PUBKEY PINDNS_LOG
poisoned() { pd_poisoned "$@"; }
poisoned_pre() { pd_poisoned_pre "$@"; }

# ------------------------------------------ unclaimed names, via DNS
set -f
{
	for n in www.plain.lab.test nx.plain.lab.test s3.us-east-1.amazonaws.com \
	    WWW.Plain.Lab.Test. localhost; do
		for s in @null 443 https; do
			for h in - 0,0,0,0 0,1,0,0 2,1,0,0 10,1,0,0 10,1,0,0x8 \
			    10,1,0,0x18 0,1,0,0x2 2,2,0,0x2 0,1,0,0x20 10,0,0,0x1a; do
				echo "gai $n $s $h"
			done
		done
		echo "ghbn $n"; echo "ghbn2 $n 10"; echo "ghbnr $n 1024"
		echo "ghbn2r $n 10 1024"
	done
} >"$PD_TMP/q"
set +f
poisoned -- "$BUILD/tools/gai-probe" <"$PD_TMP/q" >"$PD_TMP/glibc.out" 2>&1
poisoned_pre -- "$BUILD/tools/gai-probe" <"$PD_TMP/q" >"$PD_TMP/pre.out" 2>&1
check "the poisoner answered glibc (reference is DNS, not a file)" \
	grep -q 'addr=127.0.66.6' "$PD_TMP/glibc.out"
check "the reference has a DNS NXDOMAIN" grep -q 'EAI_NONAME' "$PD_TMP/glibc.out"
check_eq "unclaimed names through DNS: identical to glibc's" "" \
	"$(diff -u "$PD_TMP/glibc.out" "$PD_TMP/pre.out" | head -n 40)"

# ------------------------------------------ protected names, real clients
N=dynamodb.us-east-1.amazonaws.com
out=$(poisoned -- getent ahosts "$N" 2>&1)
check_match "control: without the preload the poisoner wins ($N)" \
	"^127\.0\.66\.6 " "$out"

out=$(poisoned_pre -- getent ahosts "$N" 2>&1)
check_match "getent ahosts: the lab's address" "^127\.0\.10\.1 +STREAM $N" "$out"
check_nomatch "getent ahosts: never the poisoner's" '127\.0\.66\.6' "$out"

py='import socket, sys
n = sys.argv[1]
print(sorted({a[4][0] for a in socket.getaddrinfo(n, 443)}))
print(socket.gethostbyname(n))
print(socket.gethostbyname_ex(n)[2])'
out=$(poisoned_pre -- /usr/bin/python3 -c "$py" "$N" 2>&1)
check_eq "python3 getaddrinfo / gethostbyname / _ex: the lab's address" \
"['127.0.10.1']
127.0.10.1
['127.0.10.1']" "$out"
out=$(poisoned_pre -- /usr/bin/python3 -c "$py" dynamodb.eu-central-1.amazonaws.com 2>&1)
check_eq "python3 through a CNAME inside the zone" \
"['127.0.10.7']
127.0.10.7
['127.0.10.7']" "$out"
out=$(poisoned_pre -- /usr/bin/python3 -c \
	'import socket; print(socket.gethostbyname_ex("dynamodb.eu-central-1.amazonaws.com"))' 2>&1)
check_eq "python3 gethostbyname_ex: canonical name, the name asked as alias" \
	"('ddb-edge.eu-central-1.amazonaws.com', ['dynamodb.eu-central-1.amazonaws.com'], ['127.0.10.7'])" \
	"$out"
out=$(poisoned_pre -- /usr/bin/python3 -c "$py" dynamodb.us-west-2.amazonaws.com 2>&1)
check_match "python3: an answer outside the pins is refused (EAI_FAIL)" \
	'socket.gaierror: \[Errno -4\]' "$out"
out=$(poisoned_pre -- /usr/bin/python3 -c \
	'import socket; socket.gethostbyname("dynamodb.ap-south-1.amazonaws.com")' 2>&1)
check_match "python3 gethostbyname: a CNAME escape is refused (NO_RECOVERY)" \
	'socket.gaierror|herror' "$out"
check_nomatch "python3: never the poisoner's or the escape's address" \
	'127\.0\.66\.6' "$out"

if [ "$PINDNS_SAN" = asan ]; then
	# Not a missing prerequisite: with libasan.so preloaded (which an
	# ASan-built preload needs) curl never starts here, `curl --version`
	# included, with or without pindns. getent and python3 cover it.
	echo "# curl not run under ASan: it hangs at start with libasan.so preloaded"
else
	out=$(poisoned_pre -- timeout 30 curl -sv --connect-timeout 2 \
		"http://$N:1/" 2>&1)
	check_match "curl connects to the lab's address" \
		"Trying 127\.0\.10\.1:1" "$out"
	check_nomatch "curl never tries the poisoner's" '127\.0\.66\.6' "$out"
fi

# Unclaimed names: the same through real clients with and without.
for cmd in "getent ahosts www.plain.lab.test" "getent ahosts s3.us-east-1.amazonaws.com"; do
	# shellcheck disable=SC2086
	check_eq "unclaimed ($cmd): as glibc gives it" \
		"$(poisoned -- $cmd 2>&1)" "$(poisoned_pre -- $cmd 2>&1)"
done
out1=$(poisoned -- /usr/bin/python3 -c "$py" www.plain.lab.test 2>&1)
out2=$(poisoned_pre -- /usr/bin/python3 -c "$py" www.plain.lab.test 2>&1)
check_eq "unclaimed (python3 www.plain.lab.test): as glibc gives it" "$out1" "$out2"

# ------------------------------------------ threads over DoT
# 64 threads x 1,000 lookups: protected (DoT, cached after the first; the
# AAAA of eu-west-1 lies outside the pins and is dropped),
# refused (outside the pins, CNAME escape), absent (NXDOMAIN), unclaimed
# (the poisoned resolver) and numeric, every answer checked.
out=$(poisoned_pre -- "$BUILD/tools/gai-stress" -t 64 -n 1000 \
	dynamodb.us-east-1.amazonaws.com=ok:127.0.10.1 \
	dynamodb.eu-west-1.amazonaws.com=ok:127.0.10.5 \
	dynamodb.us-west-2.amazonaws.com=EAI_FAIL \
	dynamodb.ap-south-1.amazonaws.com=EAI_FAIL \
	dynamodb.xx-none-1.amazonaws.com=EAI_NONAME \
	www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1 \
	nx.plain.lab.test=EAI_NONAME 127.0.0.5=ok:127.0.0.5 2>&1)
check_match "DoT engine: 64 threads x 1,000 mixed lookups, all as expected" \
	'^ok - 64000 lookups in 64 threads, all as expected$' "$out"
out=$(poisoned_pre -- "$BUILD/tools/gai-stress" -f 8 -t 1 -n 100 \
	dynamodb.us-east-1.amazonaws.com=ok:127.0.10.1 \
	dynamodb.us-west-2.amazonaws.com=EAI_FAIL \
	www.plain.lab.test=ok:127.0.20.1,2001:db8:20::1 2>&1)
check_match "DoT engine: parent, 8 forked children x 100, parent again" \
	'^ok - 8 children x 1 threads x 100 lookups, and the parent before and after' \
	"$out"

# ------------------------------------------ pins over the system resolver
# A `system` rule with pins, in front of the lab's dynamodb rule: libc
# (the poisoned resolver, or the hosts file) answers, the pins decide.
SYSPOL=$PD_TMP/system-pinned.yaml
awk -v target="file:$PD_TMP/audit.log" '
	/^log:/ { skip = 1; print "log: {target: \"" target "\", level: all}"; next }
	skip && /^  / { next }
	{ skip = 0 }
	/^  - name: dynamodb$/ && !done {
		print "  - name: vpc"
		print "    match: [dynamodb.ap-east-1.amazonaws.com, dynamodb.sa-east-1.amazonaws.com]"
		print "    action: system"
		print "    pin: [127.0.10.0/24]"
		print "  - name: vpc-strict"
		print "    match: [dynamodb.me-south-1.amazonaws.com]"
		print "    action: system"
		print "    pin: [127.0.10.0/24]"
		print "    pin_mode: strict"
		done = 1
	}
	{ print }' "$LAB_POLICY" >"$SYSPOL"
check "the system-pinned policy is valid" "$BUILD/pindns" check "$SYSPOL"
cat >"$PD_TMP/hosts" <<'HOSTS'
127.0.0.1	localhost
127.0.10.50	dynamodb.sa-east-1.amazonaws.com
127.0.66.7	dynamodb.sa-east-1.amazonaws.com
127.0.10.51	dynamodb.me-south-1.amazonaws.com
127.0.66.8	dynamodb.me-south-1.amazonaws.com
HOSTS
q='gai dynamodb.ap-east-1.amazonaws.com 443 0,1,0,0x2
ghbn dynamodb.ap-east-1.amazonaws.com
gai dynamodb.sa-east-1.amazonaws.com 443 0,1,0,0x2
ghbn dynamodb.sa-east-1.amazonaws.com
gai dynamodb.me-south-1.amazonaws.com 443 0,1,0,0'
out=$(echo "$q" | PINDNS_POLICY=$SYSPOL poisoned_pre --hosts "$PD_TMP/hosts" -- \
	"$BUILD/tools/gai-probe" 2>&1)
check_eq "system + pins: the poisoner refused, a hosts answer filtered to the pins" \
"gai dynamodb.ap-east-1.amazonaws.com 443 0,1,0,0x2
  = EAI_FAIL errno=0
ghbn dynamodb.ap-east-1.amazonaws.com
  = NULL h_errno=NO_RECOVERY errno=ENOENT
gai dynamodb.sa-east-1.amazonaws.com 443 0,1,0,0x2
  = 0 errno=untouched
  [0] flags=0x2 AF_INET STREAM proto=6 len=16 addr=127.0.10.50 port=443 canon=dynamodb.sa-east-1.amazonaws.com
ghbn dynamodb.sa-east-1.amazonaws.com
  = hostent h_errno=HOST_NOT_FOUND errno=0
  name=dynamodb.sa-east-1.amazonaws.com type=AF_INET len=4
  addr=127.0.10.50
gai dynamodb.me-south-1.amazonaws.com 443 0,1,0,0
  = EAI_FAIL errno=untouched" "$out"
check_match "the refusal is in the audit log" \
	'"name":"dynamodb.ap-east-1.amazonaws.com".*"verdict":"refused".*"reason":"outside-pin".*"addresses":\["127.0.66.6"\]' \
	"$(cat "$PD_TMP/audit.log" 2>/dev/null)"
