/* bench_train — times libnn on the reference recipe: 784 -> 512 ReLU -> 10
 * softmax cross-entropy, Adam lr 1e-3 (eps 1e-7), Fashion-MNIST, shuffled
 * every epoch. Drives libnn only through <nn/nn.h>; calls oneDNN's
 * dnnl_sgemm directly, but only to measure this machine's fp32 GEMM peak as
 * a yardstick for the training's matrix work. Linked with alloc_count.c, it
 * also counts the whole process's heap allocations per step.
 *
 *     bench_train                       # 2 threads, batch 32, 3 timed epochs
 *     bench_train --threads 1 --json    # one line for bench/compare.sh
 *     bench_train --help
 *
 * bench/pytorch_mnist.py measures the same things in PyTorch.
 * Exit status: 0 on success, 1 when data, libnn or oneDNN fails, 2 on a bad
 * option. */
#include "alloc_count.h"

#include <nn/nn.h>
#include <oneapi/dnnl/dnnl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define HAVE_MXCSR 1
#endif

#define PROG "bench_train"
#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

enum {
    IN = 784,
    HIDDEN = 512,
    CLASSES = 10,
    EXIT_USAGE = 2,
    GEMM_DIM = 2048,      /* dnnl_sgemm yardstick: M = N = K */
    GEMM_REPEATS = 5,     /* best of */
    LAT_WARMUP = 200,     /* untimed one-image forwards */
    LAT_CALLS = 2000,     /* timed one-image forwards */
    BATCHED_REPEATS = 10, /* timed forwards over the whole test set */
    MAX_EPOCHS = 1000
};

/* Matrix work of one training step on B rows, in FLOP (a multiply-add is 2):
 *   forward          2*B*(784*512 + 512*10)
 *   weight gradients 2*B*(784*512 + 512*10)
 *   data gradient of the second layer only (the input needs none)
 *                    2*B*512*10
 * Biases, activations, the loss and the optimizer are not counted. */
static double step_flop(int64_t rows)
{
    const double b = (double)rows;
    const double dense = (double)IN * HIDDEN + (double)HIDDEN * CLASSES;
    return 2.0 * b * dense + 2.0 * b * dense + 2.0 * b * HIDDEN * CLASSES;
}

#define FLOP_FORMULA "2*B*(784*512+512*10) fwd + 2*B*(784*512+512*10) wgrad + 2*B*512*10 dgrad"

typedef struct options {
    const char *data;
    long threads, epochs, batch, warmup;
    double fraction; /* share of each epoch's steps that is timed, then scaled up */
    uint64_t seed;
    int json, help, ftz, bf16, copy;
} options;

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " [options]\n"
        "Times the reference recipe (784-512-10 ReLU, softmax cross-entropy, Adam lr 1e-3)\n"
        "on Fashion-MNIST and reports epoch time, GFLOP/s against a dnnl_sgemm peak\n"
        "measured in the same run, test accuracy, inference latency and throughput, peak RSS,\n"
        "and the process's heap allocations per training step, one-image call and\n"
        "batched call.\n"
        "\n"
        "  --threads N     worker threads for libnn and the GEMM yardstick (default 2)\n"
        "  --epochs N      timed epochs, after an untimed warm-up (default 3)\n"
        "  --batch N       mini-batch size (default 32)\n"
        "  --warmup N      untimed warm-up training steps (default 200)\n"
        "  --fraction X    time only the first X (0 < X <= 1) of each epoch's steps and\n"
        "                  scale the time to a full epoch (default 1; for batch sweeps)\n"
        "  --seed N        seed for the weights and the shuffling (default 1)\n"
        "  --data DIR      dataset directory (default " DEFAULT_DATA ")\n"
        "  --ftz           flush subnormal floats to zero (x86 MXCSR FTZ and DAZ) in this\n"
        "                  thread before libnn starts its threads, which inherit it; an\n"
        "                  experiment: libnn itself does not do this\n"
        "  --bf16          train with nn_graph_set_training_precision(NN_PRECISION_BF16):\n"
        "                  bf16 matrix products, f32 sums and parameters (needs AVX512_BF16);\n"
        "                  inference stays f32. The GEMM peak stays the f32 sgemm's\n"
        "  --copy-batches  copy each batch's rows into a tensor and train with\n"
        "                  nn_graph_train_step, instead of passing the shuffled row\n"
        "                  indices to nn_graph_train_step_rows (the default)\n"
        "  --json          print one JSON line instead of the report\n"
        "  --help          show this help and exit\n");
}

static int usage_error(const char *msg, const char *arg)
{
    fprintf(stderr, PROG ": %s '%s' (see --help)\n", msg, arg);
    return EXIT_USAGE;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.data = DEFAULT_DATA, .threads = 2, .epochs = 3, .batch = 32,
                   .warmup = 200, .fraction = 1.0, .seed = 1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(a, "--help") == 0) {
            o->help = 1;
            continue;
        }
        if (strcmp(a, "--ftz") == 0) {
            o->ftz = 1;
            continue;
        }
        if (strcmp(a, "--bf16") == 0) {
            o->bf16 = 1;
            continue;
        }
        if (strcmp(a, "--copy-batches") == 0) {
            o->copy = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage_error("missing value or unknown option", a);
        const char *v = argv[++i];
        long n;
        if (strcmp(a, "--threads") == 0) {
            if (parse_long(v, 1, 4096, &n))
                return usage_error("--threads needs an integer in 1..4096, not", v);
            o->threads = n;
        } else if (strcmp(a, "--epochs") == 0) {
            if (parse_long(v, 1, MAX_EPOCHS, &n))
                return usage_error("--epochs needs an integer in 1..1000, not", v);
            o->epochs = n;
        } else if (strcmp(a, "--batch") == 0) {
            if (parse_long(v, 1, 60000, &n))
                return usage_error("--batch needs an integer in 1..60000, not", v);
            o->batch = n;
        } else if (strcmp(a, "--warmup") == 0) {
            if (parse_long(v, 0, 1000000, &n))
                return usage_error("--warmup needs an integer in 0..1000000, not", v);
            o->warmup = n;
        } else if (strcmp(a, "--seed") == 0) {
            if (parse_long(v, 0, 0x7fffffffL, &n))
                return usage_error("--seed needs a non-negative integer, not", v);
            o->seed = (uint64_t)n;
        } else if (strcmp(a, "--fraction") == 0) {
            char *end;
            errno = 0;
            double x = strtod(v, &end);
            if (end == v || *end || errno == ERANGE || !(x > 0.0 && x <= 1.0))
                return usage_error("--fraction needs a number in (0, 1], not", v);
            o->fraction = x;
        } else if (strcmp(a, "--data") == 0) {
            o->data = v;
        } else {
            return usage_error("unknown option", a);
        }
    }
    return 0;
}

/* ----------------------------------------------------------------- helpers */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64, for the shuffles. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void shuffle(int64_t *perm, int64_t n, uint64_t *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(rng) % (uint64_t)(i + 1)); /* bias < 2^-40: fine here */
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n-1]; sorts v. */
static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void lib_error(const char *what)
{
    fprintf(stderr, PROG ": %s: %s\n", what, nn_last_error());
}

static int load_split(const char *dir, const char *images, const char *labels, nn_tensor **x,
                      int32_t **y, int64_t *n)
{
    char ipath[4096], lpath[4096];
    int a = snprintf(ipath, sizeof ipath, "%s/%s", dir, images);
    int b = snprintf(lpath, sizeof lpath, "%s/%s", dir, labels);
    if (a < 0 || b < 0 || (size_t)a >= sizeof ipath || (size_t)b >= sizeof lpath) {
        fprintf(stderr, PROG ": --data: path too long\n");
        return -1;
    }
    if (nn_idx_load_pair(x, y, n, ipath, lpath) != NN_OK) {
        lib_error("loading data");
        return -1;
    }
    if (nn_tensor_dim(*x, 1) != IN) {
        fprintf(stderr, PROG ": %s: %" PRId64 " pixels per image, expected %d\n", ipath,
                nn_tensor_dim(*x, 1), IN);
        return -1;
    }
    for (int64_t i = 0; i < *n; i++) {
        if ((*y)[i] < 0 || (*y)[i] >= CLASSES) {
            fprintf(stderr, PROG ": %s: label %" PRId64 " is %d\n", lpath, i, (int)(*y)[i]);
            return -1;
        }
    }
    /* Read every cache line once: on the Zen 5 VM the first read of freshly
     * written memory cost about 5 us per 4 KB page (0.23 s for the training
     * set, 0.006 s the second time), which fell on the first timed epoch,
     * where most rows are first read. pytorch_mnist.py does the same. */
    const float *px = nn_tensor_data(*x);
    volatile float sink = 0.0f;
    for (int64_t i = 0; i < *n * IN; i += 16)
        sink += px[i];
    (void)sink;
    return 0;
}

/* Best of GEMM_REPEATS row-major C = A B, GEMM_DIM cubed, in GFLOP/s, on
 * the thread count already set; 0 on failure. */
static double gemm_peak(void)
{
    const size_t n = (size_t)GEMM_DIM * GEMM_DIM;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    double best = 0.0;
    if (!a || !b || !c) {
        fprintf(stderr, PROG ": out of memory for the GEMM yardstick\n");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = (float)(i % 7) * 0.25f - 0.75f;
        b[i] = (float)(i % 5) * 0.125f - 0.25f;
        c[i] = 0.0f;
    }
    const dnnl_dim_t d = GEMM_DIM;
    for (int r = 0; r <= GEMM_REPEATS; r++) { /* r == 0 warms up */
        double t0 = now();
        if (dnnl_sgemm('N', 'N', d, d, d, 1.0f, a, d, b, d, 0.0f, c, d) != dnnl_success) {
            fprintf(stderr, PROG ": dnnl_sgemm failed\n");
            best = 0.0;
            goto done;
        }
        double gf = 2.0 * (double)d * (double)d * (double)d / (now() - t0) / 1e9;
        if (r > 0 && gf > best)
            best = gf;
    }
done:
    free(a);
    free(b);
    free(c);
    return best;
}

/* Gathers rows perm[r0 .. r0+m-1] of the training set into x and y. */
static void gather(nn_tensor *x, int32_t *y, const float *src, const int32_t *labels,
                   const int64_t *perm, int64_t r0, int64_t m)
{
    float *dst = nn_tensor_data(x);
    for (int64_t k = 0; k < m; k++) {
        const int64_t r = perm[r0 + k];
        memcpy(dst + k * IN, src + r * IN, IN * sizeof *dst);
        y[k] = labels[r];
    }
}

/* One training step on the rows perm[r0 .. r0+m-1] of the training set:
 * passed by index (nn_graph_train_step_rows), or with --copy-batches
 * copied into x and y first, as a caller without that function would. */
static nn_status step_on(const options *o, nn_graph *g, nn_optimizer *opt, nn_tensor *x,
                         int32_t *y, const nn_tensor *xtr, const int32_t *labels,
                         const int64_t *perm, int64_t r0, int64_t m)
{
    if (!o->copy)
        return nn_graph_train_step_rows(g, opt, xtr, labels, perm + r0, m, NULL);
    gather(x, y, nn_tensor_data((nn_tensor *)(uintptr_t)xtr), labels, perm, r0, m);
    return nn_graph_train_step(g, opt, x, y, NULL);
}

/* ------------------------------------------------------------------- main */

/* bench_alloc_count() where an allocation is seen to be counted, else -1:
 * the counter is not linked in, or another allocator took over malloc. The
 * call goes through a volatile pointer so that the compiler keeps it. */
static long long alloc_count(void)
{
    static int works = -1;
    if (works < 0) {
        void *(*volatile alloc)(size_t) = malloc;
        long long before = bench_alloc_count();
        void *p = alloc(16);
        works = before >= 0 && bench_alloc_count() > before;
        free(p);
    }
    return works ? bench_alloc_count() : -1;
}

/* Allocations since alloc_count() returned before, per one of n events;
 * -1 where they are not counted. */
static double allocs_per(long long before, double n)
{
    return before < 0 ? -1.0 : (double)(alloc_count() - before) / n;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (o.help) {
        usage(stdout);
        return 0;
    }

    if (o.ftz) {
#ifdef HAVE_MXCSR
        _mm_setcsr(_mm_getcsr() | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
#else
        fprintf(stderr, PROG ": --ftz: only on x86\n");
        return EXIT_USAGE;
#endif
    }

    rc = 1;
    nn_tensor *xtr = NULL, *xte = NULL, *xb = NULL, *xrag = NULL, *x1 = NULL, *p1 = NULL,
              *pall = NULL;
    int32_t *ytr = NULL, *yte = NULL, *yb = NULL;
    int64_t *perm = NULL, ntr = 0, nte = 0;
    double *lat = NULL, epoch_s[MAX_EPOCHS], sorted[MAX_EPOCHS], batched_s[BATCHED_REPEATS];
    nn_graph *g = NULL;
    nn_optimizer *opt = NULL;

    if (nn_set_num_threads((int)o.threads) != NN_OK) {
        lib_error("--threads");
        goto done;
    }
    if (load_split(o.data, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", &xtr,
                   &ytr, &ntr) ||
        load_split(o.data, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", &xte, &yte,
                   &nte))
        goto done;

    if (nn_graph_create(&g, IN) != NN_OK || nn_graph_add_dense(g, HIDDEN) != NN_OK ||
        nn_graph_add_activation(g, NN_ACT_RELU) != NN_OK ||
        nn_graph_add_dense(g, CLASSES) != NN_OK ||
        nn_graph_add_softmax_cross_entropy(g) != NN_OK ||
        nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, o.seed) != NN_OK ||
        (o.bf16 && nn_graph_set_training_precision(g, NN_PRECISION_BF16) != NN_OK) ||
        nn_adam_create(&opt, g, 1e-3f) != NN_OK || nn_adam_set_epsilon(opt, 1e-7f) != NN_OK) {
        lib_error("building the network");
        goto done;
    }

    const int64_t batch = o.batch < ntr ? o.batch : ntr;
    const int64_t steps = (ntr + batch - 1) / batch, rag = ntr % batch;
    int64_t timed_steps = (int64_t)(o.fraction * (double)steps + 0.5);
    timed_steps = timed_steps < 1 ? 1 : timed_steps > steps ? steps : timed_steps;
    {
        int64_t xd[2] = {batch, IN}, xrd[2] = {rag, IN}, d1[2] = {1, IN}, q1[2] = {1, CLASSES},
                qall[2] = {nte, CLASSES};
        if (nn_tensor_create(&xb, 2, xd) != NN_OK ||
            (rag && nn_tensor_create(&xrag, 2, xrd) != NN_OK) ||
            nn_tensor_create(&x1, 2, d1) != NN_OK || nn_tensor_create(&p1, 2, q1) != NN_OK ||
            nn_tensor_create(&pall, 2, qall) != NN_OK) {
            lib_error("allocating tensors");
            goto done;
        }
    }
    yb = malloc((size_t)batch * sizeof *yb);
    perm = malloc((size_t)ntr * sizeof *perm);
    lat = malloc(LAT_CALLS * sizeof *lat);
    if (!yb || !perm || !lat) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    for (int64_t i = 0; i < ntr; i++)
        perm[i] = i;
    uint64_t rng = o.seed ^ UINT64_C(0x5eed5eed5eed5eed);

    /* Warm-up: o.warmup full steps and, if epochs end ragged, one short step,
     * so every batch size's plan exists before the clock runs. */
    shuffle(perm, ntr, &rng);
    for (long s = 0; s < o.warmup + (rag ? 1 : 0); s++) {
        const int short_step = s == o.warmup;
        const int64_t m = short_step ? rag : batch, r0 = (s * batch) % (ntr - batch + 1);
        nn_tensor *x = short_step ? xrag : xb;
        if (step_on(&o, g, opt, x, yb, xtr, ytr, perm, r0, m) != NN_OK) {
            lib_error("warm-up step");
            goto done;
        }
    }

    /* Timed epochs: shuffle, gather each batch, train. Only the first
     * timed_steps steps run when --fraction < 1; the time is scaled up. */
    int64_t timed_rows = 0;
    double timed_flop = 0.0;
    const long long allocs_before_steps = alloc_count();
    for (long e = 0; e < o.epochs; e++) {
        double t0 = now();
        shuffle(perm, ntr, &rng);
        int64_t rows = 0;
        for (int64_t s = 0; s < timed_steps; s++) {
            const int64_t r0 = s * batch, m = ntr - r0 < batch ? ntr - r0 : batch;
            nn_tensor *x = m == batch ? xb : xrag;
            if (step_on(&o, g, opt, x, yb, xtr, ytr, perm, r0, m) != NN_OK) {
                lib_error("training step");
                goto done;
            }
            rows += m;
            timed_flop += step_flop(m);
        }
        timed_rows = rows; /* the same every epoch */
        epoch_s[e] = (now() - t0) * (double)ntr / (double)rows; /* scaled to a full epoch */
    }
    /* Heap allocations of the whole process (libnn, oneDNN, OpenMP, libc)
     * per timed step, shuffles included; negative where not counted. */
    const double allocs_per_step = allocs_per(allocs_before_steps, (double)(o.epochs * timed_steps));
    memcpy(sorted, epoch_s, (size_t)o.epochs * sizeof *sorted);
    const double med = median(sorted, (size_t)o.epochs), fastest = sorted[0];
    const double epoch_flop = timed_flop / (double)o.epochs * (double)ntr / (double)timed_rows;
    const double samples_per_s = (double)ntr / med;
    const double gflops = epoch_flop / med / 1e9;

    float acc = 0.0f;
    if (nn_graph_evaluate(g, xte, yte, NULL, &acc) != NN_OK) {
        lib_error("evaluating");
        goto done;
    }

    /* One-image latency: the first test image, over and over. */
    if (nn_tensor_copy_from(x1, nn_tensor_data(xte), IN) != NN_OK) {
        lib_error("one-image input");
        goto done;
    }
    long long allocs_before_calls = 0;
    for (int i = 0; i < LAT_WARMUP + LAT_CALLS; i++) {
        if (i == LAT_WARMUP)
            allocs_before_calls = alloc_count();
        double t0 = now();
        if (nn_graph_forward(g, x1, p1) != NN_OK) {
            lib_error("one-image forward");
            goto done;
        }
        if (i >= LAT_WARMUP)
            lat[i - LAT_WARMUP] = now() - t0;
    }
    /* read before median(): glibc's qsort may allocate */
    const double allocs_per_call = allocs_per(allocs_before_calls, LAT_CALLS);
    const double lat_us = median(lat, LAT_CALLS) * 1e6;

    /* Batched inference: the whole test set in one call; one untimed first. */
    long long allocs_before_batched = 0;
    for (int i = 0; i <= BATCHED_REPEATS; i++) {
        if (i == 1)
            allocs_before_batched = alloc_count();
        double t0 = now();
        if (nn_graph_forward(g, xte, pall) != NN_OK) {
            lib_error("batched forward");
            goto done;
        }
        if (i > 0)
            batched_s[i - 1] = now() - t0;
    }
    const double allocs_per_batched = allocs_per(allocs_before_batched, BATCHED_REPEATS);
    const double images_per_s = (double)nte / median(batched_s, BATCHED_REPEATS);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss_mb = (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */

    /* Last, so its 48 MB of matrices stay out of the peak RSS. */
    const double peak = gemm_peak();
    if (peak <= 0.0)
        goto done;

    if (o.json) {
        printf("{\"impl\":\"libnn\",\"threads\":%d,\"batch\":%" PRId64 ",\"epochs\":%ld,"
               "\"fraction\":%.4f,\"ftz\":%d,\"precision\":\"%s\",\"batches\":\"%s\",\"epoch_s\":[",
               nn_get_num_threads(), batch, o.epochs, (double)timed_steps / (double)steps, o.ftz,
               o.bf16 ? "bf16" : "f32", o.copy ? "copied" : "rows");
        for (long e = 0; e < o.epochs; e++)
            printf("%s%.4f", e ? "," : "", epoch_s[e]);
        printf("],\"epoch_median_s\":%.4f,\"epoch_min_s\":%.4f,\"samples_per_s\":%.1f,\"gflops\":%.2f,"
               "\"gemm_peak_gflops\":%.2f,\"peak_share\":%.4f,\"test_accuracy\":%.4f,"
               "\"latency_us\":%.2f,\"batched_images_per_s\":%.0f,\"peak_rss_mb\":%.1f",
               med, fastest, samples_per_s, gflops, peak, gflops / peak, (double)acc, lat_us,
               images_per_s, rss_mb);
        if (allocs_per_step >= 0.0)
            printf(",\"allocs_per_step\":%.6g,\"allocs_per_inference\":%.6g,"
                   "\"allocs_per_batched\":%.6g",
                   allocs_per_step, allocs_per_call, allocs_per_batched);
        printf("}\n");
    } else {
        printf("libnn %s, %d thread%s, batch %" PRId64 ", %" PRId64 " training images, "
               "warm-up %ld steps\n",
               NN_VERSION_STRING, nn_get_num_threads(), nn_get_num_threads() == 1 ? "" : "s",
               batch, ntr, o.warmup);
        if (o.ftz)
            printf("subnormals flushed to zero (--ftz)\n");
        if (o.bf16)
            printf("training precision bf16 (--bf16): bf16 products, f32 sums; inference f32\n");
        printf("batches           %s\n", o.copy ? "copied by the caller, nn_graph_train_step (--copy-batches)"
                                                 : "row indices, nn_graph_train_step_rows");
        if (timed_steps < steps)
            printf("timing %" PRId64 " of %" PRId64 " steps per epoch, scaled to a full epoch\n",
                   timed_steps, steps);
        printf("epoch time        %.3f s median of", med);
        for (long e = 0; e < o.epochs; e++)
            printf(" %.3f", epoch_s[e]);
        printf("\nsamples/s         %.0f\n", samples_per_s);
        printf("matrix work       %.2f GFLOP/epoch = %s\n", epoch_flop / 1e9, FLOP_FORMULA);
        printf("achieved          %.1f GFLOP/s\n", gflops);
        printf("GEMM peak         %.1f GFLOP/s (dnnl_sgemm %dx%dx%d, best of %d)\n", peak,
               GEMM_DIM, GEMM_DIM, GEMM_DIM, GEMM_REPEATS);
        printf("share of peak     %.1f%%\n", 100.0 * gflops / peak);
        printf("test accuracy     %.2f%%\n", 100.0 * (double)acc);
        printf("1-image latency   %.1f us (median of %d)\n", lat_us, LAT_CALLS);
        printf("batched inference %.0f images/s ([%" PRId64 ", %d], median of %d)\n",
               images_per_s, nte, IN, BATCHED_REPEATS);
        printf("peak RSS          %.1f MB (before the GEMM yardstick)\n", rss_mb);
        if (allocs_per_step >= 0.0)
            printf("heap allocations  %.6g per timed step, %.6g per one-image forward, "
                   "%.6g per batched forward (whole process)\n",
                   allocs_per_step, allocs_per_call, allocs_per_batched);
        else
            printf("heap allocations  not counted in this build\n");
    }
    rc = 0;

done:
    nn_optimizer_destroy(opt);
    nn_graph_destroy(g);
    nn_tensor_destroy(xtr);
    nn_tensor_destroy(xte);
    nn_tensor_destroy(xb);
    nn_tensor_destroy(xrag);
    nn_tensor_destroy(x1);
    nn_tensor_destroy(p1);
    nn_tensor_destroy(pall);
    nn_idx_free_labels(ytr);
    nn_idx_free_labels(yte);
    free(yb);
    free(perm);
    free(lat);
    return rc;
}
