#!/usr/bin/env bash
# make install PREFIX=/usr/local DESTDIR=...: the layout of SPEC section 1
# (both libraries and the DoT backend in PREFIX/lib/pindns, pindns,
# pindns-exec and pindns-aws-pins in PREFIX/bin, the example policy in
# PREFIX/share/pindns, the manual in PREFIX/share/man), and the installed tree works on its own:
# pindns-exec from DESTDIR finds its library and tool, and the FastAPI
# example runs under it in the poisoned namespace, reaching the stand-in.
# tags: lab
# timeout: 180
. "$(dirname "$0")/../lib.sh"
lab_env
. "$TOP/tests/dynamodb/lib.sh"
require make install curl pgrep setsid unshare "$PY"

D="$PD_TMP/destdir"
PFX=/usr/local
R="$D$PFX"
out=$(make -C "$TOP" --no-print-directory BUILD="$BUILD" PREFIX="$PFX" DESTDIR="$D" install 2>&1)
check_eq "make install PREFIX=$PFX DESTDIR=... succeeds" 0 "$?"
[ -d "$R" ] || { not_ok "make install created $R" "got:" "$out"; exit 1; }

got=$(cd "$D" && find . \( -type f -o -type l \) -printf '%m %p\n' | sort -k2)
want="644 .$PFX/lib/pindns/libpindns-dot.so
644 .$PFX/lib/pindns/libpindns-engine.so
644 .$PFX/lib/pindns/libpindns.so
644 .$PFX/lib/systemd/system/pindns-serve.service
755 .$PFX/bin/pindns
755 .$PFX/bin/pindns-aws-pins
755 .$PFX/bin/pindns-exec
644 .$PFX/share/bash-completion/completions/pindns
777 .$PFX/share/bash-completion/completions/pindns-exec
644 .$PFX/share/man/man1/pindns-aws-pins.1
644 .$PFX/share/man/man1/pindns-exec.1
644 .$PFX/share/man/man1/pindns.1
644 .$PFX/share/man/man5/pindns.yaml.5
644 .$PFX/share/man/man7/pindns.7
644 .$PFX/share/man/man8/pindns-serve.8
644 .$PFX/share/pindns/policy.yaml"
check_eq "installed files and modes" "$(sort -k2 <<<"$want")" "$got"
check_eq "nothing installed outside PREFIX" "" \
	"$(cd "$D" && find . -mindepth 1 -maxdepth 2 ! -path "./usr" ! -path "./usr/local")"
check "the installed example policy passes the installed pindns check" \
	"$R/bin/pindns" check "$R/share/pindns/policy.yaml"
check "pindns-exec --help from the installed tree" "$R/bin/pindns-exec" --help
check_match "man finds the installed pindns.yaml(5)" "^$R/share/man/man5/pindns\.yaml\.5" \
	"$(MANPATH="$R/share/man" man -w 5 pindns.yaml 2>&1)"

# pindns-exec from the installed tree: its own library, its own tool.
POL="$SEED_DIR/policy.yaml"
seed_policy "$POL"
out=$(env "${SEED_SAN_ENV[@]}" BUILD=/nonexistent "$R/bin/pindns-exec" -p "$POL" -- \
	sh -c 'printf "%s" "${LD_PRELOAD%%:*}"' 2>&1)
check_eq "installed pindns-exec preloads the installed library" \
	"$R/lib/pindns/libpindns.so" "$out"

seed_servers_up || exit 1
APP_PORT=$(free_port)
seed_cmd fastapi-uvicorn
PEXEC="$R/bin/pindns-exec"	# seed_app_start uses it
: >"$SEED_AUDIT"
seed_app_start installed pindns "$POL" -- "${SEED_CMD[@]}" || exit 1
maps=$(cat "/proc/$APP_PID/maps" 2>/dev/null)
check_match "the app has the installed libpindns.so mapped" \
	"$R/lib/pindns/libpindns\.so" "$maps"
seed_get /items/items/42
check_eq "installed tree, FastAPI: GET /items/items/42 is 200" 200 "$HTTP_CODE"
check_eq "installed tree, FastAPI: the stand-in's item" "$SEED_ITEM" \
	"$(json_norm <<<"$HTTP_BODY")"
check_match "installed tree: the installed engine and backend were loaded" \
	"$R/lib/pindns/libpindns-engine\.so.*$R/lib/pindns/libpindns-dot\.so|$R/lib/pindns/libpindns-dot\.so.*$R/lib/pindns/libpindns-engine\.so" \
	"$(grep -o "$R/lib/pindns/[^ ]*" "/proc/$APP_PID/maps" 2>/dev/null | sort -u | tr '\n' ' ')"
check_eq "installed tree: the attacker received nothing" "" \
	"$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
check_match "installed tree: audit log: accepted $LAB_LEGIT_ADDR" \
	"accepted - $SEED_NAME $LAB_LEGIT_ADDR" "$(audit)"
pd_stop "$APP_PID" 1

# examples/systemd drop-in: its Environment= and ExecStartPre, with the
# paths mapped into DESTDIR, protect the app without pindns-exec. A
# policy signed by the key it names passes ExecStartPre; a tampered one
# makes ExecStartPre fail, so systemd would not start the service.
DROPIN="$TOP/examples/systemd/pindns.conf"
"$R/bin/pindns" keygen "$SEED_DIR/sd" >/dev/null 2>&1
"$R/bin/pindns" sign -k "$SEED_DIR/sd.key" "$POL" >/dev/null 2>&1
map() { sed -e "s|/usr/local/|$R/|g" -e "s|/etc/pindns/policy\.yaml|$POL|g" \
	-e "s|/etc/pindns/policy\.pub|$SEED_DIR/sd.pub|g"; }
envs=() startpre=""
while IFS= read -r l; do
	case "$l" in
	Environment=*) envs+=("$(map <<<"${l#Environment=}")") ;;
	ExecStartPre=*) startpre=$(map <<<"${l#ExecStartPre=}") ;;
	esac
done <"$DROPIN"
[ -n "$startpre" ] || startpre=false	# no ExecStartPre: every check below fails
check_eq "drop-in: LD_PRELOAD, PINDNS_POLICY, PINDNS_PUBKEY and a check" \
	"LD_PRELOAD PINDNS_POLICY PINDNS_PUBKEY $R/bin/pindns" \
	"$(printf '%s\n' "${envs[@]}" | cut -d= -f1 | tr '\n' ' ')${startpre%% *}"
# ExecStartPre runs with the unit's environment (the preload included).
# shellcheck disable=SC2086
out=$(env "${SEED_SAN_ENV[@]}" "${envs[@]}" $startpre 2>&1)
check_eq "drop-in: ExecStartPre passes on the signed policy" 0 "$?"
for i in "${!envs[@]}"; do	# the sanitizer runtime first, as systemd would not know
	case "${envs[$i]}" in
	LD_PRELOAD=*) [ -n "$PINDNS_SAN" ] &&
		envs[$i]="LD_PRELOAD=${SEED_SAN_ENV[0]#LD_PRELOAD=}:${envs[$i]#LD_PRELOAD=}" ;;
	esac
done
APP_PORT=$(free_port)
seed_cmd django-gunicorn
: >"$ATTACKER_LOG"
: >"$SEED_AUDIT"
SEED_APP_ENV="${envs[*]}" seed_app_start dropin -- "${SEED_CMD[@]}" || exit 1
seed_get /items/items/42
check_eq "drop-in environment, Django/gunicorn: the stand-in's item" "$SEED_ITEM" \
	"$(json_norm <<<"$HTTP_BODY")"
check_eq "drop-in environment: the attacker received nothing" "" \
	"$(reqs "$ATTACKER_LOG" | sort | uniq -c)"
pd_stop "$APP_PID" 1
sed -i 's|127\.0\.10\.0/24|127.0.66.0/24|' "$POL"
# shellcheck disable=SC2086
out=$(env "${SEED_SAN_ENV[@]}" "${envs[@]}" $startpre 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
	ok "drop-in: ExecStartPre fails on a tampered policy ($rc)"
else
	not_ok "drop-in: ExecStartPre fails on a tampered policy" "expected: non-zero" "got: 0: $out"
fi
