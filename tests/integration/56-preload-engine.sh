#!/usr/bin/env bash
# The preload with the real engine (libpindns-engine.so), no network:
#  - protected names from `static` rules versus glibc answering the same
#    names from a private /etc/hosts with the same addresses: same list
#    structure, order, socktypes, canonname for every hints combination
#    (the builders' strongest test), the gethostbyname family too;
#  - a `deny` rule: EAI_FAIL / NO_RECOVERY, and the refusal in the audit
#    log; an unloadable policy: every name refused, one line on stderr,
#    numbers still answered;
#  - policy reload: a changed file takes effect on a later lookup in the
#    same process;
#  - valgrind over 10,000 lookups (static and pass-through), descriptors
#    stable (threads and fork with the real engine: 57-preload-engine-threads);
#  - no engine in a process that only resolves numbers.
# tags: preload
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount diff "$BUILD/tools/gai-probe" "$BUILD/tools/gai-stress" \
	"$BUILD/libpindns.so" "$BUILD/libpindns-engine.so"

DATA=$TOP/tests/data/preload
TABLE=$DATA/protected.table
ETC=$PD_TMP/etc
pd_preload_etc "$ETC"
{ echo "127.0.0.1 localhost"; echo "127.0.0.2 host4.test"
	pd_hosts_from "$TABLE"; } >"$ETC/hosts"
PRE=$(pd_preload_value)
unset PINDNS_PUBKEY PINDNS_LOG

# A policy answering each name of the table from a static rule.
POLICY=$PD_TMP/policy.yaml
pd_static_policy "$TABLE" "$POLICY" "$PD_TMP/audit.log"
export PINDNS_POLICY=$POLICY
probe() { pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" "$@"; }

# ------------------------------------------------ static vs hosts
pd_protected_queries "$TABLE" >"$PD_TMP/queries"
nq=$(wc -l <"$PD_TMP/queries")
pd_etc_run "$ETC" "" "$BUILD/tools/gai-probe" <"$PD_TMP/queries" \
	>"$PD_TMP/glibc.out" 2>&1
probe <"$PD_TMP/queries" >"$PD_TMP/pre.out" 2>"$PD_TMP/pre.err"
check_eq "all $nq queries answered, both ways" "$nq $nq" \
	"$(grep -c '^[a-z]' "$PD_TMP/glibc.out") $(grep -c '^[a-z]' "$PD_TMP/pre.out")"
check_eq "static rules: answers identical to glibc's for the same addresses" \
	"" "$(diff -u <(pd_dnsify "$PD_TMP/glibc.out") "$PD_TMP/pre.out" |
	head -n 60)"
check_eq "nothing on stderr" "" "$(cat "$PD_TMP/pre.err")"

# ------------------------------------------------ deny, unloadable
out=$(probe <<'EOF'
gai p-deny.test 443 0,1,0,0
ghbn p-deny.test
ghbnr p-deny.test 1024
gai host4.test 443 2,1,0,0
EOF
)
check_eq "deny rule: EAI_FAIL, NO_RECOVERY; other names to libc" \
"gai p-deny.test 443 0,1,0,0
  = EAI_FAIL errno=untouched
ghbn p-deny.test
  = NULL h_errno=NO_RECOVERY errno=ENOENT
ghbnr p-deny.test 1024
  = rc=ENOENT result=NULL h_errnop=NO_RECOVERY h_errno=NO_RECOVERY errno=ENOENT
gai host4.test 443 2,1,0,0
  = 0 errno=0
  [0] flags=0 AF_INET STREAM proto=6 len=16 addr=127.0.0.2 port=443 canon=-" \
	"$out"
check_match "the refusal is in the audit log" \
	'"name":"p-deny.test".*"verdict":"refused".*"reason":"deny-rule"' \
	"$(cat "$PD_TMP/audit.log" 2>/dev/null)"

out=$(PINDNS_POLICY=$PD_TMP/no-such-policy.yaml probe <<'EOF' 2>"$PD_TMP/bad.err"
gai p-v4.test 443 0,1,0,0
gai host4.test 443 0,1,0,0
ghbn host4.test
gai 127.0.0.3 443 2,1,0,0
EOF
)
check_eq "unloadable policy: every name refused, numbers answered" \
"gai p-v4.test 443 0,1,0,0
  = EAI_FAIL errno=untouched
gai host4.test 443 0,1,0,0
  = EAI_FAIL errno=untouched
ghbn host4.test
  = NULL h_errno=NO_RECOVERY errno=ENOENT
gai 127.0.0.3 443 2,1,0,0
  = 0 errno=untouched
  [0] flags=0 AF_INET STREAM proto=6 len=16 addr=127.0.0.3 port=443 canon=-" \
	"$out"
check_eq "unloadable policy: one line on stderr" 1 \
	"$(grep -c . "$PD_TMP/bad.err")"
check_match "unloadable policy: the line names the file" \
	'no-such-policy.yaml' "$(cat "$PD_TMP/bad.err")"

# ------------------------------------------------ reload
# One process; the policy file changes between two lookups (SPEC §3: the
# file is checked at most once a second, on a lookup).
out=$( {
	echo "gai p-v4.test 443 2,1,0,0"
	sleep 1.2
	pd_static_policy "$TABLE" "$POLICY" "$PD_TMP/audit.log" 192.0.2.222
	sleep 1.2
	echo "gai p-v4.test 443 2,1,0,0"
	echo "ghbn p-v4.test"
} | probe 2>&1)
pd_static_policy "$TABLE" "$POLICY" "$PD_TMP/audit.log"
check_eq "policy reload: the changed file answers the next lookup" \
"gai p-v4.test 443 2,1,0,0
  = 0 errno=0
  [0] flags=0 AF_INET STREAM proto=6 len=16 addr=127.0.0.20 port=443 canon=-
gai p-v4.test 443 2,1,0,0
  = 0 errno=0
  [0] flags=0 AF_INET STREAM proto=6 len=16 addr=192.0.2.222 port=443 canon=-
ghbn p-v4.test
  = hostent h_errno=HOST_NOT_FOUND errno=0
  name=p-v4.test type=AF_INET len=4
  addr=192.0.2.222" "$out"

# ------------------------------------------------ leaks, descriptors
cases=(p-dual.test=ok:192.0.2.30,fd00::30
	p-multi.test=ok:198.51.100.7,127.0.0.9,192.0.2.99,10.1.2.3,169.254.1.1,fd00::77,fe80::9,2001:db8::1,fd00::2,2002:c000:204::1,fec0::5
	p-v6.test=ok:2001:db8::20 p-deny.test=EAI_FAIL host4.test=ok:127.0.0.2
	nx.invalid=EAI_AGAIN 127.0.0.5=ok:127.0.0.5)
if [ "$PINDNS_SAN" = "" ]; then
	require valgrind
	out=$(pd_etc_run "$ETC" "$PRE" valgrind --leak-check=full \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 -q \
		"$BUILD/tools/gai-stress" -c -t 1 -n 10000 "${cases[@]}" 2>&1)
	rc=$?
	check_eq "real engine under valgrind: no leak, no error (10,000 lookups)" \
		0 "$rc"
	check_match "and descriptors stable" '^ok - open descriptors stable' \
		"$out"
fi

out=$(probe <<'EOF'
gai 127.0.0.1 80 0,1,0,0
gai @null 80 0,1,0,0x1
ghbn 10.1.2.3
maps
gai p-v4.test 80 0,1,0,0
maps
EOF
)
check_eq "real engine: not loaded for numbers, loaded by the first name" \
	"engine=absent engine=loaded" \
	"$(echo "$out" | sed -n 's/^  \(engine=.*\)/\1/p' | tr '\n' ' ' |
	sed 's/ $//')"
