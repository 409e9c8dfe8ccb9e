#!/usr/bin/env bash
# The manual pages in man/: `mandoc -T lint` reports nothing (a reference
# to another page is fine only when that page is ours or installed: a
# misspelt one is a failure), and `man -l` renders each with its NAME.
# timeout: 60
. "$(dirname "$0")/../lib.sh"
require mandoc man

pages=$(cd "$TOP/man" && ls | grep -E '\.[1-8]$')
check_eq "the pages are there" \
	"pindns-aws-pins.1 pindns-exec.1 pindns-serve.8 pindns.1 pindns.7 pindns.yaml.5" \
	"$(echo $pages)"
for p in $pages; do
	# mandoc reports an Xr it cannot find in its databases; resolve each
	# against man/ and the machine's manual. Its note about a stale or
	# absent mandoc.db is not about the page.
	out=$(mandoc -T lint "$TOP/man/$p" 2>&1 | grep -v 'mandoc\.db')
	left=""
	while IFS= read -r l; do
		[ -n "$l" ] || continue
		if [[ "$l" =~ referenced\ manual\ not\ found:\ Xr\ ([^ ]+)\ ([1-9]) ]]; then
			n=${BASH_REMATCH[1]} s=${BASH_REMATCH[2]}
			[ -f "$TOP/man/$n.$s" ] && continue
			man -w "$s" "$n" >/dev/null 2>&1 && continue
		fi
		left="$left$l"$'\n'
	done <<<"$out"
	check_eq "$p: mandoc -T lint is clean" "" "${left%$'\n'}"
	txt=$(MANWIDTH=80 man -l "$TOP/man/$p" 2>&1)
	check_eq "$p: man -l renders it" 0 "$?"
	check_match "$p: NAME section" $'^NAME\n +'"${p%.*}"' ' "$txt"
done
