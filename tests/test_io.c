/* Model files and optimizer checkpoints: bit-identical round trips of every
 * layer kind and head, checkpoint resume equal to uninterrupted training,
 * every class of damaged file, bad paths and arguments, allocation
 * failures, and a replay of the fuzzing corpus. Internal: uses core.h's
 * allocation hook and the optimizer's state.
 *
 * The corpus lives under the source tree: the environment variable
 * NN_SOURCE_DIR, else the compile-time define of the same name, names it. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <nn/nn.h>
#include <nn/io.h>
#include "core/core.h"
#include "optim/optim_internal.h"
#include "test_main.h"

#ifndef NN_SOURCE_DIR
#  define NN_SOURCE_DIR ""
#endif

static char tmpdir[256];
static nn_graph *const UNTOUCHED_G = (nn_graph *)0x1;
static void *const UNTOUCHED_P = (void *)0x1;

static void setup(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s", "/tmp/nn_test_io_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* Removes tmpdir and everything in it, one level of subdirectories deep. */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[768];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (unlink(p) != 0 && errno == EISDIR)
                rmdir(p);
            else
                rmdir(p); /* Linux unlink gives EISDIR or EPERM on a directory */
        }
        closedir(d);
    }
    rmdir(dir);
}

static void teardown(void)
{
    remove_tree(tmpdir);
}

static const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* Number of entries in dir, "." and ".." aside. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static int contains(const char *s, const char *sub)
{
    return strstr(s, sub) != NULL;
}

#define ck_assert_error_has(sub)                                                          \
    ck_assert_msg(contains(nn_last_error(), (sub)), "last error \"%s\" lacks \"%s\"",     \
                  nn_last_error(), (sub))

/* A whole file, malloc'd; *n its size. */
static uint8_t *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(len > 0 ? (size_t)len : 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void spill(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* A tiny deterministic generator for test data. */
static unsigned long long tseed = 12345;
static float trand(void) /* uniform in [-1, 1) */
{
    tseed = tseed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(tseed >> 11) * 0x1.0p-52 - 1.0);
}

/* ---- graphs of every layer kind ---- */

enum { L_END, L_DENSE, L_RELU, L_LEAKY, L_SIGMOID, L_TANH, L_GELU, L_DROPOUT, L_SOFTMAX, L_MSE };

typedef struct lspec {
    int kind;
    double arg; /* dense units, leaky alpha, dropout rate */
} lspec;

typedef struct gspec {
    const char *name;
    int in;
    lspec l[8];
} gspec;

static const gspec variants[] = {
    {"dense, headless", 5, {{L_DENSE, 3}}},
    {"relu, softmax", 6, {{L_DENSE, 8}, {L_RELU, 0}, {L_DENSE, 4}, {L_SOFTMAX, 0}}},
    {"sigmoid, MSE", 4, {{L_DENSE, 7}, {L_SIGMOID, 0}, {L_DENSE, 2}, {L_MSE, 0}}},
    {"tanh, softmax", 3, {{L_DENSE, 5}, {L_TANH, 0}, {L_DENSE, 3}, {L_SOFTMAX, 0}}},
    {"gelu, softmax", 5, {{L_DENSE, 6}, {L_GELU, 0}, {L_DENSE, 3}, {L_SOFTMAX, 0}}},
    {"leaky relu, MSE", 4, {{L_DENSE, 6}, {L_LEAKY, 0.125}, {L_DENSE, 2}, {L_MSE, 0}}},
    {"dropout, softmax",
     6,
     {{L_DENSE, 16}, {L_RELU, 0}, {L_DROPOUT, 0.3}, {L_DENSE, 4}, {L_SOFTMAX, 0}}},
    {"dropout first, MSE", 5, {{L_DROPOUT, 0.5}, {L_DENSE, 4}, {L_TANH, 0}, {L_MSE, 0}}},
    {"chained activations, headless",
     4,
     {{L_DENSE, 6}, {L_GELU, 0}, {L_LEAKY, 0.2}, {L_SIGMOID, 0}, {L_DENSE, 3}, {L_TANH, 0}}},
    {"mnist-sized", 784, {{L_DENSE, 64}, {L_RELU, 0}, {L_DENSE, 10}, {L_SOFTMAX, 0}}},
    {"no parameters", 4, {{L_TANH, 0}}},
    {"no layers", 3, {{L_END, 0}}},
};
enum { NVARIANTS = sizeof variants / sizeof variants[0] };

static int spec_len(const gspec *v)
{
    int n = 0;
    while (n < 8 && v->l[n].kind != L_END)
        n++;
    return n;
}

static int spec_head(const gspec *v)
{
    int n = spec_len(v);
    return n ? v->l[n - 1].kind : L_END;
}

/* The graph of v with random weights and biases from seed. */
static nn_graph *build(const gspec *v, uint64_t seed)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, v->in), NN_OK);
    for (int i = 0, n = spec_len(v); i < n; i++) {
        const lspec *l = &v->l[i];
        nn_status s = NN_OK;
        switch (l->kind) {
        case L_DENSE: s = nn_graph_add_dense(g, (int64_t)l->arg); break;
        case L_RELU: s = nn_graph_add_activation(g, NN_ACT_RELU); break;
        case L_LEAKY: s = nn_graph_add_leaky_relu(g, (float)l->arg); break;
        case L_SIGMOID: s = nn_graph_add_activation(g, NN_ACT_SIGMOID); break;
        case L_TANH: s = nn_graph_add_activation(g, NN_ACT_TANH); break;
        case L_GELU: s = nn_graph_add_activation(g, NN_ACT_GELU); break;
        case L_DROPOUT: s = nn_graph_add_dropout(g, (float)l->arg); break;
        case L_SOFTMAX: s = nn_graph_add_softmax_cross_entropy(g); break;
        case L_MSE: s = nn_graph_add_mse_loss(g); break;
        }
        ck_assert_msg(s == NN_OK, "%s: layer %d: %s", v->name, i, nn_last_error());
    }
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_HE_NORMAL, seed), NN_OK);
    tseed = seed;
    for (int i = 1; i < nn_graph_param_count(g); i += 2) {
        nn_tensor *b;
        ck_assert_int_eq(nn_graph_param(g, i, &b, NULL), NN_OK);
        for (int64_t k = 0; k < nn_tensor_numel(b); k++)
            nn_tensor_data(b)[k] = 0.1f * trand();
    }
    return g;
}

static nn_tensor *random_tensor(int64_t rows, int64_t cols)
{
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_tensor_create(&t, 2, (int64_t[]){rows, cols}), NN_OK);
    for (int64_t k = 0; k < rows * cols; k++)
        nn_tensor_data(t)[k] = trand();
    return t;
}

static void assert_same_params(nn_graph *a, nn_graph *b)
{
    ck_assert_int_eq(nn_graph_in_features(a), nn_graph_in_features(b));
    ck_assert_int_eq(nn_graph_out_features(a), nn_graph_out_features(b));
    ck_assert_int_eq(nn_graph_param_count(a), nn_graph_param_count(b));
    for (int i = 0; i < nn_graph_param_count(a); i++) {
        nn_tensor *ta, *tb;
        ck_assert_int_eq(nn_graph_param(a, i, &ta, NULL), NN_OK);
        ck_assert_int_eq(nn_graph_param(b, i, &tb, NULL), NN_OK);
        ck_assert_int_eq(nn_tensor_numel(ta), nn_tensor_numel(tb));
        ck_assert_msg(memcmp(nn_tensor_data(ta), nn_tensor_data(tb),
                             (size_t)nn_tensor_numel(ta) * sizeof(float)) == 0,
                      "parameter %d differs", i);
    }
}

/* Inference outputs of a and b on the same rows are bitwise equal. */
static void assert_same_forward(nn_graph *a, nn_graph *b)
{
    int64_t in = nn_graph_in_features(a), out = nn_graph_out_features(a);
    nn_tensor *x = random_tensor(7, in), *ya = random_tensor(7, out), *yb = random_tensor(7, out);
    nn_status sa = nn_graph_forward(a, x, ya), sb = nn_graph_forward(b, x, yb);
    ck_assert_int_eq(sa, sb);
    if (sa == NN_OK)
        ck_assert_mem_eq(nn_tensor_data(ya), nn_tensor_data(yb), (size_t)(7 * out) * sizeof(float));
    nn_tensor_destroy(x);
    nn_tensor_destroy(ya);
    nn_tensor_destroy(yb);
}

/* One training forward (dropout active) with a head: the loss, which shows
 * that both graphs drew the same dropout masks. */
static float training_loss(nn_graph *g, int head)
{
    int64_t in = nn_graph_in_features(g), out = nn_graph_out_features(g);
    unsigned long long keep = tseed;
    tseed = 777;
    nn_tensor *x = random_tensor(9, in);
    float loss = NAN;
    if (head == L_SOFTMAX) {
        int32_t labels[9];
        for (int i = 0; i < 9; i++)
            labels[i] = (int32_t)(i % out);
        ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
    } else {
        nn_tensor *t = random_tensor(9, out);
        ck_assert_int_eq(nn_graph_forward_loss_targets(g, x, t, &loss), NN_OK);
        nn_tensor_destroy(t);
    }
    nn_tensor_destroy(x);
    tseed = keep;
    return loss;
}

START_TEST(round_trip_every_layer_kind)
{
    const gspec *v = &variants[_i];
    nn_graph *g = build(v, 1000 + (uint64_t)_i);
    int head = spec_head(v);
    if (head == L_SOFTMAX || head == L_MSE)
        training_loss(g, head); /* moves the generator off its seeded state */

    void *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    ck_assert_int_eq(nn_graph_save_buffer(g, &b1, &n1), NN_OK);
    ck_assert_uint_eq(n1 % 4, 0);
    nn_graph *h = NULL;
    ck_assert_msg(nn_graph_load_buffer(&h, b1, n1) == NN_OK, "%s: %s", v->name, nn_last_error());
    assert_same_params(g, h);
    assert_same_forward(g, h);

    /* save -> load -> save gives the same bytes */
    ck_assert_int_eq(nn_graph_save_buffer(h, &b2, &n2), NN_OK);
    ck_assert_uint_eq(n1, n2);
    ck_assert_mem_eq(b1, b2, n1);

    /* the file variant writes the same bytes and reads back the same graph */
    const char *path = tmp_path("model.nnm");
    ck_assert_int_eq(nn_graph_save(g, path), NN_OK);
    size_t nf;
    uint8_t *f = slurp(path, &nf);
    ck_assert_uint_eq(nf, n1);
    ck_assert_mem_eq(f, b1, n1);
    free(f);
    nn_graph *k = NULL;
    ck_assert_int_eq(nn_graph_load(&k, path), NN_OK);
    assert_same_params(g, k);
    assert_same_forward(g, k);
    ck_assert_int_eq(count_entries(tmpdir), 1); /* no temporary file left */

    /* the generator state came along: the same dropout masks */
    if (head == L_SOFTMAX || head == L_MSE) {
        float lg = training_loss(g, head), lh = training_loss(h, head), lk = training_loss(k, head);
        ck_assert_mem_eq(&lg, &lh, sizeof lg);
        ck_assert_mem_eq(&lg, &lk, sizeof lg);
    }
    nn_free(b1);
    nn_free(b2);
    nn_free(NULL);
    nn_graph_destroy(g);
    nn_graph_destroy(h);
    nn_graph_destroy(k);
}
END_TEST

/* ---- checkpoints ---- */

enum { RESUME_K = 4, RESUME_BATCH = 8 };

static const gspec resume_net = {
    "resume", 6, {{L_DENSE, 16}, {L_RELU, 0}, {L_DROPOUT, 0.25}, {L_DENSE, 4}, {L_SOFTMAX, 0}}};

static void make_opt(nn_optimizer **o, nn_graph *g, int variant)
{
    switch (variant) {
    case 0: ck_assert_int_eq(nn_adam_create(o, g, 1e-2f), NN_OK); break;
    case 1:
        ck_assert_int_eq(nn_adamw_create(o, g, 2e-2f, 0.05f), NN_OK);
        ck_assert_int_eq(nn_adam_set_betas(*o, 0.8f, 0.99f), NN_OK);
        ck_assert_int_eq(nn_adam_set_epsilon(*o, 1e-6f), NN_OK);
        break;
    case 2:
        ck_assert_int_eq(nn_sgd_create(o, g, 0.05f), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(*o, 0.9f, 0), NN_OK);
        ck_assert_int_eq(nn_optimizer_set_weight_decay(*o, 1e-3f), NN_OK);
        break;
    default:
        ck_assert_int_eq(nn_sgd_create(o, g, 0.1f), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(*o, 0.5f, 1), NN_OK);
        ck_assert_int_eq(nn_optimizer_set_clip_norm(*o, 0.5f), NN_OK);
        break;
    }
}

/* An optimizer of the same kind as make_opt's, with other settings, which
 * nn_optimizer_load must replace. */
static void make_other_opt(nn_optimizer **o, nn_graph *g, int variant)
{
    if (variant == 0)
        ck_assert_int_eq(nn_adam_create(o, g, 0.5f), NN_OK);
    else if (variant == 1)
        ck_assert_int_eq(nn_adamw_create(o, g, 0.5f, 0.5f), NN_OK);
    else
        ck_assert_int_eq(nn_sgd_create(o, g, 0.5f), NN_OK);
}

static void train(nn_graph *g, nn_optimizer *o, int from, int to)
{
    nn_tensor *x = NULL;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){RESUME_BATCH, 6}), NN_OK);
    int32_t labels[RESUME_BATCH];
    for (int s = from; s < to; s++) {
        tseed = 5000 + (unsigned long long)s; /* batch s is a function of s */
        for (int k = 0; k < RESUME_BATCH * 6; k++)
            nn_tensor_data(x)[k] = trand();
        for (int i = 0; i < RESUME_BATCH; i++)
            labels[i] = (int32_t)((tseed >> 33) % 4) ^ (i & 1);
        float loss;
        ck_assert_int_eq(nn_graph_train_step(g, o, x, labels, &loss), NN_OK);
        ck_assert(isfinite(loss));
    }
    nn_tensor_destroy(x);
}

START_TEST(checkpoint_resume_is_bit_identical)
{
    const char *gp = tmp_path("ckpt.nnm"), *op = tmp_path("ckpt.nno");
    nn_graph *a = build(&resume_net, 42), *b = build(&resume_net, 42), *c = NULL;
    nn_optimizer *oa = NULL, *ob = NULL, *oc = NULL;
    make_opt(&oa, a, _i);
    make_opt(&ob, b, _i);
    train(a, oa, 0, 2 * RESUME_K);

    train(b, ob, 0, RESUME_K);
    ck_assert_int_eq(nn_graph_save(b, gp), NN_OK);
    ck_assert_int_eq(nn_optimizer_save(ob, op), NN_OK);
    nn_optimizer_destroy(ob);
    nn_graph_destroy(b);

    ck_assert_int_eq(nn_graph_load(&c, gp), NN_OK);
    make_other_opt(&oc, c, _i);
    ck_assert_msg(nn_optimizer_load(oc, op) == NN_OK, "%s", nn_last_error());
    ck_assert_int_eq(nn_optimizer_step_count(oc), RESUME_K);
    train(c, oc, RESUME_K, 2 * RESUME_K);

    assert_same_params(a, c);
    ck_assert_int_eq(nn_optimizer_step_count(oc), 2 * RESUME_K);
    ck_assert_float_eq(nn_optimizer_lr(oc), nn_optimizer_lr(oa));
    for (int k = 0; k < nn_optim_state_slots(oa); k++)
        ck_assert_mem_eq(nn_optim_state(oa, k), nn_optim_state(oc, k),
                         (size_t)oa->n * sizeof(float));
    ck_assert_float_eq(training_loss(a, L_SOFTMAX), training_loss(c, L_SOFTMAX));
    nn_optimizer_destroy(oa);
    nn_optimizer_destroy(oc);
    nn_graph_destroy(a);
    nn_graph_destroy(c);
}
END_TEST

/* ---- damaged model files ---- */

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void lef(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    le32(p, u);
}

/* Makes the header agree with the n bytes: body size and CRC. */
static void reseal(uint8_t *b, size_t n)
{
    le64(b + 16, n - 24);
    le32(b + 12, (uint32_t)crc32(0L, b + 24, (uInt)(n - 24)));
}

/* in 2 -> dense 2 -> relu -> softmax: 3 layers, 6 parameters, 176 bytes. */
static uint8_t *small_model(size_t *n)
{
    static const gspec v = {"small", 2, {{L_DENSE, 2}, {L_RELU, 0}, {L_SOFTMAX, 0}}};
    nn_graph *g = build(&v, 3);
    void *b = NULL;
    ck_assert_int_eq(nn_graph_save_buffer(g, &b, n), NN_OK);
    nn_graph_destroy(g);
    ck_assert_uint_eq(*n, 24 + 56 + 3 * 24 + 6 * 4);
    uint8_t *copy = malloc(*n + 64);
    memcpy(copy, b, *n);
    nn_free(b);
    return copy;
}

/* Offsets in the small model. */
enum { OFF_IN = 24, OFF_NL = 32, OFF_RES = 36, OFF_L0 = 40, OFF_L1 = 64, OFF_L2 = 88,
       OFF_RNG = 112, OFF_P = 144, OFF_PARAMS = 152 };

static void expect_format(const uint8_t *b, size_t n, const char *sub)
{
    nn_graph *g = UNTOUCHED_G;
    nn_status s = nn_graph_load_buffer(&g, b, n);
    ck_assert_msg(s == NN_ERR_FORMAT, "status %d (%s), expected NN_ERR_FORMAT for \"%s\"", s,
                  nn_last_error(), sub);
    ck_assert_ptr_eq(g, UNTOUCHED_G);
    ck_assert_error_has(sub);
    ck_assert_error_has("nn_graph_load_buffer: buffer: ");
}

START_TEST(every_truncation_is_refused)
{
    size_t n;
    uint8_t *b = small_model(&n);
    for (size_t len = 0; len < n; len++) {
        nn_graph *g = UNTOUCHED_G;
        ck_assert_int_eq(nn_graph_load_buffer(&g, b, len), NN_ERR_FORMAT);
        ck_assert_ptr_eq(g, UNTOUCHED_G);
        ck_assert_error_has("truncated");
    }
    free(b);
}
END_TEST

START_TEST(every_bit_flip_is_refused)
{
    size_t n;
    uint8_t *b = small_model(&n);
    for (size_t bit = 0; bit < 8 * n; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        nn_graph *g = UNTOUCHED_G;
        nn_status s = nn_graph_load_buffer(&g, b, n);
        ck_assert_msg(s == NN_ERR_FORMAT, "bit %zu: status %d", bit, s);
        ck_assert_ptr_eq(g, UNTOUCHED_G);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* a flip in the body is always the checksum's catch */
    b[OFF_PARAMS + 5] ^= 0x10;
    expect_format(b, n, "checksum mismatch");
    free(b);
}
END_TEST

START_TEST(damaged_headers)
{
    size_t n;
    uint8_t *b = small_model(&n);
    uint8_t *c = malloc(n + 64);

    memcpy(c, b, n);
    c[1] = 'X';
    expect_format(c, n, "bad magic: not a libnn model file");
    memcpy(c, "\x89NNO\r\n\x1a\n", 8);
    expect_format(c, n, "this is a libnn optimizer file, not a model file");
    memcpy(c, "GIF89a", 6);
    expect_format(c, 12, "bad magic");

    memcpy(c, b, n);
    le32(c + 8, 3);
    expect_format(c, n, "format version 3 is newer than this libnn reads (1)");
    expect_format(c, 12, "format version 3 is newer than this libnn reads (1)");
    le32(c + 8, 0);
    expect_format(c, n, "format version 0 is invalid");

    memcpy(c, b, n);
    le64(c + 16, UINT64_C(1) << 63);
    expect_format(c, n, "truncated: the header promises 9223372036854775808 bytes");

    /* trailing bytes, with and without a header that admits them */
    memcpy(c, b, n);
    memset(c + n, 0, 4);
    expect_format(c, n + 1, "trailing bytes: 1 after the 152 the header promises");
    reseal(c, n + 4);
    expect_format(c, n + 4, "6 parameters need 24 bytes, the body has 28 for them");
    free(c);
    free(b);
}
END_TEST

/* Each crafted body has a valid CRC, so only the parser can refuse it. */
START_TEST(crafted_bodies)
{
    size_t n;
    uint8_t *b = small_model(&n);
    uint8_t *c = malloc(n + 4096);
#define CRAFT(stmt, sub)                                                                  \
    do {                                                                                  \
        memcpy(c, b, n);                                                                  \
        stmt;                                                                             \
        reseal(c, n);                                                                     \
        expect_format(c, n, sub);                                                         \
    } while (0)

    CRAFT(le32(c + OFF_L0, 9), "layer 0: unknown layer kind 9");
    CRAFT(le32(c + OFF_L1, 0), "layer 1: unknown layer kind 0");
    CRAFT(le32(c + OFF_L1 + 4, 6), "layer 1: unknown activation kind 6");
    CRAFT(le32(c + OFF_L1 + 4, 0), "layer 1: unknown activation kind 0");
    CRAFT(le64(c + OFF_L0 + 8, UINT64_C(1) << 62),
          "layer 0: dense units is 4611686018427387904, must be 1..2^31");
    CRAFT(le64(c + OFF_L0 + 8, 0), "layer 0: dense units is 0");
    CRAFT(le64(c + OFF_IN, UINT64_C(1) << 31);
          le64(c + OFF_L0 + 8, UINT64_C(1) << 31),
          "layer 0: dense 2147483648 x 2147483648 needs 4611686020574871552 parameters, the file has room for 6 more");
    CRAFT(le64(c + OFF_IN, 0), "in_features is 0, must be 1..2^31");
    CRAFT(le64(c + OFF_IN, UINT64_MAX), "in_features is 18446744073709551615");
    CRAFT(le32(c + OFF_NL, UINT32_MAX), "4294967295 layers, the limit is 1024");
    CRAFT(le32(c + OFF_NL, 1000), "1000 layers need 24056 bytes, the body has 152");
    CRAFT(le32(c + OFF_NL, 2), "layers have 6");
    CRAFT(le32(c + OFF_RES, 1), "reserved field is 0x00000001, must be 0");
    CRAFT(lef(c + OFF_L0 + 16, 0.5f), "layer 0 (dense): the alpha field must be zero");
    CRAFT(le32(c + OFF_L0 + 4, 1), "layer 0 (dense): the activation kind field must be zero");
    CRAFT(le64(c + OFF_L1 + 8, 3), "layer 1 (activation): the units field must be zero");
    CRAFT(lef(c + OFF_L2 + 20, 0.5f), "layer 2 (softmax cross-entropy): the rate field must be zero");
    CRAFT(lef(c + OFF_L1 + 16, -0.0f), "layer 1 (activation): the alpha field must be zero");
    CRAFT((le32(c + OFF_L1 + 4, 2), lef(c + OFF_L1 + 16, NAN)),
          "layer 1: leaky ReLU alpha is nan, must be finite and > 0");
    CRAFT((le32(c + OFF_L1 + 4, 2), lef(c + OFF_L1 + 16, -1.0f)), "alpha is -1");
    CRAFT((le32(c + OFF_L1, 3), le32(c + OFF_L1 + 4, 0), lef(c + OFF_L1 + 20, 1.0f)),
          "layer 1: dropout rate is 1, must be in [0, 1)");
    CRAFT((le32(c + OFF_L1, 3), le32(c + OFF_L1 + 4, 0), lef(c + OFF_L1 + 20, NAN)),
          "dropout rate is nan");
    CRAFT((le32(c + OFF_L1, 5), le32(c + OFF_L1 + 4, 0)),
          "layer 2 follows the MSE head, which must be last");
    CRAFT(memset(c + OFF_RNG, 0, 32), "the generator state is all zero");
    CRAFT(le64(c + OFF_P, 7), "parameter count is 7, the layers have 6");
    CRAFT(le64(c + OFF_P, UINT64_MAX), "parameter count is 18446744073709551615");

    /* a second dense layer whose parameters the body lacks */
    memcpy(c, b, n);
    le32(c + OFF_NL, 4);
    memmove(c + OFF_L2 + 24, c + OFF_L2, n - OFF_L2);
    memset(c + OFF_L2, 0, 24);
    le32(c + OFF_L2, 1);
    le64(c + OFF_L2 + 8, 3);
    reseal(c, n + 24);
    expect_format(c, n + 24, "layer 2: dense 3 x 2 needs 9 parameters, the file has room for 0 more");

    /* a leaky ReLU of slope 0 is the ReLU, which has one encoding: code 1 */
    CRAFT(le32(c + OFF_L1 + 4, 2), "layer 1: leaky ReLU alpha is 0, must be finite and > 0");
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_leaky_relu(g, 0.0f), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    void *again = NULL;
    size_t na = 0;
    ck_assert_int_eq(nn_graph_save_buffer(g, &again, &na), NN_OK);
    ck_assert_uint_eq(na, n);
    ck_assert_int_eq(((uint8_t *)again)[OFF_L1 + 4], 1);
    nn_free(again);
    nn_graph_destroy(g);
#undef CRAFT
    free(c);
    free(b);
}
END_TEST

/* Up to the layer limit loads; one more is refused; the save side refuses
 * what it could not read back. */
START_TEST(layer_limit)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, 2), NN_OK);
    for (int i = 0; i < 1024; i++)
        ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_OK);
    void *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(nn_graph_save_buffer(g, &b, &n), NN_OK);
    nn_graph *h = NULL;
    ck_assert_int_eq(nn_graph_load_buffer(&h, b, n), NN_OK);
    nn_graph_destroy(h);
    nn_free(b);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_OK);
    b = UNTOUCHED_P;
    n = 99;
    ck_assert_int_eq(nn_graph_save_buffer(g, &b, &n), NN_ERR_UNSUPPORTED);
    ck_assert_error_has("the graph has 1025 layers, model files hold 1024");
    ck_assert_ptr_eq(b, UNTOUCHED_P);
    ck_assert_uint_eq(n, 99);
    ck_assert_int_eq(nn_graph_save(g, tmp_path("big.nnm")), NN_ERR_UNSUPPORTED);
    ck_assert_int_eq(count_entries(tmpdir), 0);
    nn_graph_destroy(g);
}
END_TEST

/* ---- paths ---- */

START_TEST(bad_paths)
{
    nn_graph *g = build(&variants[1], 5), *h = UNTOUCHED_G;
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);

    ck_assert_int_eq(nn_graph_load(&h, "/nonexistent/model.nnm"), NN_ERR_IO);
    ck_assert_error_has("nn_graph_load: /nonexistent/model.nnm: cannot open");
    ck_assert_ptr_eq(h, UNTOUCHED_G);
    ck_assert_int_eq(nn_graph_load(&h, tmpdir), NN_ERR_IO);
    ck_assert_error_has("is a directory");
    ck_assert_int_eq(nn_optimizer_load(o, "/nonexistent/opt.nno"), NN_ERR_IO);

    /* a directory that does not exist: nothing is created anywhere */
    const char *missing = tmp_path("no-such-dir/model.nnm");
    ck_assert_int_eq(nn_graph_save(g, missing), NN_ERR_IO);
    ck_assert_error_has("nn_graph_save: ");
    ck_assert_error_has("cannot create the temporary file");
    ck_assert_int_eq(nn_optimizer_save(o, tmp_path("no-such-dir/opt.nno")), NN_ERR_IO);
    ck_assert_int_eq(count_entries(tmpdir), 0);

    /* the rename fails (a directory is in the way): the temporary goes */
    const char *sub = tmp_path("sub");
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    ck_assert_int_eq(nn_graph_save(g, sub), NN_ERR_IO);
    ck_assert_error_has("cannot rename");
    ck_assert_int_eq(count_entries(tmpdir), 1);
    rmdir(sub);

    /* a new file is 0644; an existing one keeps its mode and is replaced */
    const char *p = tmp_path("m.nnm");
    ck_assert_int_eq(nn_graph_save(g, p), NN_OK);
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    spill(p, "old", 3);
    ck_assert_int_eq(chmod(p, 0600), 0);
    ck_assert_int_eq(nn_graph_save(g, p), NN_OK);
    ck_assert_int_eq(stat(p, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert_int_eq(nn_graph_load(&h, p), NN_OK);
    assert_same_forward(g, h);
    nn_graph_destroy(h);

    /* a model is not an optimizer file, nor the other way round */
    ck_assert_int_eq(nn_optimizer_load(o, p), NN_ERR_FORMAT);
    ck_assert_error_has("this is a libnn model file, not an optimizer file");
    ck_assert_int_eq(nn_optimizer_save(o, tmp_path("o.nno")), NN_OK);
    h = UNTOUCHED_G;
    ck_assert_int_eq(nn_graph_load(&h, tmp_path("o.nno")), NN_ERR_FORMAT);
    ck_assert_ptr_eq(h, UNTOUCHED_G);
    ck_assert_error_has("this is a libnn optimizer file, not a model file");
    ck_assert_int_eq(count_entries(tmpdir), 2);

    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(null_arguments)
{
    nn_graph *g = build(&variants[0], 1), *h = UNTOUCHED_G;
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
    void *b = UNTOUCHED_P;
    size_t n = 7;
    const char *p = tmp_path("x.nnm");
    ck_assert_int_eq(nn_graph_save(NULL, p), NN_ERR_INVALID_ARGUMENT);
    ck_assert_error_has("nn_graph_save: g is NULL");
    ck_assert_int_eq(nn_graph_save(g, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_load(NULL, p), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_load(&h, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_error_has("nn_graph_load: path is NULL");
    ck_assert_int_eq(nn_graph_save_buffer(NULL, &b, &n), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_save_buffer(g, NULL, &n), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_save_buffer(g, &b, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_load_buffer(NULL, "x", 1), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_load_buffer(&h, NULL, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_error_has("nn_graph_load_buffer: buf is NULL");
    ck_assert_int_eq(nn_optimizer_save(NULL, p), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_save(o, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_load(NULL, p), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_load(o, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_error_has("nn_optimizer_load: path is NULL");
    ck_assert_ptr_eq(b, UNTOUCHED_P);
    ck_assert_uint_eq(n, 7);
    ck_assert_ptr_eq(h, UNTOUCHED_G);
    ck_assert_int_eq(count_entries(tmpdir), 0);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- damaged or mismatched optimizer files ---- */

/* An optimizer's settings and state, to show a failed load changed nothing. */
typedef struct snap {
    float lr;
    int64_t step;
    float *state;
    size_t bytes;
} snap;

static snap take(nn_optimizer *o)
{
    snap s = {nn_optimizer_lr(o), nn_optimizer_step_count(o), NULL, 0};
    s.bytes = (size_t)o->n * sizeof(float) * (size_t)nn_optim_state_slots(o);
    s.state = malloc(s.bytes);
    memcpy(s.state, nn_optim_state(o, 0), s.bytes);
    return s;
}

static void assert_unchanged(nn_optimizer *o, const snap *s)
{
    ck_assert_float_eq(nn_optimizer_lr(o), s->lr);
    ck_assert_int_eq(nn_optimizer_step_count(o), s->step);
    ck_assert_mem_eq(nn_optim_state(o, 0), s->state, s->bytes);
}

START_TEST(optimizer_file_errors)
{
    nn_graph *g = build(&resume_net, 9);
    nn_optimizer *adam = NULL, *sgd = NULL;
    make_opt(&adam, g, 1);
    train(g, adam, 0, 3);
    const char *op = tmp_path("a.nno");
    ck_assert_int_eq(nn_optimizer_save(adam, op), NN_OK);

    /* kind mismatch: NN_ERR_STATE, and the optimizer is as it was */
    ck_assert_int_eq(nn_sgd_create(&sgd, g, 0.25f), NN_OK);
    snap s0 = take(sgd);
    ck_assert_int_eq(nn_optimizer_load(sgd, op), NN_ERR_STATE);
    ck_assert_error_has("the file holds AdamW state, this optimizer is SGD");
    assert_unchanged(sgd, &s0);
    nn_optimizer *plain = NULL;
    ck_assert_int_eq(nn_adam_create(&plain, g, 0.25f), NN_OK);
    ck_assert_int_eq(nn_optimizer_load(plain, op), NN_ERR_STATE);
    nn_optimizer_destroy(plain);

    /* shape mismatch: other widths, other tensor counts */
    static const gspec wider = {"wider", 6, {{L_DENSE, 17}, {L_RELU, 0}, {L_DENSE, 4}}};
    static const gspec deeper = {"deeper", 6, {{L_DENSE, 16}, {L_DENSE, 4}, {L_DENSE, 4}}};
    const gspec *others[] = {&wider, &deeper};
    for (int i = 0; i < 2; i++) {
        nn_graph *h = build(others[i], 1);
        nn_optimizer *oh = NULL;
        make_opt(&oh, h, 1);
        snap sh = take(oh);
        ck_assert_int_eq(nn_optimizer_load(oh, op), NN_ERR_SHAPE);
        ck_assert_error_has(i == 0 ? "parameter 0 has 96 elements in the file, 102 in the graph"
                                   : "the file has 4 parameter tensors, the graph 6");
        assert_unchanged(oh, &sh);
        free(sh.state);
        nn_optimizer_destroy(oh);
        nn_graph_destroy(h);
    }

    /* every truncation and every bit flip: NN_ERR_FORMAT, nothing changed */
    size_t n;
    uint8_t *b = slurp(op, &n);
    ck_assert_uint_eq(n, 80 + 4 * 8 + 2 * 4 * (16 * 6 + 16 + 4 * 16 + 4));
    nn_optimizer *o = NULL;
    make_opt(&o, g, 1);
    snap s1 = take(o);
    const char *bad = tmp_path("bad.nno");
    for (size_t len = 0; len < n; len += (len < 100 ? 1 : 37)) {
        spill(bad, b, len);
        ck_assert_int_eq(nn_optimizer_load(o, bad), NN_ERR_FORMAT);
        ck_assert_error_has("truncated");
    }
    for (size_t bit = 0; bit < 8 * n; bit += (bit < 8 * 100 ? 1 : 61)) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        spill(bad, b, n);
        ck_assert_msg(nn_optimizer_load(o, bad) == NN_ERR_FORMAT, "bit %zu", bit);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    assert_unchanged(o, &s1);

    /* crafted with valid CRCs */
    uint8_t *c = malloc(n + 8);
#define CRAFT_OPT(stmt, sub)                                                              \
    do {                                                                                  \
        memcpy(c, b, n);                                                                  \
        stmt;                                                                             \
        reseal(c, n);                                                                     \
        spill(bad, c, n);                                                                 \
        ck_assert_int_eq(nn_optimizer_load(o, bad), NN_ERR_FORMAT);                       \
        ck_assert_error_has(sub);                                                         \
        assert_unchanged(o, &s1);                                                         \
    } while (0)
    CRAFT_OPT(le32(c + 24, 7), "unknown optimizer kind 7");
    CRAFT_OPT(le32(c + 28, 2), "flags has unknown bits");
    CRAFT_OPT(lef(c + 32, NAN), "learning rate is not finite and >= 0");
    CRAFT_OPT(lef(c + 36, -1.0f), "weight decay is not finite");
    CRAFT_OPT(lef(c + 40, INFINITY), "clip norm is not finite");
    CRAFT_OPT(lef(c + 44, 1.0f), "momentum is not in [0, 1)");
    CRAFT_OPT(lef(c + 48, 1.0f), "a beta is not in [0, 1)");
    CRAFT_OPT(lef(c + 52, -0.5f), "a beta is not in [0, 1)");
    CRAFT_OPT(lef(c + 56, 0.0f), "epsilon is not finite and > 0");
    CRAFT_OPT(le32(c + 60, 1), "a reserved field is not 0");
    CRAFT_OPT(le32(c + 76, 1), "a reserved field is not 0");
    CRAFT_OPT(le64(c + 64, UINT64_MAX), "step count is above 2^63 - 1");
    CRAFT_OPT(le32(c + 72, 5000), "more than 2048 parameter tensors");
    CRAFT_OPT(le32(c + 72, 2000), "2000 tensor sizes need 16056 bytes");
    CRAFT_OPT(le64(c + 80, UINT64_C(1) << 62), "tensor 0 has 4611686018427387904 elements");
    CRAFT_OPT(le64(c + 80, 95), "AdamW state for 179 parameters needs 1432 bytes");
    CRAFT_OPT(le32(c + 24, 1), "SGD state for 180 parameters needs 720 bytes");
    memcpy(c, b, n);
    le32(c + 8, 3);
    spill(bad, c, n);
    ck_assert_int_eq(nn_optimizer_load(o, bad), NN_ERR_FORMAT);
    ck_assert_error_has("format version 3 is newer than this libnn reads (1)");
#undef CRAFT_OPT

    /* the optimizer still works after all that */
    ck_assert_int_eq(nn_optimizer_load(o, op), NN_OK);
    train(g, o, 3, 4);

    /* graph gone: both calls say so */
    nn_graph_destroy(g);
    ck_assert_int_eq(nn_optimizer_save(o, tmp_path("gone.nno")), NN_ERR_STATE);
    ck_assert_error_has("the optimizer's graph was destroyed");
    ck_assert_int_eq(nn_optimizer_load(o, op), NN_ERR_STATE);
    ck_assert_error_has("the optimizer's graph was destroyed");

    free(c);
    free(b);
    free(s0.state);
    free(s1.state);
    nn_optimizer_destroy(o);
    nn_optimizer_destroy(sgd);
    nn_optimizer_destroy(adam);
}
END_TEST

START_TEST(optimizer_of_a_grown_graph)
{
    nn_graph *g = build(&variants[0], 1);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    const char *op = tmp_path("o.nno");
    ck_assert_int_eq(nn_optimizer_save(o, op), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 2), NN_OK);
    ck_assert_int_eq(nn_optimizer_save(o, tmp_path("o2.nno")), NN_ERR_STATE);
    ck_assert_error_has("layers added after it was created");
    ck_assert_int_eq(nn_optimizer_load(o, op), NN_ERR_STATE);
    ck_assert_int_eq(count_entries(tmpdir), 1);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- allocation failures ---- */

START_TEST(allocation_failures)
{
    nn_graph *g = build(&variants[6], 8);
    void *b = NULL;
    size_t n = 0;
    ck_assert_int_eq(nn_graph_save_buffer(g, &b, &n), NN_OK);
    nn_optimizer *o = NULL;
    make_opt(&o, g, 0);
    const char *gp = tmp_path("g.nnm"), *op = tmp_path("o.nno");
    ck_assert_int_eq(nn_optimizer_save(o, op), NN_OK);

    /* each k fails the k-th allocation, until the call needs fewer */
    int done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        nn_graph *h = UNTOUCHED_G;
        nn_mem_fail_at(k);
        nn_status s = nn_graph_load_buffer(&h, b, n);
        nn_mem_fail_at(0);
        if (s == NN_OK) {
            assert_same_forward(g, h);
            nn_graph_destroy(h);
            done = 1;
        } else {
            ck_assert_msg(s == NN_ERR_OUT_OF_MEMORY, "k %ld: %d %s", k, s, nn_last_error());
            ck_assert_ptr_eq(h, UNTOUCHED_G);
        }
    }
    done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        void *bb = UNTOUCHED_P;
        size_t nn = 3;
        nn_mem_fail_at(k);
        nn_status s = nn_graph_save_buffer(g, &bb, &nn);
        nn_mem_fail_at(0);
        if (s == NN_OK) {
            ck_assert_uint_eq(nn, n);
            ck_assert_mem_eq(bb, b, n);
            nn_free(bb);
            done = 1;
        } else {
            ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
            ck_assert_ptr_eq(bb, UNTOUCHED_P);
            ck_assert_uint_eq(nn, 3);
        }
    }
    done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        nn_mem_fail_at(k);
        nn_status s = nn_graph_save(g, gp);
        nn_mem_fail_at(0);
        if (s == NN_OK)
            done = 1;
        else
            ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
        ck_assert_int_eq(count_entries(tmpdir), 1 + done); /* o.nno, then g.nnm */
    }
    done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        nn_graph *h = UNTOUCHED_G;
        nn_mem_fail_at(k);
        nn_status s = nn_graph_load(&h, gp);
        nn_mem_fail_at(0);
        if (s == NN_OK) {
            assert_same_forward(g, h);
            nn_graph_destroy(h);
            done = 1;
        } else {
            ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
            ck_assert_ptr_eq(h, UNTOUCHED_G);
        }
    }
    snap s0 = take(o);
    done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        nn_mem_fail_at(k);
        nn_status s = nn_optimizer_save(o, op);
        nn_mem_fail_at(0);
        if (s == NN_OK)
            done = 1;
        else
            ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
    }
    done = 0;
    for (long k = 1; !done; k++) {
        ck_assert_int_lt(k, 1000);
        nn_mem_fail_at(k);
        nn_status s = nn_optimizer_load(o, op);
        nn_mem_fail_at(0);
        if (s == NN_OK)
            done = 1;
        else
            ck_assert_int_eq(s, NN_ERR_OUT_OF_MEMORY);
        assert_unchanged(o, &s0); /* the same file: unchanged either way */
    }
    ck_assert_int_eq(count_entries(tmpdir), 2);
    free(s0.state);
    nn_free(b);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- the fuzzing corpus ---- */

static const char *source_dir(void)
{
    const char *d = getenv("NN_SOURCE_DIR");
    return d && *d ? d : NN_SOURCE_DIR;
}

/* Loads every file of dir; names starting "ok-" must load, "bad-" must be
 * refused as malformed, anything else (fuzzer finds) may do either. Returns
 * how many files there were. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s (set NN_SOURCE_DIR to the source tree)", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        size_t n;
        uint8_t *b = slurp(p, &n);
        nn_graph *g = UNTOUCHED_G;
        nn_status s = nn_graph_load_buffer(&g, n ? b : (const void *)"", n);
        if (strncmp(e->d_name, "ok-", 3) == 0)
            ck_assert_msg(s == NN_OK, "%s: %s", p, nn_last_error());
        else if (strncmp(e->d_name, "bad-", 4) == 0)
            ck_assert_msg(s == NN_ERR_FORMAT, "%s: status %d", p, s);
        else
            ck_assert_msg(s == NN_OK || s == NN_ERR_FORMAT, "%s: status %d: %s", p, s,
                          nn_last_error());
        if (s == NN_OK) {
            /* a file that loads saves back to the same bytes */
            void *again = NULL;
            size_t na = 0;
            ck_assert_int_eq(nn_graph_save_buffer(g, &again, &na), NN_OK);
            ck_assert_uint_eq(na, n);
            ck_assert_mem_eq(again, b, n);
            nn_free(again);
            nn_graph_destroy(g);
        } else {
            ck_assert_ptr_eq(g, UNTOUCHED_G);
        }
        free(b);
        count++;
    }
    closedir(d);
    return count;
}

START_TEST(fuzz_corpus_replays)
{
    const char *src = source_dir();
    ck_assert_msg(*src, "NN_SOURCE_DIR is neither in the environment nor compiled in");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/model", src);
    ck_assert_int_ge(replay_dir(dir), 8);
    snprintf(dir, sizeof dir, "%s/tests/fuzz/regressions/model", src);
    replay_dir(dir);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, round_trip_every_layer_kind, 0, NVARIANTS);
    tcase_add_loop_test(tc, checkpoint_resume_is_bit_identical, 0, 4);
    tcase_add_test(tc, every_truncation_is_refused);
    tcase_add_test(tc, every_bit_flip_is_refused);
    tcase_add_test(tc, damaged_headers);
    tcase_add_test(tc, crafted_bodies);
    tcase_add_test(tc, layer_limit);
    tcase_add_test(tc, bad_paths);
    tcase_add_test(tc, null_arguments);
    tcase_add_test(tc, optimizer_file_errors);
    tcase_add_test(tc, optimizer_of_a_grown_graph);
    tcase_add_test(tc, allocation_failures);
    tcase_add_test(tc, fuzz_corpus_replays);
    suite_add_tcase(s, tc);
    return s;
}
