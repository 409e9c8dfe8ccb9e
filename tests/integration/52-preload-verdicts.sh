#!/usr/bin/env bash
# The preload against the engine interface: every verdict mapped to the
# SPEC §4 codes (EAI_*, h_errno, the _r return value, errno), fail closed
# when the engine is missing or cannot start (one stderr line per
# process), SYSTEM_PINNED filtering (the list rebuilt, canonname kept),
# CNAME canonical names and aliases, AI_V4MAPPED's AAAA-then-A, the
# re-entrancy guard, numeric hosts never reaching the engine (glibc's own
# classification as the reference), and no engine in a process that never
# looks a name up. The engine is a double answering from a table
# (tests/tools/so_fake_engine.c); the real engine has its own tests.
# tags: preload
# timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount "$BUILD/tools/gai-probe" "$BUILD/tools/fake_engine.so" \
	"$BUILD/libpindns.so"

ETC=$PD_TMP/etc
pd_preload_etc "$ETC"
cat >"$ETC/hosts" <<'EOF'
127.0.0.1 localhost
127.0.0.77 guard.test
192.0.2.71 pin.test
127.0.0.72 pin.test
2001:db8::73 pin.test
203.0.113.74 pinrefuse.test
192.0.2.75 pinbad.test
2001:db8::75 pinbad.test
EOF
PRE=$(pd_preload_copy "$PD_TMP/pre") || { not_ok "preload copy"; exit 1; }
LOG=$PD_TMP/engine.log
export PD_FAKE_ENGINE_LOG=$LOG
export PD_FAKE_ENGINE="nx.test nxdomain - ;nodata.test nodata - ;\
deny.test refused - ;fail.test failed - ;\
pin.test pinned - 127.0.0.72,2001:db8::73;pinrefuse.test pinned - 192.0.2.1;\
pinbad.test pinnedbad - ;\
alias.test accepted real.test 192.0.2.50,2001:db8::50;\
v4only.test accepted - 192.0.2.60;\
mapped6.test accepted - ::ffff:192.0.2.61,2001:db8::61;\
allmapped.test accepted - ::ffff:192.0.2.62"
probe() { pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" "$@"; }

# ------------------------------------------------ SPEC §4 outcome table
out=$(probe <<'EOF'
gai nx.test 80 0,1,0,0
gai nx.test 80 2,1,0,0
gai nx.test 80 10,1,0,0x8
gai nodata.test 80 0,1,0,0
gai nodata.test 80 2,1,0,0
gai deny.test 80 0,1,0,0
gai deny.test 80 2,1,0,0
gai deny.test 80 10,1,0,0x8
gai fail.test 80 0,1,0,0
gai fail.test 80 2,1,0,0
ghbn nx.test
ghbn nodata.test
ghbn deny.test
ghbn fail.test
ghbnr nx.test 1024
ghbnr nodata.test 1024
ghbnr deny.test 1024
ghbnr fail.test 1024
ghbn2r deny.test 10 1024
EOF
)
check_eq "outcomes map to EAI_*, h_errno, errno (SPEC §4)" \
"gai nx.test 80 0,1,0,0
  = EAI_NONAME errno=untouched
gai nx.test 80 2,1,0,0
  = EAI_NONAME errno=0
gai nx.test 80 10,1,0,0x8
  = EAI_NONAME errno=untouched
gai nodata.test 80 0,1,0,0
  = EAI_NODATA errno=untouched
gai nodata.test 80 2,1,0,0
  = EAI_NODATA errno=0
gai deny.test 80 0,1,0,0
  = EAI_FAIL errno=untouched
gai deny.test 80 2,1,0,0
  = EAI_FAIL errno=untouched
gai deny.test 80 10,1,0,0x8
  = EAI_FAIL errno=untouched
gai fail.test 80 0,1,0,0
  = EAI_AGAIN errno=EAGAIN
gai fail.test 80 2,1,0,0
  = EAI_AGAIN errno=EAGAIN
ghbn nx.test
  = NULL h_errno=HOST_NOT_FOUND errno=0
ghbn nodata.test
  = NULL h_errno=NO_DATA errno=0
ghbn deny.test
  = NULL h_errno=NO_RECOVERY errno=ENOENT
ghbn fail.test
  = NULL h_errno=TRY_AGAIN errno=EAGAIN
ghbnr nx.test 1024
  = rc=0 result=NULL h_errnop=HOST_NOT_FOUND h_errno=HOST_NOT_FOUND errno=0
ghbnr nodata.test 1024
  = rc=0 result=NULL h_errnop=NO_DATA h_errno=NO_DATA errno=0
ghbnr deny.test 1024
  = rc=ENOENT result=NULL h_errnop=NO_RECOVERY h_errno=NO_RECOVERY errno=ENOENT
ghbnr fail.test 1024
  = rc=EAGAIN result=NULL h_errnop=TRY_AGAIN h_errno=TRY_AGAIN errno=EAGAIN
ghbn2r deny.test 10 1024
  = rc=ENOENT result=NULL h_errnop=NO_RECOVERY h_errno=NO_RECOVERY errno=ENOENT" \
	"$out"
check_match "AF_INET6|AI_V4MAPPED stops at a missing name (no A query)" \
	'^lookup nx.test 2$' "$(grep '^lookup nx.test' "$LOG" | sed -n 3p)"

# ------------------------------------------------ CNAME and AI_V4MAPPED
out=$(probe <<'EOF'
gai alias.test 80 0,1,0,0x2
ghbn alias.test
ghbn2 alias.test 10
gai v4only.test 80 10,1,0,0x8
gai mapped6.test 80 10,1,0,0x8
gai allmapped.test 80 10,1,0,0x8
EOF
)
check_eq "canonical name, aliases, v4-mapped as glibc builds them" \
"gai alias.test 80 0,1,0,0x2
  = 0 errno=0
  [0] flags=0x2 AF_INET STREAM proto=6 len=16 addr=192.0.2.50 port=80 canon=real.test
  [1] flags=0x2 AF_INET6 STREAM proto=6 len=28 addr=[2001:db8::50] port=80 flow=0 scope=0 canon=-
ghbn alias.test
  = hostent h_errno=HOST_NOT_FOUND errno=0
  name=real.test type=AF_INET len=4
  alias=alias.test
  addr=192.0.2.50
ghbn2 alias.test 10
  = hostent h_errno=HOST_NOT_FOUND errno=0
  name=real.test type=AF_INET6 len=16
  alias=alias.test
  addr=2001:db8::50
gai v4only.test 80 10,1,0,0x8
  = 0 errno=0
  [0] flags=0x8 AF_INET6 STREAM proto=6 len=28 addr=[::ffff:192.0.2.60] port=80 flow=0 scope=0 canon=-
gai mapped6.test 80 10,1,0,0x8
  = 0 errno=0
  [0] flags=0x8 AF_INET6 STREAM proto=6 len=28 addr=[2001:db8::61] port=80 flow=0 scope=0 canon=-
gai allmapped.test 80 10,1,0,0x8
  = EAI_NONAME errno=untouched" "$out"
check_eq "AI_V4MAPPED asks AAAA, then A only when there is no AAAA" \
	"lookup v4only.test 2 lookup v4only.test 1 lookup mapped6.test 2" \
	"$(grep -E '^lookup (v4only|mapped6)' "$LOG" | tr '\n' ' ' | sed 's/ $//')"

# ------------------------------------------------ SYSTEM_PINNED
# Reference: glibc with only the addresses the pins keep in /etc/hosts.
REF=$PD_TMP/ref
mkdir -p "$REF"
cp "$ETC/resolv.conf" "$ETC/nsswitch.conf" "$ETC/host.conf" "$REF/"
grep -v -e '^192.0.2.71 ' "$ETC/hosts" >"$REF/hosts"
q="gai pin.test 80 0,0,0,0x2
gai pin.test https 0,0,0,0
gai pin.test @null -
gai pin.test 80 2,1,0,0x2
gai pin.test 80 10,1,0,0x1a
gai pin.test 80 10,2,0,0x8
ghbn pin.test
ghbn2 pin.test 10
ghbnr pin.test 1024
ghbn2r pin.test 2 1024
ghbnr pin.test 16"
got=$(echo "$q" | probe)
want=$(echo "$q" | pd_etc_run "$REF" "" "$BUILD/tools/gai-probe")
check_eq "pins over libc: the kept addresses exactly as glibc lists them alone" \
	"$want" "$got"
out=$(probe <<'EOF'
gai pinrefuse.test 80 0,1,0,0
ghbn pinrefuse.test
ghbnr pinrefuse.test 1024
gai pinbad.test 80 0,0,0,0x2
ghbn pinbad.test
EOF
)
check_eq "pins over libc: nothing inside the pins is refused (also when the engine says so wrongly)" \
"gai pinrefuse.test 80 0,1,0,0
  = EAI_FAIL errno=untouched
ghbn pinrefuse.test
  = NULL h_errno=NO_RECOVERY errno=ENOENT
ghbnr pinrefuse.test 1024
  = rc=ENOENT result=NULL h_errnop=NO_RECOVERY h_errno=NO_RECOVERY errno=ENOENT
gai pinbad.test 80 0,0,0,0x2
  = EAI_FAIL errno=untouched
ghbn pinbad.test
  = NULL h_errno=NO_RECOVERY errno=ENOENT" \
	"$out"

# ------------------------------------------------ re-entrancy guard
rm -f "$LOG"
probe gai guard.test 80 0,1,0,0 >/dev/null
check_eq "the engine's own lookups reach libc (init and engine thread)" \
	"guard-init guard.test 0 guard-thread guard.test 0" \
	"$(grep '^guard' "$LOG" | tr '\n' ' ' | sed 's/ $//')"
check_eq "and never the engine again" "" "$(grep '^lookup' "$LOG" |
	grep -v 'lookup guard.test 3$')"

# ------------------------------------------------ numeric hosts
# glibc's classification is the reference: every candidate is also a name
# in the hosts file (192.0.2.200 / 2001:db8::200), so a string glibc looks
# up by name comes back with that address, and one it parses as an
# address (or rejects unparsed) never does.
cands="127.0.0.1 127.1 0x7f.1 0177.0.0.1 2130706433 0x7f000001 1.2.3
255.255.255.255 0.0.0.0 0 00 0x1 ::1 ::ffff:1.2.3.4 fe80::1%lo fe80::1%1
fe80::1%nosuchif 1:: 1.2.3.4.5 256.1.1.1 1.2.3.256 4294967296 0x100000000 08
09.1 1.2.3.4. 0x 1..2 .1 1.2.3.0x a.b 1e3 ::g 1:2 1.16777216 1.2.65536
1.0xffffff 1.2.0xffff 0xffffffff 0xFFFFFFFF 1.2.3.0377 1.2.3.0400 deadbeef
abc:def :: ::1. 1.2.3.4:80 [::1] 1.2.3.4%lo 0x7f.0.0.1x"
NETC=$PD_TMP/netc
mkdir -p "$NETC"
cp "$ETC/resolv.conf" "$ETC/nsswitch.conf" "$ETC/host.conf" "$NETC/"
for c in $cands; do
	printf '192.0.2.200 %s\n2001:db8::200 %s\n' "$c" "$c"
done >"$NETC/hosts"
rm -f "$LOG"
for c in $cands; do
	printf 'gai %s @null 0,0,0,0\nghbn %s\nghbn2 %s 10\n' "$c" "$c" "$c"
done >"$PD_TMP/nq"
pd_etc_run "$NETC" "" "$BUILD/tools/gai-probe" <"$PD_TMP/nq" >"$PD_TMP/n.glibc"
pd_etc_run "$NETC" "$PRE" "$BUILD/tools/gai-probe" <"$PD_TMP/nq" \
	>"$PD_TMP/n.pre"
bad="" named=0
for c in $cands; do
	for kind in "gai $c @null 0,0,0,0|3" "ghbn $c|1" "ghbn2 $c 10|2"; do
		q=${kind%|*} want=${kind#*|}
		g=$(awk -v q="$q" '$0 == q { p = 1; next } /^[a-z]/ { p = 0 }
			p && /192\.0\.2\.200|2001:db8::200/ { print "1"; exit }' \
			"$PD_TMP/n.glibc")
		[ -n "$g" ] || g=0
		grep -q -x -F "lookup $c $want" "$LOG" && o=1 || o=0
		[ "$g" = "$o" ] || bad="$bad [$q: glibc by name=$g, engine asked=$o]"
		named=$((named + g))
	done
done
check_eq "exactly the strings glibc looks up by name reach the engine" "" "$bad"
check_eq "numeric and non-numeric strings: results identical to glibc's" \
	"" "$(diff "$PD_TMP/n.glibc" "$PD_TMP/n.pre")"
check_match "some candidates are names to glibc, some are not" \
	'^[1-9][0-9]+$' "$named"

# ------------------------------------------------ no engine until a name
out=$(probe <<'EOF'
gai 127.0.0.1 80 0,1,0,0
gai @null 80 0,1,0,0x1
gai ::1 443 10,1,0,0
ghbn 127.0.0.1
maps
gai localhost 80 0,1,0,0
maps
EOF
)
check_eq "numeric hosts and NULL load no engine; the first name does" \
	"engine=absent engine=loaded" \
	"$(echo "$out" | sed -n 's/^  \(engine=.*\)/\1/p' | tr '\n' ' ' |
	sed 's/ $//')"

# ------------------------------------------------ fail closed
NOENG=$(pd_preload_copy "$PD_TMP/noeng" -) || exit 1
q="gai localhost 80 0,1,0,0
gai 127.0.0.1 80 0,1,0,0
gai pin.test 80 0,0,0,0x2
ghbn localhost
ghbnr localhost 1024
ghbn2 localhost 10
ghbn 127.0.0.1"
out=$(echo "$q" | pd_etc_run "$ETC" "$NOENG" "$BUILD/tools/gai-probe" \
	2>"$PD_TMP/noeng.err")
check_eq "no engine: every name refused, numeric hosts still answered" \
"gai localhost 80 0,1,0,0
  = EAI_FAIL errno=untouched
gai 127.0.0.1 80 0,1,0,0
  = 0 errno=untouched
  [0] flags=0 AF_INET STREAM proto=6 len=16 addr=127.0.0.1 port=80 canon=-
gai pin.test 80 0,0,0,0x2
  = EAI_FAIL errno=untouched
ghbn localhost
  = NULL h_errno=NO_RECOVERY errno=ENOENT
ghbnr localhost 1024
  = rc=ENOENT result=NULL h_errnop=NO_RECOVERY h_errno=NO_RECOVERY errno=ENOENT
ghbn2 localhost 10
  = NULL h_errno=NO_RECOVERY errno=ENOENT
ghbn 127.0.0.1
  = hostent h_errno=untouched errno=untouched
  name=127.0.0.1 type=AF_INET len=4
  addr=127.0.0.1" "$out"
check_eq "no engine: one line on stderr for the whole process" 1 \
	"$(wc -l <"$PD_TMP/noeng.err")"
check_match "no engine: the line says why" \
	'^pindns: cannot load the engine: .*libpindns-engine.so.*; name lookups are refused until it loads \(retried each second\)$' \
	"$(cat "$PD_TMP/noeng.err")"

out=$(echo "$q" | PD_FAKE_ENGINE_INIT_FAIL=1 pd_etc_run "$ETC" "$PRE" \
	"$BUILD/tools/gai-probe" 2>"$PD_TMP/init.err")
check_match "engine init failing: names refused" \
	'gai localhost 80 0,1,0,0.  = EAI_FAIL' "$(echo "$out" | tr '\n' .)"
check_eq "engine init failing: one line on stderr" \
	"pindns: the engine failed to start: out of memory; name lookups are refused until it loads (retried each second)" \
	"$(cat "$PD_TMP/init.err")"
