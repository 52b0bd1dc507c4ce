/* The graph: every layer and head against the double-precision reference
 * (tests/refnet.h), central finite differences, error paths, zero
 * allocation in the steady state, bitwise determinism. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nn/nn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/pool.h"
#include "graph/graph_impl.h" /* dropout masks and the allocation counter */
#include "graph/kernels.h"    /* the instruction-set cap */
#include "refnet.h"
#include "test_main.h"

/* A tiny deterministic generator for test data. */
static unsigned long long tseed = 12345;
static double trand(void) /* uniform in [-1, 1) */
{
    tseed = tseed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(tseed >> 11) * 0x1.0p-52 - 1.0;
}

typedef struct spec {
    int kind;       /* REF_* */
    int units;      /* dense */
    double arg;     /* leaky alpha, dropout rate */
} spec;

typedef struct net {
    nn_graph *g;
    ref_layer ref[8];
    int nl;
    int in;
} net;

static void net_build(net *t, int in, const spec *sp, int nsp)
{
    memset(t, 0, sizeof *t);
    t->in = in;
    t->nl = nsp;
    ck_assert_int_eq(nn_graph_create(&t->g, in), NN_OK);
    int width = in, p = 0;
    for (int i = 0; i < nsp; i++) {
        ref_layer *r = &t->ref[i];
        r->kind = sp[i].kind;
        r->in = width;
        r->alpha = sp[i].kind == REF_RELU ? sp[i].arg : 0.0;
        nn_status s = NN_OK;
        switch (sp[i].kind) {
        case REF_DENSE: s = nn_graph_add_dense(t->g, sp[i].units); width = sp[i].units; break;
        case REF_RELU:
            s = sp[i].arg > 0 ? nn_graph_add_leaky_relu(t->g, (float)sp[i].arg)
                              : nn_graph_add_activation(t->g, NN_ACT_RELU);
            break;
        case REF_SIGMOID: s = nn_graph_add_activation(t->g, NN_ACT_SIGMOID); break;
        case REF_TANH: s = nn_graph_add_activation(t->g, NN_ACT_TANH); break;
        case REF_GELU: s = nn_graph_add_activation(t->g, NN_ACT_GELU); break;
        case REF_DROPOUT: s = nn_graph_add_dropout(t->g, (float)sp[i].arg); break;
        case REF_SOFTMAX_CE: s = nn_graph_add_softmax_cross_entropy(t->g); break;
        case REF_MSE: s = nn_graph_add_mse_loss(t->g); break;
        }
        ck_assert_msg(s == NN_OK, "layer %d: %s", i, nn_last_error());
        r->out = width;
        if (r->kind == REF_DENSE) {
            r->w = calloc((size_t)(r->in * r->out), sizeof(double));
            r->b = calloc((size_t)r->out, sizeof(double));
            r->gw = calloc((size_t)(r->in * r->out), sizeof(double));
            r->gb = calloc((size_t)r->out, sizeof(double));
            p += 2;
        }
    }
    ck_assert_int_eq(nn_graph_param_count(t->g), p);
    ck_assert_int_eq(nn_graph_out_features(t->g), width);
    ck_assert_int_eq(nn_graph_in_features(t->g), in);
}

/* Random weights and biases (biases non-zero so their path is exercised),
 * set in libnn and mirrored in the reference. */
static void net_randomize(net *t, double scale)
{
    int p = 0;
    for (int i = 0; i < t->nl; i++) {
        ref_layer *r = &t->ref[i];
        if (r->kind != REF_DENSE)
            continue;
        nn_tensor *w, *b;
        ck_assert_int_eq(nn_graph_param(t->g, p++, &w, NULL), NN_OK);
        ck_assert_int_eq(nn_graph_param(t->g, p++, &b, NULL), NN_OK);
        ck_assert_int_eq(nn_tensor_dim(w, 0), r->out);
        ck_assert_int_eq(nn_tensor_dim(w, 1), r->in);
        ck_assert_int_eq(nn_tensor_numel(b), r->out);
        for (int k = 0; k < r->in * r->out; k++) {
            nn_tensor_data(w)[k] = (float)(scale * trand());
            r->w[k] = nn_tensor_data(w)[k];
        }
        for (int k = 0; k < r->out; k++) {
            nn_tensor_data(b)[k] = (float)(0.5 * trand());
            r->b[k] = nn_tensor_data(b)[k];
        }
    }
}

static void net_free(net *t)
{
    for (int i = 0; i < t->nl; i++) {
        free(t->ref[i].w);
        free(t->ref[i].b);
        free(t->ref[i].gw);
        free(t->ref[i].gb);
    }
    nn_graph_destroy(t->g);
}

static double **acts_alloc(int nl, int n, int width)
{
    double **a = calloc((size_t)nl + 1, sizeof *a);
    for (int i = 0; i <= nl; i++)
        a[i] = calloc((size_t)(n * width), sizeof(double));
    return a;
}

static void acts_free(double **a, int nl)
{
    for (int i = 0; i <= nl; i++)
        free(a[i]);
    free(a);
}

/* |got - want| <= 1e-5 |want| + 1e-6 max|want| : relative, except for
 * elements near zero at the scale of the tensor. */
static void assert_close(const char *what, const float *got, const double *want, int n)
{
    double scale = 0.0;
    for (int k = 0; k < n; k++)
        scale = fmax(scale, fabs(want[k]));
    for (int k = 0; k < n; k++) {
        double err = fabs((double)got[k] - want[k]);
        ck_assert_msg(err <= 1e-5 * fabs(want[k]) + 1e-6 * scale,
                      "%s[%d]: libnn %.9g, reference %.9g (scale %.3g)", what, k, (double)got[k],
                      want[k], scale);
    }
}

/* Runs one training forward + backward in libnn and in the reference and
 * compares loss and every gradient; then checks the reference gradient by
 * central finite differences. */
static void check_net(net *t, int n, int fd)
{
    int c = (int)nn_graph_out_features(t->g), head = t->ref[t->nl - 1].kind;
    nn_tensor *x, *tg = NULL;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, t->in}), NN_OK);
    double *xd = malloc(sizeof(double) * (size_t)(n * t->in));
    for (int k = 0; k < n * t->in; k++) {
        nn_tensor_data(x)[k] = (float)(2.0 * trand());
        xd[k] = nn_tensor_data(x)[k];
    }
    int *labels = malloc(sizeof(int) * (size_t)n);
    int32_t *labels32 = malloc(sizeof(int32_t) * (size_t)n);
    double *targets = malloc(sizeof(double) * (size_t)(n * c));
    for (int r = 0; r < n; r++)
        labels[r] = labels32[r] = (int)((trand() + 1.0) * 0.5 * c) % c;
    float loss = -1.0f;
    if (head == REF_MSE) {
        ck_assert_int_eq(nn_tensor_create(&tg, 2, (int64_t[]){n, c}), NN_OK);
        for (int k = 0; k < n * c; k++) {
            nn_tensor_data(tg)[k] = (float)trand();
            targets[k] = nn_tensor_data(tg)[k];
        }
        ck_assert_int_eq(nn_graph_forward_loss_targets(t->g, x, tg, &loss), NN_OK);
    } else {
        ck_assert_msg(nn_graph_forward_loss(t->g, x, labels32, &loss) == NN_OK, "%s",
                      nn_last_error());
    }
    /* the masks libnn drew, for the reference's dropout layers */
    for (int i = 0; i < t->nl; i++)
        if (t->ref[i].kind == REF_DROPOUT)
            t->ref[i].mask = t->g->pending->lp[i].mask;
    ck_assert_int_eq(nn_graph_backward(t->g), NN_OK);

    int width = t->in;
    for (int i = 0; i < t->nl; i++)
        width = t->ref[i].out > width ? t->ref[i].out : width;
    double **acts = acts_alloc(t->nl, n, width);
    const int *lab = head == REF_MSE ? NULL : labels;
    double want = ref_run(t->ref, t->nl, n, xd, lab, targets, 1, acts);
    ck_assert_msg(fabs(loss - want) <= 1e-5 * fabs(want) + 1e-7, "loss: libnn %.9g, reference %.9g",
                  (double)loss, want);

    int p = 0;
    for (int i = 0; i < t->nl; i++) {
        ref_layer *r = &t->ref[i];
        if (r->kind != REF_DENSE)
            continue;
        nn_tensor *gw, *gb;
        ck_assert_int_eq(nn_graph_param(t->g, p++, NULL, &gw), NN_OK);
        ck_assert_int_eq(nn_graph_param(t->g, p++, NULL, &gb), NN_OK);
        char what[32];
        snprintf(what, sizeof what, "dW%d", i);
        assert_close(what, nn_tensor_data(gw), r->gw, r->in * r->out);
        snprintf(what, sizeof what, "db%d", i);
        assert_close(what, nn_tensor_data(gb), r->gb, r->out);
        if (!fd)
            continue;
        /* central differences of the double reference, every parameter */
        const double h = 1e-6;
        for (int k = 0; k < r->in * r->out + r->out; k++) {
            double *v = k < r->in * r->out ? &r->w[k] : &r->b[k - r->in * r->out];
            double g = k < r->in * r->out ? r->gw[k] : r->gb[k - r->in * r->out];
            double keep = *v;
            *v = keep + h;
            double lp = ref_run(t->ref, t->nl, n, xd, lab, targets, 0, acts);
            *v = keep - h;
            double lm = ref_run(t->ref, t->nl, n, xd, lab, targets, 0, acts);
            *v = keep;
            double num = (lp - lm) / (2 * h);
            ck_assert_msg(fabs(num - g) <= 1e-5 * fabs(g) + 1e-7,
                          "layer %d param %d: analytic %.10g, central difference %.10g", i, k, g,
                          num);
        }
    }
    acts_free(acts, t->nl);
    free(xd);
    free(labels);
    free(labels32);
    free(targets);
    nn_tensor_destroy(x);
    nn_tensor_destroy(tg);
}

static const int acts_kinds[] = {REF_RELU, REF_SIGMOID, REF_TANH, REF_GELU};

/* dense -> activation -> dense -> head for each activation and head, on
 * random small shapes and N in {1, 3, 32}. */
START_TEST(reference_and_finite_differences)
{
    static const int ns[] = {1, 3, 32};
    int a = _i % 5, head = (_i / 5) % 2 ? REF_MSE : REF_SOFTMAX_CE;
    for (int k = 0; k < 3; k++) {
        int n = ns[k];
        int in = 1 + (int)((trand() + 1) * 3.5), hid = 1 + (int)((trand() + 1) * 4.5),
            out = 1 + (int)((trand() + 1) * 2.5);
        if (head == REF_SOFTMAX_CE && out < 2)
            out = 2;
        spec sp[4] = {{REF_DENSE, hid, 0},
                      {a < 4 ? acts_kinds[a] : REF_RELU, 0, a < 4 ? 0.0 : 0.1},
                      {REF_DENSE, out, 0},
                      {head, 0, 0}};
        net t;
        net_build(&t, in, sp, 4);
        net_randomize(&t, 1.0);
        check_net(&t, n, 1);
        net_free(&t);
    }
}
END_TEST

/* The vector code paths, best first: each test that covers them runs once
 * per path, capped by nn_kernels_limit_isa, so a CPU with AVX-512 also
 * checks the AVX2 and portable paths. A path the CPU lacks is skipped. */
static const int isas[] = {NN_ISA_AVX512, NN_ISA_AVX2, NN_ISA_NONE};
enum { N_ISAS = sizeof isas / sizeof isas[0] };

static int use_isa(int isa)
{
    nn_kernels_limit_isa(isa);
    return nn_kernels_isa() == isa;
}

/* Shapes the small-batch kernels tile: AVX-512's 4x4 and AVX2's 4x3 blocks
 * over whole, partial and masked vector steps (83 inputs), a hidden layer
 * of two full 64-column chunks and a 2-column one (130, also 3k + 1), batch
 * rows in 4-row blocks and left over (32, 37), and past the kernels' limit,
 * where sgemm takes over (AVX2: 129; AVX-512: 513). With AVX-512 the hidden
 * layer runs on batch panels: one full (32), a full one and 5 rows on
 * nn_kernel_nt (37), a full one and a half one (48), one of 20 rows, four
 * and one row on nn_kernel_nt (129), nine and 12 rows (300); the weight
 * gradient sums 129 rows as 128 and 1, 300 as 128, 128 and 44. */
START_TEST(kernel_shapes_match_reference)
{
    static const int ns[] = {32, 37, 129, 48, 20, 300, 513};
    spec sp[] = {{REF_DENSE, 130, 0}, {REF_RELU, 0, 0}, {REF_DENSE, 7, 0}, {REF_SOFTMAX_CE, 0, 0}};
    if (!use_isa(isas[_i]))
        return;
    for (int k = 0; k < (int)(sizeof ns / sizeof ns[0]); k++) {
        net t;
        net_build(&t, 83, sp, 4);
        net_randomize(&t, 0.3);
        check_net(&t, ns[k], 0);
        net_free(&t);
    }
}
END_TEST

/* Deeper chains: activations not preceded by a dense layer (unfused),
 * dropout, an activation first. */
START_TEST(deeper_chains)
{
    spec a[] = {{REF_TANH, 0, 0}, {REF_DENSE, 6, 0}, {REF_RELU, 0, 0}, {REF_DROPOUT, 0, 0.3},
                {REF_SIGMOID, 0, 0}, {REF_DENSE, 5, 0}, {REF_GELU, 0, 0}, {REF_SOFTMAX_CE, 0, 0}};
    spec b[] = {{REF_DENSE, 7, 0}, {REF_DROPOUT, 0, 0.5}, {REF_RELU, 0, 0.2}, {REF_DENSE, 4, 0},
                {REF_TANH, 0, 0}, {REF_DENSE, 3, 0}, {REF_MSE, 0, 0}};
    for (int n = 1; n <= 17; n += 8) {
        net t;
        net_build(&t, 5, a, 8);
        net_randomize(&t, 0.8);
        check_net(&t, n, 1);
        check_net(&t, n, 0); /* second step reuses the plan */
        net_free(&t);
        net_build(&t, 4, b, 7);
        net_randomize(&t, 0.8);
        check_net(&t, n, 1);
        net_free(&t);
    }
}
END_TEST

/* A small last dense layer is folded into the dense layer before it
 * (parallel.c): up to 64 outputs after a layer of up to 16 column chunks.
 * Each side of both limits, the plan's shape and the results against the
 * reference; and at inference, one row and a few. */
START_TEST(folded_last_layer)
{
    static const int shapes[][2] = {{40, 64}, {40, 65}, {1024, 3}, {1025, 3}};
    const int hid = shapes[_i][0], out = shapes[_i][1];
    const int fold = out <= 64 && hid <= 1024;
    spec sp[] = {{REF_DENSE, hid, 0}, {REF_RELU, 0, 0}, {REF_DENSE, out, 0}, {REF_SOFTMAX_CE, 0, 0}};
    net t;
    net_build(&t, 9, sp, 4);
    net_randomize(&t, 0.3);
    check_net(&t, 5, 0);
    check_net(&t, 32, 0);
    /* the training plan for 32 rows: one forward and one backward phase
     * when folded, two each when not */
    nn_tensor *x, *y;
    int32_t labels[32] = {0};
    float loss;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){32, 9}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){32, out}), NN_OK);
    for (int k = 0; k < 32 * 9; k++)
        nn_tensor_data(x)[k] = (float)trand();
    ck_assert_int_eq(nn_graph_forward_loss(t.g, x, labels, &loss), NN_OK);
    const plan *p = t.g->pending;
    ck_assert_int_eq(p->fold, fold ? 2 : 0);
    ck_assert_int_eq(p->nfwd, fold ? 1 : 2);
    ck_assert_int_eq(p->nbwd, fold ? 1 : 2);
    ck_assert_int_eq(nn_graph_backward(t.g), NN_OK);
    /* inference on the same weights: one row, then 3 */
    for (int n = 1; n <= 3; n += 2) {
        double *xd = malloc(sizeof(double) * (size_t)(n * 9));
        int *lab = calloc((size_t)n, sizeof *lab);
        double **acts = acts_alloc(4, n, hid > out ? hid : out);
        ck_assert(xd && lab);
        nn_tensor *xn, *yn;
        ck_assert_int_eq(nn_tensor_create(&xn, 2, (int64_t[]){n, 9}), NN_OK);
        ck_assert_int_eq(nn_tensor_create(&yn, 2, (int64_t[]){n, out}), NN_OK);
        for (int k = 0; k < n * 9; k++)
            xd[k] = nn_tensor_data(xn)[k] = (float)trand();
        ck_assert_int_eq(nn_graph_forward(t.g, xn, yn), NN_OK);
        ref_run(t.ref, 4, n, xd, lab, NULL, 0, acts);
        for (int r = 0; r < n; r++) {
            const double *z = acts[4] + r * out;
            double m = z[0], sum = 0.0;
            for (int k = 1; k < out; k++)
                m = fmax(m, z[k]);
            double *pr = malloc(sizeof(double) * (size_t)out);
            for (int k = 0; k < out; k++)
                sum += pr[k] = exp(z[k] - m);
            for (int k = 0; k < out; k++)
                pr[k] /= sum;
            assert_close("probs", nn_tensor_data(yn) + r * out, pr, out);
            free(pr);
        }
        acts_free(acts, 4);
        free(xd);
        free(lab);
        nn_tensor_destroy(xn);
        nn_tensor_destroy(yn);
    }
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    net_free(&t);
}
END_TEST

/* Inference batch sizes that take each path: up to 4 rows (dot products,
 * in groups of 4, 2 and 1), a few rows (column chunks), and row blocks
 * beyond 512 rows (1100: 512, 512 and 76; 1537: three of 512 and 1); and input
 * widths below one vector and spanning whole, partial and masked vector
 * steps. */
static const int infer_rows[] = {1, 2, 3, 4, 5, 1100, 1537};
static const int infer_in[] = {6, 83};
enum { N_INFER_ROWS = sizeof infer_rows / sizeof infer_rows[0] };

/* Inference on n rows of in inputs through hid hidden units against the
 * double reference. */
static void check_inference(int n, int in, int hid)
{
    spec sp[] = {{REF_DENSE, hid, 0}, {REF_RELU, 0, 0}, {REF_DROPOUT, 0, 0.5}, {REF_DENSE, 4, 0},
                 {REF_SOFTMAX_CE, 0, 0}};
    net t;
    net_build(&t, in, sp, 5);
    net_randomize(&t, 1.0);
    float *ones = malloc((size_t)n * hid * sizeof *ones);
    double *xd = malloc((size_t)n * in * sizeof *xd);
    int *labels = calloc((size_t)n, sizeof *labels);
    ck_assert(ones && xd && labels);
    for (int k = 0; k < n * hid; k++)
        ones[k] = 1.0f;
    t.ref[2].mask = ones; /* dropout is the identity at inference */
    nn_tensor *x, *y;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, in}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){n, 4}), NN_OK);
    for (int k = 0; k < n * in; k++)
        xd[k] = nn_tensor_data(x)[k] = (float)trand();
    ck_assert_int_eq(nn_graph_forward(t.g, x, y), NN_OK);
    double **acts = acts_alloc(5, n, in > hid ? in : hid);
    ref_run(t.ref, 5, n, xd, labels, NULL, 0, acts);
    for (int r = 0; r < n; r++) {
        const double *z = acts[5] + r * 4;
        double m = fmax(fmax(z[0], z[1]), fmax(z[2], z[3])), s = 0.0, sum = 0.0;
        for (int k = 0; k < 4; k++)
            s += exp(z[k] - m);
        double p[4];
        for (int k = 0; k < 4; k++) {
            p[k] = exp(z[k] - m) / s;
            sum += nn_tensor_data(y)[r * 4 + k];
        }
        assert_close("probs", nn_tensor_data(y) + r * 4, p, 4);
        ck_assert_double_eq_tol(sum, 1.0, 1e-6);
    }
    acts_free(acts, 5);
    free(ones);
    free(xd);
    free(labels);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    net_free(&t);
}

START_TEST(inference_forward_matches_reference)
{
    if (use_isa(isas[_i / N_INFER_ROWS / 2]))
        check_inference(infer_rows[_i % N_INFER_ROWS], infer_in[_i / N_INFER_ROWS % 2], 9);
}
END_TEST

/* Row blocks through a hidden layer wide enough for panels (AVX-512: the
 * block's rows packed per thread, then nn_kernel_panel; the rows past the
 * last whole or 16-row panel, and the 4-output layer, on the dot-product
 * kernel): 70 and 130 hidden units (a partial tile of 8 columns). Blocks:
 * 513 rows as 288 and 225 (224 on panels, 1 row left); 600 as 320 and 280;
 * 1024 as two of 512; 1100 as 512, 512 and 76 (12 rows left); 1537 as
 * three of 512 and 1; 1544 as three of 512 and 8. */
START_TEST(inference_row_blocks_match_reference)
{
    static const int rows[] = {513, 600, 1024, 1100, 1537, 1544};
    if (use_isa(isas[_i / 12]))
        check_inference(rows[_i % 6], 83, _i / 6 % 2 ? 130 : 70);
}
END_TEST

/* Row blocks follow the thread count (1,100 rows: 512, 512 and 76 on 1
 * or 2 threads, 384, 384 and 332 on 3), yet every row gets the same bits
 * on 1, 2 and 3 threads; the plan made on 1 thread is remade on the
 * others. */
START_TEST(row_blocks_same_bits_any_thread_count)
{
    static const int rows[] = {600, 1100, 1537};
    const int before = nn_get_num_threads(), n = rows[_i % 3];
    if (!use_isa(isas[_i / 3]))
        return;
    spec sp[] = {{REF_DENSE, 130, 0}, {REF_RELU, 0, 0}, {REF_DENSE, 4, 0}, {REF_SOFTMAX_CE, 0, 0}};
    net t;
    net_build(&t, 83, sp, 4);
    net_randomize(&t, 1.0);
    nn_tensor *x, *y;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, 83}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){n, 4}), NN_OK);
    for (int k = 0; k < n * 83; k++)
        nn_tensor_data(x)[k] = (float)trand();
    float *first = malloc(sizeof(float) * n * 4);
    ck_assert(first);
    for (int threads = 1; threads <= 3; threads++) {
        ck_assert_int_eq(nn_set_num_threads(threads), NN_OK);
        ck_assert_int_eq(nn_graph_forward(t.g, x, y), NN_OK);
        if (threads == 1)
            memcpy(first, nn_tensor_data(y), sizeof(float) * n * 4);
        else
            ck_assert_msg(memcmp(first, nn_tensor_data(y), sizeof(float) * n * 4) == 0,
                          "%d rows on %d threads: other bits than on 1", n, threads);
    }
    ck_assert_int_eq(nn_set_num_threads(before), NN_OK);
    free(first);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    net_free(&t);
}
END_TEST

START_TEST(headless_graph_forward)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 2), NN_OK);
    nn_tensor *w, *b, *x, *y;
    nn_graph_param(g, 0, &w, NULL);
    nn_graph_param(g, 1, &b, NULL);
    float wv[4] = {1, 2, -3, 4}, bv[2] = {0.5f, -1};
    ck_assert_int_eq(nn_tensor_copy_from(w, wv, 4), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(b, bv, 2), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){1, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, 2}), NN_OK);
    nn_tensor_data(x)[0] = 1;
    nn_tensor_data(x)[1] = 1;
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    ck_assert_float_eq(nn_tensor_data(y)[0], 3.5f);  /* 1 + 2 + 0.5 */
    ck_assert_float_eq(nn_tensor_data(y)[1], 0.0f);  /* -3 + 4 - 1 */
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    nn_tensor_data(x)[1] = 0;
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    ck_assert_float_eq(nn_tensor_data(y)[0], 1.5f);
    ck_assert_float_eq(nn_tensor_data(y)[1], 0.0f);  /* relu(-4) */
    float loss;
    int32_t lab = 0;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, &lab, &loss), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_forward_loss_targets(g, x, y, &loss), NN_ERR_STATE);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* Activations over their whole range, through a graph that starts with
 * the activation (so the input passes straight to it): 0, tiny, moderate
 * and huge values of both signs, the infinities and NaN, against double
 * precision. Forward only; the backward is checked against finite
 * differences above. 37 values: two full vectors and a ragged tail. */
static double act_ref(int a, double x)
{
    switch (a) {
    case NN_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case NN_ACT_TANH: return tanh(x);
    case NN_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    default: return x > 0 ? x : 0.0;
    }
}

START_TEST(activations_over_their_range)
{
    static const float pts[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, -1e-8f, 1e-3f, -1e-3f,
                                0.05f, -0.05f, 0.2999f, -0.2999f, 0.3f, -0.3f, 0.7f, -0.7f,
                                1.0f, -1.0f, 2.5f, -2.5f, 5.0f, -5.0f, 9.0f, -9.0f, 15.0f,
                                -15.0f, 40.0f, -40.0f, 88.0f, -88.0f, 120.0f, -120.0f, 1e30f,
                                -1e30f, INFINITY, -INFINITY, NAN};
    const int n = (int)(sizeof pts / sizeof pts[0]);
    const int act = NN_ACT_SIGMOID + _i; /* sigmoid, tanh, GELU */
    nn_graph *g;
    nn_tensor *x, *y;
    ck_assert_int_eq(nn_graph_create(&g, n), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, (nn_activation)act), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){1, n}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, n}), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(x, pts, (size_t)n), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    for (int k = 0; k < n; k++) {
        double want = act_ref(act, pts[k]), got = nn_tensor_data(y)[k];
        if (isnan(want)) {
            ck_assert_msg(isnan(got), "act %d at %g: %g, want NaN", act, (double)pts[k], got);
            continue;
        }
        /* float rounding of the result, plus 2e-7 absolute (erf's bound) */
        double tol = 4e-7 * fabs(want) + 2e-7 * (act == NN_ACT_GELU ? fabs(pts[k]) : 0.0) + 1e-37;
        if (isinf(want))
            ck_assert_msg(got == want, "act %d at %g: %g, want %g", act, (double)pts[k], got, want);
        else
            ck_assert_msg(fabs(got - want) <= tol, "act %d at %g: %.9g, want %.9g (tol %g)", act,
                          (double)pts[k], got, want, tol);
    }
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(large_logits_stay_finite)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 1), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 3), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    nn_tensor *w, *x;
    nn_graph_param(g, 0, &w, NULL);
    nn_tensor_data(w)[0] = 1e4f;
    nn_tensor_data(w)[1] = -1e4f;
    nn_tensor_data(w)[2] = 0.0f;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){2, 1}), NN_OK);
    nn_tensor_data(x)[0] = 1.0f;
    nn_tensor_data(x)[1] = 1.0f;
    int32_t labels[2] = {0, 1};
    float loss;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
    /* row 0 is right with certainty, row 1 is off by 2e4: mean 1e4 */
    ck_assert_float_eq_tol(loss, 1e4f, 1.0f);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    nn_tensor *gw;
    nn_graph_param(g, 0, NULL, &gw);
    for (int k = 0; k < 3; k++)
        ck_assert(isfinite(nn_tensor_data(gw)[k]));
    /* d/dz of mean CE: row 1 has p = (1, 0, 0), t = (0, 1, 0): (1, -1, 0)/2 */
    ck_assert_float_eq_tol(nn_tensor_data(gw)[0], 0.5f, 1e-6f);
    ck_assert_float_eq_tol(nn_tensor_data(gw)[1], -0.5f, 1e-6f);
    ck_assert_float_eq_tol(nn_tensor_data(gw)[2], 0.0f, 1e-6f);
    nn_tensor_destroy(x);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(smoothed_targets_match_reference)
{
    spec sp[] = {{REF_DENSE, 5, 0}, {REF_TANH, 0, 0}, {REF_DENSE, 3, 0}, {REF_SOFTMAX_CE, 0, 0}};
    net t;
    net_build(&t, 4, sp, 4);
    net_randomize(&t, 1.0);
    int n = 3, c = 3;
    nn_tensor *x, *tg;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, 4}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&tg, 2, (int64_t[]){n, c}), NN_OK);
    double xd[12], td[9];
    for (int k = 0; k < 12; k++)
        xd[k] = nn_tensor_data(x)[k] = (float)trand();
    for (int r = 0; r < n; r++)
        for (int k = 0; k < c; k++)
            td[r * c + k] = nn_tensor_data(tg)[r * c + k] = k == r ? 0.8f : 0.1f;
    float loss;
    ck_assert_int_eq(nn_graph_forward_loss_targets(t.g, x, tg, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_backward(t.g), NN_OK);
    double **acts = acts_alloc(4, n, 5);
    double want = ref_run(t.ref, 4, n, xd, NULL, td, 1, acts);
    ck_assert_double_eq_tol(loss, want, 1e-5 * fabs(want));
    nn_tensor *gw;
    nn_graph_param(t.g, 0, NULL, &gw);
    assert_close("dW0", nn_tensor_data(gw), t.ref[0].gw, 20);
    acts_free(acts, 4);
    nn_tensor_destroy(x);
    nn_tensor_destroy(tg);
    net_free(&t);
}
END_TEST

START_TEST(dropout_statistics)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 1000), NN_OK);
    ck_assert_int_eq(nn_graph_add_dropout(g, 0.25f), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 1), NN_OK);
    ck_assert_int_eq(nn_graph_add_mse_loss(g), NN_OK);
    nn_tensor *x, *tg, *y;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){4, 1000}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&tg, 2, (int64_t[]){4, 1}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){4, 1}), NN_OK);
    for (int k = 0; k < 4000; k++)
        nn_tensor_data(x)[k] = 1.0f;
    float loss;
    ck_assert_int_eq(nn_graph_forward_loss_targets(g, x, tg, &loss), NN_OK);
    const float *mask = g->pending->lp[0].mask, *out = g->pending->lp[0].y;
    int zeros = 0;
    for (int k = 0; k < 4000; k++) {
        ck_assert(mask[k] == 0.0f || mask[k] == 1.0f / 0.75f);
        ck_assert_float_eq(out[k], mask[k]);
        zeros += mask[k] == 0.0f;
    }
    /* 1000 of 4000 expected; 5 sigma is about 137 */
    ck_assert_int_gt(zeros, 860);
    ck_assert_int_lt(zeros, 1140);
    /* inference is the identity: y = sum(w) + b for all-ones rows */
    nn_tensor *w;
    nn_graph_param(g, 0, &w, NULL);
    double sw = 0;
    for (int k = 0; k < 1000; k++)
        sw += nn_tensor_data(w)[k];
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    for (int r = 0; r < 4; r++)
        ck_assert_double_eq_tol(nn_tensor_data(y)[r], sw, 1e-4);
    nn_tensor_destroy(x);
    nn_tensor_destroy(tg);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

static nn_graph *mlp(int in, int hid, int out, float dropout)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, in), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, hid), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    if (dropout > 0)
        ck_assert_int_eq(nn_graph_add_dropout(g, dropout), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, out), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    return g;
}

START_TEST(init_schemes)
{
    nn_graph *a = mlp(300, 200, 10, 0), *b = mlp(300, 200, 10, 0);
    nn_tensor *wa, *wb, *ba;
    nn_graph_param(a, 0, &wa, NULL);
    nn_graph_param(a, 1, &ba, NULL);
    nn_graph_param(b, 0, &wb, NULL);
    /* default = Glorot uniform with seed 0 */
    ck_assert_int_eq(nn_graph_init_params(b, NN_INIT_GLOROT_UNIFORM, 0), NN_OK);
    ck_assert_mem_eq(nn_tensor_data(wa), nn_tensor_data(wb), 300 * 200 * sizeof(float));
    ck_assert_int_eq(nn_graph_init_params(b, NN_INIT_GLOROT_UNIFORM, 7), NN_OK);
    ck_assert(memcmp(nn_tensor_data(wa), nn_tensor_data(wb), 300 * 200 * sizeof(float)) != 0);
    struct { nn_init s; double fan; int uniform; } cases[] = {
        {NN_INIT_GLOROT_UNIFORM, 500, 1}, {NN_INIT_GLOROT_NORMAL, 500, 0},
        {NN_INIT_HE_UNIFORM, 300, 1}, {NN_INIT_HE_NORMAL, 300, 0}};
    for (int c = 0; c < 4; c++) {
        nn_tensor_data(ba)[3] = 5.0f;
        ck_assert_int_eq(nn_graph_init_params(a, cases[c].s, 42), NN_OK);
        ck_assert_float_eq(nn_tensor_data(ba)[3], 0.0f);
        const float *w = nn_tensor_data(wa);
        double var = 0, mean = 0, mx = 0, want = 2.0 / cases[c].fan;
        for (int k = 0; k < 60000; k++) {
            mean += w[k];
            var += (double)w[k] * w[k];
            mx = fmax(mx, fabs(w[k]));
        }
        mean /= 60000;
        var /= 60000;
        /* uniform(-a, a) with a = sqrt(3 * want) has variance want too */
        ck_assert_msg(fabs(var - want) < 0.03 * want, "scheme %d: variance %g, want %g", c, var,
                      want);
        ck_assert(fabs(mean) < 0.01 * sqrt(want));
        if (cases[c].uniform)
            ck_assert(mx <= sqrt(3 * want) && mx > 0.99 * sqrt(3 * want));
        else
            ck_assert(mx > 3.5 * sqrt(want)); /* tails a uniform never has */
    }
    nn_graph_destroy(a);
    nn_graph_destroy(b);
}
END_TEST

/* nn_graph_param's tensors stay valid, with their values, when a dense
 * layer is added after they were taken (the layer's storage moves), and
 * writing through them afterwards reaches the graph. */
START_TEST(param_handles_survive_added_layers)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, 3), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 2), NN_OK);
    nn_tensor *w0 = NULL, *b0 = NULL, *gw0 = NULL;
    ck_assert_int_eq(nn_graph_param(g, 0, &w0, &gw0), NN_OK);
    ck_assert_int_eq(nn_graph_param(g, 1, &b0, NULL), NN_OK);
    const float w[6] = {1, 2, 3, 4, 5, 6}, b[2] = {0.5f, 0.25f};
    ck_assert_int_eq(nn_tensor_copy_from(w0, w, 6), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(b0, b, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 4), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 1), NN_OK);
    nn_tensor *again = NULL, *gagain = NULL;
    ck_assert_int_eq(nn_graph_param(g, 0, &again, &gagain), NN_OK);
    ck_assert_ptr_eq(again, w0);
    ck_assert_ptr_eq(gagain, gw0);
    ck_assert_int_eq(nn_graph_param(g, 1, &again, NULL), NN_OK);
    ck_assert_ptr_eq(again, b0);
    ck_assert_int_eq(nn_tensor_ndim(w0), 2);
    ck_assert_int_eq(nn_tensor_dim(w0, 0), 2);
    ck_assert_int_eq(nn_tensor_dim(w0, 1), 3);
    float got[6];
    ck_assert_int_eq(nn_tensor_copy_to(w0, got, 6), NN_OK);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(got[i], w[i]);
    ck_assert_int_eq(nn_tensor_copy_to(b0, got, 2), NN_OK);
    ck_assert_float_eq(got[0], b[0]);
    ck_assert_float_eq(got[1], b[1]);
    /* the first layer alone, through the graph: y = relu(W x + b) */
    const float w1[8] = {1, 1, 1, 1, 1, 1, 1, 1}, w2[4] = {1, 1, 1, 1};
    nn_tensor *t = NULL;
    ck_assert_int_eq(nn_graph_param(g, 2, &t, NULL), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(t, w1, 8), NN_OK);
    ck_assert_int_eq(nn_graph_param(g, 4, &t, NULL), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(t, w2, 4), NN_OK);
    const float neg[6] = {-1, -2, -3, -4, -5, -6};
    ck_assert_int_eq(nn_tensor_copy_from(w0, neg, 6), NN_OK); /* after the adds */
    const float x[3] = {1, 1, 1};
    nn_tensor *xt = NULL, *y = NULL;
    int64_t xd[2] = {1, 3}, yd[2] = {1, 1};
    ck_assert_int_eq(nn_tensor_create(&xt, 2, xd), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, yd), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(xt, x, 3), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, xt, y), NN_OK);
    /* W0 x + b0 = (-6 + 0.5, -15 + 0.25): both cut by the ReLU, so y is 4 * 0
     * plus the later biases (0) */
    ck_assert_float_eq(nn_tensor_data(y)[0], 0.0f);
    ck_assert_int_eq(nn_tensor_copy_from(w0, w, 6), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, xt, y), NN_OK);
    /* (6.5, 15.25) -> 4 hidden units of 21.75 each -> 87 */
    ck_assert_float_eq(nn_tensor_data(y)[0], 87.0f);
    nn_tensor_destroy(xt);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(build_errors)
{
    nn_graph *g = (nn_graph *)0x1;
    ck_assert_int_eq(nn_graph_create(NULL, 3), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_create: out is NULL");
    ck_assert_int_eq(nn_graph_create(&g, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_create: in_features is 0, must be 1..2^31");
    ck_assert_ptr_eq(g, (nn_graph *)0x1);
    ck_assert_int_eq(nn_graph_add_dense(NULL, 3), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_add_dense: g is NULL");
    ck_assert_int_eq(nn_graph_add_activation(NULL, NN_ACT_RELU), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_dropout(NULL, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_leaky_relu(NULL, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_mse_loss(NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_init_params(NULL, NN_INIT_HE_NORMAL, 1), NN_ERR_INVALID_ARGUMENT);
    nn_graph_destroy(NULL);

    ck_assert_int_eq(nn_graph_create(&g, 4), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_add_dense: units is 0, must be 1..2^31");
    ck_assert_int_eq(nn_graph_add_dense(g, -2), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_dense(g, INT64_C(1) << 62), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_activation(g, (nn_activation)4), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_add_activation: unknown activation 4");
    ck_assert_int_eq(nn_graph_add_activation(g, (nn_activation)-1), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_leaky_relu(g, -0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_leaky_relu(g, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_dropout(g, 1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_add_dropout: rate is 1, must be in [0, 1)");
    ck_assert_int_eq(nn_graph_add_dropout(g, -0.5f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_add_dropout(g, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_init_params(g, (nn_init)9, 1), NN_ERR_INVALID_ARGUMENT);
    /* nothing was added */
    ck_assert_int_eq(nn_graph_param_count(g), 0);
    ck_assert_int_eq(nn_graph_out_features(g), 4);
    ck_assert_int_eq(nn_graph_add_dense(g, 3), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 3), NN_ERR_STATE);
    ck_assert_str_eq(nn_last_error(),
                     "nn_graph_add_dense: the graph already ends in its softmax cross-entropy head");
    ck_assert_int_eq(nn_graph_add_mse_loss(g), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_add_dropout(g, 0.1f), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_param_count(g), 2);
    ck_assert_int_eq(nn_graph_out_features(g), 3);
    nn_tensor *v = NULL;
    ck_assert_int_eq(nn_graph_param(g, 2, &v, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_param: index 2, graph has 2 parameters");
    ck_assert_int_eq(nn_graph_param(g, -1, &v, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(v);
    ck_assert_int_eq(nn_graph_param(NULL, 0, &v, NULL), NN_ERR_INVALID_ARGUMENT);
    /* borrowed parameter tensors refuse reshape and survive destroy */
    ck_assert_int_eq(nn_graph_param(g, 0, &v, NULL), NN_OK);
    ck_assert_int_eq(nn_tensor_reshape(v, 1, (int64_t[]){12}), NN_ERR_STATE);
    nn_tensor_destroy(v);
    ck_assert_int_eq(nn_tensor_ndim(v), 2);
    ck_assert_int_eq(nn_graph_in_features(NULL), 0);
    ck_assert_int_eq(nn_graph_out_features(NULL), 0);
    ck_assert_int_eq(nn_graph_param_count(NULL), 0);
    nn_graph_destroy(g);
}
END_TEST

/* One step of plain gradient descent through the public API. */
static void descend(nn_graph *g, float lr)
{
    for (int i = 0; i < nn_graph_param_count(g); i++) {
        nn_tensor *v, *gr;
        nn_graph_param(g, i, &v, &gr);
        for (int64_t k = 0; k < nn_tensor_numel(v); k++)
            nn_tensor_data(v)[k] -= lr * nn_tensor_data(gr)[k];
    }
}

/* Separable toy data: class = quadrant of (x0, x1). */
static void toy_batch(nn_tensor *x, int32_t *labels, int n)
{
    for (int r = 0; r < n; r++) {
        float a = (float)trand(), b = (float)trand();
        nn_tensor_data(x)[2 * r] = a;
        nn_tensor_data(x)[2 * r + 1] = b;
        labels[r] = (a > 0) * 2 + (b > 0);
    }
}

START_TEST(run_errors_leave_graph_working)
{
    nn_graph *g = mlp(2, 16, 4, 0);
    nn_tensor *x, *bad, *y, *ybad, *t3;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){8, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&bad, 2, (int64_t[]){8, 3}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){8, 4}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&ybad, 2, (int64_t[]){7, 4}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&t3, 3, (int64_t[]){8, 2, 1}), NN_OK);
    int32_t labels[8];
    float loss = -7.0f;
    toy_batch(x, labels, 8);

    ck_assert_int_eq(nn_graph_backward(g), NN_ERR_STATE);
    ck_assert_str_eq(nn_last_error(), "nn_graph_backward: no training forward to differentiate "
                                      "(call nn_graph_forward_loss first)");
    ck_assert_int_eq(nn_graph_backward(NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward(NULL, x, y), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward(g, NULL, y), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_forward: x is NULL");
    ck_assert_int_eq(nn_graph_forward(g, x, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward(g, bad, y), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_graph_forward: x is [8, 3], graph expects [N, 2]");
    ck_assert_int_eq(nn_graph_forward(g, t3, y), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_graph_forward: x is [8, 2, 1], graph expects [N, 2]");
    ck_assert_int_eq(nn_graph_forward(g, x, ybad), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(), "nn_graph_forward: y is [7, 4], expected [8, 4]");
    ck_assert_int_eq(nn_graph_forward_loss(g, bad, labels, &loss), NN_ERR_SHAPE);
    ck_assert_int_eq(nn_graph_forward_loss(g, x, NULL, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward_loss(NULL, x, labels, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_forward_loss_targets(g, x, ybad, &loss), NN_ERR_SHAPE);
    ck_assert_str_eq(nn_last_error(),
                     "nn_graph_forward_loss_targets: targets are [7, 4], expected [8, 4]");
    ck_assert_int_eq(nn_graph_forward_loss_targets(g, x, NULL, &loss), NN_ERR_INVALID_ARGUMENT);
    int32_t keep = labels[5];
    labels[5] = 4;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_forward_loss: labels[5] is 4, must be in [0, 4)");
    labels[5] = -1;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_ERR_INVALID_ARGUMENT);
    labels[5] = keep;
    ck_assert_float_eq(loss, -7.0f); /* untouched */
    ck_assert_int_eq(nn_graph_backward(g), NN_ERR_STATE); /* failed forwards leave none pending */

    /* each forward allows one backward */
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_ERR_STATE);

    /* and it still learns: 300 steps of gradient descent on quadrants */
    float first = 0;
    nn_tensor *xb;
    int32_t lb[64];
    ck_assert_int_eq(nn_tensor_create(&xb, 2, (int64_t[]){64, 2}), NN_OK);
    for (int step = 0; step < 300; step++) {
        toy_batch(xb, lb, 64);
        ck_assert_int_eq(nn_graph_forward_loss(g, xb, lb, &loss), NN_OK);
        if (step == 0)
            first = loss;
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        descend(g, 0.5f);
    }
    ck_assert_float_gt(first, 1.0f);
    ck_assert_float_lt(loss, 0.3f);
    nn_tensor_destroy(xb);
    nn_tensor_destroy(x);
    nn_tensor_destroy(bad);
    nn_tensor_destroy(y);
    nn_tensor_destroy(ybad);
    nn_tensor_destroy(t3);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(steady_state_allocates_nothing)
{
    nn_graph *g = mlp(20, 32, 5, 0.2f);
    nn_tensor *x32, *x16, *y32;
    ck_assert_int_eq(nn_tensor_create(&x32, 2, (int64_t[]){32, 20}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&x16, 2, (int64_t[]){16, 20}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y32, 2, (int64_t[]){32, 5}), NN_OK);
    int32_t labels[32] = {0};
    float loss;
    /* warm-up: builds the plans for 32, the ragged 16, and inference */
    ck_assert_int_eq(nn_graph_forward_loss(g, x32, labels, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    ck_assert_int_eq(nn_graph_forward_loss(g, x16, labels, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, x32, y32), NN_OK);
    nn_mem_fail_at(0);
    for (int step = 0; step < 20; step++) {
        nn_tensor *x = step % 5 == 4 ? x16 : x32;
        ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        ck_assert_int_eq(nn_graph_forward(g, x32, y32), NN_OK);
    }
    ck_assert_int_eq(nn_mem_fail_at(0), 0);
    nn_tensor_destroy(x32);
    nn_tensor_destroy(x16);
    nn_tensor_destroy(y32);
    nn_graph_destroy(g);
}
END_TEST

/* nn_graph_train_step_rows gathers into the plan's own buffer: once the
 * plans exist, its steps allocate nothing either. */
START_TEST(rows_steps_allocate_nothing)
{
    nn_graph *g = mlp(20, 96, 5, 0.0f);
    nn_optimizer *o;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    nn_tensor *data;
    ck_assert_int_eq(nn_tensor_create(&data, 2, (int64_t[]){100, 20}), NN_OK);
    int32_t labels[100];
    for (int k = 0; k < 100 * 20; k++)
        nn_tensor_data(data)[k] = (float)((k * 29) % 17) / 8.0f - 1.0f;
    for (int r = 0; r < 100; r++)
        labels[r] = r % 5;
    int64_t rows[32];
    for (int step = 0; step < 12; step++) {
        for (int k = 0; k < 32; k++)
            rows[k] = (k * 13 + step * 31) % 100;
        int n = step % 4 == 3 ? 7 : 32; /* and a ragged batch */
        if (step == 4)
            nn_mem_fail_at(0); /* from here on: both plans exist */
        ck_assert_int_eq(nn_graph_train_step_rows(g, o, data, labels, rows, n, NULL), NN_OK);
    }
    ck_assert_int_eq(nn_mem_fail_at(0), 0);
    nn_tensor_destroy(data);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

static int have_bf16(const char *test);

static void run_steps(nn_graph *g, float *losses, int steps)
{
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){32, 2}), NN_OK);
    int32_t labels[32];
    tseed = 99;
    for (int s = 0; s < steps; s++) {
        toy_batch(x, labels, 32);
        ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &losses[s]), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        descend(g, 0.1f);
    }
    nn_tensor_destroy(x);
}

/* The same run on 1 thread and again on 1, 2 or 3: the same bits. */
START_TEST(bitwise_deterministic)
{
    const int before = nn_get_num_threads();
    /* 200 hidden units: three 64-column chunks and a ragged one to share out */
    nn_graph *a = mlp(2, 200, 4, 0.3f), *b = mlp(2, 200, 4, 0.3f);
    if (_i >= 3) { /* the same in bf16 */
        nn_graph_destroy(a), nn_graph_destroy(b);
        if (!have_bf16("bitwise_deterministic (bf16)"))
            return;
        a = mlp(2, 200, 4, 0.3f), b = mlp(2, 200, 4, 0.3f);
        ck_assert_int_eq(nn_graph_set_training_precision(a, NN_PRECISION_BF16), NN_OK);
        ck_assert_int_eq(nn_graph_set_training_precision(b, NN_PRECISION_BF16), NN_OK);
    }
    ck_assert_int_eq(nn_graph_init_params(a, NN_INIT_HE_UNIFORM, 5), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(b, NN_INIT_HE_UNIFORM, 5), NN_OK);
    float la[25], lb[25];
    ck_assert_int_eq(nn_set_num_threads(1), NN_OK);
    run_steps(a, la, 25);
    ck_assert_int_eq(nn_set_num_threads(1 + _i % 3), NN_OK);
    run_steps(b, lb, 25);
    ck_assert_int_eq(nn_set_num_threads(before), NN_OK);
    ck_assert_mem_eq(la, lb, sizeof la);
    for (int i = 0; i < nn_graph_param_count(a); i++) {
        nn_tensor *va, *ga, *vb, *gb;
        nn_graph_param(a, i, &va, &ga);
        nn_graph_param(b, i, &vb, &gb);
        ck_assert_mem_eq(nn_tensor_data(va), nn_tensor_data(vb),
                         (size_t)nn_tensor_numel(va) * sizeof(float));
        ck_assert_mem_eq(nn_tensor_data(ga), nn_tensor_data(gb),
                         (size_t)nn_tensor_numel(ga) * sizeof(float));
    }
    nn_graph_destroy(a);
    nn_graph_destroy(b);
}
END_TEST

/* Per-thread copies of the first layer's panels are capped at 16 MiB in
 * all (exec.c): 4,100 inputs at batch 512 make 8.4 MB a copy, so on 3
 * threads the caller packs one copy for all. The same bits as on 1
 * thread, which keeps its one copy. */
START_TEST(shared_panel_copy_same_bits)
{
    const int before = nn_get_num_threads();
    enum { IN = 4100, N = 512 };
    nn_graph *g[2];
    nn_tensor *x;
    int32_t labels[N];
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){N, IN}), NN_OK);
    for (int k = 0; k < N * IN; k++)
        nn_tensor_data(x)[k] = (float)(((int64_t)k * 7919) % 211) / 105.0f - 1.0f;
    for (int r = 0; r < N; r++)
        labels[r] = r % 4;
    for (int t = 0; t < 2; t++) {
        ck_assert_int_eq(nn_set_num_threads(t ? 3 : 1), NN_OK);
        g[t] = mlp(IN, 70, 4, 0.0f);
        for (int step = 0; step < 3; step++) {
            float loss;
            ck_assert_int_eq(nn_graph_forward_loss(g[t], x, labels, &loss), NN_OK);
            ck_assert_int_eq(nn_graph_backward(g[t]), NN_OK);
            descend(g[t], 0.01f);
        }
        if (t && nn_kernels_panel()) {
            const plan *p = g[t]->pending ? g[t]->pending : NULL;
            for (int k = 0; !p && k < NN_PLAN_SLOTS; k++)
                if (g[t]->plans[k] && g[t]->plans[k]->training)
                    p = g[t]->plans[k];
            ck_assert_ptr_nonnull(p);
            ck_assert_int_eq(p->xt_copies, 1);
            ck_assert_int_eq(p->threads, 3);
        }
    }
    ck_assert_int_eq(nn_set_num_threads(before), NN_OK);
    for (int i = 0; i < nn_graph_param_count(g[0]); i++) {
        nn_tensor *va, *vb;
        nn_graph_param(g[0], i, &va, NULL);
        nn_graph_param(g[1], i, &vb, NULL);
        ck_assert_mem_eq(nn_tensor_data(va), nn_tensor_data(vb),
                         (size_t)nn_tensor_numel(va) * sizeof(float));
    }
    nn_graph_destroy(g[0]);
    nn_graph_destroy(g[1]);
    nn_tensor_destroy(x);
}
END_TEST

START_TEST(many_batch_sizes)
{
    /* more sizes than plan slots: plans are evicted and rebuilt, results stay right */
    spec sp[] = {{REF_DENSE, 6, 0}, {REF_SIGMOID, 0, 0}, {REF_DENSE, 3, 0}, {REF_SOFTMAX_CE, 0, 0}};
    net t;
    net_build(&t, 3, sp, 4);
    net_randomize(&t, 1.0);
    for (int n = 1; n <= 9; n++)
        check_net(&t, n, 0);
    for (int n = 9; n >= 1; n -= 2)
        check_net(&t, n, 0);
    net_free(&t);
}
END_TEST

/* The pool's answer to a descheduled worker (lib/core/pool.c): a run
 * whose worker held its task for 5 ms while the caller's was instant is a
 * stall; the next run takes place on the caller alone; once the solo
 * period is over (at most 0.64 s) the worker takes part again. Static
 * runs: task 0 is the caller's, task 1 the worker's. The waits are longer
 * than any solo period, so the test holds under valgrind too, where every
 * hand-over to the worker is slow enough to count as a stall. */
typedef struct pool_probe {
    pthread_t ran_on[2];
    int sleep_task1;
} pool_probe;

static void pool_probe_task(void *ctx, int task)
{
    pool_probe *pp = ctx;
    pp->ran_on[task] = pthread_self();
    if (task == 1 && pp->sleep_task1) {
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
    }
}

static void past_any_solo_period(void)
{
    struct timespec d = {0, 700000000};
    nanosleep(&d, NULL);
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) * 1e-6;
}

/* A static probe run. If it returned within window_ms of since, it fell in
 * the solo period that started then, so the caller must have run task 1
 * (the worker's) too; returns whether that check applied. */
static int solo_run_checked(nn_pool *pool, pool_probe *pp, const struct timespec *since,
                            double window_ms, const char *why)
{
    struct timespec tc;
    pp->sleep_task1 = 0;
    nn_pool_run(pool, 2, pool_probe_task, pp, NN_POOL_STATIC);
    clock_gettime(CLOCK_MONOTONIC, &tc);
    if (ms_between(since, &tc) >= window_ms)
        return 0;
    ck_assert_msg(pthread_equal(pp->ran_on[1], pthread_self()), "%s", why);
    return 1;
}

/* Once the longest solo period is over, the worker takes part again. */
static void worker_back_after_solo(nn_pool *pool, pool_probe *pp)
{
    past_any_solo_period();
    nn_pool_run(pool, 2, pool_probe_task, pp, NN_POOL_STATIC);
    ck_assert_msg(!pthread_equal(pp->ran_on[1], pthread_self()),
                  "after the solo period, the worker takes part again");
}

START_TEST(pool_goes_solo_after_a_stall)
{
    nn_pool *pool = NULL;
    ck_assert_int_eq(nn_pool_create(&pool, 2), NN_OK);
    pool_probe pp = {.sleep_task1 = 0};
    nn_pool_run(pool, 2, pool_probe_task, &pp, NN_POOL_STATIC);
    ck_assert(pthread_equal(pp.ran_on[0], pthread_self()));
    ck_assert(!pthread_equal(pp.ran_on[1], pthread_self()));

    /* The stall ends after task 1's 5 ms sleep and the solo period lasts
     * at least 2 ms from there, so a next run that has returned within
     * 7 ms of the stalled run's call must have started inside it. Where
     * that is too fast for the machine (valgrind), try again, then say so. */
    int conclusive = 0;
    for (int attempt = 0; attempt < 5 && !conclusive; attempt++) {
        past_any_solo_period();
        int64_t before = nn_pool_stalls(pool);
        pp.sleep_task1 = 1;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        nn_pool_run(pool, 2, pool_probe_task, &pp, NN_POOL_STATIC);
        ck_assert(!pthread_equal(pp.ran_on[1], pthread_self()));
        ck_assert_int_eq(nn_pool_stalls(pool), before + 1);

        conclusive = solo_run_checked(pool, &pp, &ts, 7.0,
                                      "right after a stall, the caller runs every task");
    }
    if (!conclusive)
        printf("pool_goes_solo_after_a_stall: solo check skipped, no run pair within 7 ms "
               "on this machine\n");
    worker_back_after_solo(pool, &pp);
    nn_pool_destroy(pool);
}
END_TEST

/* Dynamic runs of two instant tasks, back to back, with the worker held
 * (nn_pool_hold_workers: it watches for runs but takes no task), until
 * the pool counts a stall or ms milliseconds have passed. Each must fall to
 * the caller. *last is set to the time before the last run. Returns the
 * longest stretch, in ms, with no iteration over 0.25 ms: an iteration that
 * long may hide a gap that starts the pool's streak of runs without the
 * worker again (it allows 0.5 ms). */
static double held_runs(nn_pool *pool, pool_probe *pp, double ms, struct timespec *last)
{
    int64_t before = nn_pool_stalls(pool);
    struct timespec first, now, clean;
    double longest = 0;
    clock_gettime(CLOCK_MONOTONIC, &first);
    *last = clean = first;
    nn_pool_hold_workers(pool, 1);
    while (nn_pool_stalls(pool) == before) {
        pp->ran_on[0] = pp->ran_on[1] = (pthread_t)0;
        nn_pool_run(pool, 2, pool_probe_task, pp, NN_POOL_DYNAMIC);
        ck_assert(pthread_equal(pp->ran_on[0], pthread_self()) &&
                  pthread_equal(pp->ran_on[1], pthread_self()));
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (ms_between(last, &now) > 0.25)
            clean = now;
        if (ms_between(&clean, &now) > longest)
            longest = ms_between(&clean, &now);
        if (ms_between(&first, &now) > ms)
            break;
        *last = now;
    }
    nn_pool_hold_workers(pool, 0);
    return longest;
}

/* The other sign of a worker off its core: back-to-back runs, for over
 * 2 ms, in which the caller ran every task itself. With the worker held,
 * back-to-back runs all fall to the caller, and after 2 ms of them (not
 * before) the pool goes solo. A static run that returns within 2 ms of the
 * last held run's start must then run task 1 on the caller, where a run
 * with the worker present never does (task 1 is in the worker's range).
 * A run the worker takes part in starts the count again. Attempts the
 * machine made too slow to tell are tried again. */
START_TEST(pool_goes_solo_when_the_worker_takes_no_task)
{
    nn_pool *pool = NULL;
    ck_assert_int_eq(nn_pool_create(&pool, 2), NN_OK);
    pool_probe pp = {.sleep_task1 = 0};
    int conclusive = 0;
    for (int attempt = 0; attempt < 5 && !conclusive; attempt++) {
        past_any_solo_period();
        int64_t before = nn_pool_stalls(pool);
        struct timespec t_first, last, ts;
        clock_gettime(CLOCK_MONOTONIC, &t_first);
        double clean = held_runs(pool, &pp, 1000.0, &last);
        clock_gettime(CLOCK_MONOTONIC, &ts);
        if (nn_pool_stalls(pool) == before) {
            ck_assert_msg(clean < 3.0, "no stall after %.1f ms of back-to-back runs without the worker",
                          clean);
            continue; /* held up every few runs for the whole second: try again */
        }
        ck_assert_int_eq(nn_pool_stalls(pool), before + 1);
        ck_assert_msg(ms_between(&t_first, &ts) > 2.0, "solo after %.3f ms of runs without the worker",
                      ms_between(&t_first, &ts));
        conclusive = solo_run_checked(pool, &pp, &last, 2.0,
                                      "after runs without the worker, the caller runs every task");
    }
    if (!conclusive)
        printf("pool_goes_solo_when_the_worker_takes_no_task: solo check skipped, no run "
               "within 2 ms on this machine\n");

    /* 1.2 ms held, one run with the worker, 1.2 ms held: no stall, where
     * the second stretch took under 2 ms in all (one run held up by the
     * machine can make it longer: valgrind); without the reset, the
     * streak would span both stretches, over 2 ms. */
    int reset_checked = 0;
    for (int attempt = 0; attempt < 5 && !reset_checked; attempt++) {
        past_any_solo_period();
        int64_t before = nn_pool_stalls(pool);
        struct timespec last, t_a, t_b;
        held_runs(pool, &pp, 1.2, &last);
        nn_pool_run(pool, 2, pool_probe_task, &pp, NN_POOL_STATIC);
        if (nn_pool_stalls(pool) != before)
            continue; /* the first stretch, or the static run, took too long */
        ck_assert(!pthread_equal(pp.ran_on[1], pthread_self()));
        clock_gettime(CLOCK_MONOTONIC, &t_a);
        held_runs(pool, &pp, 1.2, &last);
        clock_gettime(CLOCK_MONOTONIC, &t_b);
        if (ms_between(&t_a, &t_b) < 2.0) {
            reset_checked = 1;
            ck_assert_int_eq(nn_pool_stalls(pool), before);
        }
    }
    if (!reset_checked)
        printf("pool_goes_solo_when_the_worker_takes_no_task: reset check skipped, the runs "
               "were too slow on this machine\n");
    worker_back_after_solo(pool, &pp);
    nn_pool_destroy(pool);
}
END_TEST

/* Affine runs: every task exactly once; a thread whose task sleeps has the
 * rest of its range taken by the caller. */
typedef struct affine_probe {
    atomic_int runs[40];
    pthread_t ran_on[40];
} affine_probe;

static void affine_probe_task(void *ctx, int task)
{
    affine_probe *ap = ctx;
    atomic_fetch_add(&ap->runs[task], 1);
    ap->ran_on[task] = pthread_self();
    if (task == 20) { /* the first of the worker's range */
        struct timespec d = {0, 20000000};
        nanosleep(&d, NULL);
    }
}

START_TEST(pool_affine_steals_from_a_late_thread)
{
    nn_pool *pool = NULL;
    ck_assert_int_eq(nn_pool_create(&pool, 2), NN_OK);
    past_any_solo_period();
    for (int rep = 0; rep < 3; rep++) {
        affine_probe ap;
        memset(&ap, 0, sizeof ap);
        nn_pool_run(pool, 40, affine_probe_task, &ap, NN_POOL_AFFINE);
        int stolen = 0;
        for (int k = 0; k < 40; k++) {
            ck_assert_int_eq(atomic_load(&ap.runs[k]), 1);
            stolen += k > 20 && pthread_equal(ap.ran_on[k], pthread_self());
        }
        /* whoever took task 20 slept 20 ms: the other thread ran tasks 21..39 */
        if (!pthread_equal(ap.ran_on[20], pthread_self()))
            ck_assert_int_eq(stolen, 19);
        past_any_solo_period();
    }
    nn_pool_destroy(pool);
}
END_TEST

/* ---- bf16 training (NN_PRECISION_BF16, kernels_bf16.c) ---- */

/* Round to nearest even, for finite normal values and zero. */
static float bf16_ref(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    u &= 0xffff0000u;
    memcpy(&v, &u, sizeof v);
    return v;
}

static float bf16_value(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* n uniform values in [-1, 1), in new memory. */
static float *random_floats(int n)
{
    float *v = malloc(sizeof(float) * (size_t)n);
    ck_assert_ptr_nonnull(v);
    for (int i = 0; i < n; i++)
        v[i] = (float)trand();
    return v;
}

/* Batch panels: the packing (layout, zero rows past n, column ranges
 * packed apart) and the product against a double reference, for one and
 * two vectors of rows, full and partial last panels, 16-, 8-, 4- and
 * 1-column tiles, with and without a bias, leaving y's other columns. */
/* nn_kernel_nn sums each element of C as one FMA chain in K order, on
 * each instruction set, also where the AVX-512 kernel takes K in blocks of
 * 128 (continuing each chain from C): bitwise what fmaf in order gives.
 * A as weight gradients read it (dy's columns: element (i, p) at
 * a[i + p * lda]); 9 rows (4-row blocks and left over), 83 columns (a
 * 64-column block, a full 16 and a masked 3). */
START_TEST(nn_kernel_sums_in_k_order)
{
    if (!use_isa(isas[_i]) || _i == N_ISAS - 1)
        return; /* the portable path has no nn kernel */
    static const int ks[] = {1, 127, 128, 129, 256, 300};
    const int m = 9, n = 83, lda = 11;
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        const int k = ks[t];
        float *a = random_floats(k * lda), *b = random_floats(k * n);
        float *c = malloc(sizeof(float) * m * n);
        ck_assert(c);
        nn_kernel_nn(m, n, k, a, 1, lda, b, n, c, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float want = 0.0f;
                for (int p = 0; p < k; p++)
                    want = fmaf(a[i + p * lda], b[p * n + j], want);
                ck_assert_msg(memcmp(&c[i * n + j], &want, sizeof want) == 0,
                              "isa %d, k %d: c[%d][%d] = %.9g, in-order fmaf %.9g", isas[_i], k,
                              i, j, (double)c[i * n + j], (double)want);
            }
        free(a), free(b), free(c);
    }
    nn_kernels_limit_isa(NN_ISA_AVX512);
}
END_TEST

START_TEST(panel_kernels_match_reference)
{
    nn_kernels_limit_isa(NN_ISA_AVX512);
    if (!nn_kernels_panel()) {
        fprintf(stderr, "panel_kernels_match_reference: skipped, this CPU has no AVX-512\n");
        return;
    }
    static const int shapes[][3] = {{32, 64, 83}, {16, 33, 17}, {20, 70, 5},  {48, 29, 100},
                                    {64, 16, 1},  {100, 7, 64}, {128, 4, 31}, {1, 9, 20}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], cols = shapes[s][1], k = shapes[s][2], ldy = cols + 5;
        const int panels = (n + NN_PANEL_ROWS - 1) / NN_PANEL_ROWS;
        const size_t xt_floats = (size_t)panels * NN_PANEL_ROWS * k;
        float *x = random_floats(n * k), *w = random_floats(cols * k), *bias = random_floats(cols);
        float *xt = aligned_alloc(64, (xt_floats * sizeof(float) + 63) / 64 * 64);
        float *xt2 = aligned_alloc(64, (xt_floats * sizeof(float) + 63) / 64 * 64);
        float *y = malloc(sizeof(float) * n * ldy);
        ck_assert(xt && xt2 && y);
        for (size_t i = 0; i < xt_floats; i++)
            xt[i] = xt2[i] = -7.0f; /* the padding rows must be overwritten */
        nn_panel_pack(xt, k, x, k, n, 0, k);
        const int split = k / 3; /* two ranges, the second from an unaligned column */
        nn_panel_pack(xt2, k, x, k, n, split, k);
        nn_panel_pack(xt2, k, x, k, n, 0, split);
        for (int r = 0; r < panels * NN_PANEL_ROWS; r++)
            for (int p = 0; p < k; p++) {
                size_t at = (size_t)(r / NN_PANEL_ROWS) * k * NN_PANEL_ROWS +
                            (size_t)p * NN_PANEL_ROWS + r % NN_PANEL_ROWS;
                ck_assert_float_eq(xt[at], r < n ? x[r * k + p] : 0.0f);
                ck_assert_float_eq(xt2[at], xt[at]);
            }
        for (int with_bias = 0; with_bias < 2; with_bias++) {
            for (int i = 0; i < n * ldy; i++)
                y[i] = -99.0f;
            nn_kernel_panel(n, cols, k, xt, w, k, with_bias ? bias : NULL, y, ldy);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < cols; j++) {
                    double want = with_bias ? bias[j] : 0.0, mag = fabs(want);
                    for (int p = 0; p < k; p++) {
                        want += (double)x[i * k + p] * w[j * k + p];
                        mag += fabs((double)x[i * k + p] * w[j * k + p]);
                    }
                    ck_assert_msg(fabs(y[i * ldy + j] - want) <= 1e-6 * mag + 1e-7,
                                  "panel %dx%dx%d: y[%d][%d] = %.9g, want %.9g", n, cols, k, i,
                                  j, (double)y[i * ldy + j], want);
                }
                for (int j = cols; j < ldy; j++)
                    ck_assert_float_eq(y[i * ldy + j], -99.0f);
            }
        }
        free(x), free(w), free(bias), free(xt), free(xt2), free(y);
    }
}
END_TEST

static int have_bf16(const char *test)
{
    nn_kernels_limit_isa(NN_ISA_AVX512);
    if (nn_kernels_bf16())
        return 1;
    fprintf(stderr, "%s: skipped, this CPU has no AVX512_BF16\n", test);
    return 0;
}

START_TEST(bf16_kernels_match_reference)
{
    if (!have_bf16("bf16_kernels_match_reference"))
        return;
    /* ties go to the even neighbour: 1 + 2^-8 down to 1, 1 + 3 2^-8 up to 1 + 2^-6 */
    const float v[] = {1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, -2.5f, 3.14159265f, 1e-3f, -7e5f, 0.0f,
                       0.1f, 1.0f / 3, 65504.0f, -1e-30f, 123.456f, 9.99f, 2.0f, -0.75f, 5e20f,
                       0.3f};
    enum { NV = sizeof v / sizeof v[0] };
    uint16_t h[NV];
    nn_bf16_round(h, v, NV);
    for (int i = 0; i < NV; i++)
        ck_assert_float_eq(bf16_value(h[i]), bf16_ref(v[i]));
    ck_assert_float_eq(bf16_value(h[0]), 1.0f);
    ck_assert_float_eq(bf16_value(h[1]), 1.0f + 0x1p-6f);

    /* C = A B^T: 4x4 blocks, partial blocks, whole, partial and masked 32-wide steps */
    static const int nt[][3] = {{1, 1, 1}, {5, 7, 31}, {9, 10, 33}, {32, 67, 83}, {33, 5, 64}};
    for (size_t s = 0; s < sizeof nt / sizeof nt[0]; s++) {
        const int m = nt[s][0], n = nt[s][1], k = nt[s][2], ldc = n + 3;
        float *a = random_floats(m * k), *b = random_floats(n * k);
        float *c = malloc(sizeof(float) * m * ldc);
        uint16_t *ah = malloc(2u * m * k), *bh = malloc(2u * n * k);
        ck_assert(c && ah && bh);
        for (int i = 0; i < m * ldc; i++)
            c[i] = -99.0f;
        nn_bf16_round(ah, a, m * k);
        nn_bf16_round(bh, b, n * k);
        nn_kernel_nt_bf16(m, n, k, ah, k, bh, k, c, ldc);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double want = 0, mag = 0;
                for (int p = 0; p < k; p++) {
                    want += (double)bf16_ref(a[i * k + p]) * bf16_ref(b[j * k + p]);
                    mag += fabs((double)a[i * k + p] * b[j * k + p]);
                }
                ck_assert_msg(fabs(c[i * ldc + j] - want) <= 1e-6 * mag + 1e-7,
                              "nt %dx%dx%d: C[%d][%d] = %.9g, want %.9g", m, n, k, i, j,
                              (double)c[i * ldc + j], want);
            }
            for (int j = n; j < ldc; j++)
                ck_assert_float_eq(c[i * ldc + j], -99.0f); /* past the block: untouched */
        }
        free(a), free(b), free(c), free(ah), free(bh);
    }

    /* C = A^T B over rows, both packed as row pairs: an odd row count
     * pairs the last row with zero; 64-column blocks, masked edges */
    static const int nn[][3] = {{1, 1, 1}, {6, 83, 37}, {9, 130, 32}, {4, 64, 2}, {5, 17, 3}};
    for (size_t s = 0; s < sizeof nn / sizeof nn[0]; s++) {
        const int m = nn[s][0], n = nn[s][1], rows = nn[s][2], kp = (rows + 1) / 2;
        float *dy = random_floats(rows * m), *x = random_floats(rows * n);
        float *c = malloc(sizeof(float) * m * n);
        uint32_t *ap = malloc(4u * kp * m), *bp = malloc(4u * kp * n);
        ck_assert(c && ap && bp);
        nn_bf16_pairs(ap, m, dy, m, rows, 0, m);
        nn_bf16_pairs(bp, n, x, n, rows, 0, n);
        for (int q = 0; q < kp; q++) /* the packing itself */
            for (int j = 0; j < n; j++) {
                ck_assert_float_eq(bf16_value((uint16_t)bp[q * n + j]), bf16_ref(x[2 * q * n + j]));
                ck_assert_float_eq(bf16_value((uint16_t)(bp[q * n + j] >> 16)),
                                   2 * q + 1 < rows ? bf16_ref(x[(2 * q + 1) * n + j]) : 0.0f);
            }
        nn_kernel_nn_bf16(m, n, kp, ap, m, bp, n, c, n);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double want = 0, mag = 0;
                for (int r = 0; r < rows; r++) {
                    want += (double)bf16_ref(dy[r * m + i]) * bf16_ref(x[r * n + j]);
                    mag += fabs((double)dy[r * m + i] * x[r * n + j]);
                }
                ck_assert_msg(fabs(c[i * n + j] - want) <= 1e-6 * mag + 1e-7,
                              "nn %dx%d over %d rows: C[%d][%d] = %.9g, want %.9g", m, n, rows, i,
                              j, (double)c[i * n + j], want);
            }
        free(dy), free(x), free(c), free(ap), free(bp);
    }
}
END_TEST

/* One training forward and backward of 83 -> 130 ReLU -> 7 softmax
 * cross-entropy in bf16, against a double reference that rounds what the
 * library rounds (the operands of the forward products and of the weight
 * gradients) and nothing else. It must be much closer to that reference
 * than to the f32 one, so a run that ignored the precision would fail. */
START_TEST(bf16_training_matches_reference)
{
    if (!have_bf16("bf16_training_matches_reference"))
        return;
    enum { IN = 83, H = 130, O = 7 };
    const int n = _i ? 37 : 32;
    nn_graph *g = mlp(IN, H, O, 0);
    ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_BF16), NN_OK);
    nn_tensor *w1, *b1, *w2, *b2, *gw1, *gb1, *gw2, *gb2, *x;
    nn_graph_param(g, 0, &w1, &gw1);
    nn_graph_param(g, 1, &b1, &gb1);
    nn_graph_param(g, 2, &w2, &gw2);
    nn_graph_param(g, 3, &b2, &gb2);
    for (int64_t i = 0; i < nn_tensor_numel(b1); i++)
        nn_tensor_data(b1)[i] = (float)(0.1 * trand());
    for (int64_t i = 0; i < nn_tensor_numel(b2); i++)
        nn_tensor_data(b2)[i] = (float)(0.1 * trand());
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){n, IN}), NN_OK);
    int32_t labels[37];
    for (int r = 0; r < n; r++) {
        labels[r] = r % O;
        for (int k = 0; k < IN; k++)
            nn_tensor_data(x)[r * IN + k] = (float)trand();
    }
    float loss;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);

    const float *X = nn_tensor_data(x), *W1 = nn_tensor_data(w1), *B1 = nn_tensor_data(b1);
    const float *W2 = nn_tensor_data(w2), *B2 = nn_tensor_data(b2);
    double err[2] = {0, 0}, scale = 0; /* max |library - reference|: bf16, f32 */
    for (int bf = 0; bf < 2; bf++) {
        static double h[37][H], d[37][O], dh[37][H];
        double ref_loss = 0;
#define RND(v) (bf ? (double)bf16_ref((float)(v)) : (double)(float)(v))
        for (int r = 0; r < n; r++) {
            for (int j = 0; j < H; j++) {
                double s = B1[j];
                for (int k = 0; k < IN; k++)
                    s += RND(X[r * IN + k]) * RND(W1[j * IN + k]);
                h[r][j] = s > 0 ? s : 0;
            }
            double z[O], zmax = -1e300, sum = 0;
            for (int o = 0; o < O; o++) {
                z[o] = B2[o];
                for (int j = 0; j < H; j++)
                    z[o] += RND(h[r][j]) * RND(W2[o * H + j]);
                zmax = z[o] > zmax ? z[o] : zmax;
            }
            for (int o = 0; o < O; o++)
                sum += exp(z[o] - zmax);
            ref_loss -= (z[labels[r]] - zmax - log(sum)) / n;
            for (int o = 0; o < O; o++)
                d[r][o] = (exp(z[o] - zmax) / sum - (o == labels[r])) / n;
            for (int j = 0; j < H; j++) {
                double s = 0; /* the data gradient stays f32 */
                for (int o = 0; o < O; o++)
                    s += (double)(float)d[r][o] * W2[o * H + j];
                dh[r][j] = h[r][j] > 0 ? s : 0;
            }
        }
        double e = fabs(loss - ref_loss);
        for (int o = 0; o < O; o++)
            for (int j = 0; j < H; j++) {
                double s = 0;
                for (int r = 0; r < n; r++)
                    s += RND(d[r][o]) * RND(h[r][j]);
                e = fmax(e, fabs(nn_tensor_data(gw2)[o * H + j] - s));
                scale = fmax(scale, fabs(s));
            }
        for (int j = 0; j < H; j++)
            for (int k = 0; k < IN; k++) {
                double s = 0;
                for (int r = 0; r < n; r++)
                    s += RND(dh[r][j]) * RND(X[r * IN + k]);
                e = fmax(e, fabs(nn_tensor_data(gw1)[j * IN + k] - s));
                scale = fmax(scale, fabs(s));
            }
        for (int j = 0; j < H; j++) {
            double s = 0;
            for (int r = 0; r < n; r++)
                s += dh[r][j];
            e = fmax(e, fabs(nn_tensor_data(gb1)[j] - s));
        }
#undef RND
        err[bf ? 0 : 1] = e;
    }
    ck_assert_msg(err[0] <= 1e-5 * scale && err[0] * 100 < err[1],
                  "batch %d: max error %.3g against the bf16 reference, %.3g against f32 "
                  "(largest gradient %.3g)", n, err[0], err[1], scale);
    nn_tensor_destroy(x);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(bf16_precision_api)
{
    nn_graph *g = mlp(2, 16, 4, 0);
    nn_tensor *x, *y;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){8, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){8, 4}), NN_OK);
    int32_t labels[8];
    float loss;
    toy_batch(x, labels, 8);
    ck_assert_int_eq(nn_graph_training_precision(NULL), NN_PRECISION_F32);
    ck_assert_int_eq(nn_graph_training_precision(g), NN_PRECISION_F32);
    ck_assert_int_eq(nn_graph_set_training_precision(NULL, NN_PRECISION_BF16),
                     NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_set_training_precision(g, (nn_precision)7), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(),
                     "nn_graph_set_training_precision: precision 7 is not an nn_precision");
    /* without AVX512_BF16 (here: AVX-512 capped away) bf16 is refused */
    nn_kernels_limit_isa(NN_ISA_AVX2);
    ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_BF16), NN_ERR_UNSUPPORTED);
    ck_assert_str_eq(nn_last_error(), "nn_graph_set_training_precision: bf16 needs a CPU with "
                                      "AVX512_BF16, which this one lacks");
    ck_assert_int_eq(nn_graph_training_precision(g), NN_PRECISION_F32);
    nn_kernels_limit_isa(NN_ISA_AVX512);
    ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_F32), NN_OK);
    ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_F32), NN_ERR_STATE);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    if (have_bf16("bf16_precision_api")) {
        float f32[32], bf[32];
        ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
        memcpy(f32, nn_tensor_data(y), sizeof f32);
        ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_BF16), NN_OK);
        ck_assert_int_eq(nn_graph_training_precision(g), NN_PRECISION_BF16);
        /* inference stays f32: the same bits */
        ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
        memcpy(bf, nn_tensor_data(y), sizeof bf);
        ck_assert_mem_eq(f32, bf, sizeof f32);
        /* and training works, then goes back to f32 */
        ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        ck_assert(isfinite(loss));
        ck_assert_int_eq(nn_graph_set_training_precision(g, NN_PRECISION_F32), NN_OK);
        ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    }
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, reference_and_finite_differences, 0, 10);
    tcase_add_loop_test(tc, kernel_shapes_match_reference, 0, N_ISAS);
    tcase_add_test(tc, deeper_chains);
    tcase_add_loop_test(tc, folded_last_layer, 0, 4);
    tcase_add_loop_test(tc, inference_forward_matches_reference, 0, N_INFER_ROWS * 2 * N_ISAS);
    tcase_add_loop_test(tc, inference_row_blocks_match_reference, 0, 12 * N_ISAS);
    tcase_add_loop_test(tc, row_blocks_same_bits_any_thread_count, 0, 3 * N_ISAS);
    tcase_add_test(tc, headless_graph_forward);
    tcase_add_loop_test(tc, activations_over_their_range, 0, 3);
    tcase_add_test(tc, large_logits_stay_finite);
    tcase_add_test(tc, smoothed_targets_match_reference);
    tcase_add_test(tc, dropout_statistics);
    tcase_add_test(tc, init_schemes);
    tcase_add_test(tc, param_handles_survive_added_layers);
    tcase_add_test(tc, build_errors);
    tcase_add_test(tc, run_errors_leave_graph_working);
    tcase_add_test(tc, steady_state_allocates_nothing);
    tcase_add_test(tc, rows_steps_allocate_nothing);
    tcase_add_loop_test(tc, bitwise_deterministic, 0, 6);
    tcase_add_test(tc, many_batch_sizes);
    tcase_add_test(tc, shared_panel_copy_same_bits);
    tcase_add_test(tc, pool_goes_solo_after_a_stall);
    tcase_add_test(tc, pool_goes_solo_when_the_worker_takes_no_task);
    tcase_add_test(tc, pool_affine_steals_from_a_late_thread);
    tcase_add_loop_test(tc, nn_kernel_sums_in_k_order, 0, N_ISAS);
    tcase_add_test(tc, panel_kernels_match_reference);
    tcase_add_test(tc, bf16_kernels_match_reference);
    tcase_add_loop_test(tc, bf16_training_matches_reference, 0, 2);
    tcase_add_test(tc, bf16_precision_api);
    suite_add_tcase(s, tc);
    return s;
}
