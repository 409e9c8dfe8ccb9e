#!/usr/bin/env bash
# The preload exports exactly the interposed libc calls (preload/exports.map),
# the engine and the backend one table each, and the preload links libc only.
# tags: build
. "$(dirname "$0")/../lib.sh"
require nm readelf

want=$(sed -n 's/^[[:space:]]*\([a-z_0-9]*\);$/\1/p' "$TOP/preload/exports.map" | sort)
got=$(nm -D --defined-only "$BUILD/libpindns.so" | awk '{print $3}' | sort)
check_eq "libpindns.so exports exactly exports.map" "$(echo $want)" "$(echo $got)"

got=$(nm -D --defined-only "$BUILD/libpindns-engine.so" | awk '{print $3}' | sort)
check_eq "libpindns-engine.so exports only its table" "pindns_engine_v1" "$(echo $got)"
got=$(nm -D --defined-only "$BUILD/libpindns-dot.so" | awk '{print $3}' | sort)
check_eq "libpindns-dot.so exports only its table" "pindns_dot_v1" "$(echo $got)"

# A sanitizer build also needs its runtime; nothing else.
allowed='libc\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-x86-64\.so\.2'
[ -n "$PINDNS_SAN" ] && allowed="$allowed|libasan\.so\..*|libubsan\.so\..*|libtsan\.so\..*"
needed=$(readelf -d "$BUILD/libpindns.so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
	grep -Ev "^($allowed)\$")
check_eq "libpindns.so needs only libc (libdl, libpthread)" "" "$needed"

needed=$(readelf -d "$BUILD/libpindns-engine.so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
	grep -E 'getdns|libssl|libcrypto|unbound')
check_eq "libpindns-engine.so does not pull getdns or OpenSSL" "" "$needed"

# Hardening: full RELRO and a non-executable stack on every object.
# The preload alone is bound lazily (Makefile: start-up cost in every
# process); it still has RELRO.
for f in libpindns.so libpindns-engine.so libpindns-dot.so pindns; do
	d=$(readelf -d "$BUILD/$f")
	if [ "$f" = libpindns.so ]; then
		check_nomatch "$f is bound lazily (no BIND_NOW)" 'BIND_NOW' "$d"
	else
		check_match "$f has BIND_NOW (full RELRO)" 'BIND_NOW' "$d"
	fi
	s=$(readelf -lW "$BUILD/$f")
	check_match "$f has a RELRO segment" 'GNU_RELRO' "$s"
	check_nomatch "$f has a non-executable stack" 'GNU_STACK.*RWE' "$s"
done
