#!/usr/bin/env bash
# examples/Dockerfile, replayed where Docker cannot run: every RUN, COPY,
# ENV, WORKDIR, USER, ENTRYPOINT and CMD of both stages, in overlays of
# this machine's root (tests/deploy/dockerfile_emu.py), from a build
# context made of the source tree plus a signed policy in deploy/. Then:
#   - the runtime stage's packages provide every library the installed
#     binaries need, and none of the build stage's tools or headers;
#   - the image runs as its USER with pindns-exec as ENTRYPOINT and the
#     gunicorn CMD (4 UvicornWorkers), in a poisoned resolver setup, and
#     the FastAPI example reaches the stand-in, not the attacker;
#   - a policy edited after signing stops the container at start.
# tags: lab
# timeout: 240
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
. "$TOP/tests/deploy/lib.sh"
require git readelf dpkg-query unshare chroot curl pgrep setsid "$PY" "$BUILD/pindns"
EMU="$TOP/tests/deploy/dockerfile_emu.py"
DF="$TOP/examples/Dockerfile"
W="$PD_TMP/docker"
CTX="$W/ctx"
mkdir -p "$CTX/deploy"

# The build context: what `docker build -f examples/Dockerfile .` sends
# (tracked and untracked files of the tree; .dockerignore is applied by
# the replay), and deploy/ with a policy signed by a fresh key. The audit
# log goes to stderr, where the container's output is.
(cd "$TOP" && git ls-files -co --exclude-standard -z) |
	(cd "$TOP" && xargs -0 cp --parents -a -t "$CTX" 2>/dev/null)
check "context: the tree was copied" test -f "$CTX/Makefile" -a -f "$CTX/examples/fastapi/app.py"
sed -e 's|^\( *target:\).*|\1 stderr|' "$LAB_POLICY" >"$CTX/deploy/policy.yaml"
"$BUILD/pindns" keygen "$W/release" >/dev/null 2>&1
"$BUILD/pindns" sign -k "$W/release.key" "$CTX/deploy/policy.yaml" >/dev/null 2>&1
cp "$W/release.pub" "$CTX/deploy/policy.pub"
check "context: deploy/policy.yaml signed" \
	"$BUILD/pindns" verify -k "$CTX/deploy/policy.pub" "$CTX/deploy/policy.yaml"

t0=$(date +%s)
"$PY" "$EMU" build "$DF" "$CTX" "$W/img" >"$W/build.log" 2>&1
rc=$?
if [ "$rc" = 0 ]; then
	ok "docker build replayed: both stages, every step ($(($(date +%s) - t0)) s)"
else
	not_ok "docker build replayed" "expected: exit 0" "got: exit $rc" \
		"$(grep -v '^  \(CC\|LD\) ' "$W/build.log" | tail -n 25)"
	exit 1
fi
IMG="$W/img"
UP=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["upper"])' "$IMG/image.json")

# ------------------------------------------------------------ image content

for f in bin/pindns bin/pindns-exec lib/pindns/libpindns.so \
	lib/pindns/libpindns-engine.so lib/pindns/libpindns-dot.so; do
	[ -f "$UP/usr/local/$f" ] || miss="${miss:-} $f"
done
check_eq "image: pindns installed under /usr/local" "" "${miss:-}"
check_eq "image: policy, signature and key in place" "yes" \
	"$([ -f "$UP/etc/pindns/policy.yaml" ] && [ -f "$UP/etc/pindns/policy.yaml.sig" ] &&
		[ -f "$UP/usr/local/share/pindns/policy.pub" ] && echo yes)"
check_eq "image: no build tree, no staging, no secret key" "" \
	"$(cd "$UP" && ls -d src staging 2>/dev/null; find . -name '*.key' 2>/dev/null)"

# Runtime packages: every library the installed objects need comes from
# one of them (or from libc6, in every base image), and no -dev package
# or compiler is among them.
RTPKGS=" $(cat "$IMG/stage-app.packages" | tr '\n' ' ') libc6 "
check_eq "runtime stage: its packages provide every NEEDED library" "" \
	"$(stage_unprovided "$IMG/stage-app.packages" "$UP"/usr/local/lib/pindns/*.so \
		"$UP/usr/local/bin/pindns")"
check_eq "runtime stage: no -dev package, compiler or make" "" \
	"$(tr ' ' '\n' <<<"$RTPKGS" | grep -E -- '-dev$|^build-essential$|^gcc|^make$|^pkg-config$')"

# ------------------------------------------------------------ run

seed_servers_up || exit 1
E="$W/etc"
mkdir -p "$E"
printf 'nameserver %s\noptions timeout:2 attempts:2\n' "$LAB_POISON_ADDR" >"$E/resolv.conf"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost\n' >"$E/hosts"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$E/nsswitch.conf"
RUNARGS=(--etc "$E/resolv.conf=/etc/resolv.conf" --etc "$E/hosts=/etc/hosts"
	--etc "$E/nsswitch.conf=/etc/nsswitch.conf"
	-e "DYNAMODB_ENDPOINT=$SEED_ENDPOINT" -e "AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID"
	-e "AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY"
	-e "AWS_EC2_METADATA_DISABLED=true" -e "AWS_DEFAULT_REGION=us-east-1")

APP_PORT=$(free_port)
APP_LOG="$W/container.log"
setsid "$PY" "$EMU" run "$IMG" --publish "0.0.0.0:8000=127.0.0.1:$APP_PORT" \
	"${RUNARGS[@]}" >"$APP_LOG" 2>&1 </dev/null &
APP_PID=$!
pd_cleanup "pd_stop $APP_PID 1"
if ! wait_for 90 curl -sf -o /dev/null "http://127.0.0.1:$APP_PORT/healthz"; then
	not_ok "container up (GET /healthz)" "got:" "$(tail -n 20 "$APP_LOG")"
	exit 1
fi
ok "container up: pindns-exec -- gunicorn (CMD) answers /healthz"
# /healthz answers as soon as the first worker is up; the image's CMD is
# gunicorn as a user would run it (no test hooks), so wait, bounded, for
# the master to have forked all four.
four_workers() { [ "$(pgrep -P "$APP_PID" | wc -l)" -ge 4 ]; }
wait_for 60 four_workers
workers=$(pgrep -P "$APP_PID" | tr '\n' ' ')
check_eq "container: gunicorn started 4 workers" 4 "$(wc -w <<<"$workers")"
w1=${workers%% *}
check_eq "container: the workers run as the image's USER (app)" \
	"$(awk -F: '$1 == "app" { print $3 }' "$UP/etc/passwd")" \
	"$(awk '/^Uid:/ { print $2 }' "/proc/${w1:-0}/status" 2>/dev/null)"
check_eq "container: LD_PRELOAD and PINDNS_* set by the ENTRYPOINT and ENV" \
	"LD_PRELOAD=/usr/local/lib/pindns/libpindns.so PINDNS_POLICY=/etc/pindns/policy.yaml PINDNS_PUBKEY=/usr/local/share/pindns/policy.pub" \
	"$(tr '\0' '\n' <"/proc/${w1:-0}/environ" 2>/dev/null | grep -E '^(LD_PRELOAD|PINDNS_(POLICY|PUBKEY))=' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "container: 8 concurrent GETs all 200" "8 200" "$(parallel_get 8 /items/items/42)"
seed_get /items/items/42
check_eq "container: the stand-in's item" "$SEED_ITEM" "$(json_norm <<<"$HTTP_BODY")"
check_eq "container: the attacker received nothing" "" \
	"$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
SEED_AUDIT="$W/audit.log"
grep '^{' "$APP_LOG" >"$SEED_AUDIT"
check_match "container: audit log on stderr: accepted $LAB_LEGIT_ADDR" \
	"accepted - $SEED_NAME $LAB_LEGIT_ADDR" "$(audit)"
pd_stop "$APP_PID" 1

# examples/kubernetes/items.yaml: the container as the manifest runs it
# (its args, if any, over the image's CMD), under its constraints: the
# root file system read-only (readOnlyRootFilesystem), each emptyDir a
# tmpfs at its mountPath; ready once its readinessProbe path answers.
K8S=$("$PY" - "$TOP/examples/kubernetes/items.yaml" <<'PYEOF'
import json, sys, yaml
dep = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d["kind"] == "Deployment"][0]
pod = dep["spec"]["template"]["spec"]
c = pod["containers"][0]
empty = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
args = []
if c.get("securityContext", {}).get("readOnlyRootFilesystem"):
    args.append("--read-only")
for m in c.get("volumeMounts", []):
    if m["name"] in empty:
        args += ["--tmpfs", m["mountPath"]]
if "args" in c:
    args += ["--cmd-json", json.dumps(c["args"])]
print(c["readinessProbe"]["httpGet"]["path"])
print(json.dumps(args))
PYEOF
)
PROBE_PATH=$(sed -n 1p <<<"$K8S")
mapfile -t K8SARGS < <("$PY" -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$(sed -n 2p <<<"$K8S")")
check_match "manifest: read-only root and a tmpfs (emptyDir) for /tmp" 	"--read-only --tmpfs /tmp" "${K8SARGS[*]}"
APP_PORT=$(free_port)
APP_LOG="$W/k8s.log"
setsid "$PY" "$EMU" run "$IMG" --publish "0.0.0.0:8000=127.0.0.1:$APP_PORT" \
	"${RUNARGS[@]}" "${K8SARGS[@]}" >"$APP_LOG" 2>&1 </dev/null &
APP_PID=$!
pd_cleanup "pd_stop $APP_PID 1"
if wait_for 90 curl -sf -o /dev/null "http://127.0.0.1:$APP_PORT$PROBE_PATH"; then
	ok "manifest's container on a read-only root: ready ($PROBE_PATH answers)"
else
	not_ok "manifest's container on a read-only root: ready ($PROBE_PATH)" \
		"got:" "$(tail -n 20 "$APP_LOG")"
fi
check_eq "manifest's container: 8 concurrent GETs all 200" "8 200" \
	"$(parallel_get 8 /items/items/42)"
check_nomatch "manifest's container: nothing complains of a read-only file system" \
	"Read-only file system" "$(cat "$APP_LOG")"
pd_stop "$APP_PID" 1

# A policy edited after signing (as a ConfigMap could be) stops the start.
sed -i 's|127\.0\.10\.0/24|127.0.66.0/24|' "$UP/etc/pindns/policy.yaml"
out=$(timeout 60 "$PY" "$EMU" run "$IMG" "${RUNARGS[@]}" 2>&1)
rc=$?
check_eq "container with a tampered policy: pindns-exec refuses (125)" 125 "$rc"
check_match "container with a tampered policy: says why, about the policy" \
	'^pindns-exec: not starting gunicorn: .*/etc/pindns/policy\.yaml' "$out"
