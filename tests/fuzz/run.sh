#!/bin/sh
# Builds the model-file fuzzer (libFuzzer with ASan and UBSan, the library
# sources compiled directly with clang, not through meson) and runs it on a
# copy of the seed corpus for a bounded time.
#
#     tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]     # default 60
#
# Needs Debian's clang and its libFuzzer runtime (package libclang-rt-14-dev,
# which provides libclang_rt.fuzzer-x86_64.a; clang-14 pulls it in) plus
# libdnnl-dev and zlib1g-dev. Crashing inputs are left in the work directory
# ($NN_FUZZ_WORK, default /tmp/nn-fuzz): copy each into
# tests/fuzz/regressions/model/ once fixed, where tests/test_io.c replays it.
set -eu

secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${NN_FUZZ_WORK:-/tmp/nn-fuzz}
cc=${CC_FUZZ:-clang}

mkdir -p "$work/include/nn" "$work/obj" "$work/corpus" "$work/artifacts"
version=$(sed -n "s/^ *version: *'\([0-9.]*\)'.*/\1/p" "$src/meson.build" | head -n 1)
IFS=. read -r major minor patch <<VERSION
$version
VERSION
sed -e "s/@MAJOR@/$major/" -e "s/@MINOR@/$minor/" -e "s/@PATCH@/$patch/" \
    -e "s/@VERSION@/$version/" "$src/include/nn/version.h.in" >"$work/include/nn/version.h"

# OpenMP pragmas are left out (the loader runs no parallel loop); libgomp,
# which oneDNN already uses, provides the omp_* calls.
flags="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -fno-math-errno
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
  -Wno-unknown-pragmas -I$work/include -I$src/include -I$src/lib"
objs=
for f in $(cd "$src" && find lib -name '*.c' | sort); do
    o="$work/obj/$(echo "$f" | tr / _).o"
    # shellcheck disable=SC2086
    $cc $flags -DNN_BUILDING -c "$src/$f" -o "$o"
    objs="$objs $o"
done
# shellcheck disable=SC2086
$cc $flags -fsanitize=fuzzer "$src/tests/fuzz/fuzz_model_load.c" $objs \
    -ldnnl -lz -lm -lgomp -pthread -o "$work/fuzz_model_load"

rm -rf "$work/corpus"
mkdir -p "$work/corpus"
cp "$src"/tests/fuzz/corpus/model/* "$work/corpus/"
if ls "$src"/tests/fuzz/regressions/model/* >/dev/null 2>&1; then
    cp "$src"/tests/fuzz/regressions/model/* "$work/corpus/"
fi

log="$work/fuzz.log"
status=0
# oneDNN's own allocations are not ours to track; libnn's leaks still are.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    "$work/fuzz_model_load" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 "$@" \
    "$work/corpus" >"$log" 2>&1 || status=$?
tail -n 25 "$log"
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
echo "fuzz_model_load: ${execs:-?} executions in ${secs}s, exit status $status"
echo "corpus: $(ls "$work/corpus" | wc -l) inputs; crashes: $(ls "$work/artifacts" | wc -l) in $work/artifacts"
exit "$status"
