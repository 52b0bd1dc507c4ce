#!/bin/sh
# Builds the fuzzers (libFuzzer with ASan and UBSan, the library sources
# compiled directly with clang, not through meson) and runs each on a copy
# of its seed corpus for a bounded time.
#
#     tests/fuzz/run.sh [TARGET] [SECONDS] [extra libFuzzer flags...]
#
# TARGET is model (fuzz_model_load: model files), idx (fuzz_idx_load: IDX
# images and labels) or all, the default: each target named runs SECONDS
# (default 60), one after the other.
#
# Needs Debian's clang and its libFuzzer runtime (package libclang-rt-14-dev,
# which provides libclang_rt.fuzzer-x86_64.a; clang-14 pulls it in) plus
# libdnnl-dev and zlib1g-dev. Crashing inputs are left in the work directory
# ($NN_FUZZ_WORK, default /tmp/nn-fuzz) under artifacts/TARGET: copy each
# into tests/fuzz/regressions/TARGET/ once fixed, where tests/test_io.c
# (model) and tests/test_fuzz_replay_idx.c (idx) replay it.
set -eu

case ${1:-} in
model | idx) targets=$1; shift ;;
all) targets="model idx"; shift ;;
*) targets="model idx" ;;
esac
secs=${1:-60}
[ $# -gt 0 ] && shift
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${NN_FUZZ_WORK:-/tmp/nn-fuzz}
cc=${CC_FUZZ:-clang}

mkdir -p "$work/include/nn" "$work/obj"
version=$(sed -n "s/^ *version: *'\([0-9.]*\)'.*/\1/p" "$src/meson.build" | head -n 1)
IFS=. read -r major minor patch <<VERSION
$version
VERSION
sed -e "s/@MAJOR@/$major/" -e "s/@MINOR@/$minor/" -e "s/@PATCH@/$patch/" \
    -e "s/@VERSION@/$version/" "$src/include/nn/version.h.in" >"$work/include/nn/version.h"

# OpenMP pragmas are left out (the loaders run no parallel loop); libgomp,
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

status=0
for t in $targets; do
    name=fuzz_${t}_load
    # shellcheck disable=SC2086
    $cc $flags -fsanitize=fuzzer "$src/tests/fuzz/$name.c" $objs \
        -ldnnl -lz -lm -lgomp -pthread -o "$work/$name"

    corpus="$work/corpus/$t"
    artifacts="$work/artifacts/$t"
    rm -rf "$corpus"
    mkdir -p "$corpus" "$artifacts"
    cp "$src"/tests/fuzz/corpus/"$t"/* "$corpus/"
    if ls "$src"/tests/fuzz/regressions/"$t"/* >/dev/null 2>&1; then
        cp "$src"/tests/fuzz/regressions/"$t"/* "$corpus/"
    fi

    log="$work/$name.log"
    st=0
    # oneDNN's own allocations are not ours to track; libnn's leaks still are.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        "$work/$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" \
        "$corpus" >"$log" 2>&1 || st=$?
    tail -n 25 "$log"
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    echo "$name: ${execs:-?} executions in ${secs}s, exit status $st"
    echo "corpus: $(ls "$corpus" | wc -l) inputs; crashes: $(ls "$artifacts" | wc -l) in $artifacts"
    [ "$st" -eq 0 ] || status=$st
done
exit "$status"
