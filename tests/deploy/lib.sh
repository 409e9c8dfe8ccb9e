# shellcheck shell=bash
# pindns: helpers for the tests that replay examples/Dockerfile
# (67-seed-docker, 88-serve-docker). Source after tests/lib.sh.

# stage_unprovided PKGFILE OBJECT...: each NEEDED library of the OBJECTs
# that no package listed in PKGFILE (one a line, as dockerfile_emu.py
# writes WORK/stage-NAME.packages) nor libc6 provides, as
# "object:library(package)"; nothing when the stage has them all.
stage_unprovided() {
	local pkgs f lib path pkg need=""
	pkgs=" $(tr '\n' ' ' <"$1") libc6 "
	shift
	for f in "$@"; do
		for lib in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64|x86_64/ { print $NF; exit }')
			pkg=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1)
			case "$pkgs" in *" $pkg "*) ;; *) need="$need $(basename "$f"):$lib($pkg)" ;; esac
		done
	done
	echo "${need# }"
}
