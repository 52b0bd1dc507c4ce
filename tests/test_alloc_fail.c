/* Allocation-failure injection: every libnn allocation a scenario makes is
 * failed in turn (core.h's nn_mem_fail_at(k), k = 1, 2, ... until the
 * scenario runs without reaching the k-th allocation). Each call must then
 * give NN_OK or NN_ERR_OUT_OF_MEMORY; the failed call, retried with
 * injection off, must succeed; and the scenario's results must be bitwise
 * those of a run without any failure, so a failed call changed nothing.
 * Leaks on the failure paths are LeakSanitizer's to find (run this suite in
 * the ASan build). oneDNN's own allocations are not hooked.
 *
 * Internal: links the static archive for the allocation hook. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/nn.h>
#include "core/core.h"
#include "test_main.h"

/* ---- the injection state of the current run ---- */

static struct {
    long k;             /* allocation to fail, 0 for the reference run */
    int hit;            /* a call reported the injected failure */
    long made;          /* allocations made when no failure was hit */
    int line;           /* where the failure surfaced */
    char msg[256];      /* its nn_last_error() */
    int unnamed;        /* the message did not start with the function's name */
} cur;

static void inject_begin(void)
{
    nn_mem_fail_at(cur.k);
}

static void inject_end(void)
{
    long made = nn_mem_fail_at(0);
    if (!cur.hit)
        cur.made = made;
}

/* The function a CALL expression calls: its text up to the '('. */
static int names_function(const char *expr, const char *msg)
{
    size_t n = strcspn(expr, "(");
    return strncmp(msg, expr, n) == 0 && msg[n] == ':';
}

/* Runs a libnn call; on NN_ERR_OUT_OF_MEMORY records the failure point,
 * runs on_oom (checks that nothing was returned), turns injection off and
 * retries, which must succeed. */
#define CALL2(expr, on_oom)                                                               \
    do {                                                                                  \
        nn_status s_ = (expr);                                                            \
        if (s_ == NN_ERR_OUT_OF_MEMORY && cur.k > 0) {                                    \
            ck_assert_msg(!cur.hit, "k %ld: a second failure at line %d", cur.k, __LINE__); \
            cur.hit = 1;                                                                  \
            cur.line = __LINE__;                                                          \
            snprintf(cur.msg, sizeof cur.msg, "%s", nn_last_error());                     \
            ck_assert_msg(cur.msg[0] != '\0', "k %ld: %s: no error detail", cur.k, #expr); \
            cur.unnamed = !names_function(#expr, cur.msg);                                \
            on_oom;                                                                       \
            nn_mem_fail_at(0);                                                            \
            s_ = (expr);                                                                  \
        }                                                                                 \
        ck_assert_msg(s_ == NN_OK, "k %ld: %s (line %d) gave %s: %s", cur.k, #expr,       \
                      __LINE__, nn_status_str(s_), nn_last_error());                      \
    } while (0)
#define CALL(expr) CALL2(expr, (void)0)

/* For a call that returns an object through ptr: on failure ptr keeps the
 * sentinel it was given. */
#define SENTINEL ((void *)0x5e47)
#define CALL_OUT(ptr, expr)                                                               \
    do {                                                                                  \
        ptr = SENTINEL;                                                                   \
        CALL2(expr, ck_assert_msg((void *)(ptr) == SENTINEL,                              \
                                  "k %ld: %s wrote its out-parameter on failure", cur.k,  \
                                  #expr));                                                \
    } while (0)

/* ---- digests: every scenario hashes its results ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    if (h == 0)
        h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t fnv_tensor(uint64_t h, nn_tensor *t)
{
    int nd = nn_tensor_ndim(t);
    h = fnv(h, &nd, sizeof nd);
    for (int a = 0; a < nd; a++) {
        int64_t d = nn_tensor_dim(t, a);
        h = fnv(h, &d, sizeof d);
    }
    return fnv(h, nn_tensor_data(t), (size_t)nn_tensor_numel(t) * sizeof(float));
}

/* Every parameter and gradient of g. */
static uint64_t fnv_graph(uint64_t h, nn_graph *g)
{
    int n = nn_graph_param_count(g);
    int64_t io[2] = {nn_graph_in_features(g), nn_graph_out_features(g)};
    h = fnv(h, &n, sizeof n);
    h = fnv(h, io, sizeof io);
    for (int i = 0; i < n; i++) {
        nn_tensor *v = NULL, *gr = NULL;
        ck_assert_int_eq(nn_graph_param(g, i, &v, &gr), NN_OK);
        h = fnv_tensor(h, v);
        h = fnv_tensor(h, gr);
    }
    return h;
}

/* ---- test data ---- */

static unsigned long long lcg_state;

static float urand(void) /* uniform in [-1, 1) */
{
    lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(lcg_state >> 11) * 0x1.0p-52 - 1.0);
}

static nn_tensor *make_x(int64_t n, int64_t in, unsigned long long seed)
{
    nn_tensor *x = NULL;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, in}), NN_OK);
    lcg_state = seed;
    for (int64_t k = 0; k < n * in; k++)
        nn_tensor_data(x)[k] = urand();
    return x;
}

static void make_labels(int32_t *y, int64_t n, int classes)
{
    for (int64_t r = 0; r < n; r++)
        y[r] = (int32_t)((r * 7 + 3) % classes);
}

/* A graph built with injection off. relu: a ReLU MLP for the threaded
 * executor; otherwise sigmoid and GELU and, to pass the threaded
 * executor's limit of 64 dense layers, 62 more small dense+tanh layers, so the
 * graph runs on oneDNN primitives. */
static nn_graph *mlp(int relu)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, 20), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 130), NN_OK); /* three 64-column chunks */
    if (relu) {
        ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
        ck_assert_int_eq(nn_graph_add_dropout(g, 0.1f), NN_OK);
        ck_assert_int_eq(nn_graph_add_dense(g, 70), NN_OK);
        ck_assert_int_eq(nn_graph_add_leaky_relu(g, 0.05f), NN_OK);
    } else {
        ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_SIGMOID), NN_OK);
        ck_assert_int_eq(nn_graph_add_dense(g, 70), NN_OK);
        ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_GELU), NN_OK);
        ck_assert_int_eq(nn_graph_add_dropout(g, 0.1f), NN_OK);
        for (int k = 0; k < 62; k++) {
            ck_assert_int_eq(nn_graph_add_dense(g, 6), NN_OK);
            ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_OK);
        }
    }
    ck_assert_int_eq(nn_graph_add_dense(g, 5), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_HE_UNIFORM, 11), NN_OK);
    return g;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/nn_test_alloc_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static const char *tmp_path(const char *name)
{
    static char p[4][384];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                unlink(tmp_path(e->d_name));
        closedir(d);
    }
    rmdir(tmpdir);
}

/* ---- scenarios: each returns the digest of its results ---- */

/* Creating graphs and adding every layer kind (more than the layer list's
 * first capacity of 8), then initialising. */
static uint64_t scenario_build(void)
{
    nn_graph *g = NULL, *m = NULL;
    inject_begin();
    CALL_OUT(g, nn_graph_create(&g, 6));
    CALL(nn_graph_add_dense(g, 16));
    CALL(nn_graph_add_activation(g, NN_ACT_RELU));
    CALL(nn_graph_add_leaky_relu(g, 0.1f));
    CALL(nn_graph_add_dropout(g, 0.25f));
    CALL(nn_graph_add_dense(g, 12));
    CALL(nn_graph_add_activation(g, NN_ACT_SIGMOID));
    CALL(nn_graph_add_activation(g, NN_ACT_TANH));
    CALL(nn_graph_add_activation(g, NN_ACT_GELU));
    CALL(nn_graph_add_dense(g, 8));
    CALL(nn_graph_add_dropout(g, 0.0f));
    CALL(nn_graph_add_dense(g, 4));
    CALL(nn_graph_add_softmax_cross_entropy(g));
    CALL(nn_graph_init_params(g, NN_INIT_HE_NORMAL, 7));
    CALL_OUT(m, nn_graph_create(&m, 3));
    CALL(nn_graph_add_dense(m, 2));
    CALL(nn_graph_add_mse_loss(m));
    inject_end();

    ck_assert_int_eq(nn_graph_param_count(g), 8);
    ck_assert_int_eq(nn_graph_out_features(g), 4);
    ck_assert_int_eq(nn_graph_param_count(m), 2);
    /* both work: a forward through each */
    nn_tensor *x = make_x(3, 6, 5), *y = NULL, *xm = make_x(2, 3, 6), *ym = NULL;
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){3, 4}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&ym, 2, (int64_t[]){2, 2}), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    ck_assert_int_eq(nn_graph_forward(m, xm, ym), NN_OK);
    ck_assert_float_eq_tol(nn_tensor_data(y)[0] + nn_tensor_data(y)[1] + nn_tensor_data(y)[2] +
                               nn_tensor_data(y)[3], 1.0f, 1e-5f);
    uint64_t h = fnv_graph(0, g);
    h = fnv_graph(h, m);
    h = fnv_tensor(h, y);
    h = fnv_tensor(h, ym);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_tensor_destroy(xm);
    nn_tensor_destroy(ym);
    nn_graph_destroy(g);
    nn_graph_destroy(m);
    return h;
}

/* After a scenario's training: o took steps steps, each loss[k] is
 * plausible; the digest of g's parameters and the losses. */
static uint64_t training_digest(nn_graph *g, nn_optimizer *o, const float *loss, int steps)
{
    ck_assert_int_eq(nn_optimizer_step_count(o), steps);
    for (int k = 0; k < steps; k++)
        ck_assert_msg(loss[k] > 0.0f && loss[k] < 10.0f, "loss[%d] = %g", k, (double)loss[k]);
    return fnv(fnv_graph(0, g), loss, (size_t)steps * sizeof *loss);
}

/* The first training calls on a fresh graph build its plans (and, on the
 * threaded executor, its thread pool): forward_loss, backward, a step, the
 * fused train step, a second batch size, explicit targets, and the unfused
 * step that clipping takes. */
static uint64_t first_training(int relu)
{
    nn_graph *g = mlp(relu);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.05f), NN_OK);
    ck_assert_int_eq(nn_sgd_set_momentum(o, 0.9f, 1), NN_OK);
    nn_tensor *x32 = make_x(32, 20, 1), *x16 = make_x(16, 20, 2), *t16 = NULL;
    ck_assert_int_eq(nn_tensor_create(&t16, 2, (int64_t[]){16, 5}), NN_OK);
    for (int r = 0; r < 16; r++)
        nn_tensor_data(t16)[r * 5 + r % 5] = 1.0f;
    int32_t y32[32], y16[16];
    make_labels(y32, 32, 5);
    make_labels(y16, 16, 5);
    float loss[6] = {0};

    inject_begin();
    CALL(nn_graph_forward_loss(g, x32, y32, &loss[0]));
    CALL(nn_graph_backward(g));
    CALL(nn_optimizer_step(o));
    CALL(nn_graph_train_step(g, o, x32, y32, &loss[1]));
    CALL(nn_graph_train_step(g, o, x16, y16, &loss[2]));
    CALL(nn_graph_forward_loss_targets(g, x16, t16, &loss[3]));
    CALL(nn_graph_backward(g));
    CALL(nn_optimizer_step(o));
    CALL(nn_optimizer_set_clip_norm(o, 0.5f));
    CALL(nn_graph_train_step(g, o, x32, y32, &loss[4]));
    inject_end();

    /* still trains */
    ck_assert_int_eq(nn_graph_train_step(g, o, x32, y32, &loss[5]), NN_OK);
    uint64_t h = training_digest(g, o, loss, 6);
    nn_tensor_destroy(x32);
    nn_tensor_destroy(x16);
    nn_tensor_destroy(t16);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    return h;
}

static uint64_t scenario_train_relu(void)
{
    return first_training(1);
}

static uint64_t scenario_train_sigmoid(void)
{
    return first_training(0);
}

/* The first nn_graph_train_step_rows calls on a fresh graph: the threads
 * gather the rows on a pool that does not exist yet, then the plan is
 * built; then a batch of 8 rows (gathered by the caller alone). */
static uint64_t scenario_train_rows(void)
{
    nn_graph *g = mlp(1);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    nn_tensor *data = make_x(100, 20, 3);
    int32_t y[100];
    make_labels(y, 100, 5);
    int64_t rows[32];
    for (int k = 0; k < 32; k++)
        rows[k] = (k * 37) % 100;
    float loss[3] = {0};

    inject_begin();
    CALL(nn_graph_train_step_rows(g, o, data, y, rows, 32, &loss[0]));
    CALL(nn_graph_train_step_rows(g, o, data, y, rows + 3, 8, &loss[1]));
    inject_end();

    ck_assert_int_eq(nn_graph_train_step_rows(g, o, data, y, rows, 32, &loss[2]), NN_OK);
    uint64_t h = training_digest(g, o, loss, 3);
    nn_tensor_destroy(data);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    return h;
}

/* The first inference calls: forward on two batch sizes and evaluation over
 * 600 rows (two internal batch sizes), on both executors. */
static uint64_t scenario_inference(void)
{
    nn_graph *g[2] = {mlp(1), mlp(0)};
    nn_tensor *x7 = make_x(7, 20, 3), *x600 = make_x(600, 20, 4), *y7[2] = {NULL, NULL};
    nn_tensor *x1 = make_x(1, 20, 5), *y1[2] = {NULL, NULL};
    int32_t y600[600];
    make_labels(y600, 600, 5);
    float loss[2] = {0}, acc[2] = {0};
    for (int j = 0; j < 2; j++) {
        ck_assert_int_eq(nn_tensor_create(&y7[j], 2, (int64_t[]){7, 5}), NN_OK);
        ck_assert_int_eq(nn_tensor_create(&y1[j], 2, (int64_t[]){1, 5}), NN_OK);
    }

    inject_begin();
    for (int j = 0; j < 2; j++) {
        CALL(nn_graph_forward(g[j], x7, y7[j]));
        CALL(nn_graph_forward(g[j], x1, y1[j]));
        CALL(nn_graph_evaluate(g[j], x600, y600, &loss[j], &acc[j]));
    }
    inject_end();

    uint64_t h = fnv(0, loss, sizeof loss);
    h = fnv(h, acc, sizeof acc);
    for (int j = 0; j < 2; j++) {
        ck_assert_float_gt(loss[j], 0.0f);
        ck_assert_float_ge(acc[j], 0.0f);
        ck_assert_float_le(acc[j], 1.0f);
        float sum = 0.0f;
        for (int c = 0; c < 5; c++)
            sum += nn_tensor_data(y1[j])[c];
        ck_assert_float_eq_tol(sum, 1.0f, 1e-5f);
        h = fnv_tensor(h, y7[j]);
        h = fnv_tensor(h, y1[j]);
        nn_tensor_destroy(y7[j]);
        nn_tensor_destroy(y1[j]);
        nn_graph_destroy(g[j]);
    }
    nn_tensor_destroy(x7);
    nn_tensor_destroy(x1);
    nn_tensor_destroy(x600);
    return h;
}

/* Five optimizers on one graph (more than the graph's first four watcher
 * slots), every kind, then a step with each. */
static uint64_t scenario_optimizers(void)
{
    nn_graph *g = mlp(1);
    nn_optimizer *o[5] = {NULL};
    inject_begin();
    CALL_OUT(o[0], nn_sgd_create(&o[0], g, 0.1f));
    CALL_OUT(o[1], nn_adam_create(&o[1], g, 0.01f));
    CALL_OUT(o[2], nn_adamw_create(&o[2], g, 0.01f, 0.1f));
    CALL_OUT(o[3], nn_sgd_create(&o[3], g, 0.05f));
    CALL_OUT(o[4], nn_adam_create(&o[4], g, 0.02f));
    CALL(nn_sgd_set_momentum(o[3], 0.5f, 0));
    CALL(nn_adam_set_betas(o[4], 0.8f, 0.99f));
    inject_end();

    nn_tensor *x = make_x(8, 20, 9);
    int32_t y[8];
    make_labels(y, 8, 5);
    float loss = 0.0f;
    for (int j = 0; j < 5; j++) {
        ck_assert_int_eq(nn_graph_forward_loss(g, x, y, &loss), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        ck_assert_int_eq(nn_optimizer_step(o[j]), NN_OK);
        ck_assert_int_eq(nn_optimizer_step_count(o[j]), 1);
    }
    /* all five are still watching: destroying the graph first is noticed */
    uint64_t h = fnv_graph(0, g);
    nn_graph_destroy(g);
    for (int j = 0; j < 5; j++) {
        ck_assert_int_eq(nn_optimizer_step(o[j]), NN_ERR_STATE);
        nn_optimizer_destroy(o[j]);
    }
    nn_tensor_destroy(x);
    return h;
}

/* Model and optimizer files, in memory and on disk. A failed save leaves
 * nothing behind (no temporary file, no target). */
static uint64_t scenario_files(void)
{
    nn_graph *g = mlp(1), *h1 = NULL, *h2 = NULL;
    nn_optimizer *o = NULL, *o2 = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 0.01f), NN_OK);
    nn_tensor *x = make_x(8, 20, 10);
    int32_t y[8];
    make_labels(y, 8, 5);
    ck_assert_int_eq(nn_graph_train_step(g, o, x, y, NULL), NN_OK);
    void *buf = NULL;
    size_t size = 0;
    make_tmpdir();
    const char *gp = tmp_path("g.nnm"), *op = tmp_path("o.nno");

    inject_begin();
    CALL2(nn_graph_save_buffer(g, &buf, &size), ck_assert_ptr_null(buf));
    CALL_OUT(h1, nn_graph_load_buffer(&h1, buf, size));
    CALL2(nn_graph_save(g, gp), ck_assert_int_eq(count_entries(tmpdir), 0));
    CALL_OUT(h2, nn_graph_load(&h2, gp));
    CALL2(nn_optimizer_save(o, op), ck_assert_int_eq(count_entries(tmpdir), 1));
    CALL_OUT(o2, nn_adam_create(&o2, h2, 0.5f));
    CALL(nn_optimizer_load(o2, op));
    inject_end();

    ck_assert_int_eq(count_entries(tmpdir), 2);
    ck_assert_float_eq(nn_optimizer_lr(o2), 0.01f);
    ck_assert_int_eq(nn_optimizer_step_count(o2), 1);
    /* the copies continue exactly as the original */
    float l0 = 0, l2 = 0;
    ck_assert_int_eq(nn_graph_train_step(g, o, x, y, &l0), NN_OK);
    ck_assert_int_eq(nn_graph_train_step(h2, o2, x, y, &l2), NN_OK);
    ck_assert_float_eq(l0, l2);
    uint64_t hg = fnv_graph(0, g);
    ck_assert_uint_eq(fnv_graph(0, h2), hg);
    nn_tensor *p1 = NULL;
    ck_assert_int_eq(nn_tensor_create(&p1, 2, (int64_t[]){8, 5}), NN_OK);
    ck_assert_int_eq(nn_graph_forward(h1, x, p1), NN_OK);
    uint64_t h = fnv(hg, buf, size);
    h = fnv_tensor(h, p1);
    nn_tensor_destroy(p1);
    nn_free(buf);
    nn_tensor_destroy(x);
    nn_optimizer_destroy(o2);
    nn_optimizer_destroy(o);
    nn_graph_destroy(h2);
    nn_graph_destroy(h1);
    nn_graph_destroy(g);
    remove_tmpdir();
    return h;
}

/* A raw IDX file of the given rank and dims with bytes v(i) = (i * 37) % 256. */
static size_t make_idx(uint8_t **out, int rank, const uint32_t *dims)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++)
        n *= dims[i];
    size_t size = 4 + 4 * (size_t)rank + n;
    uint8_t *b = malloc(size);
    ck_assert_ptr_nonnull(b);
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = (uint8_t)rank;
    for (int i = 0; i < rank; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    for (size_t i = 0; i < n; i++)
        b[4 + 4 * (size_t)rank + i] = (uint8_t)((i * 37) % 256);
    *out = b;
    return size;
}

static void write_file(const char *path, const uint8_t *b, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(gzwrite(f, b, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(b, 1, n, f), n);
        ck_assert_int_eq(fclose(f), 0);
    }
}

/* IDX from buffers and from files, raw and gzip'd; the 100-image file
 * inflates past the reader's first 64 KiB buffer, so it grows. */
static uint64_t scenario_idx(void)
{
    uint8_t *ib = NULL, *lb = NULL, *big = NULL;
    size_t ni = make_idx(&ib, 3, (const uint32_t[]){5, 3, 4});
    size_t nl = make_idx(&lb, 1, (const uint32_t[]){5});
    size_t nb = make_idx(&big, 3, (const uint32_t[]){100, 28, 28});
    make_tmpdir();
    const char *pi = tmp_path("img"), *pl = tmp_path("lbl.gz"), *pb = tmp_path("big.gz");
    write_file(pi, ib, ni, 0);
    write_file(pl, lb, nl, 1);
    write_file(pb, big, nb, 1);
    nn_tensor *t = NULL, *x = NULL, *tb = NULL;
    int32_t *l = NULL, *y = NULL, *l2 = NULL;
    int64_t c1 = -1, c2 = -1, c3 = -1;

    inject_begin();
    CALL_OUT(t, nn_idx_images_from_buffer(&t, ib, ni, "img"));
    CALL_OUT(l, nn_idx_labels_from_buffer(&l, &c1, lb, nl, "lbl"));
    CALL2(nn_idx_load_pair(&x, &y, &c2, pi, pl), ck_assert(x == NULL && y == NULL && c2 == -1));
    CALL_OUT(tb, nn_idx_load_images(&tb, pb));
    CALL_OUT(l2, nn_idx_load_labels(&l2, &c3, pl));
    inject_end();

    ck_assert_int_eq(c1, 5);
    ck_assert_int_eq(c2, 5);
    ck_assert_int_eq(c3, 5);
    ck_assert_int_eq(nn_tensor_dim(tb, 0), 100);
    ck_assert_int_eq(nn_tensor_dim(tb, 1), 784);
    ck_assert_float_eq_tol(nn_tensor_data(tb)[1000], (float)((1000 * 37) % 256) / 255.0f, 1e-6f);
    ck_assert_int_eq(l[3], (3 * 37) % 256);
    ck_assert_mem_eq(nn_tensor_data(t), nn_tensor_data(x), 60 * sizeof(float));
    ck_assert_mem_eq(l, y, 5 * sizeof *l);
    ck_assert_mem_eq(l, l2, 5 * sizeof *l);
    uint64_t h = fnv_tensor(0, t);
    h = fnv_tensor(h, tb);
    h = fnv(h, l, 5 * sizeof *l);
    nn_tensor_destroy(t);
    nn_tensor_destroy(x);
    nn_tensor_destroy(tb);
    nn_idx_free_labels(l);
    nn_idx_free_labels(y);
    nn_idx_free_labels(l2);
    free(ib);
    free(lb);
    free(big);
    remove_tmpdir();
    return h;
}

/* ---- the driver ---- */

typedef struct scenario {
    const char *name;
    uint64_t (*run)(void);
} scenario;

static const scenario scenarios[] = {
    {"graph building", scenario_build},
    {"first training use, ReLU MLP (threaded executor)", scenario_train_relu},
    {"first training use, deep sigmoid MLP (oneDNN primitives)", scenario_train_sigmoid},
    {"first training use by row index", scenario_train_rows},
    {"first inference use", scenario_inference},
    {"optimizer creation", scenario_optimizers},
    {"saving and loading", scenario_files},
    {"IDX loading", scenario_idx},
};
enum { NSCENARIOS = sizeof scenarios / sizeof scenarios[0] };

/* Each forked test appends "points unnamed" to this file; the unchecked
 * teardown, in the parent, adds them up. */
static char tally_path[64];

static void tally_setup(void)
{
    snprintf(tally_path, sizeof tally_path, "%s", "/tmp/nn_alloc_tally_XXXXXX");
    int fd = mkstemp(tally_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void tally_teardown(void)
{
    FILE *f = fopen(tally_path, "r");
    long points = 0, unnamed = 0, p, u;
    int done = 0;
    while (f && fscanf(f, "%ld %ld", &p, &u) == 2) {
        points += p;
        unnamed += u;
        done++;
    }
    if (f)
        fclose(f);
    unlink(tally_path);
    printf("alloc-fail: %ld failure points exercised (%d of %d scenarios completed)\n", points,
           done, (int)NSCENARIOS);
    if (unnamed)
        printf("alloc-fail: %ld of them report a detail that does not start with the called "
               "function's name\n", unnamed);
    fflush(stdout);
}

/* Details must name the function called (docs/api-rules.md). Those that do
 * not are listed, once per distinct text, and fail the test when
 * NN_REQUIRE_NAMED_ERRORS=1 is in the environment. */
static char seen[32][256];
static int nseen;

static void note_unnamed(const char *scenario, long k, int line, const char *msg)
{
    char shape[256];
    size_t j = 0;
    for (const char *p = msg; *p && j + 1 < sizeof shape; p++)
        if (!(*p >= '0' && *p <= '9') || j == 0 || shape[j - 1] != '#')
            shape[j++] = *p >= '0' && *p <= '9' ? '#' : *p;
    shape[j] = '\0';
    for (int i = 0; i < nseen; i++)
        if (strcmp(seen[i], shape) == 0)
            return;
    if (nseen < 32)
        snprintf(seen[nseen++], sizeof seen[0], "%s", shape);
    printf("alloc-fail: %s: allocation %ld (line %d): detail does not name the function: "
           "\"%s\"\n", scenario, k, line, msg);
    const char *strict = getenv("NN_REQUIRE_NAMED_ERRORS");
    ck_assert_msg(!(strict && strcmp(strict, "1") == 0),
                  "allocation %ld (line %d): detail \"%s\" does not name the function", k, line,
                  msg);
}

START_TEST(each_allocation_fails_in_turn)
{
    const scenario *sc = &scenarios[_i];
    ck_assert_int_eq(nn_set_num_threads(2), NN_OK); /* a pool with a worker; fixed results */
    memset(&cur, 0, sizeof cur);
    uint64_t ref = sc->run();
    long total = cur.made;
    ck_assert_int_gt(total, 0);
    int points = 0, unnamed = 0;
    for (long k = 1;; k++) {
        ck_assert_msg(k <= total + 1, "%s: still failing at allocation %ld of %ld", sc->name, k,
                      total);
        memset(&cur, 0, sizeof cur);
        cur.k = k;
        uint64_t d = sc->run();
        if (cur.hit) {
            points++;
            if (cur.unnamed) {
                unnamed++;
                note_unnamed(sc->name, k, cur.line, cur.msg);
            }
        } else {
            /* allocation k was made and failed, yet no call said so */
            ck_assert_msg(cur.made < k, "%s: allocation %ld failed and no call reported it",
                          sc->name, k);
        }
        ck_assert_msg(d == ref, "%s: allocation %ld failed (line %d: %s); the results after "
                      "the retry differ from a run without failure", sc->name, k, cur.line,
                      cur.msg);
        if (!cur.hit)
            break;
    }
    ck_assert_int_eq(points, total);
    printf("alloc-fail: %s: %d failure points\n", sc->name, points);
    FILE *f = fopen(tally_path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%d %d\n", points, unnamed);
    fclose(f);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("alloc_fail");
    TCase *tc = tcase_create("alloc_fail");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, tally_setup, tally_teardown);
    tcase_add_loop_test(tc, each_allocation_fails_in_turn, 0, NSCENARIOS);
    suite_add_tcase(s, tc);
    return s;
}
