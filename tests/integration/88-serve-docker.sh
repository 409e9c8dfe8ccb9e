#!/usr/bin/env bash
# examples/Dockerfile --target serve, replayed where Docker cannot run
# (tests/deploy/dockerfile_emu.py, as 67-seed-docker replays the default
# target), from the source tree plus a public key in deploy/. Then:
#   - the stage's packages provide every library pindns needs, and no
#     build tool, Python or application package is among them; no
#     policy is baked in;
#   - the container runs `pindns serve` as the image's USER (not root)
#     on its CMD's port 5353, mapped as `docker run -p` maps it, with
#     /etc/pindns mounted read-only and a poisoned resolv.conf: a claimed
#     name gets the lab's address over DoT, an unclaimed one the system
#     resolver's reply;
#   - a policy edited after signing stops it at start.
# tags: lab
# timeout: 300
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"	# pd_stop
. "$TOP/tests/deploy/lib.sh"
require git readelf dpkg-query unshare chroot kdig "$PY" "$BUILD/pindns"
EMU="$TOP/tests/deploy/dockerfile_emu.py"
DF="$TOP/examples/Dockerfile"
W="$PD_TMP/docker"
CTX="$W/ctx"
N=dynamodb.us-east-1.amazonaws.com
mkdir -p "$CTX/deploy" "$W/pol"

(cd "$TOP" && git ls-files -co --exclude-standard -z) |
	(cd "$TOP" && xargs -0 cp --parents -a -t "$CTX" 2>/dev/null)
check "context: the tree was copied" test -f "$CTX/Makefile"
"$BUILD/pindns" keygen "$W/release" >/dev/null 2>&1
cp "$W/release.pub" "$CTX/deploy/policy.pub"
# The policy to mount: the lab's, audit on stderr (the container's log).
sed -e 's|^\( *target:\).*|\1 stderr|' "$LAB_POLICY" >"$W/pol/policy.yaml"
"$BUILD/pindns" sign -k "$W/release.key" "$W/pol/policy.yaml" >/dev/null 2>&1
check "the mounted policy is signed" \
	"$BUILD/pindns" verify -k "$W/release.pub" "$W/pol/policy.yaml"

t0=$(date +%s)
"$PY" "$EMU" build "$DF" "$CTX" "$W/img" --target serve >"$W/build.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	ok "docker build --target serve replayed ($(($(date +%s) - t0)) s)"
else
	not_ok "docker build --target serve replayed" "expected: exit 0" "got: exit $rc" \
		"$(grep -v '^  \(CC\|LD\) ' "$W/build.log" | tail -n 25)"
	exit 1
fi
IMG="$W/img"
check_nomatch "--target serve: the application stage is not built" "stage app|AS app" \
	"$(grep '^== FROM' "$W/build.log")"
UP=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["upper"])' "$IMG/image.json")
meta=$("$PY" -c 'import json,sys; i=json.load(open(sys.argv[1])); print(i["user"], " ".join(i["entrypoint"] + i["cmd"]))' "$IMG/image.json")
check_eq "image: USER pindns, ENTRYPOINT pindns serve, CMD -l 0.0.0.0@5353" \
	"pindns pindns serve -l 0.0.0.0@5353" "$meta"
check "image: pindns installed" test -x "$UP/usr/local/bin/pindns"
check "image: the public key in place" test -f "$UP/usr/local/share/pindns/policy.pub"
check_eq "image: no policy baked in, no secret key" "" \
	"$(cd "$UP" && ls etc/pindns 2>/dev/null; find . -name '*.key' 2>/dev/null)"

RTPKGS=" $(tr '\n' ' ' <"$IMG/stage-serve.packages") libc6 "
check_eq "serve stage: its packages provide every NEEDED library" "" \
	"$(stage_unprovided "$IMG/stage-serve.packages" \
		"$UP"/usr/local/lib/pindns/libpindns-engine.so \
		"$UP"/usr/local/lib/pindns/libpindns-dot.so "$UP/usr/local/bin/pindns")"
check_eq "serve stage: no -dev package, compiler, Python or app server" "" \
	"$(tr ' ' '\n' <<<"$RTPKGS" | grep -E -- '-dev$|^build-essential$|^gcc|^make$|^python3|^gunicorn')"

# ------------------------------------------------------------ run
E="$W/etc"
mkdir -p "$E"
printf 'nameserver %s\n' "$LAB_POISON_ADDR" >"$E/resolv.conf"
LOG="$W/serve.log"
ctr_start() {
	setsid "$PY" "$EMU" run "$IMG" --publish "0.0.0.0@5353=127.0.0.1@$PORT" \
		--etc "$E/resolv.conf=/etc/resolv.conf" --ro "$W/pol=/etc/pindns" \
		>"$LOG" 2>&1 </dev/null &
	PD_PID=$!
}
ctr_up() { grep -q "listening on" "$LOG"; }
ctr_taken() { grep -q "Address already in use" "$LOG"; }
pd_start_on_free_port 30 1 ctr_start ctr_up ctr_taken
CPID=$PD_PID
if ! grep -q "listening on" "$LOG"; then
	not_ok "container up: pindns serve listening" "got:" "$(tail -n 20 "$LOG")"
	exit 1
fi
ok "container up: $(grep -m1 'listening on' "$LOG")"
SPID=$(pgrep -f "pindns serve -l 127.0.0.1@$PORT" | head -n 1)
check_eq "container: pindns serve runs as the image's USER (pindns)" \
	"$(awk -F: '$1 == "pindns" { print $3 }' "$UP/etc/passwd")" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/${SPID:-0}/status" 2>/dev/null)"
check_match "container: /etc/pindns is mounted read-only" "^ro" \
	"$(awk '$5 ~ /\/etc\/pindns$/ { print $6 }' "/proc/${SPID:-0}/mountinfo" 2>/dev/null)"
out=$(kdig @127.0.0.1 -p "$PORT" +timeout=5 +retry=0 $N A 2>&1)
check_match "container: a claimed name gets the lab's address over DoT" \
	"IN[[:space:]]+A[[:space:]]+$LAB_LEGIT_ADDR" "$out"
strip() { sed 's/id: [0-9]*//'; }
check_eq "container: an unclaimed name gets the system resolver's reply" \
	"$(kdig @"$LAB_POISON_ADDR" +timeout=3 +noall +answer +header www.plain.lab.test A 2>&1 | strip)" \
	"$(kdig @127.0.0.1 -p "$PORT" +timeout=5 +retry=0 +noall +answer +header www.plain.lab.test A 2>&1 | strip)"
check_match "container: the audit line on its stderr" "\"name\":\"$N\".*\"verdict\":\"accepted\"" "$(cat "$LOG")"
pd_stop "$CPID" 1

# A policy edited after signing (as a ConfigMap could be): no start.
sed -i 's|127\.0\.10\.0/24|127.0.66.0/24|' "$W/pol/policy.yaml"
out=$(timeout 60 "$PY" "$EMU" run "$IMG" --publish "0.0.0.0@5353=127.0.0.1@$PORT" \
	--etc "$E/resolv.conf=/etc/resolv.conf" --ro "$W/pol=/etc/pindns" 2>&1)
rc=$?
check_eq "container with a tampered policy: exits 1" 1 "$rc"
check_match "container with a tampered policy: says why" "policy\.yaml" "$out"
