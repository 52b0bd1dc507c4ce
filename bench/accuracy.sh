#!/usr/bin/env bash
# accuracy.sh — the reference recipe's test accuracy, libnn (examples/mnist_mlp)
# beside PyTorch (bench/pytorch_mnist.py), seed by seed, on this machine.
#
#   bench/accuracy.sh                       # seeds 1 2 3, 5 epochs, both
#   bench/accuracy.sh --seeds "1 2 3 4 5 6 7 8" --no-peer
#   bench/accuracy.sh --peer-variants       # also PyTorch with eps 1e-8 and its own init
#   bench/accuracy.sh --bf16 --no-peer      # libnn in f32 and with opt-in bf16 products
#
# Both train 784-512-10 ReLU, softmax cross-entropy, Adam lr 1e-3, batch 32,
# pixels / 255, shuffled every epoch, Glorot-uniform weights, zero biases,
# Adam eps 1e-7, for the same number of epochs (no warm-up steps). Raw
# results go to bench/results/accuracy.jsonl, the table to stdout and
# bench/results/accuracy.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
results="$here/results"
builddir="$root/build"
seeds="1 2 3"
epochs=5
peer=1
variants=0
bf16=0
python=${PYTHON:-/usr/bin/python3}
coretype=SkylakeX

usage() {
    cat <<EOF
usage: bench/accuracy.sh [options]
Trains the reference recipe with libnn and with PyTorch for each seed and
prints the test accuracies and their means.

  --builddir DIR          meson build directory holding examples/mnist_mlp (default: build)
  --seeds "S1 S2 ..."     seeds (default "1 2 3")
  --epochs N              epochs (default 5)
  --no-peer               libnn only
  --bf16                  libnn also with --precision bf16 (opt-in bf16 products;
                          needs AVX512_BF16)
  --peer-variants         PyTorch also with Adam eps 1e-8 and Glorot init, and with
                          eps 1e-8 and nn.Linear's own init (PyTorch's defaults)
  --openblas-coretype X   OPENBLAS_CORETYPE for PyTorch (default SkylakeX: speed
                          only, the figures do not depend on it); "" for as installed
  --help                  show this help
Environment: PYTHON (default /usr/bin/python3) runs the PyTorch peer.
EOF
}

die() { echo "accuracy.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --builddir) builddir=${2:?--builddir needs a value}; shift 2 ;;
    --seeds) seeds=${2:?--seeds needs a value}; shift 2 ;;
    --epochs) epochs=${2:?--epochs needs a value}; shift 2 ;;
    --no-peer) peer=0; shift ;;
    --peer-variants) variants=1; shift ;;
    --bf16) bf16=1; shift ;;
    --openblas-coretype) coretype=${2?--openblas-coretype needs a value}; shift 2 ;;
    --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done

mlp="$builddir/examples/mnist_mlp"
[ -x "$mlp" ] || die "$mlp not found: build first (meson setup build && ninja -C build)"
case "$epochs" in ''|*[!0-9]*|0) die "--epochs must be a positive integer" ;; esac
for s in $seeds; do
    case "$s" in ''|*[!0-9]*) die "--seeds: '$s' is not a non-negative integer" ;; esac
done
if [ "$peer" = 1 ] && ! "$python" -c 'import torch, numpy' 2>/dev/null; then
    echo "accuracy.sh: PyTorch is not installed for $python (Debian: python3-torch," \
         "libopenblas0-openmp); running libnn only" >&2
    peer=0
fi

if [ "$bf16" = 1 ] && ! grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    die "--bf16: this CPU has no AVX512_BF16, which mnist_mlp --precision bf16 needs"
fi

mkdir -p "$results"
jsonl="$results/accuracy.jsonl"
: >"$jsonl"

configs=("1e-7 glorot")
[ "$variants" = 1 ] && configs+=("1e-8 glorot" "1e-8 torch")

precisions="f32"
[ "$bf16" = 1 ] && precisions="f32 bf16"

for s in $seeds; do
    for pr in $precisions; do
        extra=()
        [ "$pr" = f32 ] || extra=(--precision "$pr") # f32 runs work with older builds too
        if ! out=$("$mlp" --quiet --seed "$s" --epochs "$epochs" "${extra[@]}" 2>&1); then
            die "mnist_mlp --seed $s ${extra[*]} failed: $(printf '%s\n' "$out" | tail -n 1)"
        fi
        acc=$(printf '%s\n' "$out" | sed -n 's/^test accuracy: \([0-9.]*\)%$/\1/p')
        [ -n "$acc" ] || die "mnist_mlp --seed $s ${extra[*]} printed no test accuracy"
        echo "{\"impl\":\"libnn\",\"precision\":\"$pr\",\"seed\":$s,\"epochs\":$epochs,\"test_accuracy\":$(awk "BEGIN{printf \"%.4f\", $acc/100}")}" >>"$jsonl"
        echo "libnn   seed $s ($pr): $acc %" >&2
    done
    if [ "$peer" = 1 ]; then
        for c in "${configs[@]}"; do
            set -- $c
            line=$(OPENBLAS_CORETYPE=$coretype "$python" "$here/pytorch_mnist.py" --json \
                   --seed "$s" --epochs "$epochs" --warmup 0 --adam-eps "$1" --init "$2")
            echo "$line" >>"$jsonl"
            echo "PyTorch seed $s (eps $1, init $2): $(echo "$line" | sed 's/.*"test_accuracy":\([0-9.]*\).*/\1/')" >&2
        done
    fi
done

"$python" - "$jsonl" <<'EOF' | tee "$results/accuracy.txt"
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
groups = {}
for r in rows:
    if r["impl"] == "libnn":
        key = "libnn (Glorot, eps 1e-7)"
        if r.get("precision", "f32") != "f32":
            key = f"libnn (Glorot, eps 1e-7, {r['precision']})"
    else:
        init = "Glorot" if r["init"] == "glorot" else "nn.Linear init"
        key = f"PyTorch ({init}, eps {r['adam_eps']:g})"
    groups.setdefault(key, []).append((r["seed"], r["test_accuracy"]))
seeds = sorted({s for g in groups.values() for s, _ in g})
epochs = rows[0]["epochs"]
print(f"test accuracy after {epochs} epochs, Fashion-MNIST, batch 32, Adam lr 1e-3")
print(f"{'':38}" + "".join(f"{'seed ' + str(s):>9}" for s in seeds) + f"{'mean':>9}{'min':>9}")
for key, g in groups.items():
    d = dict(g)
    vals = [d[s] for s in seeds if s in d]
    print(f"{key:38}" + "".join(f"{d[s]:9.4f}" if s in d else f"{'-':>9}" for s in seeds)
          + f"{statistics.mean(vals):9.4f}{min(vals):9.4f}")
EOF
