#!/bin/sh
# The shared library exports nn_ symbols only, and carries its major version
# in the soname. Usage: check_symbols.sh LIBNN_SO MAJOR
set -eu
lib=$1 major=$2
bad=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -v '^nn_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $NF}' | grep -c '^nn_' || true)
if [ -n "$bad" ]; then
    echo "non-nn_ symbols exported from $lib:"; echo "$bad"; exit 1
fi
if [ "$count" -lt 10 ]; then
    echo "only $count nn_ symbols exported from $lib"; exit 1
fi
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
if [ "$soname" != "libnn.so.$major" ]; then
    echo "soname is '$soname', expected libnn.so.$major"; exit 1
fi
echo "$count nn_ symbols exported, none other; soname $soname"
