#!/usr/bin/python3
"""The peer of bench_train: the reference recipe in PyTorch, measured the same way.

784 -> 512 ReLU -> 10, CrossEntropyLoss, Adam(lr=1e-3, eps=1e-7 unless --adam-eps), batch 32,
Fashion-MNIST read from the IDX .gz files with gzip + numpy (no torchvision),
pixels / 255, shuffled every epoch. Weights are Glorot-uniform and biases zero,
as libnn initialises them, so test accuracies are comparable.

    /usr/bin/python3 bench/pytorch_mnist.py                 # 2 threads, 3 timed epochs
    /usr/bin/python3 bench/pytorch_mnist.py --threads 1 --json

Batches are gathered by indexing the in-memory training tensor with a shuffled
permutation (what bench_train does with memcpy), not through a DataLoader,
whose per-sample Python overhead would dominate at batch 32.
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import statistics
import struct
import sys
import time

import numpy as np

IN, HIDDEN, CLASSES = 784, 512, 10
GEMM_DIM, GEMM_REPEATS = 2048, 5
LAT_WARMUP, LAT_CALLS = 200, 2000
BATCHED_REPEATS = 10
DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"
FLOP_FORMULA = "2*B*(784*512+512*10) fwd + 2*B*(784*512+512*10) wgrad + 2*B*512*10 dgrad"


def step_flop(rows):
    """Matrix work of one training step on `rows` rows, as bench_train counts it:
    forward 2*B*(784*512 + 512*10), weight gradients the same, and the second
    layer's data gradient 2*B*512*10 (the input needs none)."""
    dense = IN * HIDDEN + HIDDEN * CLASSES
    return 2.0 * rows * dense + 2.0 * rows * dense + 2.0 * rows * HIDDEN * CLASSES


def read_idx(path):
    """An IDX unsigned-byte file (gzip'd or raw) as a numpy uint8 array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"pytorch_mnist: {path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * rank, data[4 : 4 + 4 * rank])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(dims)):
        sys.exit(f"pytorch_mnist: {path}: {body.size} bytes of data, header says {dims}")
    return body.reshape(dims)


def load_split(torch, data, prefix):
    x = read_idx(os.path.join(data, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.reshape(x.shape[0], -1).astype(np.float32) / 255.0)
    y = torch.from_numpy(y.astype(np.int64))
    float(x.sum())  # read it all once, as bench_train does: a first read can be slow on a VM
    return x, y


def openblas_core():
    """The kernel set OpenBLAS picked for this CPU ("" if not OpenBLAS)."""
    for name in ("libopenblas.so.0", "libblas.so.3"):
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib.openblas_get_corename().decode()
        except (OSError, AttributeError):
            continue
    return ""


def blas_in_use():
    """The BLAS libraries this process has mapped, as paths."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line or "mkl" in line}
        return sorted(p for p in paths if p.startswith("/"))
    except OSError:
        return []


def gemm_peak(torch):
    """Best of GEMM_REPEATS 2048^3 fp32 torch.mm, GFLOP/s: the peer's own BLAS."""
    g = torch.Generator().manual_seed(0)
    a = torch.rand(GEMM_DIM, GEMM_DIM, generator=g)
    b = torch.rand(GEMM_DIM, GEMM_DIM, generator=g)
    torch.mm(a, b)  # warm-up
    best = 0.0
    for _ in range(GEMM_REPEATS):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2.0 * GEMM_DIM**3 / (time.perf_counter() - t0) / 1e9)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs (default 3)")
    ap.add_argument("--batch", type=int, default=32, help="mini-batch size (default 32)")
    ap.add_argument("--warmup", type=int, default=200, help="untimed warm-up steps (default 200)")
    ap.add_argument("--fraction", type=float, default=1.0,
                    help="time only this share of each epoch's steps, scaled up (default 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--adam-eps", type=float, default=1e-7,
                    help="Adam's epsilon (default 1e-7, as libnn; PyTorch's own default is 1e-8)")
    ap.add_argument("--init", choices=("glorot", "torch"), default="glorot",
                    help="glorot: Glorot-uniform weights, zero biases, as libnn (default); "
                         "torch: nn.Linear's own initialisation")
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--ftz", action="store_true",
                    help="torch.set_flush_denormal(True): flush subnormals to zero (experiment)")
    o = ap.parse_args()
    if o.threads < 1 or o.epochs < 1 or o.batch < 1 or o.warmup < 0 or not 0 < o.fraction <= 1:
        ap.error("--threads, --epochs, --batch must be >= 1, --warmup >= 0, --fraction in (0, 1]")

    # Before torch loads OpenMP and OpenBLAS, so every pool starts at this size.
    os.environ["OMP_NUM_THREADS"] = str(o.threads)
    import torch

    torch.set_num_threads(o.threads)
    torch.manual_seed(o.seed)
    if o.ftz and not torch.set_flush_denormal(True):
        sys.exit("pytorch_mnist: --ftz: this CPU cannot flush subnormals")

    xtr, ytr = load_split(torch, o.data, "train")
    xte, yte = load_split(torch, o.data, "t10k")
    ntr, nte = xtr.shape[0], xte.shape[0]

    model = torch.nn.Sequential(
        torch.nn.Linear(IN, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, CLASSES))
    for m in model:
        if isinstance(m, torch.nn.Linear) and o.init == "glorot":
            torch.nn.init.xavier_uniform_(m.weight)
            torch.nn.init.zeros_(m.bias)
    lossf = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=o.adam_eps)

    batch = min(o.batch, ntr)
    steps = (ntr + batch - 1) // batch
    rag = ntr % batch
    timed_steps = min(steps, max(1, int(o.fraction * steps + 0.5)))

    def train_step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = lossf(model(xb), yb)
        loss.backward()
        opt.step()

    # Warm-up: o.warmup full steps and one short one if epochs end ragged.
    perm = torch.randperm(ntr)
    for s in range(o.warmup + (1 if rag else 0)):
        m = rag if s == o.warmup else batch
        r0 = (s * batch) % (ntr - batch + 1)
        idx = perm[r0 : r0 + m]
        train_step(xtr[idx], ytr[idx])

    epoch_s = []
    timed_rows = 0
    timed_flop = 0.0
    for _ in range(o.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(ntr)
        rows = 0
        for s in range(timed_steps):
            idx = perm[s * batch : (s + 1) * batch]
            train_step(xtr[idx], ytr[idx])
            rows += idx.shape[0]
            timed_flop += step_flop(idx.shape[0])
        epoch_s.append((time.perf_counter() - t0) * ntr / rows)
        timed_rows = rows
    med = statistics.median(epoch_s)
    epoch_flop = timed_flop / o.epochs * ntr / timed_rows
    gflops = epoch_flop / med / 1e9

    with torch.no_grad():
        acc = (model(xte).argmax(dim=1) == yte).float().mean().item()

        x1 = xte[:1].clone()
        lat = []
        for i in range(LAT_WARMUP + LAT_CALLS):
            t0 = time.perf_counter()
            model(x1)
            if i >= LAT_WARMUP:
                lat.append(time.perf_counter() - t0)
        lat_us = statistics.median(lat) * 1e6

        batched = []
        for i in range(BATCHED_REPEATS + 1):
            t0 = time.perf_counter()
            model(xte)
            if i > 0:
                batched.append(time.perf_counter() - t0)
        images_per_s = nte / statistics.median(batched)

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes
    peak = gemm_peak(torch)  # last, so its matrices stay out of the peak RSS
    core = openblas_core()

    if o.json:
        print(json.dumps({
            "impl": "pytorch", "torch": torch.__version__, "threads": torch.get_num_threads(),
            "batch": batch, "epochs": o.epochs, "fraction": round(timed_steps / steps, 4),
            "ftz": int(o.ftz), "adam_eps": o.adam_eps, "init": o.init, "seed": o.seed,
            "epoch_s": [round(t, 4) for t in epoch_s], "epoch_median_s": round(med, 4),
            "epoch_min_s": round(min(epoch_s), 4),
            "samples_per_s": round(ntr / med, 1), "gflops": round(gflops, 2),
            "gemm_peak_gflops": round(peak, 2), "peak_share": round(gflops / peak, 4),
            "test_accuracy": round(acc, 4), "latency_us": round(lat_us, 2),
            "batched_images_per_s": round(images_per_s), "peak_rss_mb": round(rss_mb, 1),
            "openblas_core": core, "blas": blas_in_use(),
        }, separators=(",", ":")))
        return
    n = torch.get_num_threads()
    print(f"PyTorch {torch.__version__}, {n} thread{'' if n == 1 else 's'}, batch {batch}, "
          f"{ntr} training images, warm-up {o.warmup} steps")
    print(f"BLAS              {', '.join(blas_in_use()) or 'unknown'}"
          + (f" (OpenBLAS core {core})" if core else ""))
    if o.ftz:
        print("subnormals flushed to zero (--ftz)")
    if timed_steps < steps:
        print(f"timing {timed_steps} of {steps} steps per epoch, scaled to a full epoch")
    print(f"epoch time        {med:.3f} s median of " + " ".join(f"{t:.3f}" for t in epoch_s))
    print(f"samples/s         {ntr / med:.0f}")
    print(f"matrix work       {epoch_flop / 1e9:.2f} GFLOP/epoch = {FLOP_FORMULA}")
    print(f"achieved          {gflops:.1f} GFLOP/s")
    print(f"GEMM peak         {peak:.1f} GFLOP/s (torch.mm {GEMM_DIM}^3 fp32, best of {GEMM_REPEATS})")
    print(f"share of peak     {100 * gflops / peak:.1f}%")
    print(f"test accuracy     {100 * acc:.2f}%")
    print(f"1-image latency   {lat_us:.1f} us (median of {LAT_CALLS}, torch.no_grad)")
    print(f"batched inference {images_per_s:.0f} images/s ([{nte}, {IN}], median of {BATCHED_REPEATS})")
    print(f"peak RSS          {rss_mb:.1f} MB (before the GEMM yardstick)")


if __name__ == "__main__":
    main()
