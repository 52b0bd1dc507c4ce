#!/bin/sh
# Installs the build into a temporary prefix and builds a third-party program
# with nothing but `cc prog.c $(pkg-config --cflags --libs nn)`, then runs it.
# Usage: pkgconfig_consumer.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
meson install -C "$build" --destdir "$prefix" --no-rebuild --quiet >/dev/null
# meson installs under DESTDIR/<prefix>; find the pc file wherever libdir is.
pc=$(find "$prefix" -name nn.pc | head -n 1)
[ -n "$pc" ] || { echo "nn.pc was not installed"; exit 1; }
root=$(dirname "$(dirname "$(dirname "$pc")")")   # .../<prefix>/lib/<triplet>?
pcdir=$(dirname "$pc")
inst_prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH="$pcdir"
export PKG_CONFIG_SYSROOT_DIR="$prefix"
# The installed headers must not pull in oneDNN.
if grep -rl 'dnnl' "$prefix$inst_prefix/include/nn"; then
    echo "installed headers mention oneDNN"; exit 1
fi
cflags=$(pkg-config --cflags nn)
libs=$(pkg-config --libs nn)
echo "pkg-config: $cflags $libs"
cc -std=c11 -Wall -Wextra -Werror "$src/tests/consumer.c" $cflags $libs -o "$prefix/consumer"
libdir=$(dirname "$(find "$prefix" -name 'libnn.so' | head -n 1)")
LD_LIBRARY_PATH="$libdir" "$prefix/consumer"
: "$root"
