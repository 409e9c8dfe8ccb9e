# pindns: helpers for integration tests. Source it first:
#     . "$(dirname "$0")/../lib.sh"
# Provides the TAP reporting (ok/not_ok/check_*), cleanup registration,
# the lab environment, and running commands under the preload (with the
# sanitizer runtime first when the build is sanitized).
set -u
export LC_ALL=C

TOP=${TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILD=${BUILD:-$TOP/build}
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD" ;; esac
export TOP BUILD
PINDNS_SAN=${PINDNS_SAN:-}
PD_FAILED=0
# TSan: its symbolizer must not inherit a TSan-built LD_PRELOAD object, and
# races inside glibc's own locking are suppressed (tests/tsan/).
if [ "$PINDNS_SAN" = tsan ] && [ -z "${TSAN_OPTIONS:-}" ]; then
	export TSAN_OPTIONS="external_symbolizer_path=$BUILD/tools/tsan/llvm-symbolizer suppressions=$TOP/tests/tsan/suppressions"
fi
PD_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pindns-test.XXXXXX")
# Per-process records (resolver/stats.h) of the programs a test runs go
# here, not to the machine's /run/pindns.
export PINDNS_RUNTIME_DIR=$PD_TMP/run

_pd_cleanups=()
# Run CMD (a string, eval'd) at exit, last registered first.
pd_cleanup() { _pd_cleanups+=("$1"); }
_pd_exit() {
	local rc=$? i
	for ((i = ${#_pd_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_pd_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$PD_TMP"
	[ "$rc" -eq 0 ] && [ "$PD_FAILED" -ne 0 ] && rc=1
	exit "$rc"
}
trap _pd_exit EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - $*"; }
# not_ok DESC [DETAIL...]
not_ok() {
	local d=$1
	shift
	echo "not ok - $d"
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
	PD_FAILED=1
}
# check_eq DESC EXPECTED GOT
check_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1" "expected: $2" "got:      $3"; fi
}
# check_match DESC REGEX GOT   (extended regex)
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1" "expected to match: $2" "got: $3"; fi
}
# check_nomatch DESC REGEX GOT
check_nomatch() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		not_ok "$1" "expected no match of: $2" "got: $3"; else ok "$1"; fi
}
# check DESC CMD...   (passes when CMD exits 0)
check() {
	local d=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then ok "$d"; else
		not_ok "$d" "expected: exit 0 from: $*" "got: exit $rc" "$out"; fi
}
# check_rc DESC RC CMD...
check_rc() {
	local d=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq "$want" ]; then ok "$d"; else
		not_ok "$d" "expected: exit $want from: $*" "got: exit $rc" "$out"; fi
}
# A prerequisite that is missing is a failure, never a skip.
require() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] ||
			{ not_ok "prerequisite $c present"; exit 1; }
	done
}

# Load the lab's variables (tests tagged `lab`; the runner starts it).
lab_env() {
	if [ -z "${PINDNS_LAB_ENV:-}" ] || [ ! -r "$PINDNS_LAB_ENV" ]; then
		not_ok "lab environment available" \
			"expected: PINDNS_LAB_ENV set by tests/run (tag the test 'lab')" \
			"got: '${PINDNS_LAB_ENV:-}'"
		exit 1
	fi
	# shellcheck disable=SC1090
	. "$PINDNS_LAB_ENV"
}

# The LD_PRELOAD value for this build flavour: the sanitizer runtime must
# come first when the preload is instrumented.
pd_preload_value() {
	local v="$BUILD/libpindns.so"
	case "$PINDNS_SAN" in
	asan) v="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so):$v" ;;
	esac
	echo "$v${LD_PRELOAD:+:$LD_PRELOAD}"
}
# pd_pre_env [PRELOAD] : set the array PD_PRE_ENV to the env(1)
# assignments that run a program under PRELOAD (default: this build's
# preload) in this build: under ASan also its options (leaks are the
# sanitizer runs' own business; the runtime is preloaded, not linked).
pd_pre_env() {
	PD_PRE_ENV=(LD_PRELOAD="${1:-$(pd_preload_value)}")
	if [ "$PINDNS_SAN" = asan ]; then
		PD_PRE_ENV+=(ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:verify_asan_link_order=0}")
	fi
}
# with_preload CMD... : run CMD under the preload.
with_preload() {
	local PD_PRE_ENV
	pd_pre_env
	env "${PD_PRE_ENV[@]}" "$@"
}

# A free TCP port on 127.0.0.1 (best effort; the caller binds it soon).
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# closed_port VAR: set VAR to a loopback TCP port that refuses every
# connection for as long as the test runs. free_port's port is closed
# only until another program binds it (a suite running beside this one);
# this one is bound by a socket that never listens and has no
# SO_REUSEADDR, so nothing else can bind it, held by a process that
# exits with the test (stopped at exit, or when its parent is gone).
closed_port() {
	local f pid
	f=$(mktemp "$PD_TMP/closed.XXXXXX")
	/usr/bin/python3 -c '
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
parent = os.getppid()
while os.getppid() == parent:
	time.sleep(0.5)
' >"$f" &
	pid=$!
	pd_cleanup "pd_stop $pid"
	wait_for 10 test -s "$f" || return 1
	printf -v "$1" '%s' "$(cat "$f")"
}

# pd_alive PID: the process exists and is not a zombie.
pd_alive() {
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$s" ] && [ "$s" != Z ]
}

# pd_stop PID [GROUP]: TERM, wait up to 10 s, then KILL. With GROUP=1 the
# signals go to the process group PID leads (an app and its workers).
pd_stop() {
	local pid=$1 grp=${2:-0} t tgt
	[ -n "$pid" ] || return 0
	tgt=$pid
	[ "$grp" = 1 ] && tgt=-$pid
	kill -TERM -- "$tgt" 2>/dev/null
	for ((t = 0; t < 100; t++)); do
		if [ "$grp" = 1 ]; then
			pgrep -g "$pid" >/dev/null 2>&1 || break
		else
			pd_alive "$pid" || break
		fi
		sleep 0.1
	done
	kill -KILL -- "$tgt" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# pd_start_on_free_port SECS GROUP START UP TAKEN [FIRST]: start a server
# on a free port. free_port only finds a port free for now: another
# program (a suite running beside this one) may bind it before the
# server does, which is a race of the machine, not a failure of the test.
# PORT is set (to FIRST on the first try, when given) and START is
# called; it starts the server on $PORT in the background and sets PD_PID
# (with GROUP=1 a process group leader: setsid). Then this waits up to
# SECS for UP (the server answers), TAKEN (its log says the port is in
# use) or the server's exit. Taken: the server is stopped and all is done
# again on another port, up to 5 times. Every server started is stopped
# at exit (pd_stop PD_PID GROUP). Returns 0 once UP answers; 1 otherwise,
# with the last server's log left for the caller to show.
# UP is called until it succeeds and not again (a probe may use up
# something, such as one of s_server's -naccept connections).
pd_start_on_free_port() {
	local secs=$1 grp=$2 start=$3 up=$4 taken=$5 try
	PORT=${6:-}
	for try in 1 2 3 4 5; do
		if [ -z "$PORT" ]; then
			PORT=$(free_port) || return 1
		fi
		PD_PID=
		"$start" || return 1
		[ -n "$PD_PID" ] || return 1
		pd_cleanup "pd_stop $PD_PID $grp"
		_pd_started=none
		wait_for "$secs" _pd_start_settled
		[ "$_pd_started" = up ] && return 0
		[ "$_pd_started" = taken ] || return 1
		echo "# port $PORT was taken before the server bound it" \
			"(try $try): again on another"
		pd_stop "$PD_PID" "$grp"
		PORT=
	done
	return 1
}

# pd_start_on_free_port's wait (its locals up, taken; sets _pd_started).
_pd_start_settled() {
	if "$up"; then
		_pd_started=up
	elif "$taken"; then
		_pd_started=taken
	elif ! pd_alive "$PD_PID"; then
		_pd_started=gone
	else
		return 1
	fi
}

# wait_for SECONDS CMD... : poll CMD every 0.1 s until it succeeds.
wait_for() {
	local t=$1 i
	shift
	for ((i = 0; i < t * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# pd_private_etc DIR CMD... : run CMD in a private mount namespace where
# each of DIR/hosts, resolv.conf, gai.conf, nsswitch.conf, host.conf and
# services that exists is bind-mounted over the same file in /etc. Nothing
# under /etc is edited; the mounts vanish with the namespace.
pd_private_etc() {
	local dir=$1
	shift
	unshare -m --propagation private -- /bin/sh -c '
		d=$1; shift
		for f in hosts resolv.conf gai.conf nsswitch.conf host.conf services; do
			[ -e "$d/$f" ] || continue
			mount --bind "$d/$f" "/etc/$f" || exit 97
		done
		exec "$@"' sh "$dir" "$@"
}
