#!/usr/bin/env bash
# compare.sh — libnn (bench_train) against PyTorch (pytorch_mnist.py) on the
# reference recipe, alternating the two, and a side-by-side table of medians.
#
#   bench/compare.sh                        # 3 rounds x {2, 1} threads (libnn in f32, and in
#                                           # bf16 where the CPU has AVX512_BF16), then contention
#   bench/compare.sh --rounds 5 --builddir /tmp/benchbuild
#   bench/compare.sh --sweep                # epoch time vs batch size -> bench/results/
#   bench/compare.sh --help
#
# Raw JSON lines go to bench/results/compare.jsonl (or sweep.jsonl), the table
# to stdout and bench/results/compare.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
results="$here/results"

builddir="$root/build"
rounds=""
epochs=3
sweep=0
sweep_threads=2
contention=1
busy_max=900          # seconds: the busy loop dies by itself after this, whatever happens
python=${PYTHON:-/usr/bin/python3}
coretype=""
fraction=1
ftz=""
bf16=1

usage() {
    cat <<EOF
usage: bench/compare.sh [options]
Runs bench_train (libnn) and bench/pytorch_mnist.py (PyTorch) alternately and
prints medians and libnn/PyTorch ratios.

  --builddir DIR       meson build directory holding bench/bench_train (default: build)
  --rounds N           runs of each program per thread count (default 3; 1 with --sweep)
  --epochs N           timed epochs per run (default 3)
  --fraction X         time only the first X of each epoch, scaled up (default 1;
                       e.g. 0.1 for a quick check of the script itself)
  --ftz                both flush subnormal floats to zero (bench_train --ftz,
                       pytorch_mnist.py --ftz): an experiment, off by default
  --no-contention      skip the runs against a competing busy process
  --no-bf16            skip libnn's opt-in bf16 runs (bench_train --bf16), which
                       otherwise join each round on CPUs with AVX512_BF16
  --sweep              instead: epoch time for batch 8..512, writes
                       bench/results/sweep.csv and sweep.svg (sweep-NAME.* with
                       --openblas-coretype NAME)
  --threads N          threads for --sweep (default 2)
  --openblas-coretype NAME
                       run PyTorch with OPENBLAS_CORETYPE=NAME (e.g. SkylakeX) when
                       OpenBLAS mis-detects the CPU; default: as installed
  --help               show this help
Environment: PYTHON (default /usr/bin/python3) runs the PyTorch peer.
EOF
}

die() { echo "compare.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --builddir) builddir=${2:?--builddir needs a value}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a value}; shift 2 ;;
    --epochs) epochs=${2:?--epochs needs a value}; shift 2 ;;
    --threads) sweep_threads=${2:?--threads needs a value}; shift 2 ;;
    --openblas-coretype) coretype=${2:?--openblas-coretype needs a value}; shift 2 ;;
    --fraction) fraction=${2:?--fraction needs a value}; shift 2 ;;
    --ftz) ftz=--ftz; shift ;;
    --no-contention) contention=0; shift ;;
    --no-bf16) bf16=0; shift ;;
    --sweep) sweep=1; shift ;;
    --help|-h) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
done
[ -n "$rounds" ] || rounds=$([ $sweep = 1 ] && echo 1 || echo 3)
case "$rounds$epochs$sweep_threads" in *[!0-9]*) die "--rounds, --epochs, --threads take positive integers" ;; esac
if [ "$rounds" -lt 1 ] || [ "$epochs" -lt 1 ] || [ "$sweep_threads" -lt 1 ]; then
    die "--rounds, --epochs, --threads take positive integers"
fi

bench="$builddir/bench/bench_train"
[ -x "$bench" ] || die "no $bench: build it first (meson setup $builddir && ninja -C $builddir), or pass --builddir"
mkdir -p "$results"

# The peer runs only if Debian's python can import torch.
peer=1
if ! why=$("$python" -c 'import torch, numpy' 2>&1); then
    peer=0
    echo "PyTorch peer skipped: $python cannot import torch and numpy:"
    echo "  $(printf '%s\n' "$why" | tail -n 1)"
    echo "  (apt-get install python3-torch libopenblas0-openmp)"
fi

# libnn's opt-in bf16 training runs only where the CPU has AVX512_BF16 (and
# not in the sweep, which is f32 only).
if [ $sweep = 1 ]; then
    bf16=0
elif [ $bf16 = 1 ] && ! grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    bf16=0
    echo "libnn's bf16 runs skipped: this CPU has no AVX512_BF16 (bench_train --bf16 needs it)"
fi

# ---------------------------------------------------------------- cleanup
busy_pid=""
stop_busy() {
    if [ -n "$busy_pid" ]; then
        kill "$busy_pid" 2>/dev/null || true
        wait "$busy_pid" 2>/dev/null || true
        busy_pid=""
    fi
}
trap stop_busy EXIT
trap 'stop_busy; exit 130' INT TERM

start_busy() {
    timeout "$busy_max" sh -c 'while :; do :; done' &
    busy_pid=$!
}

# ---------------------------------------------------------------- helpers
run_libnn() { "$bench" --json $ftz "$@"; }
# Main comparison runs: full epochs unless --fraction says otherwise.
run_libnn_main() { run_libnn --fraction "$fraction" "$@"; }
run_peer_main() { run_peer --fraction "$fraction" "$@"; }
run_peer() {
    if [ -n "$coretype" ]; then
        OPENBLAS_CORETYPE="$coretype" "$python" "$here/pytorch_mnist.py" --json $ftz "$@"
    else
        "$python" "$here/pytorch_mnist.py" --json $ftz "$@"
    fi
}

# jget KEY: the numeric value of "KEY" in each JSON line on stdin.
jget() { sed -n "s/.*\"$1\":\(-\{0,1\}[0-9][0-9.e+-]*\).*/\1/p"; }
jstr() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -n 1; }

# median of the numbers on stdin ("" if none)
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit;
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# med FILE KEY: median of KEY over the JSON lines in FILE
med() { if [ -s "$1" ]; then jget "$2" <"$1" | median; fi; }

# min FILE KEY: smallest KEY over the JSON lines in FILE (the least disturbed run)
min() { if [ -s "$1" ]; then jget "$2" <"$1" | sort -g | head -n 1; fi; }

machine_note() {
    echo "machine: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) CPUs online;" \
         "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- sweep
if [ $sweep = 1 ]; then
    base="$results/sweep${coretype:+-$coretype}${ftz:+-ftz}"   # variants get their own files
    out="$base.jsonl"
    : >"$out"
    csv="$base.csv"
    machine_note
    echo "sweep: ${sweep_threads} threads, 1 epoch per run (batch 8 and 16: the first 1/4 of" \
         "the epoch, scaled x4), median of $rounds round(s)"
    echo "batch,libnn_epoch_s,pytorch_epoch_s,timed_fraction,threads" >"$csv"
    for b in 8 16 32 64 128 256 512; do
        frac=1
        case $b in 8|16) frac=0.25 ;; esac
        lf=$(mktemp) pf=$(mktemp)
        for r in $(seq "$rounds"); do
            run_libnn --threads "$sweep_threads" --epochs 1 --batch "$b" --fraction "$frac" |
                tee -a "$out" >>"$lf"
            if [ $peer = 1 ]; then
                run_peer --threads "$sweep_threads" --epochs 1 --batch "$b" --fraction "$frac" |
                    tee -a "$out" >>"$pf"
            fi
        done
        l=$(med "$lf" epoch_median_s) p=$(med "$pf" epoch_median_s)
        rm -f "$lf" "$pf"
        printf '  batch %4d  libnn %8.3f s  PyTorch %8s s\n' "$b" "$l" "$([ -n "$p" ] && printf %.3f "$p" || echo -)"
        echo "$b,$l,$p,$frac,$sweep_threads" >>"$csv"
    done
    core=$(jstr openblas_core <"$out")
    "$python" "$here/plot_sweep.py" "$csv" "$base.svg" \
        "PyTorch${core:+ (OpenBLAS core $core${coretype:+, forced})}"
    echo "wrote $csv and $base.svg"
    exit 0
fi

# ---------------------------------------------------------------- comparison
out="$results/compare.jsonl"
: >"$out"
tmp=$(mktemp -d)
trap 'stop_busy; rm -rf "$tmp"' EXIT
machine_note | tee "$tmp/machine"
echo "$rounds round(s) x {2, 1} threads, $epochs timed epochs per run, libnn and PyTorch alternating"
[ $bf16 = 0 ] || echo "each round also runs libnn with --bf16 (opt-in bf16 products), beside its f32 run (order alternating)"
[ "$fraction" = 1 ] || echo "timing only $fraction of each epoch, scaled to a full one"
[ -z "$ftz" ] || echo "both flush subnormals to zero (--ftz)"
for r in $(seq "$rounds"); do
    for t in 2 1; do
        # Alternate which goes first, so a drifting background load hits both.
        order="libnn peer"
        [ $((r % 2)) = 0 ] && order="peer libnn"
        for who in $order; do
            if [ "$who" = libnn ]; then
                # f32 and bf16 in alternating order too, so drift favours neither
                precs="f32"
                if [ $bf16 = 1 ]; then
                    precs="f32 bf16"
                    [ $((r % 2)) = 0 ] && precs="bf16 f32"
                fi
                for pr in $precs; do
                    if [ "$pr" = f32 ]; then
                        run_libnn_main --threads "$t" --epochs "$epochs" | tee -a "$out" >>"$tmp/libnn.$t"
                        echo "  round $r, $t thread(s): libnn   $(jget epoch_median_s <"$tmp/libnn.$t" | tail -n 1) s/epoch"
                    elif run_libnn_main --threads "$t" --epochs "$epochs" --bf16 >"$tmp/bf16.run"; then
                        tee -a "$out" <"$tmp/bf16.run" >>"$tmp/bf16.$t"
                        echo "  round $r, $t thread(s): libnn bf16 $(jget epoch_median_s <"$tmp/bf16.$t" | tail -n 1) s/epoch"
                    else # an older bench_train, or a CPU libnn will not run bf16 on
                        echo "  warning: bench_train --bf16 failed; the bf16 rows are left out" |
                            tee -a "$tmp/warnings"
                        bf16=0
                    fi
                done
            elif [ $peer = 1 ]; then
                run_peer_main --threads "$t" --epochs "$epochs" | tee -a "$out" >>"$tmp/peer.$t"
                echo "  round $r, $t thread(s): PyTorch $(jget epoch_median_s <"$tmp/peer.$t" | tail -n 1) s/epoch"
            fi
        done
    done
done

# busy_run NAME CMD...: CMD with one busy process competing for the cores;
# one timed epoch, as a run can slow down many times over.
busy_run() {
    local name=$1
    shift
    start_busy
    "$@" --threads 2 --epochs 1 | tee -a "$out" >>"$tmp/$name.busy"
    if ! kill -0 "$busy_pid" 2>/dev/null; then
        echo "  warning: the busy process ended (after ${busy_max} s) before $name finished" |
            tee -a "$tmp/warnings"
    fi
    stop_busy
    echo "  $([ "$name" = peer ] && echo PyTorch || echo libnn) with a busy process: $(jget epoch_median_s <"$tmp/$name.busy" | tail -n 1) s/epoch"
}
if [ $contention = 1 ]; then
    # libnn's busy runs are repeated like its idle ones (the machine drifts,
    # and the target is libnn's busy/idle ratio); PyTorch's run once, as each
    # can take minutes here
    echo "contention: 2 threads, 1 epoch, one competing busy process (sh -c 'while :; do :; done');"
    echo "  libnn $rounds time(s), PyTorch once"
    for r in $(seq "$rounds"); do
        busy_run libnn run_libnn_main
    done
    if [ $peer = 1 ]; then busy_run peer run_peer_main; fi
fi

# row LABEL KEY SUFFIX [FORMAT [min [RUNS]]]: medians (or minima) for libnn
# and PyTorch and their ratio; RUNS names libnn's runs (default libnn, or
# bf16 for its --bf16 runs)
row() {
    local label=$1 key=$2 sfx=$3 fmt=${4:-%.3f} how=${5:-med} runs=${6:-libnn} l p ratio
    l=$($how "$tmp/$runs.$sfx" "$key")
    p=$($how "$tmp/peer.$sfx" "$key")
    ratio=$(awk -v l="$l" -v p="$p" 'BEGIN { if (l != "" && p != "" && p + 0 != 0) printf "%.2f", l / p; else print "-" }')
    # shellcheck disable=SC2059 # fmt is one of this file's own number formats
    if [ -n "$l" ]; then l=$(printf "$fmt" "$l"); else l="-"; fi
    # shellcheck disable=SC2059
    if [ -n "$p" ]; then p=$(printf "$fmt" "$p"); else p="-"; fi
    printf '%-36s %12s %12s %9s\n' "$label" "$l" "$p" "$ratio"
}
# busy_row IMPL: contention epoch time over the idle 2-thread median
busy_row() {
    local f=$1 label=$2 idle busy
    idle=$(med "$tmp/$f.2" epoch_median_s)
    busy=$(med "$tmp/$f.busy" epoch_median_s)
    [ -n "$busy" ] || return 0
    local runs
    runs=$(grep -c . "$tmp/$f.busy")
    awk -v i="$idle" -v b="$busy" -v n="$label" -v r="$runs" \
        'BEGIN { printf "%-36s %9.3f s busy / %.3f s idle = x%.2f (busy: median of %d)\n", n, b, i, b / i, r }'
}

{
    echo
    cat "$tmp/machine"
    echo "medians of $rounds run(s) (\"fastest epoch\": the least disturbed of all timed epochs);"
    echo "ratio = libnn / PyTorch (below 1: libnn smaller)"
    printf '%-36s %12s %12s %9s\n' "" "libnn" "PyTorch" "ratio"
    row "epoch time, 2 threads (s)" epoch_median_s 2
    row "epoch time, 1 thread (s)" epoch_median_s 1
    row "  fastest epoch, 2 threads (s)" epoch_min_s 2 %.3f min
    row "  fastest epoch, 1 thread (s)" epoch_min_s 1 %.3f min
    row "samples/s, 2 threads" samples_per_s 2 %.0f
    row "achieved GFLOP/s, 2 threads" gflops 2 %.1f
    row "achieved GFLOP/s, 1 thread" gflops 1 %.1f
    row "own GEMM peak GFLOP/s, 2 threads" gemm_peak_gflops 2 %.1f
    row "own GEMM peak GFLOP/s, 1 thread" gemm_peak_gflops 1 %.1f
    row "GEMM-peak share, 2 threads" peak_share 2 %.3f
    row "GEMM-peak share, 1 thread" peak_share 1 %.3f
    row "1-image latency, 2 threads (us)" latency_us 2 %.1f
    row "1-image latency, 1 thread (us)" latency_us 1 %.1f
    row "batched 10k inference, 2 thr (img/s)" batched_images_per_s 2 %.0f
    row "batched 10k inference, 1 thr (img/s)" batched_images_per_s 1 %.0f
    row "peak RSS, 2 threads (MB)" peak_rss_mb 2 %.1f
    row "heap allocations per training step" allocs_per_step 2 %g
    row "heap allocations per 1-image call" allocs_per_inference 2 %g
    row "heap allocations per batched call" allocs_per_batched 2 %g
    row "test accuracy, 2 threads" test_accuracy 2 %.4f
    row "test accuracy, 1 thread" test_accuracy 1 %.4f
    if [ $bf16 = 1 ]; then
        echo "libnn with opt-in bf16 products (nn_graph_set_training_precision; f32 is the default):"
        row "epoch time, 2 threads, bf16 (s)" epoch_median_s 2 %.3f med bf16
        row "epoch time, 1 thread, bf16 (s)" epoch_median_s 1 %.3f med bf16
        row "  fastest epoch, 2 threads, bf16 (s)" epoch_min_s 2 %.3f min bf16
        row "test accuracy, 2 threads, bf16" test_accuracy 2 %.4f med bf16
    fi
    if [ $contention = 1 ]; then
        echo
        echo "epoch time, 2 threads, with one competing busy process (1 epoch):"
        busy_row libnn "  libnn"
        [ $peer = 1 ] && busy_row peer "  PyTorch"
    fi
    if [ $peer = 1 ]; then
        core=$(jstr openblas_core <"$tmp/peer.2")
        echo
        echo "PyTorch BLAS: OpenBLAS core '${core:-?}'${coretype:+ (forced with OPENBLAS_CORETYPE=$coretype)}"
        [ "$core" = Prescott ] && echo "  warning: OpenBLAS fell back to its generic Prescott kernels on this CPU;" \
            "rerun with --openblas-coretype SkylakeX for a fair peer"
    fi
    [ -s "$tmp/warnings" ] && cat "$tmp/warnings"
    echo "GEMM peak: libnn's is dnnl_sgemm, PyTorch's is torch.mm (its BLAS), 2048^3 fp32, best of 5"
    if [ -n "$(med "$tmp/libnn.2" allocs_per_step)" ]; then
        echo "heap allocations: every malloc-family call in bench_train's process (libnn, oneDNN, OpenMP, libc)"
        echo "  during the timed steps, one-image calls and batched calls, 2 threads; not counted for PyTorch"
    fi
    true
} | tee "$results/compare.txt"
