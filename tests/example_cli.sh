#!/bin/sh
# The example programs as a user runs them: a small training run with every
# output, bad options and bad data, and a checkpoint resumed bit for bit.
# Usage: example_cli.sh BUILD_DIR
set -u
b=$1
mlp=$b/examples/mnist_mlp
predict=$b/examples/mnist_predict
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION...
    name=$1; shift
    if "$@"; then echo "ok: $name"; else echo "FAILED: $name"; fails=$((fails + 1)); fi
}
small="--train-limit 2000 --test-limit 500"

"$mlp" $small --epochs 2 --log "$tmp/m.csv" --plot "$tmp/m.svg" --save "$tmp/m.nnm" >"$tmp/out" 2>&1
check "small run exits 0" test $? -eq 0
check "per-epoch lines" grep -q "^epoch 2/2  train loss" "$tmp/out"
check "final accuracy" grep -q "^test accuracy: " "$tmp/out"
check "confusion matrix" grep -q "^9 Ankle boot" "$tmp/out"
check "csv has a header and 2 rows" test "$(wc -l <"$tmp/m.csv")" -eq 3
check "csv header" grep -q "^epoch,train_loss,train_acc,test_loss,test_acc,seconds$" "$tmp/m.csv"
check "svg is an svg" grep -q "<svg" "$tmp/m.svg"
check "svg has both curves" grep -q "test" "$tmp/m.svg"
check "model and optimizer saved" test -s "$tmp/m.nnm" -a -s "$tmp/m.nnm.opt"

acc=$(sed -n 's/^test accuracy: \(.*\)%$/\1/p' "$tmp/out")
"$predict" "$tmp/m.nnm" /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz \
    /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz >"$tmp/pred" 2>&1
check "mnist_predict exits 0" test $? -eq 0
check "mnist_predict reports accuracy" grep -q "^accuracy: " "$tmp/pred"

"$mlp" $small --epochs 1 --save "$tmp/h.nnm" --threads 1 --quiet >/dev/null 2>&1
"$mlp" $small --epochs 2 --resume "$tmp/h.nnm" --save "$tmp/r.nnm" --quiet >"$tmp/rout" 2>&1
check "resume exits 0" test $? -eq 0
check "resumed model equals the unbroken run's" cmp -s "$tmp/m.nnm" "$tmp/r.nnm"
check "resumed optimizer equals the unbroken run's" cmp -s "$tmp/m.nnm.opt" "$tmp/r.nnm.opt"
check "resumed accuracy equals the unbroken run's" grep -q "^test accuracy: $acc%$" "$tmp/rout"

# opt-in bf16 products: trains where the CPU has AVX512_BF16, and differently
# from f32 (the first epoch's losses); elsewhere one line saying why
"$mlp" $small --epochs 2 --precision bf16 --log "$tmp/b.csv" >"$tmp/bout" 2>&1
st=$?
if grep -qw avx512_bf16 /proc/cpuinfo; then
    check "bf16 run exits 0" test $st -eq 0
    check "bf16 run says so" grep -q ", bf16 products," "$tmp/bout"
    check "bf16 run reports accuracy" grep -q "^test accuracy: " "$tmp/bout"
    check "bf16 csv has a header and 2 rows" test "$(wc -l <"$tmp/b.csv")" -eq 3
    check "bf16 run trains differently from f32" \
        test "$(sed -n 2p "$tmp/b.csv" | cut -d, -f2)" != "$(sed -n 2p "$tmp/m.csv" | cut -d, -f2)"
else
    check "bf16 without AVX512_BF16 exits 1" test $st -eq 1
    check "bf16 without AVX512_BF16 says why" grep -q "^mnist_mlp: --precision: .*AVX512_BF16" "$tmp/bout"
    check "bf16 without AVX512_BF16 is one line" test "$(wc -l <"$tmp/bout")" -eq 1
fi
"$mlp" --precision fp8 >"$tmp/e" 2>&1
check "unknown precision exits 2" test $? -eq 2
check "unknown precision names the choices" grep -q "^mnist_mlp: --precision: 'fp8' is not one of f32, bf16" "$tmp/e"

"$mlp" --batch abc >"$tmp/e" 2>&1
check "bad number exits 2" test $? -eq 2
check "bad number names the option" grep -q "^mnist_mlp: --batch: 'abc' is not a positive integer" "$tmp/e"
"$mlp" --frobnicate >"$tmp/e" 2>&1
check "unknown option exits 2" test $? -eq 2
"$mlp" --epochs >"$tmp/e" 2>&1
check "missing value exits 2" test $? -eq 2
"$mlp" --data "$tmp/nowhere" >"$tmp/e" 2>&1
check "missing data exits 1" test $? -eq 1
check "missing data is one line" test "$(wc -l <"$tmp/e")" -eq 1
printf 'not an idx file' >"$tmp/train-images-idx3-ubyte"
cp "$tmp/train-images-idx3-ubyte" "$tmp/train-labels-idx1-ubyte"
"$mlp" --data "$tmp" >"$tmp/e" 2>&1
check "malformed data exits 1" test $? -eq 1
"$mlp" --resume "$tmp/m.nnm" --optimizer sgd >"$tmp/e" 2>&1
check "resume with another optimizer exits 1" test $? -eq 1
"$predict" >"$tmp/e" 2>&1
check "mnist_predict usage exits 2" test $? -eq 2
"$predict" "$tmp/m.csv" /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz >"$tmp/e" 2>&1
check "mnist_predict on a non-model exits 1" test $? -eq 1

echo "example_cli: $fails failed"
test "$fails" -eq 0
