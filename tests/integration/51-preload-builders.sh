#!/usr/bin/env bash
# Protected names against glibc: the preload's result builders, hint
# handling and RFC 6724 sort, with the engine replaced by a double that
# answers from a table (tests/tools/so_fake_engine.c), versus glibc
# answering the same names from a private /etc/hosts with the same
# addresses. Same list structure, order, socktypes, protocols, ports,
# flags, canonname for every hints combination; the gethostbyname family
# too. With the default sort tables, with a private /etc/gai.conf, and
# with the same file saying `reload yes` (every sort then checks the file
# and holds the tables' lock, as glibc does).
#
# Known, intended differences from a hosts-file answer (a protected name
# is a DNS answer, and the preload leaves errno and h_errno as glibc does
# for a DNS answer behind "hosts: files dns"): a family the name has no
# address of is EAI_NODATA / NO_DATA (glibc goes on to DNS), checked on
# its own; after a success getaddrinfo leaves errno 0 (the files module:
# untouched, or ERANGE when its buffer grew) unless the sort's connect()
# set it; gethostbyname_r's *h_errnop is NETDB_SUCCESS (files:
# HOST_NOT_FOUND) and the global h_errno HOST_NOT_FOUND (files: untouched).
# The reference output is rewritten accordingly before the diff.
# tags: preload
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount diff "$BUILD/tools/gai-probe" \
	"$BUILD/tools/fake_engine.so" "$BUILD/libpindns.so"

DATA=$TOP/tests/data/preload
TABLE=$DATA/protected.table
ETC=$PD_TMP/etc
pd_table_etc "$ETC" "$TABLE"
PRE=$(pd_preload_copy "$PD_TMP/pre") || { not_ok "preload copy"; exit 1; }
export PD_FAKE_ENGINE
PD_FAKE_ENGINE=$(pd_fake_spec "$TABLE")

pd_protected_queries "$TABLE" >"$PD_TMP/queries"
nq=$(wc -l <"$PD_TMP/queries")

for conf in default gai.conf reload; do
	rm -f "$ETC/gai.conf"
	[ "$conf" = gai.conf ] && cp "$DATA/gai.conf" "$ETC/gai.conf"
	[ "$conf" = reload ] &&
		{ cat "$DATA/gai.conf"; echo "reload yes"; } >"$ETC/gai.conf"
	pd_private_etc "$ETC" "$BUILD/tools/gai-probe" <"$PD_TMP/queries" \
		>"$PD_TMP/glibc.$conf" 2>&1
	pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" \
		<"$PD_TMP/queries" >"$PD_TMP/preload.$conf" 2>&1
	check_eq "[$conf] all $nq queries answered" "$nq $nq" \
		"$(grep -c '^[a-z]' "$PD_TMP/glibc.$conf") $(grep -c '^[a-z]' "$PD_TMP/preload.$conf")"
	d=$(diff -u <(pd_dnsify "$PD_TMP/glibc.$conf") "$PD_TMP/preload.$conf" |
		head -n 60)
	check_eq "[$conf] protected answers identical to glibc's for the same addresses" "" "$d"
done
check "the two sort tables give different orders (gai.conf is read)" \
	bash -c "! cmp -s '$PD_TMP/glibc.default' '$PD_TMP/glibc.gai.conf'"
check "the matrix sorts many addresses" grep -q '\[47\] ' "$PD_TMP/glibc.default"

# Success through the DNS path leaves h_errno as glibc's DNS module does.
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" \
	ghbnr p-v4.test 4096)
check_match "gethostbyname_r success: h_errnop NETDB_SUCCESS, errno 0" \
	'rc=0 result=ret h_errnop=NETDB_SUCCESS h_errno=HOST_NOT_FOUND errno=0' \
	"$out"
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" \
	ghbn p-v4.test)
check_match "gethostbyname success: h_errno as glibc's DNS path, errno 0" \
	'= hostent h_errno=HOST_NOT_FOUND errno=0' "$out"

# No address of the family asked: EAI_NODATA / NO_DATA, as via DNS.
q="gai p-v4.test 80 10,1,0,0
gai p-v6.test 80 2,1,0,0
gai p-v4.test 80 10,1,0,0x10
ghbn p-v6.test
ghbnr p-v6.test 1024
ghbn2r p-v4.test 10 1024
ghbn2 p-v4.test 10"
out=$(echo "$q" | pd_etc_run "$ETC" "$PRE" \
	"$BUILD/tools/gai-probe")
check_eq "no address of the family: EAI_NODATA, NO_DATA" \
"gai p-v4.test 80 10,1,0,0
  = EAI_NODATA errno=untouched
gai p-v6.test 80 2,1,0,0
  = EAI_NODATA errno=0
gai p-v4.test 80 10,1,0,0x10
  = EAI_NODATA errno=untouched
ghbn p-v6.test
  = NULL h_errno=NO_DATA errno=0
ghbnr p-v6.test 1024
  = rc=0 result=NULL h_errnop=NO_DATA h_errno=NO_DATA errno=0
ghbn2r p-v4.test 10 1024
  = rc=0 result=NULL h_errnop=NO_DATA h_errno=NO_DATA errno=0
ghbn2 p-v4.test 10
  = NULL h_errno=NO_DATA errno=0" "$out"

# ERANGE exactly at the edge: find the smallest buffer that works.
small=""
for len in $(seq 8 8 400); do
	out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" \
		ghbn2r p-many.test 10 "$len")
	case "$out" in *result=ret*) small=$len; break ;; esac
	check_match "gethostbyname2_r with $len bytes: ERANGE, NETDB_INTERNAL" \
		'rc=ERANGE result=NULL h_errnop=NETDB_INTERNAL h_errno=untouched errno=ERANGE' \
		"$out" >/dev/null || { not_ok "ERANGE below the edge ($len)" "$out"; break; }
done
check_match "a buffer large enough was found (8 AAAA: 8*(16+8) + ...)" \
	'^[0-9]+$' "$small"
out=$(pd_etc_run "$ETC" "$PRE" "$BUILD/tools/gai-probe" \
	ghbn2r p-many.test 10 "$small")
check_nomatch "nothing points outside the caller's buffer" 'outside-buffer' \
	"$out"
check_eq "all 8 addresses in the smallest buffer" 8 \
	"$(echo "$out" | grep -c '^  addr=')"
