#!/usr/bin/env bash
# What 40 policy reloads a second apart leave behind under a 4-thread
# protected load (make stress; 79-engine-reload-backends is the short
# version in make test): the policy alternates between two versions that
# differ by a comment (each a real reload: a new generation with a
# backend of its own), then the same bytes are rewritten 10 times (no
# reload at all). Threads and descriptors stay within a few of where they
# started, and every answer stays right.
#
# History: written while every replaced generation kept its backend (2
# threads, 2 descriptors, ~600 kB) for the watch's 120 s grace period
# (40 reloads: 7 -> 87 threads, 8 -> 96 fds, 10.7 -> 36 MB); fixed on
# main by the engine and policy owners (c1f7f01, 2904b34).
#
#   tests/stress/run 76-reload      (starts a lab of its own)
# tags: lab
# timeout: 150
. "${TOP:?run me through tests/stress/run}/tests/lib.sh"
. "$TOP/tests/stress/lib.sh"
L=$BUILD/tools/hd_load
require "$L" "$BUILD/libpindns.so"
lab_env
W=$PD_TMP/w
hd_reload_load "$W" 62 -l 5000 -f 100000 -m 100000000
stat_of() { hd_proc_stat "$HD_LOAD_PID"; }	# "THREADS FDS RSS_KB"
read -r t0 f0 r0 <<<"$(stat_of)"
for i in $(seq 1 40); do
	# A new inode each time, the two versions in turn.
	if [ $((i % 2)) = 1 ]; then cp "$W/b.yaml" "$W/p.new"
	else cp "$W/a.yaml" "$W/p.new"; fi
	mv "$W/p.new" "$W/p.yaml"
	sleep 1.1
done
read -r t1 f1 r1 <<<"$(stat_of)"
for i in $(seq 1 10); do
	# The same bytes under a new inode: no new policy.
	cp "$W/a.yaml" "$W/p.new"
	mv "$W/p.new" "$W/p.yaml"
	sleep 1.1
done
read -r t2 f2 r2 <<<"$(stat_of)"
wait "$HD_LOAD"
check_match "no wrong answer under 40 reloads" '^ok - no wrong answer' \
	"$(cat "$W/load.out")"
echo "# after 40 reloads: threads $t0 -> $t1, fds $f0 -> $f1, RSS $r0 -> $r1 kB"
echo "# after 10 rewrites of the same bytes: threads $t2, fds $f2, RSS $r2 kB"
[ $((t1 - t0)) -le 4 ] && ok "threads flat across 40 reloads ($t0 -> $t1)" ||
	not_ok "threads flat across 40 reloads" "expected: growth <= 4" \
		"got: $t0 -> $t1"
[ $((f1 - f0)) -le 4 ] && ok "descriptors flat across 40 reloads ($f0 -> $f1)" ||
	not_ok "descriptors flat across 40 reloads" "expected: growth <= 4" \
		"got: $f0 -> $f1"
# The replaced policies themselves (and what hangs on them) are freed
# after the watch's 120 s grace: RSS grows meanwhile, boundedly.
[ $((r1 - r0)) -le "$(hd_rss_bound 16384)" ] &&
	ok "RSS bounded across 40 reloads ($r0 -> $r1 kB, <= +16 MiB)" ||
	not_ok "RSS bounded across 40 reloads" "expected: growth <= 16384 kB" \
		"got: $r0 -> $r1 kB"
[ $((t2 - t0)) -le 4 ] && [ $((f2 - f0)) -le 4 ] &&
	ok "threads and descriptors flat after 10 same-byte rewrites ($t2, $f2)" ||
	not_ok "threads and descriptors flat after same-byte rewrites" \
		"got: threads $t0 -> $t2, fds $f0 -> $f2"
