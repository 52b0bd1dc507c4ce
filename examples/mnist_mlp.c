/* mnist_mlp — the reference recipe: a 784-512-10 ReLU network with a softmax
 * cross-entropy head, trained with Adam (lr 1e-3, batch 32, 5 epochs) on
 * Fashion-MNIST or MNIST, shuffled every epoch. Uses only <nn/nn.h>.
 *
 *     mnist_mlp                              # Fashion-MNIST, ~88% test accuracy
 *     mnist_mlp --data ~/mnist --plot curves.svg --log curves.csv
 *     mnist_mlp --help
 *
 * Exit status: 0 on success, 1 when data or libnn fails, 2 on a bad option. */
#include <nn/nn.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plot.h"

#define PROG "mnist_mlp"
#define DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

enum {
    NCLASSES = 10,
    EXIT_USAGE = 2,
    PREDICT_BATCH = 1000, /* rows per nn_graph_forward for the confusion matrix */
    ACC_EVERY = 50        /* progress bar: running accuracy from every 50th batch (~1% cost) */
};

static const char *const fashion_names[NCLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};
static const char *const digit_names[NCLASSES] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

typedef enum { OPT_ADAM, OPT_ADAMW, OPT_SGD } opt_kind;
static const char *const opt_names[] = {"adam", "adamw", "sgd"};
/* indexed by nn_precision */
static const char *const precision_names[] = {"f32", "bf16"};

typedef struct options {
    const char *data;
    long epochs, batch, hidden, threads; /* threads 0: the library's default */
    double lr, momentum, dropout, weight_decay;
    opt_kind optimizer;
    nn_precision precision;
    uint64_t seed;
    int64_t train_limit, test_limit; /* 0: all */
    int quiet, help;
    const char *log, *plot;
    const char *save, *resume; /* model file; checkpoint = model + ".opt" */
} options;

/* ---------------------------------------------------------------- options */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: " PROG " [options]\n"
        "Trains a 784-hidden-10 ReLU network (softmax cross-entropy) on MNIST-format data\n"
        "and reports per-epoch loss and accuracy, a confusion matrix and the timing.\n"
        "\n"
        "  --data DIR           dataset directory (default " DEFAULT_DATA ");\n"
        "                       reads train-images-idx3-ubyte, train-labels-idx1-ubyte,\n"
        "                       t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (.gz or raw)\n"
        "  --epochs N           passes over the training set (default 5)\n"
        "  --batch N            mini-batch size (default 32)\n"
        "  --lr X               learning rate (default 1e-3)\n"
        "  --hidden N           hidden units (default 512)\n"
        "  --optimizer NAME     adam, adamw or sgd (default adam)\n"
        "  --momentum X         SGD momentum in [0, 1) (default 0)\n"
        "  --weight-decay X     L2 decay; decoupled for adamw (default 0)\n"
        "  --dropout X          dropout rate in [0, 1) after the ReLU (default 0: none)\n"
        "  --precision NAME     f32 or bf16: bf16 rounds the operands of the training\n"
        "                       forward products and weight gradients to bfloat16, with\n"
        "                       f32 sums (CPUs with AVX512_BF16; weights, optimizer and\n"
        "                       evaluation stay f32; default f32)\n"
        "  --seed N             seed for the weights, dropout and shuffling (default 1)\n"
        "  --threads N          worker threads (default: OMP_NUM_THREADS or one per core)\n"
        "  --train-limit N      use only the first N training images (default 0: all)\n"
        "  --test-limit N       use only the first N test images (default 0: all)\n"
        "  --log FILE.csv       write epoch,train_loss,train_acc,test_loss,test_acc,seconds\n"
        "  --plot FILE.svg      draw loss and accuracy curves as an SVG\n"
        "  --save FILE          after every epoch, save the model to FILE and the\n"
        "                       optimizer to FILE.opt: a checkpoint to --resume from,\n"
        "                       and a model for mnist_predict\n"
        "  --resume FILE        continue training from a checkpoint written by --save\n"
        "                       (FILE and FILE.opt) with the same options; training\n"
        "                       then runs up to --epochs in all\n"
        "  --quiet              print only errors and the final test accuracy\n"
        "  --help               show this help and exit\n"
        "Options take their value as '--opt value' or '--opt=value'.\n");
}

#if defined(__GNUC__)
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#endif

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Whole decimal number in [lo, hi]; what names the expected kind. */
static int parse_int(const char *opt, const char *s, long long lo, long long hi, const char *what,
                     long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || isspace((unsigned char)s[0]))
        return usage_error("%s: '%s' is not %s", opt, s, what);
    if (v < lo) /* lo is 0 or 1, which `what` says */
        return usage_error("%s: '%s' is not %s", opt, s, what);
    if (errno == ERANGE || v > hi)
        return usage_error("%s: '%s' is too large (at most %lld)", opt, s, hi);
    *out = v;
    return 0;
}

/* Finite real number in the interval lo..hi, each end open or closed. */
static int parse_real(const char *opt, const char *s, double lo, int lo_open, double hi,
                      int hi_open, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || isspace((unsigned char)s[0]) || isnan(v))
        return usage_error("%s: '%s' is not a number", opt, s);
    if (errno == ERANGE || !isfinite(v) || (lo_open ? v <= lo : v < lo) ||
        (hi_open ? v >= hi : v > hi))
        return usage_error("%s: '%s' is out of range %c%g, %g%c", opt, s, lo_open ? '(' : '[', lo,
                           hi, hi_open ? ')' : ']');
    *out = v;
    return 0;
}

static int parse_u64(const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)s[0])) /* strtoull would accept and wrap "-1" */
        return usage_error("%s: '%s' is not a non-negative integer", opt, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end)
        return usage_error("%s: '%s' is not a non-negative integer", opt, s);
    if (errno == ERANGE)
        return usage_error("%s: '%s' is out of range (0 to %" PRIu64 ")", opt, s, UINT64_MAX);
    *out = (uint64_t)v;
    return 0;
}

enum opt_id {
    O_DATA, O_EPOCHS, O_BATCH, O_LR, O_HIDDEN, O_OPTIMIZER, O_MOMENTUM, O_SEED, O_THREADS,
    O_DROPOUT, O_WD, O_TRAIN_LIMIT, O_TEST_LIMIT, O_QUIET, O_LOG, O_PLOT, O_HELP,
    O_SAVE, O_RESUME, O_PRECISION
};

static const struct {
    const char *name;
    enum opt_id id;
    int takes_value;
} option_table[] = {
    {"data", O_DATA, 1},           {"epochs", O_EPOCHS, 1},
    {"batch", O_BATCH, 1},         {"lr", O_LR, 1},
    {"hidden", O_HIDDEN, 1},       {"optimizer", O_OPTIMIZER, 1},
    {"momentum", O_MOMENTUM, 1},   {"seed", O_SEED, 1},
    {"threads", O_THREADS, 1},     {"dropout", O_DROPOUT, 1},
    {"weight-decay", O_WD, 1},     {"train-limit", O_TRAIN_LIMIT, 1},
    {"test-limit", O_TEST_LIMIT, 1}, {"quiet", O_QUIET, 0},
    {"log", O_LOG, 1},             {"plot", O_PLOT, 1},
    {"help", O_HELP, 0},           {"save", O_SAVE, 1},
    {"resume", O_RESUME, 1},       {"precision", O_PRECISION, 1},
};

/* The index of v in names[0..count), or -1. */
static int name_index(const char *const *names, size_t count, const char *v)
{
    for (size_t k = 0; k < count; k++)
        if (strcmp(v, names[k]) == 0)
            return (int)k;
    return -1;
}

#define NAME_INDEX(names, v) name_index(names, sizeof names / sizeof *names, v)

static int set_option(options *o, enum opt_id id, const char *opt, const char *v)
{
    long long n;
    int r = 0;
    switch (id) {
    case O_DATA: o->data = v; break;
    case O_LOG: o->log = v; break;
    case O_PLOT: o->plot = v; break;
    case O_SAVE: o->save = v; break;
    case O_RESUME: o->resume = v; break;
    case O_QUIET: o->quiet = 1; break;
    case O_HELP: o->help = 1; break;
    case O_EPOCHS:
        if (!(r = parse_int(opt, v, 1, 100000, "a positive integer", &n)))
            o->epochs = (long)n;
        break;
    case O_BATCH:
        if (!(r = parse_int(opt, v, 1, 1 << 20, "a positive integer", &n)))
            o->batch = (long)n;
        break;
    case O_HIDDEN:
        if (!(r = parse_int(opt, v, 1, 1 << 16, "a positive integer", &n)))
            o->hidden = (long)n;
        break;
    case O_THREADS:
        if (!(r = parse_int(opt, v, 1, 4096, "a positive integer", &n)))
            o->threads = (long)n;
        break;
    case O_TRAIN_LIMIT:
    case O_TEST_LIMIT:
        if (!(r = parse_int(opt, v, 0, INT64_MAX, "a non-negative integer", &n)))
            *(id == O_TRAIN_LIMIT ? &o->train_limit : &o->test_limit) = n;
        break;
    case O_SEED: r = parse_u64(opt, v, &o->seed); break;
    case O_LR: r = parse_real(opt, v, 0.0, 1, 10.0, 0, &o->lr); break;
    case O_MOMENTUM: r = parse_real(opt, v, 0.0, 0, 1.0, 1, &o->momentum); break;
    case O_DROPOUT: r = parse_real(opt, v, 0.0, 0, 1.0, 1, &o->dropout); break;
    case O_WD: r = parse_real(opt, v, 0.0, 0, 1.0, 0, &o->weight_decay); break;
    case O_OPTIMIZER:
        if ((n = NAME_INDEX(opt_names, v)) < 0)
            return usage_error("%s: '%s' is not one of adam, adamw, sgd", opt, v);
        o->optimizer = (opt_kind)n;
        break;
    case O_PRECISION:
        if ((n = NAME_INDEX(precision_names, v)) < 0)
            return usage_error("%s: '%s' is not one of f32, bf16", opt, v);
        o->precision = (nn_precision)n;
        break;
    }
    return r;
}

/* Returns 0 or EXIT_USAGE (after printing one line). */
static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){
        .data = DEFAULT_DATA, .epochs = 5, .batch = 32, .hidden = 512, .threads = 0,
        .lr = 1e-3, .momentum = 0.0, .dropout = 0.0, .weight_decay = 0.0,
        .optimizer = OPT_ADAM, .precision = NN_PRECISION_F32, .seed = 1,
    };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
            return usage_error("unexpected argument '%s' (see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        size_t k = 0, count = sizeof option_table / sizeof *option_table;
        while (k < count && !(strlen(option_table[k].name) == len &&
                              strncmp(option_table[k].name, name, len) == 0))
            k++;
        if (k == count)
            return usage_error("unknown option '--%.*s' (see --help)", (int)len, name);
        char opt[32];
        snprintf(opt, sizeof opt, "--%s", option_table[k].name);
        const char *value = NULL;
        if (!option_table[k].takes_value) {
            if (eq)
                return usage_error("%s takes no value", opt);
        } else if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            return usage_error("%s needs a value", opt);
        }
        if (value && !*value)
            return usage_error("%s: the value is empty", opt);
        int r = set_option(o, option_table[k].id, opt, value);
        if (r)
            return r;
    }
    if (o->momentum > 0.0 && o->optimizer != OPT_SGD)
        return usage_error("--momentum applies only to --optimizer sgd");
    return 0;
}

/* ----------------------------------------------------------------- helpers */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* splitmix64: small, fast, and good enough for shuffling. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n), without modulo bias. */
static uint64_t rng_below(uint64_t *s, uint64_t n)
{
    uint64_t threshold = (0 - n) % n; /* 2^64 mod n */
    for (;;) {
        uint64_t r = rng_next(s);
        if (r >= threshold)
            return r % n;
    }
}

static void shuffle(int64_t *perm, int64_t n, uint64_t *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(rng, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static int contains_nocase(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++) {
        size_t k = 0;
        while (k < n && hay[k] && tolower((unsigned char)hay[k]) == needle[k])
            k++;
        if (k == n)
            return 1;
    }
    return 0;
}

static void lib_error(const char *what)
{
    fprintf(stderr, PROG ": %s: %s\n", what, nn_last_error());
}

/* dir/name.gz if it exists, else dir/name (whose absence libnn reports). */
static int data_path(char *buf, size_t cap, const char *dir, const char *name)
{
    int len = snprintf(buf, cap, "%s/%s.gz", dir, name);
    if (len < 0 || (size_t)len >= cap) {
        fprintf(stderr, PROG ": --data: the path '%s' is too long\n", dir);
        return -1;
    }
    if (access(buf, F_OK) != 0)
        snprintf(buf, cap, "%s/%s", dir, name);
    return 0;
}

/* Loads one images/labels pair, checks the labels, and keeps the first
 * limit rows (limit 0: all). Prints the error and returns -1 on failure. */
static int load_split(const char *dir, const char *images_name, const char *labels_name,
                      int64_t limit, nn_tensor **x, int32_t **y, int64_t *n)
{
    char ipath[4096], lpath[4096];
    if (data_path(ipath, sizeof ipath, dir, images_name) ||
        data_path(lpath, sizeof lpath, dir, labels_name))
        return -1;
    if (nn_idx_load_pair(x, y, n, ipath, lpath) != NN_OK) {
        fprintf(stderr, PROG ": %s\n", nn_last_error());
        return -1;
    }
    if (*n < 1) {
        fprintf(stderr, PROG ": %s holds no images\n", ipath);
        return -1;
    }
    for (int64_t i = 0; i < *n; i++) {
        if ((*y)[i] < 0 || (*y)[i] >= NCLASSES) {
            fprintf(stderr, PROG ": %s: label %" PRId64 " is %d, expected 0..%d\n", lpath, i,
                    (int)(*y)[i], NCLASSES - 1);
            return -1;
        }
    }
    if (limit > 0 && limit < *n) {
        int64_t d = nn_tensor_dim(*x, 1), dims[2] = {limit, d};
        nn_tensor *t = NULL;
        if (nn_tensor_create(&t, 2, dims) != NN_OK ||
            nn_tensor_copy_from(t, nn_tensor_data(*x), limit * d) != NN_OK) {
            lib_error("keeping the first rows");
            nn_tensor_destroy(t);
            return -1;
        }
        nn_tensor_destroy(*x);
        *x = t;
        *n = limit;
    }
    return 0;
}

/* Would fopen(path, "w") succeed? Checked before training, not after it. */
static int can_write(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if ((size_t)(slash - path) >= sizeof dir)
        return 1; /* let fopen() judge */
    else
        snprintf(dir, sizeof dir, "%.*s", slash == path ? 1 : (int)(slash - path), path);
    if (access(path, F_OK) == 0)
        return access(path, W_OK) == 0;
    return access(dir, W_OK | X_OK) == 0;
}

static int64_t argmax(const float *p, int n)
{
    int64_t best = 0;
    for (int k = 1; k < n; k++)
        best = p[k] > p[best] ? k : best;
    return best;
}

static void format_rate(char *buf, size_t cap, double per_s)
{
    if (per_s >= 1e6)
        snprintf(buf, cap, "%.2fM", per_s / 1e6);
    else if (per_s >= 1e3)
        snprintf(buf, cap, "%.1fk", per_s / 1e3);
    else
        snprintf(buf, cap, "%.0f", per_s);
}

static void format_duration(char *buf, size_t cap, double s)
{
    long t = s > 0 && s < 1e9 ? (long)(s + 0.5) : 0;
    if (t < 60)
        snprintf(buf, cap, "%lds", t);
    else if (t < 3600)
        snprintf(buf, cap, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, cap, "%ldh%02ldm", t / 3600, t / 60 % 60);
}

/* One progress-bar line, redrawn in place. */
static void draw_bar(long epoch, long epochs, int64_t step, int64_t steps, double loss_mean,
                     int64_t acc_correct, int64_t acc_seen, int64_t images, double elapsed)
{
    enum { WIDTH = 20 };
    char bar[WIDTH + 1], rate[32], eta[32], acc[32] = "";
    int fill = (int)(WIDTH * step / steps);
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    double per_s = elapsed > 0 ? (double)images / elapsed : 0.0;
    format_rate(rate, sizeof rate, per_s);
    format_duration(eta, sizeof eta, step > 0 ? elapsed * (double)(steps - step) / (double)step : 0);
    if (acc_seen > 0)
        snprintf(acc, sizeof acc, "  acc %.1f%%", 100.0 * (double)acc_correct / (double)acc_seen);
    printf("\repoch %ld/%ld [%s] %" PRId64 "/%" PRId64 "  loss %.4f%s  %s img/s  ETA %s\033[K",
           epoch, epochs, bar, step, steps, loss_mean, acc, rate, eta);
    fflush(stdout);
}

static void print_confusion(const int64_t cm[NCLASSES][NCLASSES], const char *const *names,
                            int fashion)
{
    char label[NCLASSES][32];
    int w = 0;
    for (int t = 0; t < NCLASSES; t++) {
        if (fashion)
            snprintf(label[t], sizeof label[t], "%d %s", t, names[t]);
        else
            snprintf(label[t], sizeof label[t], "%s", names[t]);
        int len = (int)strlen(label[t]);
        w = len > w ? len : w;
    }
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", w + 1, "");
    for (int p = 0; p < NCLASSES; p++)
        printf("%6d", p);
    printf("   correct\n");
    for (int t = 0; t < NCLASSES; t++) {
        int64_t row = 0;
        printf("%-*s ", w, label[t]);
        for (int p = 0; p < NCLASSES; p++) {
            printf("%6" PRId64, cm[t][p]);
            row += cm[t][p];
        }
        if (row > 0)
            printf("   %6.1f%%\n", 100.0 * (double)cm[t][t] / (double)row);
        else
            printf("   %7s\n", "-");
    }
    printf("\n");
}

/* ------------------------------------------------------------------- main */

int main(int argc, char **argv)
{
    double t_start = now();
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    if (o.help) {
        usage(stdout);
        return 0;
    }

    rc = 1;
    nn_tensor *xtr = NULL, *xte = NULL, *xb = NULL, *xrag = NULL, *pb = NULL, *prag = NULL;
    nn_tensor *xe = NULL, *pe = NULL;
    int32_t *ytr = NULL, *yte = NULL, *yb = NULL;
    int64_t *perm = NULL;
    double *hist = NULL;
    nn_graph *g = NULL;
    nn_optimizer *opt = NULL;
    FILE *logf = NULL;
    int64_t ntr = 0, nte = 0;
    const int fashion = contains_nocase(o.data, "fashion");
    const char *const *names = fashion ? fashion_names : digit_names;
    const int show_bar = !o.quiet && isatty(STDOUT_FILENO);

    if (o.threads > 0 && nn_set_num_threads((int)o.threads) != NN_OK) {
        lib_error("--threads");
        goto done;
    }
    /* Output paths are checked before the data is read and the network trained. */
    if (o.log && !can_write(o.log)) {
        fprintf(stderr, PROG ": --log: cannot write '%s': %s\n", o.log, strerror(errno));
        goto done;
    }
    if (o.plot && !can_write(o.plot)) {
        fprintf(stderr, PROG ": --plot: cannot write '%s': %s\n", o.plot, strerror(errno));
        goto done;
    }

    if (load_split(o.data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", o.train_limit,
                   &xtr, &ytr, &ntr) ||
        load_split(o.data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", o.test_limit,
                   &xte, &yte, &nte))
        goto done;
    const int64_t in = nn_tensor_dim(xtr, 1);
    if (nn_tensor_dim(xte, 1) != in) {
        fprintf(stderr, PROG ": test images have %" PRId64 " pixels, training images %" PRId64 "\n",
                nn_tensor_dim(xte, 1), in);
        goto done;
    }

    /* The network: in -> hidden ReLU [-> dropout] -> 10 -> softmax cross-entropy,
     * or the one in the checkpoint. */
    if (o.resume) {
        if (nn_graph_load(&g, o.resume) != NN_OK) {
            lib_error("--resume");
            goto done;
        }
        if (nn_graph_in_features(g) != in || nn_graph_out_features(g) != NCLASSES) {
            fprintf(stderr, PROG ": --resume: '%s' is a %" PRId64 "-...-%" PRId64
                    " network, the data needs %" PRId64 "-...-%d\n", o.resume,
                    nn_graph_in_features(g), nn_graph_out_features(g), in, NCLASSES);
            goto done;
        }
    } else if (nn_graph_create(&g, in) != NN_OK || nn_graph_add_dense(g, o.hidden) != NN_OK ||
        nn_graph_add_activation(g, NN_ACT_RELU) != NN_OK ||
        (o.dropout > 0.0 && nn_graph_add_dropout(g, (float)o.dropout) != NN_OK) ||
        nn_graph_add_dense(g, NCLASSES) != NN_OK ||
        nn_graph_add_softmax_cross_entropy(g) != NN_OK ||
        nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, o.seed) != NN_OK) {
        lib_error("building the network");
        goto done;
    }
    /* not stored in models: a resumed run needs --precision again */
    if (o.precision != NN_PRECISION_F32 &&
        nn_graph_set_training_precision(g, o.precision) != NN_OK) {
        lib_error("--precision");
        goto done;
    }
    nn_status s;
    switch (o.optimizer) {
    case OPT_ADAM: s = nn_adam_create(&opt, g, (float)o.lr); break;
    case OPT_ADAMW: s = nn_adamw_create(&opt, g, (float)o.lr, (float)o.weight_decay); break;
    default: s = nn_sgd_create(&opt, g, (float)o.lr); break;
    }
    if (s == NN_OK && o.optimizer == OPT_SGD && o.momentum > 0.0)
        s = nn_sgd_set_momentum(opt, (float)o.momentum, 0);
    if (s == NN_OK && o.optimizer != OPT_ADAMW && o.weight_decay > 0.0)
        s = nn_optimizer_set_weight_decay(opt, (float)o.weight_decay);
    if (s != NN_OK) {
        lib_error("creating the optimizer");
        goto done;
    }
    char opt_path[4096];
    if (o.resume) {
        snprintf(opt_path, sizeof opt_path, "%s.opt", o.resume);
        if (nn_optimizer_load(opt, opt_path) != NN_OK) {
            lib_error("--resume");
            goto done;
        }
    }

    /* Everything the training loop touches, made once. */
    const int64_t batch = o.batch < ntr ? o.batch : ntr;
    const int64_t steps = (ntr + batch - 1) / batch, rag = ntr % batch;
    /* ...but at least 20 samples per epoch, so short epochs get a useful figure */
    const int64_t acc_every = steps >= 20 * ACC_EVERY ? ACC_EVERY : steps >= 20 ? steps / 20 : 1;
    {
        int64_t xd[2] = {batch, in}, pd[2] = {batch, NCLASSES};
        int64_t xrd[2] = {rag, in}, prd[2] = {rag, NCLASSES};
        /* batch tensors only for the bar's running accuracy */
        if ((show_bar && nn_tensor_create(&xb, 2, xd) != NN_OK) ||
            (show_bar && rag && nn_tensor_create(&xrag, 2, xrd) != NN_OK) ||
            (show_bar && nn_tensor_create(&pb, 2, pd) != NN_OK) ||
            (show_bar && rag && nn_tensor_create(&prag, 2, prd) != NN_OK)) {
            lib_error("allocating batches");
            goto done;
        }
    }
    yb = malloc((size_t)batch * sizeof *yb);
    perm = malloc((size_t)ntr * sizeof *perm);
    hist = malloc((size_t)o.epochs * 6 * sizeof *hist);
    if (!yb || !perm || !hist) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    double *h_epoch = hist, *h_trl = hist + o.epochs, *h_tra = hist + 2 * o.epochs,
           *h_tel = hist + 3 * o.epochs, *h_tea = hist + 4 * o.epochs, *h_sec = hist + 5 * o.epochs;
    for (int64_t i = 0; i < ntr; i++)
        perm[i] = i;
    uint64_t rng = o.seed ^ UINT64_C(0x5eed5eed5eed5eed);
    /* A checkpoint is taken after whole epochs; its step count says how many. */
    long first_epoch = 1;
    if (o.resume) {
        int64_t done_steps = nn_optimizer_step_count(opt);
        if (done_steps % steps != 0) {
            fprintf(stderr, PROG ": --resume: %" PRId64 " steps is not a whole number of epochs of %"
                    PRId64 " steps: were --batch or the data different?\n", done_steps, steps);
            goto done;
        }
        first_epoch = (long)(done_steps / steps) + 1;
        for (long e = 1; e < first_epoch; e++) /* the same order an unbroken run had */
            shuffle(perm, ntr, &rng);
        if (!o.quiet)
            printf("resuming from %s after epoch %ld\n", o.resume, first_epoch - 1);
    }

    if (!o.quiet) {
        printf("%s from %s: %" PRId64 " training, %" PRId64 " test images\n",
               fashion ? "Fashion-MNIST" : "MNIST", o.data, ntr, nte);
        printf("network %" PRId64 "-%ld-%d ReLU%s, %s lr %g", in, o.hidden, NCLASSES,
               o.dropout > 0 ? " + dropout" : "", opt_names[o.optimizer], o.lr);
        if (o.momentum > 0)
            printf(" momentum %g", o.momentum);
        if (o.weight_decay > 0)
            printf(" weight decay %g", o.weight_decay);
        if (o.precision != NN_PRECISION_F32)
            printf(", %s products", precision_names[o.precision]);
        printf(", batch %" PRId64 ", %ld epoch%s, seed %" PRIu64 ", %d thread%s\n", batch, o.epochs, o.epochs == 1 ? "" : "s",
               o.seed, nn_get_num_threads(), nn_get_num_threads() == 1 ? "" : "s");
        fflush(stdout);
    }

    if (o.log) {
        logf = fopen(o.log, "w");
        if (!logf) {
            fprintf(stderr, PROG ": --log: cannot write '%s': %s\n", o.log, strerror(errno));
            goto done;
        }
        fprintf(logf, "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n");
        fflush(logf);
    }

    const float *src = nn_tensor_data(xtr);
    double train_seconds = 0.0;
    for (long epoch = first_epoch; epoch <= o.epochs; epoch++) {
        shuffle(perm, ntr, &rng);
        double t0 = now(), last_draw = t0, loss_sum = 0.0;
        int64_t seen = 0, acc_correct = 0, acc_seen = 0;
        for (int64_t step = 0; step < steps; step++) {
            const int64_t r0 = step * batch, m = ntr - r0 < batch ? ntr - r0 : batch;
            if (show_bar && step % acc_every == 0) {
                /* Running accuracy for the bar: this batch, before it is
                 * learned (inference needs the rows in one tensor). */
                nn_tensor *x = m == batch ? xb : xrag;
                float *dst = nn_tensor_data(x);
                for (int64_t k = 0; k < m; k++) {
                    const int64_t r = perm[r0 + k];
                    memcpy(dst + k * in, src + r * in, (size_t)in * sizeof *dst);
                    yb[k] = ytr[r];
                }
                nn_tensor *p = m == batch ? pb : prag;
                if (nn_graph_forward(g, x, p) != NN_OK) {
                    printf("\n");
                    lib_error("forward pass");
                    goto done;
                }
                const float *pr = nn_tensor_data(p);
                for (int64_t k = 0; k < m; k++)
                    acc_correct += argmax(pr + k * NCLASSES, NCLASSES) == yb[k];
                acc_seen += m;
            }
            /* The step reads the shuffled rows where they lie. */
            float loss;
            if (nn_graph_train_step_rows(g, opt, xtr, ytr, perm + r0, m, &loss) != NN_OK) {
                if (show_bar)
                    printf("\n");
                lib_error("training step");
                goto done;
            }
            loss_sum += (double)loss * (double)m;
            seen += m;
            if (show_bar) {
                double t = now();
                if (t - last_draw >= 0.1 || step + 1 == steps) {
                    draw_bar(epoch, o.epochs, step + 1, steps, loss_sum / (double)seen,
                             acc_correct, acc_seen, seen, t - t0);
                    last_draw = t;
                }
            }
        }
        const double secs = now() - t0;
        train_seconds += secs;

        float trl, tra, tel, tea;
        if (nn_graph_evaluate(g, xtr, ytr, &trl, &tra) != NN_OK ||
            nn_graph_evaluate(g, xte, yte, &tel, &tea) != NN_OK) {
            if (show_bar)
                printf("\n");
            lib_error("evaluating");
            goto done;
        }
        const int i = (int)(epoch - first_epoch);
        h_epoch[i] = (double)epoch;
        h_trl[i] = trl;
        h_tra[i] = tra;
        h_tel[i] = tel;
        h_tea[i] = tea;
        h_sec[i] = secs;
        if (!o.quiet) {
            printf("%sepoch %ld/%ld  train loss %.4f acc %.2f%%  test loss %.4f acc %.2f%%  %.2f s\n",
                   show_bar ? "\r\033[K" : "", epoch, o.epochs, (double)trl, 100.0 * tra,
                   (double)tel, 100.0 * tea, secs);
            fflush(stdout);
        }
        if (logf) {
            fprintf(logf, "%ld,%.6f,%.6f,%.6f,%.6f,%.4f\n", epoch, (double)trl, (double)tra,
                    (double)tel, (double)tea, secs);
            fflush(logf);
        }
        if (o.save) {
            snprintf(opt_path, sizeof opt_path, "%s.opt", o.save);
            if (nn_graph_save(g, o.save) != NN_OK || nn_optimizer_save(opt, opt_path) != NN_OK) {
                lib_error("--save");
                goto done;
            }
        }
    }

    /* Predictions on the test set, PREDICT_BATCH rows at a time. */
    int64_t cm[NCLASSES][NCLASSES] = {{0}};
    const float *tsrc = nn_tensor_data(xte);
    for (int64_t r0 = 0; r0 < nte; r0 += PREDICT_BATCH) {
        const int64_t m = nte - r0 < PREDICT_BATCH ? nte - r0 : PREDICT_BATCH;
        if (!xe || nn_tensor_dim(xe, 0) != m) { /* the first batch, and a ragged last one */
            int64_t xd[2] = {m, in}, pd[2] = {m, NCLASSES};
            nn_tensor_destroy(xe);
            nn_tensor_destroy(pe);
            xe = pe = NULL;
            if (nn_tensor_create(&xe, 2, xd) != NN_OK || nn_tensor_create(&pe, 2, pd) != NN_OK) {
                lib_error("allocating the test batch");
                goto done;
            }
        }
        if (nn_tensor_copy_from(xe, tsrc + r0 * in, m * in) != NN_OK ||
            nn_graph_forward(g, xe, pe) != NN_OK) {
            lib_error("predicting the test set");
            goto done;
        }
        const float *pr = nn_tensor_data(pe);
        for (int64_t k = 0; k < m; k++)
            cm[yte[r0 + k]][argmax(pr + k * NCLASSES, NCLASSES)]++;
    }
    int64_t correct = 0;
    for (int c = 0; c < NCLASSES; c++)
        correct += cm[c][c];
    printf("%stest accuracy: %.2f%%\n", o.quiet ? "" : "\n", 100.0 * (double)correct / (double)nte);
    if (!o.quiet)
        print_confusion((const int64_t(*)[NCLASSES])cm, names, fashion);

    if (o.plot && first_epoch > o.epochs) {
        fprintf(stderr, PROG ": --plot: no epoch was trained (the checkpoint already has %ld)\n",
                first_epoch - 1);
    } else if (o.plot) {
        char title[256];
        snprintf(title, sizeof title, "%s: %" PRId64 "-%ld-%d ReLU, %s lr %g, batch %" PRId64,
                 fashion ? "Fashion-MNIST" : "MNIST", in, o.hidden, NCLASSES,
                 opt_names[o.optimizer], o.lr, batch);
        if (plot_curves_svg(o.plot, title, (int)(o.epochs - first_epoch + 1), h_epoch, h_trl, h_tel,
                            h_tra, h_tea)) {
            fprintf(stderr, PROG ": --plot: cannot write '%s': %s\n", o.plot, strerror(errno));
            goto done;
        }
    }
    if (logf) {
        int bad = ferror(logf);
        FILE *f = logf;
        logf = NULL;
        if (fclose(f) != 0 || bad) {
            fprintf(stderr, PROG ": --log: cannot write '%s'\n", o.log);
            goto done;
        }
    }
    if (!o.quiet)
        printf("total time: %.1f s (training %.1f s)\n", now() - t_start, train_seconds);
    rc = 0;

done:
    if (logf)
        fclose(logf);
    free(hist);
    free(perm);
    free(yb);
    nn_tensor_destroy(pe);
    nn_tensor_destroy(xe);
    nn_tensor_destroy(prag);
    nn_tensor_destroy(pb);
    nn_tensor_destroy(xrag);
    nn_tensor_destroy(xb);
    nn_optimizer_destroy(opt);
    nn_graph_destroy(g);
    nn_tensor_destroy(xte);
    nn_tensor_destroy(xtr);
    nn_idx_free_labels(yte);
    nn_idx_free_labels(ytr);
    return rc;
}
