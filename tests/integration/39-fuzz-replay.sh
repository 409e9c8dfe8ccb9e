#!/usr/bin/env bash
# Build every libFuzzer target (tests/fuzz/fuzz_*.c, clang, ASan+UBSan)
# and replay its whole seed corpus (tests/fuzz/corpus/NAME/) once: a
# crash or sanitizer report on any input fails the test.
# timeout: 600
. "$(dirname "$0")/../lib.sh"
require clang make
cd "$TOP" || exit 1

if ! out=$(make --no-print-directory fuzz-build 2>&1); then
	not_ok "make fuzz-build" "$out"
	exit 1
fi
ok "make fuzz-build"
for src in tests/fuzz/fuzz_*.c; do
	n=$(basename "$src" .c)
	n=${n#fuzz_}
	bin=build-fuzz/fuzz_$n
	files=(tests/fuzz/corpus/"$n"/*)
	if [ ! -e "${files[0]}" ]; then
		not_ok "fuzz_$n has a seed corpus" "expected: files in tests/fuzz/corpus/$n/"
		continue
	fi
	# Files given one by one: each runs exactly once, no fuzzing.
	out=$(ASAN_OPTIONS=detect_leaks=1 "$bin" "${files[@]}" 2>&1)
	rc=$?
	ran=$(printf '%s\n' "$out" | grep -c '^Running: ')
	if [ "$rc" -eq 0 ] && [ "$ran" -eq "${#files[@]}" ]; then
		ok "fuzz_$n replays its ${#files[@]} corpus files cleanly"
	else
		not_ok "fuzz_$n replays its corpus" \
			"expected: exit 0 after ${#files[@]} inputs" \
			"got: exit $rc after $ran" "$(printf '%s\n' "$out" | tail -n 30)"
	fi
done
