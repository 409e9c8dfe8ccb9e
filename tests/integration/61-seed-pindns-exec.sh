#!/usr/bin/env bash
# scripts/pindns-exec (SPEC section 6): finds the library next to itself
# in the source tree and in the installed layout (also through a symbolic
# link), refuses to start with one line and status 125 when the library,
# the tool or the policy is missing, invalid, unsigned where a key is
# configured, or tampered; makes relative paths absolute; prepends to
# LD_PRELOAD; execs (same PID, exit status and signals pass through);
# children inherit the protection, which is real: getent in the poisoned
# namespace gets the legitimate address.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require getent sh "$BUILD/pindns"
T=$PD_TMP/pe
mkdir -p "$T"
LIB=$(cd "$BUILD" && pwd -P)/libpindns.so
# What LD_PRELOAD holds before pindns-exec runs (the sanitizer runtime
# under make asan, else nothing).
PRE0=""
for e in "${SEED_SAN_ENV[@]}"; do
	case "$e" in LD_PRELOAD=*) PRE0=${e#LD_PRELOAD=} ;; esac
done
# pe ARGS...: pindns-exec with that environment; stdout+stderr in $out,
# the exit status in $rc.
pe() {
	out=$(env "${SEED_SAN_ENV[@]}" "$PEXEC" "$@" 2>&1)
	rc=$?
}

# ------------------------------------------------------------ usage

pe --help
check_eq "--help exits 0" 0 "$rc"
check_match "--help shows the synopsis" \
	'usage: pindns-exec \[-v\] \[-p POLICY\] \[--\] COMMAND \[ARGS\.\.\.\]' "$out"
pe
check_eq "no COMMAND: exit 125" 125 "$rc"
check_match "no COMMAND: one-line reason then the synopsis" \
	'^pindns-exec: missing COMMAND' "$out"
pe --bogus -- true
check_eq "unknown option: exit 125" 125 "$rc"
check_match "unknown option: says which" '^pindns-exec: unknown option --bogus' "$out"
pe -p
check_eq "-p without POLICY: exit 125" 125 "$rc"
pe --version
check_eq "--version: exit 0" 0 "$rc"
check_match "--version: pindns's version" "^pindns [0-9]" "$out"

# ------------------------------------------------------------ policy

cp "$LAB_POLICY" "$T/policy.yaml"
pe -p "$T/nonexistent.yaml" -- true
check_eq "missing policy: exit 125" 125 "$rc"
check_match "missing policy: one clear line, with -p and the shipped example" \
	"^pindns-exec: policy $T/nonexistent\.yaml: no such file; name one with -p POLICY \(or PINDNS_POLICY\), or start from the shipped example: install -D -m 0644 $TOP/policy/dynamodb\.yaml $T/nonexistent\.yaml \(man pindns\.yaml\)$" "$out"
check_eq "missing policy: exactly one line" 1 "$(grep -c . <<<"$out")"

printf 'version: 1\nrules:\n  - name: x\n    action: secure\n    bogus_key: 1\n' \
	>"$T/invalid.yaml"
pe -p "$T/invalid.yaml" -- true
check_eq "invalid policy: exit 125" 125 "$rc"
check_match "invalid policy: pindns check's FILE:LINE:COLUMN message, one line" \
	"^pindns-exec: not starting true: $T/invalid\.yaml:[0-9]+:[0-9]+: .+$" "$out"
check_eq "invalid policy: exactly one line" 1 "$(grep -c . <<<"$out")"

pe -p "$T/policy.yaml" -- sh -c 'echo started'
check_eq "lab policy, no key configured: starts" "started" "$out"
check_eq "lab policy, no key configured: exit 0" 0 "$rc"

# Signatures: a key configured makes a signature mandatory.
"$BUILD/pindns" keygen "$T/k" >"$T/keygen.out" 2>&1
check_eq "pindns keygen writes k.key and k.pub" "yes yes" \
	"$([ -s "$T/k.key" ] && echo yes || echo no) $([ -s "$T/k.pub" ] && echo yes || echo no)"
PINDNS_PUBKEY=$T/k.pub pe -p "$T/policy.yaml" -- true
check_eq "unsigned policy with PINDNS_PUBKEY: exit 125" 125 "$rc"
check_match "unsigned policy with PINDNS_PUBKEY: says so" \
	"^pindns-exec: not starting true: .*policy\.yaml" "$out"
"$BUILD/pindns" sign -k "$T/k.key" "$T/policy.yaml" >"$T/sign.out" 2>&1
check_eq "pindns sign writes policy.yaml.sig" yes \
	"$([ -s "$T/policy.yaml.sig" ] && echo yes || echo no)"
PINDNS_PUBKEY=$T/k.pub pe -p "$T/policy.yaml" -- sh -c 'echo started'
check_eq "signed policy with PINDNS_PUBKEY: starts" "started" "$out"
cp "$T/policy.yaml" "$T/tampered.yaml"
cp "$T/policy.yaml.sig" "$T/tampered.yaml.sig"
sed -i 's|127\.0\.10\.0/24|127.0.66.0/24|' "$T/tampered.yaml"
PINDNS_PUBKEY=$T/k.pub pe -p "$T/tampered.yaml" -- true
check_eq "tampered policy (edited after signing): exit 125" 125 "$rc"
"$BUILD/pindns" keygen "$T/other" >/dev/null 2>&1
PINDNS_PUBKEY=$T/other.pub pe -p "$T/policy.yaml" -- true
check_eq "policy signed with another key: exit 125" 125 "$rc"

# Relative paths become absolute (the app may chdir); links are kept.
ln -s policy.yaml "$T/link.yaml"
ln -s policy.yaml.sig "$T/link.yaml.sig"
out=$(cd "$T" && PINDNS_PUBKEY=k.pub pe -p link.yaml -- \
	sh -c 'printf "%s|%s" "$PINDNS_POLICY" "$PINDNS_PUBKEY"' && echo "$out")
check_eq "relative -p and PINDNS_PUBKEY made absolute, link not resolved" \
	"$T/link.yaml|$T/k.pub" "$out"
out=$(cd "$T" && PINDNS_POLICY=policy.yaml pe -- sh -c 'printf "%s" "$PINDNS_POLICY"' &&
	echo "$out")
check_eq "PINDNS_POLICY from the environment is the default, made absolute" \
	"$T/policy.yaml" "$out"

# ------------------------------------------------------------ exec

pe -p "$T/policy.yaml" -- sh -c 'printf "%s" "$LD_PRELOAD"'
check_eq "LD_PRELOAD: libpindns.so first" "$LIB${PRE0:+:$PRE0}" "$out"
other="$BUILD/tools/nodelay.so"
out=$(env "${SEED_SAN_ENV[@]}" \
	LD_PRELOAD="${PRE0:+$PRE0:}$other" "$PEXEC" -p "$T/policy.yaml" -- \
	sh -c 'printf "%s" "$LD_PRELOAD"' 2>&1)
check_eq "LD_PRELOAD: an existing value is kept after it" \
	"$LIB:${PRE0:+$PRE0:}$other" "$out"
pe -p "$T/policy.yaml" -- "$PEXEC" -p "$T/policy.yaml" -- \
	sh -c 'printf "%s" "$LD_PRELOAD"'
check_eq "LD_PRELOAD: nested pindns-exec does not add it twice" \
	"$LIB${PRE0:+:$PRE0}" "$out"
pe -p "$T/policy.yaml" -- sh -c 'sh -c "grep -c libpindns.so /proc/\$\$/maps"'
check_match "a grandchild process has libpindns.so mapped" '^[1-9][0-9]*$' "$out"

pe -p "$T/policy.yaml" -- sh -c 'exit 7'
check_eq "the command's exit status passes through" 7 "$rc"
pe -p "$T/policy.yaml" -- sh -c 'kill -TERM $$'
check_eq "death by signal passes through (143 = 128 + SIGTERM)" 143 "$rc"
env "${SEED_SAN_ENV[@]}" "$PEXEC" -p "$T/policy.yaml" -- \
	sh -c 'echo $$ >"$1"; exec sleep 30' sh "$T/pid" &
bg=$!
wait_for 10 test -s "$T/pid"
check_eq "exec: the command runs in pindns-exec's own process" "$bg" \
	"$(cat "$T/pid" 2>/dev/null)"
kill -TERM "$bg"
wait "$bg"
check_eq "a signal sent to pindns-exec's PID reaches the command (143)" 143 "$?"
pe -p "$T/policy.yaml" -- /nonexistent/cmd
check_eq "command not found: exit 127" 127 "$rc"
check_eq "command not found: says so" "pindns-exec: /nonexistent/cmd: command not found" "$out"

# ------------------------------------------------------------ layouts

# Installed layout: BIN/pindns-exec, BIN/pindns, BIN/../lib/pindns/.
P=$T/prefix
mkdir -p "$P/bin" "$P/lib/pindns" "$T/elsewhere"
cp "$PEXEC" "$BUILD/pindns" "$P/bin/"
cp "$BUILD"/libpindns.so "$BUILD"/libpindns-engine.so "$BUILD"/libpindns-dot.so \
	"$P/lib/pindns/"
ln -s "$P/bin/pindns-exec" "$T/elsewhere/pindns-exec"
out=$(env "${SEED_SAN_ENV[@]}" BUILD=/nonexistent "$T/elsewhere/pindns-exec" \
	-p "$T/policy.yaml" -- sh -c 'printf "%s" "$LD_PRELOAD"' 2>&1)
check_eq "installed layout through a symbolic link: BIN/../lib/pindns/libpindns.so" \
	"$P/lib/pindns/libpindns.so${PRE0:+:$PRE0}" "$out"
rm "$P/lib/pindns/libpindns-engine.so"
out=$(env "${SEED_SAN_ENV[@]}" "$P/bin/pindns-exec" -p "$T/policy.yaml" -- true 2>&1)
check_eq "installed layout without the engine: refused" \
	"pindns-exec: $P/lib/pindns/libpindns-engine.so not found (run make, or make install)" \
	"$out"
rm "$P/bin/pindns"
cp "$BUILD/libpindns-engine.so" "$P/lib/pindns/"
out=$(env "${SEED_SAN_ENV[@]}" "$P/bin/pindns-exec" -p "$T/policy.yaml" -- true 2>&1)
rc=$?
check_eq "installed layout without the pindns tool: exit 125" 125 "$rc"
check_eq "installed layout without the pindns tool: it is an error, not a pass" \
	"pindns-exec: cannot check the policy: $P/bin/pindns not found or not executable" \
	"$out"
rm -r "${P:?}/lib"
out=$(env "${SEED_SAN_ENV[@]}" "$P/bin/pindns-exec" -p "$T/policy.yaml" -- true 2>&1)
rc=$?
check_eq "no library anywhere: exit 125" 125 "$rc"
check_match "no library anywhere: says where it looked" \
	"^pindns-exec: libpindns\.so not found: looked in $P/bin/\.\./lib/pindns" "$out"

# ------------------------------------------------------------ protection

out=$("$POISONED" "$LAB_STATE" -- getent ahosts "$SEED_NAME" | awk 'NR == 1 { print $1 }')
check_eq "poisoned namespace without pindns: the attacker's address" \
	"$LAB_ATTACKER_ADDR" "$out"
out=$(env "${SEED_SAN_ENV[@]}" "$POISONED" "$LAB_STATE" -- "$PEXEC" -p "$T/policy.yaml" -- \
	getent ahosts "$SEED_NAME" 2>&1 | awk 'NR == 1 { print $1 }')
check_eq "poisoned namespace under pindns-exec: the legitimate address" \
	"$LAB_LEGIT_ADDR" "$out"
