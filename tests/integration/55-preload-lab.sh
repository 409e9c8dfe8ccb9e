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
poisoned() { "$TOP/tests/lab/poisoned" "$LAB_STATE" "$@"; }
# poisoned_pre [--hosts F] -- CMD... : the same, under the preload.
poisoned_pre() {
	local a=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=("$1"); shift; done
	shift
	case "$PINDNS_SAN" in
	asan) poisoned "${a[@]}" -- env \
		ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
		LD_PRELOAD="$PRE" "$@" ;;
	*) poisoned "${a[@]}" -- env LD_PRELOAD="$PRE" "$@" ;;
	esac
}

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
