#!/usr/bin/env bash
# What a policy reload leaves behind, under a 4-thread protected load:
#  - a rewrite with the same bytes is no reload at all (no generation, so
#    no new backend and no emptied cache);
#  - a changed policy makes a new generation with a backend of its own,
#    and the replaced generation's backend (a thread, a TLS connection,
#    ~600 kB) is freed as soon as nothing uses it, not after the watch's
#    120 s grace period: threads and descriptors stay flat across 12
#    changes a second apart, and every answer stays right.
# tags: lab
# timeout: 120
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/stress/lib.sh"
L=$BUILD/tools/hd_load
require "$L" "$BUILD/libpindns.so"
lab_env
W=$PD_TMP/w
ROUNDS=8
hd_reload_load "$W" $((ROUNDS * 2 + 8))
stat_of() { hd_proc_stat "$HD_LOAD_PID"; }	# "THREADS FDS RSS_KB"
# Lookups that asked the upstream (cache hits log "upstream":null).
gens() { grep -c '"upstream":"' "$W/audit.log" 2>/dev/null || echo 0; }
read -r t0 f0 _ <<<"$(stat_of)"

# Same bytes, new inode, a few times: each a cache hit as before (no new
# generation means no miss, so the audit log gets no new accepted line).
n0=$(gens)
for i in 1 2 3; do
	cp "$W/a.yaml" "$W/p.new" && mv "$W/p.new" "$W/p.yaml"
	sleep 1.1
done
check_eq "same bytes rewritten 3 times: no new generation (no new miss)" \
	"$n0" "$(gens)"

# Changed bytes, alternating: a new generation each time.
for i in $(seq 1 $ROUNDS); do
	if [ $((i % 2)) = 1 ]; then f=b; else f=a; fi
	cp "$W/$f.yaml" "$W/p.new" && mv "$W/p.new" "$W/p.yaml"
	sleep 1.1
done
sleep 1.5	# the last replaced backend is reaped on the next poll
read -r t1 f1 _ <<<"$(stat_of)"
n1=$(gens)
[ $((n1 - n0)) -ge $((ROUNDS / 2)) ] &&
	ok "changed policies made new generations ($((n1 - n0)) misses)" ||
	not_ok "changed policies made new generations" \
		"expected: at least $((ROUNDS / 2)) new misses" "got: $((n1 - n0))"
echo "# after $ROUNDS reloads: threads $t0 -> $t1, fds $f0 -> $f1"
[ $((t1 - t0)) -le 3 ] && ok "threads flat across $ROUNDS reloads ($t0 -> $t1)" ||
	not_ok "threads flat across $ROUNDS reloads" "expected: growth <= 3" \
		"got: $t0 -> $t1"
[ $((f1 - f0)) -le 3 ] && ok "descriptors flat across $ROUNDS reloads ($f0 -> $f1)" ||
	not_ok "descriptors flat across $ROUNDS reloads" "expected: growth <= 3" \
		"got: $f0 -> $f1"
wait "$HD_LOAD"
check_match "no wrong answer across the reloads" '^ok - no wrong answer' \
	"$(cat "$W/load.out")"
