#!/usr/bin/env bash
# Differential test against glibc for names no rule claims (issue 5): one
# probe, run with and without the preload in a private mount namespace
# (private /etc/hosts, a resolv.conf pointing at a dead loopback address),
# over nodes x services x hints, and the outputs diffed. Results, error
# codes, errno and h_errno must be byte-identical.
# tags: preload
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require unshare mount diff "$BUILD/tools/gai-probe" "$BUILD/libpindns.so"

ETC=$TOP/tests/data/preload
export PINDNS_POLICY=$ETC/passthrough.yaml
unset PINDNS_PUBKEY PINDNS_LOG

set -f
l63=$(printf 'a%.0s' $(seq 63))
long254="$l63.$l63.$l63.${l63:0:61}"		# 254 characters
label64="$(printf 'b%.0s' $(seq 64)).test"	# a 64-character label
nodes="localhost host4.test h4alias.test host6.test dual.test multi.test
	mapped.test nx.invalid HOST4.TEST host4.test. @empty * $long254
	$label64 127.0.0.1 127.1 0x7f.0.0.1 ::1 ::ffff:127.0.0.2 fe80::1%lo
	fe80::1%nosuchif 1.2.3.4.5 3com.test @null"
services="@null 80 https nonsense"
# Every flag glibc accepts, combinations, and two it rejects (0x800, 0x1000).
flags="0 1 2 4 8 0x10 0x18 0x20 0x28 0x38 0x1a 0x400 0x40 0x80 0x300 0x3b
	0x800 0x1000"
short_hints="- 0,0,0,0 0,1,0,0 2,1,0,0 10,1,0,0 10,1,0,0x8 10,1,0,0x18
	0,1,0,0x2 0,1,0,0x20 0,2,17,0x400 1,0,0,0 0,3,0,0 0,0,0,0x800
	0,1,0,0x4 10,0,0,0x1a"
{
	# The full hint matrix (family x socktype x protocol x flags) on
	# names from the hosts file, one that DNS cannot answer, a number.
	for n in dual.test multi.test nx.invalid 127.1; do
		for s in $services; do
			echo "gai $n $s -"
			for fam in 0 2 10 1; do for st in 0 1 2 3 5; do
			for p in 0 6 17; do for f in $flags; do
				echo "gai $n $s $fam,$st,$p,$f"
			done; done; done; done
		done
	done
	# Every node with every service under a shorter list of hints, and
	# the gethostbyname family with ample and short buffers.
	for n in $nodes; do
		for s in $services; do
			for h in $short_hints; do echo "gai $n $s $h"; done
		done
		[ "$n" = @null ] && continue	# glibc crashes on NULL
		echo "ghbn $n"
		for af in 2 10 1; do echo "ghbn2 $n $af"; done
		for len in 1024 16; do echo "ghbnr $n $len"; done
		for len in 1024 30; do echo "ghbn2r $n 10 $len"; done
	done
} >"$PD_TMP/queries"
set +f
nq=$(wc -l <"$PD_TMP/queries")

pd_private_etc "$ETC" "$BUILD/tools/gai-probe" <"$PD_TMP/queries" \
	>"$PD_TMP/glibc.out" 2>"$PD_TMP/glibc.err"
check_eq "probe without the preload answered all $nq queries" "$nq" \
	"$(grep -c '^[a-z]' "$PD_TMP/glibc.out")"

pd_etc_run "$ETC" "$(pd_preload_value)" "$BUILD/tools/gai-probe" \
	<"$PD_TMP/queries" >"$PD_TMP/preload.out" 2>"$PD_TMP/preload.err"
check_eq "probe under the preload answered all $nq queries" "$nq" \
	"$(grep -c '^[a-z]' "$PD_TMP/preload.out")"

# The matrix must reach every corner, or the comparison proves little.
for code in 0 EAI_BADFLAGS EAI_FAMILY EAI_SOCKTYPE EAI_SERVICE EAI_NONAME \
    EAI_AGAIN EAI_ADDRFAMILY; do
	check "the matrix produces $code" grep -q "^  = $code " \
		"$PD_TMP/glibc.out"
done

d=$(diff -u "$PD_TMP/glibc.out" "$PD_TMP/preload.out" | head -n 40)
check_eq "getaddrinfo/gethostbyname* results identical to glibc's" "" "$d"
check_eq "nothing on stderr under the preload" "" \
	"$(cat "$PD_TMP/preload.err")"
