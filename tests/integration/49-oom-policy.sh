#!/usr/bin/env bash
# Allocation failure in the policy loader: `pindns check` (which loads a
# policy exactly as the preload does) with the Nth allocation made by
# pindns's own code failing (failalloc.so), for every N the load makes,
# (every one under make stress, 100 evenly spaced in make test)
# on the SPEC's example policy and on a signed policy verified with its
# public key. Every run ends cleanly: exit 1 with "out of memory" (or 0
# when the failed allocation was not needed), never a crash, never a
# sanitizer report, never "OK" for a policy whose signature was not
# verified.
# timeout: 300
. "$(dirname "$0")/../lib.sh"
F=$BUILD/tools/failalloc.so
P=$BUILD/pindns
require "$F" "$P"
[ "$PINDNS_SAN" = asan ] &&
	export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1

cp "$TOP/tests/data/policy/good/spec-example.yaml" "$PD_TMP/spec.yaml"
sed -i "s|\.\./anchors/|$TOP/tests/data/policy/anchors/|g" "$PD_TMP/spec.yaml"
# Signed, the policy pins the files it names by sha256 ({path, sha256}).
A=$TOP/tests/data/policy/anchors
sed -e "s|^tls_ca_file: [^ ]*|tls_ca_file: $("$P" digest "$A/root.ds")|" \
	-e "s|^  - $A/root.key|  - $("$P" digest "$A/root.key")|" \
	"$PD_TMP/spec.yaml" >"$PD_TMP/signed.yaml"
"$P" keygen "$PD_TMP/k" >/dev/null 2>&1
"$P" sign -k "$PD_TMP/k.key" "$PD_TMP/signed.yaml" >/dev/null 2>&1 ||
	not_ok "sign the pinned spec example"

# run POLICY PUBKEY NTH: pindns check under the shim ("" PUBKEY: unset).
run() {
	if [ -n "$2" ]; then
		PINDNS_PUBKEY=$2 LD_PRELOAD="$F" PD_FAILALLOC_OBJS="$P" \
			PD_FAILALLOC_NTH=$3 PD_FAILALLOC_REPORT="$PD_TMP/rep" \
			"$P" check "$1" 2>&1
	else
		env -u PINDNS_PUBKEY LD_PRELOAD="$F" PD_FAILALLOC_OBJS="$P" \
			PD_FAILALLOC_NTH=$3 PD_FAILALLOC_REPORT="$PD_TMP/rep" \
			"$P" check "$1" 2>&1
	fi
}

# At most MAX injection points per sweep (evenly spaced) in make test;
# make stress sets HD_OOM_MAX high enough for every one.
MAX=${HD_OOM_MAX:-100}

# sweep DESC POLICY [PUBKEY]
sweep() {
	local desc=$1 pol=$2 key=${3:-} k n rc bad=0 oom=0 okc=0 out step
	rm -f "$PD_TMP/rep"
	out=$(run "$pol" "$key" 0)
	check_match "$desc: loads without injection" ': OK' "$out"
	k=$(sed -n 's/^counted \([0-9]*\) .*/\1/p' "$PD_TMP/rep" | tail -n 1)
	if [ "${k:-0}" -lt 20 ]; then
		not_ok "$desc: allocations counted" "expected: >= 20" "got: '$k'"
		return
	fi
	step=$(((k + MAX - 1) / MAX))
	for ((n = 1; n <= k; n += step)); do
		out=$(run "$pol" "$key" "$n")
		rc=$?
		if [ "$rc" -eq 1 ] && grep -q 'out of memory' <<<"$out" &&
			! grep -q ': OK' <<<"$out"; then
			oom=$((oom + 1))
		elif [ "$rc" -eq 0 ] && grep -q ': OK' <<<"$out"; then
			okc=$((okc + 1))
		else
			bad=$((bad + 1))
			[ "$bad" -le 3 ] && not_ok "$desc: allocation $n of $k fails cleanly" \
				"expected: exit 1 and 'out of memory', or exit 0 and OK" \
				"got: exit $rc" "$(head -n 12 <<<"$out")"
		fi
		if grep -q 'AddressSanitizer\|runtime error\|LeakSanitizer' <<<"$out"; then
			bad=$((bad + 1))
			not_ok "$desc: allocation $n: no sanitizer report" "$(head -n 20 <<<"$out")"
		fi
	done
	check_eq "$desc: allocations 1..$k failed in turn (every ${step}th): all clean ($oom refused as out of memory, $okc harmless)" \
		0 "$bad"
}
sweep "spec example" "$PD_TMP/spec.yaml"
sweep "signed policy, key required" "$PD_TMP/signed.yaml" "$PD_TMP/k.pub"
