#!/bin/sh
# The ABI gate: compares the ABI of a built libnn.so (its exported functions
# with their full signatures, and the public types they use: enums and
# their values, typedefs) with the committed baseline tests/abi/libnn.abi.
#
#     tests/abi/check.sh [BUILD_DIR]            # default: build
#     tests/abi/check.sh --update BUILD_DIR     # rewrite the baseline
#
# BUILD_DIR must hold a libnn.so with DWARF debug information, which
# abidw reads the types from: configure it with -Ddebug=true (for example
# meson setup build-abi -Dbuildtype=debugoptimized); the default release
# build has none. Needs abigail-tools (abidw, abidiff).
#
# Exit status: 0 the ABI is the baseline's; 1 an incompatible change (a
# function removed, a signature, an enum value or a type changed): revert
# it, or bump NN_VERSION_MAJOR, which is the soname, and update the
# baseline; 2 a compatible change (functions or enum values added, or a
# new soname) that the baseline does not record yet: update it in the same
# commit; 3 usage or tool error. See CONTRIBUTING.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
baseline="$here/libnn.abi"
update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
build=${1:-build}
lib="$build/libnn.so"

for tool in abidw abidiff readelf; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "abi: $tool not found (apt-get install abigail-tools binutils)" >&2
        exit 3
    }
done
if [ ! -e "$lib" ]; then
    echo "abi: no $lib: build the shared library first" >&2
    exit 3
fi
if ! readelf -S "$lib" | grep -q '\.debug_info'; then
    echo "abi: $lib has no debug information; configure the build with -Ddebug=true" \
        "(e.g. -Dbuildtype=debugoptimized)" >&2
    exit 3
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# Public types only (opaque handles stay declarations), no source
# locations, hash type ids (stable when something is added), and no paths
# of the machine that built it.
abidw --no-show-locs --drop-undefined-syms --drop-private-types --type-id-style hash \
    --headers-dir "$src/include/nn" --headers-dir "$build/include/nn" "$lib" >"$tmp/raw.xml"
sed -e "s|^\(<abi-corpus [^>]*\) path='[^']*'|\1 path='libnn.so'|" \
    -e "s| path='[^']*/lib/| path='lib/|" \
    -e "s| comp-dir-path='[^']*'||" "$tmp/raw.xml" >"$tmp/current.abi"

functions=$(grep -c '<function-decl ' "$tmp/current.abi" || true)
if [ "$update" -eq 1 ]; then
    cp "$tmp/current.abi" "$baseline"
    echo "abi: baseline $baseline rewritten: $functions functions tracked"
    exit 0
fi
if [ ! -f "$baseline" ]; then
    echo "abi: no baseline $baseline: run $0 --update $build" >&2
    exit 3
fi
echo "abi: $(grep -c '<function-decl ' "$baseline" || true) functions tracked by the baseline," \
    "$functions in $lib"

old_soname=$(sed -n "s/^<abi-corpus .*soname='\([^']*\)'.*/\1/p" "$baseline")
new_soname=$(sed -n "s/^<abi-corpus .*soname='\([^']*\)'.*/\1/p" "$tmp/current.abi")

st=0
abidiff "$baseline" "$tmp/current.abi" >"$tmp/diff" 2>&1 || st=$?
if [ $((st & 3)) -ne 0 ]; then
    cat "$tmp/diff" >&2
    echo "abi: abidiff failed (status $st)" >&2
    exit 3
fi
removed_or_changed=$(sed -n 's/^\(Functions\|Variables\) changes summary: \([0-9]*\) Removed, \([0-9]*\) Changed.*/\2 \3/p' \
    "$tmp/diff" | awk '{ n += $1 + $2 } END { print n + 0 }')

if [ "$old_soname" != "$new_soname" ]; then
    cat "$tmp/diff"
    echo "abi: soname $old_soname -> $new_soname: a new major version may break the ABI;" \
        "record it: $0 --update $build (in the same commit)"
    exit 2
fi
if [ $((st & 8)) -ne 0 ] || [ "$removed_or_changed" -gt 0 ]; then
    cat "$tmp/diff"
    echo "abi: INCOMPATIBLE change to the ABI of $new_soname (see above): revert it, or bump" \
        "NN_VERSION_MAJOR (the soname) and update the baseline; see CONTRIBUTING.md"
    exit 1
fi
hst=0
abidiff --harmless "$baseline" "$tmp/current.abi" >"$tmp/harmless" 2>&1 || hst=$?
if [ "$st" -ne 0 ] || [ "$hst" -ne 0 ]; then
    cat "$tmp/diff"
    [ "$st" -ne 0 ] || sed -n '1,40p' "$tmp/harmless"
    echo "abi: compatible additions the baseline does not record: run" \
        "$0 --update $build and commit tests/abi/libnn.abi with them"
    exit 2
fi
echo "abi: $new_soname matches the baseline"
