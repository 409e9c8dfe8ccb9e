#!/usr/bin/env bash
# Relative paths are made absolute once, not taken against whatever the
# current directory is at use (issue 12, item 7):
#  - LD_PRELOAD=lib/libpindns.so, then chdir() before the first lookup:
#    the engine is the one beside the preload that was mapped, never a
#    lib/libpindns-engine.so planted in the new directory (a stand-in
#    that answers with the poisoner's address and records that it ran);
#  - PINDNS_POLICY=p.yaml, then chdir() to a directory holding another
#    p.yaml: the policy reloaded is the one first loaded, changed in
#    place (waited for), never the other directory's.
# Each runs in one Python process under the preload (real engine, static
# rules, no network).
# tags: preload
# timeout: 60
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../preload-lib.sh"
require /usr/bin/python3 "$BUILD/libpindns.so" "$BUILD/libpindns-engine.so" \
	"$BUILD/tools/fake_engine.so"
unset PINDNS_PUBKEY PINDNS_LOG PINDNS_POLICY

policy() {	# policy FILE ADDRESS
	printf '%s\n' 'version: 1' 'default: system' 'rules:' \
		'  - name: rel' '    match: [db.rel.test]' '    action: static' \
		"    addresses: [$2]" >"$1"
}
A=$PD_TMP/a
B=$PD_TMP/b
mkdir -p "$A" "$B"
cat >"$PD_TMP/look.py" <<'EOF'
import os, socket, sys, time
def look():
    try:
        a = socket.getaddrinfo("db.rel.test", 443, socket.AF_INET,
                               socket.SOCK_STREAM)
        return a[0][4][0]
    except socket.gaierror as e:
        return "error %s" % e.args[0]
mode, there = sys.argv[1:3]
if mode == "preload":           # move, then the first lookup
    os.chdir(there)
    print("answer", look(), flush=True)
else:                           # load, move, change the first policy
    print("first", look(), flush=True)
    here = os.getcwd()
    os.chdir(there)
    new = open(os.path.join(here, "p.yaml")).read().replace(
        "127.0.0.42", "127.0.0.43")
    tmp = os.path.join(here, "p.yaml.new")
    open(tmp, "w").write(new)
    os.rename(tmp, os.path.join(here, "p.yaml"))
    got = look()
    for _ in range(100):        # until a reload (checked once a second)
        if got != "127.0.0.42":
            break
        time.sleep(0.1)
        got = look()
    print("after", got, flush=True)
EOF

# The preload by a relative path.
pd_preload_copy "$A/lib" "$BUILD/libpindns-engine.so" >/dev/null ||
	{ not_ok "preload copy"; exit 1; }
pd_preload_copy "$B/lib" "$BUILD/tools/fake_engine.so" >/dev/null ||
	{ not_ok "planted engine"; exit 1; }
rm "$B/lib/libpindns.so"
policy "$PD_TMP/abs.yaml" 127.0.0.42
REL=lib/libpindns.so
case "$PINDNS_SAN" in
asan) REL="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so):$REL" ;;
esac
out=$(cd "$A" && env LD_PRELOAD="$REL" PINDNS_POLICY="$PD_TMP/abs.yaml" \
	PD_FAKE_ENGINE="db.rel.test accepted - 127.0.66.6" \
	PD_FAKE_ENGINE_LOG="$PD_TMP/planted.log" \
	ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}" \
	/usr/bin/python3 "$PD_TMP/look.py" preload "$B" 2>&1)
check_match "relative LD_PRELOAD, chdir: the engine beside the preload answers" \
	'^answer 127\.0\.0\.42$' "$out"
check_nomatch "relative LD_PRELOAD, chdir: never the planted engine's answer" \
	'127\.0\.66\.6' "$out"
check "relative LD_PRELOAD, chdir: the planted engine was never asked" \
	test ! -e "$PD_TMP/planted.log"

# PINDNS_POLICY by a relative path.
policy "$A/p.yaml" 127.0.0.42
policy "$B/p.yaml" 127.0.0.66
out=$(cd "$A" && PINDNS_POLICY=p.yaml with_preload /usr/bin/python3 \
	"$PD_TMP/look.py" policy "$B" 2>&1)
check_match "relative PINDNS_POLICY: loaded from the first directory" \
	'^first 127\.0\.0\.42$' "$out"
check_match "relative PINDNS_POLICY, chdir: the reload reads the same file" \
	'^after 127\.0\.0\.43$' "$out"
check_nomatch "relative PINDNS_POLICY, chdir: never the new directory's policy" \
	'127\.0\.0\.66' "$out"
