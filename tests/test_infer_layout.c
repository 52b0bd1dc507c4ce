/* One-row inference on interleaved weights (lib/graph/dense.c, kernels.c):
 * the kernel against the plain one, bit for bit; and in a graph, when the
 * copy is made and used, that it gives the plain path's bits, and that
 * every way of changing the weights makes it stale. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nn/nn.h>

#include "graph/graph_impl.h" /* the plans' layout state and the allocation hook */
#include "graph/kernels.h"
#include "test_main.h"

static unsigned long long seed = 12345;

static float frand(void) /* uniform in [-1, 1) */
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(seed >> 40) / (double)(1ULL << 23) - 1.0);
}

/* ---- the kernel ---- */

/* Input widths: under a vector, one, a 32 block and a masked 8, a 32
 * block and a full 16, two blocks, two blocks and a full and a masked 16,
 * 784; outputs from under one group to past several, with 0-3 rows left
 * over. */
static const int k_in[] = {6, 16, 40, 48, 64, 83, 784};
static const int k_out[] = {1, 3, 4, 7, 12, 64, 67};

START_TEST(kernel_matches_plain_rows_bitwise)
{
    if (!nn_kernels_il())
        return; /* no AVX-512 here: nothing calls it */
    enum { NOUT = sizeof k_out / sizeof k_out[0] };
    const int in = k_in[_i / NOUT], out = k_out[_i % NOUT];
    float *w = malloc((size_t)out * in * sizeof *w), *b = malloc((size_t)out * sizeof *b);
    float *x = malloc((size_t)(in + 16) * sizeof *x);
    float *want = malloc((size_t)out * sizeof *want), *got = malloc((size_t)out * sizeof *got);
    int64_t nil = nn_il_floats(out, in);
    float *il = aligned_alloc(64, (size_t)(nil + 16) / 16 * 64);
    ck_assert(w && b && x && want && got && il);
    for (int k = 0; k < out * in; k++)
        w[k] = frand();
    for (int k = 0; k < out; k++)
        b[k] = frand();
    for (int k = 0; k < in; k++)
        x[k] = frand();
    for (int k = in; k < in + 16; k++)
        x[k] = NAN; /* past the row: must never be read as a value */
    ck_assert_int_eq(nil, (int64_t)(out / 4) * 4 * ((in + 15) / 16 * 16));
    /* all the rows at once, then from row 4 (a chunk that starts later) */
    for (int c0 = 0; c0 <= 4 && c0 < out; c0 += 4) {
        for (int64_t k = 0; k < nil; k++)
            il[k] = NAN; /* what is read must have been written, padding too */
        nn_il_pack(il, w, in, c0, out);
        nn_kernel_rows_dot(x, w, b, want, 1, in, out, c0, out, 0);
        memset(got, 0, (size_t)out * sizeof *got);
        nn_kernel_il_rows(x, il, w, b, got, in, c0, out);
        for (int c = c0; c < out; c++) {
            ck_assert_msg(memcmp(&got[c], &want[c], sizeof *got) == 0,
                          "in %d out %d c0 %d: output %d is %.9g, plain path %.9g", in, out, c0,
                          c, (double)got[c], (double)want[c]);
            double ref = b[c];
            for (int k = 0; k < in; k++)
                ref += (double)x[k] * w[(int64_t)c * in + k];
            ck_assert_msg(fabs(got[c] - ref) <= 1e-5 * (1.0 + sqrt((double)in)),
                          "in %d out %d: output %d is %.9g, reference %.9g", in, out, c,
                          (double)got[c], ref);
        }
    }
    free(w);
    free(b);
    free(x);
    free(want);
    free(got);
    free(il);
}
END_TEST

/* ---- in a graph ---- */

/* 83 -> 130 ReLU -> 70 ReLU -> 5 softmax: two dense layers on column
 * chunks (130 = 64 + 64 + 2, 70 = 64 + 6, each with rows past a group of
 * four) and a folded last one, which keeps reading W where it lies. */
enum { IN = 83, H1 = 130, H2 = 70, OUT = 5 };

static nn_graph *make_graph(uint64_t init_seed)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, IN), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, H1), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, H2), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, OUT), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_HE_UNIFORM, init_seed), NN_OK);
    return g;
}

/* The mode the last one-row inference ran in. */
static int last_mode(const nn_graph *g)
{
    for (int k = 0; k < NN_PLAN_SLOTS; k++) {
        const plan *p = g->plans[k];
        if (p && p->n == 1 && !p->training)
            return p->il_last;
    }
    ck_abort_msg("no one-row inference plan");
    return -1;
}

/* One inference of x into y; the mode it ran in. */
static int infer1(nn_graph *g, const nn_tensor *x, nn_tensor *y)
{
    ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
    return last_mode(g);
}

static const char *mode_name(int m)
{
    return m == IL_OFF ? "plain" : m == IL_PACK ? "pack" : "use";
}

/* The graph's output for x in double precision from its current weights,
 * read with nn_tensor_copy_to (which hands out no pointer). */
static void reference(nn_graph *g, const float *x, double *prob)
{
    static const int widths[] = {IN, H1, H2, OUT};
    double a[H1], z[H1];
    for (int k = 0; k < IN; k++)
        a[k] = x[k];
    for (int l = 0; l < 3; l++) {
        const int in = widths[l], out = widths[l + 1];
        float *w = malloc((size_t)in * out * sizeof *w), b[H1];
        nn_tensor *tw, *tb;
        ck_assert(w);
        ck_assert_int_eq(nn_graph_param(g, 2 * l, &tw, NULL), NN_OK);
        ck_assert_int_eq(nn_graph_param(g, 2 * l + 1, &tb, NULL), NN_OK);
        ck_assert_int_eq(nn_tensor_copy_to(tw, w, (int64_t)in * out), NN_OK);
        ck_assert_int_eq(nn_tensor_copy_to(tb, b, out), NN_OK);
        for (int o = 0; o < out; o++) {
            double s = b[o];
            for (int k = 0; k < in; k++)
                s += a[k] * w[o * in + k];
            z[o] = l < 2 && s < 0 ? 0.0 : s;
        }
        memcpy(a, z, (size_t)out * sizeof *a);
        free(w);
    }
    double m = a[0], sum = 0.0;
    for (int o = 1; o < OUT; o++)
        m = fmax(m, a[o]);
    for (int o = 0; o < OUT; o++)
        sum += exp(a[o] - m);
    for (int o = 0; o < OUT; o++)
        prob[o] = exp(a[o] - m) / sum;
}

/* Three one-row inferences of x: their modes must be m0, m1, m2 (-1: any),
 * their outputs the same bits and close to the reference. */
static void infer3(nn_graph *g, nn_tensor *x, const char *after, int m0, int m1, int m2)
{
    const int want[3] = {m0, m1, m2};
    float y[3][OUT];
    double ref[OUT];
    reference(g, nn_tensor_data(x), ref);
    nn_tensor *t;
    ck_assert_int_eq(nn_tensor_create(&t, 2, (int64_t[]){1, OUT}), NN_OK);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(nn_graph_forward(g, x, t), NN_OK);
        memcpy(y[k], nn_tensor_data(t), sizeof y[k]);
        int m = last_mode(g);
        ck_assert_msg(want[k] < 0 || m == want[k], "after %s, inference %d ran %s, expected %s",
                      after, k + 1, mode_name(m), mode_name(want[k]));
        for (int o = 0; o < OUT; o++)
            ck_assert_msg(fabs(y[k][o] - ref[o]) < 1e-5,
                          "after %s, inference %d: p[%d] is %.9g, reference %.9g", after, k + 1, o,
                          (double)y[k][o], ref[o]);
    }
    ck_assert_msg(memcmp(y[0], y[1], sizeof y[0]) == 0 && memcmp(y[0], y[2], sizeof y[0]) == 0,
                  "after %s: the three inferences differ in their bits", after);
    nn_tensor_destroy(t);
}

static nn_tensor *one_row(void)
{
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){1, IN}), NN_OK);
    for (int k = 0; k < IN; k++)
        nn_tensor_data(x)[k] = frand();
    return x;
}

static nn_tensor *batch32(int32_t *labels)
{
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){32, IN}), NN_OK);
    for (int k = 0; k < 32 * IN; k++)
        nn_tensor_data(x)[k] = frand();
    for (int r = 0; r < 32; r++)
        labels[r] = r % OUT;
    return x;
}

/* Without AVX-512 the layout is never used: every inference is plain. */
static int layout_here(void)
{
    return nn_kernels_il();
}

/* The modes of three inferences from a fresh start or after a change (the
 * first sees a new weights version): plain, pack, use. */
#define PLAIN_PACK_USE IL_OFF, layout_here() ? IL_PACK : IL_OFF, layout_here() ? IL_USE : IL_OFF

START_TEST(made_on_second_call_and_bitwise_plain)
{
    static const int threads[] = {2, 1, 3};
    ck_assert_int_eq(nn_set_num_threads(threads[_i]), NN_OK);
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row();
    infer3(g, x, "creation", PLAIN_PACK_USE);
    /* still in use, and for another input */
    nn_tensor *x2 = one_row();
    infer3(g, x2, "another input", layout_here() ? IL_USE : IL_OFF, -1, -1);
    nn_tensor_destroy(x);
    nn_tensor_destroy(x2);
    nn_graph_destroy(g);
    ck_assert_int_eq(nn_set_num_threads(2), NN_OK);
}
END_TEST

/* Each way libnn changes the weights, or is told of a change. */
enum { W_COPY_FROM_W, W_COPY_FROM_B, W_INIT, W_STEP_SGD, W_STEP_ADAM, W_TRAIN_STEP_ADAM,
       W_TRAIN_STEP_SGD, N_WRITERS };

START_TEST(every_weight_change_makes_it_stale)
{
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row();
    int32_t labels[32];
    nn_tensor *xb = batch32(labels);
    nn_optimizer *o = NULL;
    if (_i == W_STEP_SGD || _i == W_TRAIN_STEP_SGD)
        ck_assert_int_eq(nn_sgd_create(&o, g, 0.5f), NN_OK);
    else
        ck_assert_int_eq(nn_adam_create(&o, g, 0.05f), NN_OK);
    infer3(g, x, "creation", PLAIN_PACK_USE);
    float loss;
    switch (_i) {
    case W_COPY_FROM_W:
    case W_COPY_FROM_B: {
        /* the middle layer's W, or the first layer's b (read where it
         * lies, but a change all the same) */
        int i = _i == W_COPY_FROM_W ? 2 : 1;
        int64_t n = _i == W_COPY_FROM_W ? (int64_t)H1 * H2 : H1;
        nn_tensor *t;
        float *v = malloc((size_t)n * sizeof *v);
        ck_assert(v);
        for (int64_t k = 0; k < n; k++)
            v[k] = frand();
        ck_assert_int_eq(nn_graph_param(g, i, &t, NULL), NN_OK);
        ck_assert_int_eq(nn_tensor_copy_from(t, v, n), NN_OK);
        free(v);
        break;
    }
    case W_INIT: ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_GLOROT_NORMAL, 7), NN_OK); break;
    case W_STEP_SGD:
    case W_STEP_ADAM:
        ck_assert_int_eq(nn_graph_forward_loss(g, xb, labels, &loss), NN_OK);
        ck_assert_int_eq(nn_graph_backward(g), NN_OK);
        ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
        break;
    case W_TRAIN_STEP_ADAM:
    case W_TRAIN_STEP_SGD:
        ck_assert_int_eq(nn_graph_train_step(g, o, xb, labels, &loss), NN_OK);
        break;
    }
    infer3(g, x, "a change", PLAIN_PACK_USE);
    nn_optimizer_destroy(o);
    nn_tensor_destroy(x);
    nn_tensor_destroy(xb);
    nn_graph_destroy(g);
}
END_TEST

/* Training with a single inference between steps never packs. */
START_TEST(training_between_inferences_never_packs)
{
    nn_graph *g = make_graph(3);
    nn_tensor *x = one_row(), *y;
    int32_t labels[32];
    nn_tensor *xb = batch32(labels);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, OUT}), NN_OK);
    for (int step = 0; step < 5; step++) {
        ck_assert_int_eq(nn_graph_train_step(g, o, xb, labels, NULL), NN_OK);
        ck_assert_int_eq(infer1(g, x, y), IL_OFF);
    }
    nn_optimizer_destroy(o);
    nn_tensor_destroy(x);
    nn_tensor_destroy(xb);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* A pointer from nn_tensor_data on a parameter ends the layout for good:
 * writes through it later are seen. */
START_TEST(pointer_to_weights_ends_it)
{
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row(), *w;
    infer3(g, x, "creation", PLAIN_PACK_USE);
    ck_assert_int_eq(nn_graph_param(g, 0, &w, NULL), NN_OK);
    float *p = nn_tensor_data(w);
    infer3(g, x, "nn_tensor_data", IL_OFF, IL_OFF, IL_OFF);
    for (int64_t k = 0; k < (int64_t)IN * H1; k++)
        p[k] = 0.5f * frand();
    infer3(g, x, "a write through it", IL_OFF, IL_OFF, IL_OFF);
    nn_tensor_destroy(x);
    nn_graph_destroy(g);
}
END_TEST

/* Reading the weights out (nn_tensor_copy_to, saving the model or the
 * optimizer) keeps it; a loaded model gets it too. */
START_TEST(reading_and_loading_keep_it)
{
    nn_graph *g = make_graph(5), *g2 = NULL;
    nn_tensor *x = one_row();
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    infer3(g, x, "creation", PLAIN_PACK_USE);
    void *buf = NULL;
    size_t size = 0;
    ck_assert_int_eq(nn_graph_save_buffer(g, &buf, &size), NN_OK);
    char path[] = "/tmp/nn_test_il_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_int_eq(nn_optimizer_save(o, path), NN_OK);
    ck_assert_int_eq(nn_optimizer_load(o, path), NN_OK);
    unlink(path);
    infer3(g, x, "saving", layout_here() ? IL_USE : IL_OFF, -1, -1);
    ck_assert_int_eq(nn_graph_load_buffer(&g2, buf, size), NN_OK);
    infer3(g2, x, "loading", PLAIN_PACK_USE);
    /* the same weights, the same bits */
    nn_tensor *y1, *y2;
    ck_assert_int_eq(nn_tensor_create(&y1, 2, (int64_t[]){1, OUT}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y2, 2, (int64_t[]){1, OUT}), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, x, y1), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g2, x, y2), NN_OK);
    ck_assert_mem_eq(nn_tensor_data(y1), nn_tensor_data(y2), OUT * sizeof(float));
    nn_free(buf);
    nn_optimizer_destroy(o);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y1);
    nn_tensor_destroy(y2);
    nn_graph_destroy(g);
    nn_graph_destroy(g2);
}
END_TEST

/* No memory for the copy: the plain path, correct, and a later inference
 * tries again. */
START_TEST(no_memory_stays_plain)
{
    if (!layout_here())
        return;
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row(), *y;
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, OUT}), NN_OK);
    ck_assert_int_eq(infer1(g, x, y), IL_OFF); /* makes the plan */
    nn_mem_fail_at(1); /* the copy's allocation, the only one left */
    ck_assert_int_eq(infer1(g, x, y), IL_OFF);
    ck_assert_int_eq(nn_mem_fail_at(0), 1);
    infer3(g, x, "a failed allocation", IL_PACK, IL_USE, IL_USE);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* Capped below AVX-512 the layout is not used, and a graph whose copy was
 * made goes back to the plain path. */
START_TEST(other_instruction_sets_stay_plain)
{
    if (!layout_here())
        return;
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row();
    infer3(g, x, "creation", IL_OFF, IL_PACK, IL_USE);
    nn_kernels_limit_isa(NN_ISA_AVX2);
    nn_tensor *y;
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, OUT}), NN_OK);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(infer1(g, x, y), IL_OFF);
    nn_kernels_limit_isa(NN_ISA_AVX512);
    ck_assert_int_eq(infer1(g, x, y), IL_USE); /* the weights have not changed */
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* Which dense layers of a one-row plan have a copy. */
static void assert_copies(const nn_graph *g, const char *what)
{
    const plan *p = NULL;
    for (int k = 0; k < NN_PLAN_SLOTS; k++)
        if (g->plans[k] && g->plans[k]->n == 1 && !g->plans[k]->training)
            p = g->plans[k];
    ck_assert_ptr_nonnull(p);
    for (int i = 0; i < g->nlayers; i++) {
        int want = g->layers[i].kind == LAYER_DENSE && !(p->fold && i == p->fold) &&
                   g->layers[i].out >= 4;
        ck_assert_msg((p->lp[i].il != NULL) == want, "%s: layer %d %s a copy", what, i,
                      want ? "lacks" : "has");
    }
}

/* With and without a folded last layer: the first layer too, and every
 * other dense layer of at least four outputs, not the folded one. */
START_TEST(every_layer_but_a_folded_one_gets_a_copy)
{
    if (!layout_here())
        return;
    nn_graph *g = make_graph(1); /* last layer folded */
    nn_tensor *x = one_row(), *y;
    infer3(g, x, "creation", PLAIN_PACK_USE);
    assert_copies(g, "83-130-70-5");
    nn_graph_destroy(g);
    /* 83 -> 130 tanh -> 3 -> 65: 65 outputs are too many to fold (the
     * plan has no folded layer), 3 too few for a group */
    ck_assert_int_eq(nn_graph_create(&g, IN), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, H1), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 3), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 65), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, 65}), NN_OK);
    float out[3][65];
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(nn_graph_forward(g, x, y), NN_OK);
        memcpy(out[k], nn_tensor_data(y), sizeof out[k]);
    }
    ck_assert_int_eq(last_mode(g), IL_USE);
    ck_assert_mem_eq(out[0], out[1], sizeof out[0]);
    ck_assert_mem_eq(out[0], out[2], sizeof out[0]);
    assert_copies(g, "83-130-3-65");
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* nn_tensor_data on a gradient keeps the copy; on a bias it ends it. */
START_TEST(which_pointers_end_it)
{
    if (!layout_here())
        return;
    nn_graph *g = make_graph(1);
    nn_tensor *x = one_row(), *y, *grad, *bias;
    ck_assert_int_eq(nn_tensor_create(&y, 2, (int64_t[]){1, OUT}), NN_OK);
    infer3(g, x, "creation", PLAIN_PACK_USE);
    ck_assert_int_eq(nn_graph_param(g, 0, NULL, &grad), NN_OK);
    ck_assert_ptr_nonnull(nn_tensor_data(grad));
    ck_assert_int_eq(infer1(g, x, y), IL_USE);
    ck_assert_int_eq(nn_graph_param(g, 5, &bias, NULL), NN_OK);
    ck_assert_ptr_nonnull(nn_tensor_data(bias));
    ck_assert_int_eq(infer1(g, x, y), IL_OFF);
    ck_assert_int_eq(infer1(g, x, y), IL_OFF);
    nn_tensor_destroy(x);
    nn_tensor_destroy(y);
    nn_graph_destroy(g);
}
END_TEST

/* nn_graph_forward's output written into another graph's parameter (a
 * [1, 5] W) is a change to that graph's weights. */
START_TEST(forward_into_a_parameter_is_a_change)
{
    if (!layout_here())
        return;
    nn_graph *g = make_graph(1), *g2 = NULL;
    ck_assert_int_eq(nn_graph_create(&g2, OUT), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g2, 1), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g2, H2), NN_OK);
    nn_tensor *x = one_row(), *x2, *y2, *w;
    ck_assert_int_eq(nn_tensor_create(&x2, 2, (int64_t[]){1, OUT}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&y2, 2, (int64_t[]){1, H2}), NN_OK);
    ck_assert_int_eq(infer1(g2, x2, y2), IL_OFF);
    ck_assert_int_eq(infer1(g2, x2, y2), IL_PACK);
    ck_assert_int_eq(infer1(g2, x2, y2), IL_USE);
    ck_assert_int_eq(nn_graph_param(g2, 0, &w, NULL), NN_OK);
    ck_assert_int_eq(nn_graph_forward(g, x, w), NN_OK);
    ck_assert_int_eq(infer1(g2, x2, y2), IL_OFF);
    ck_assert_int_eq(infer1(g2, x2, y2), IL_PACK);
    nn_tensor_destroy(x);
    nn_tensor_destroy(x2);
    nn_tensor_destroy(y2);
    nn_graph_destroy(g);
    nn_graph_destroy(g2);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("infer_layout");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, kernel_matches_plain_rows_bitwise, 0,
                        (int)(sizeof k_in / sizeof k_in[0] * sizeof k_out / sizeof k_out[0]));
    tcase_add_test(tc, every_layer_but_a_folded_one_gets_a_copy);
    tcase_add_test(tc, which_pointers_end_it);
    tcase_add_test(tc, forward_into_a_parameter_is_a_change);
    tcase_add_loop_test(tc, made_on_second_call_and_bitwise_plain, 0, 3);
    tcase_add_loop_test(tc, every_weight_change_makes_it_stale, 0, N_WRITERS);
    tcase_add_test(tc, training_between_inferences_never_packs);
    tcase_add_test(tc, pointer_to_weights_ends_it);
    tcase_add_test(tc, reading_and_loading_keep_it);
    tcase_add_test(tc, no_memory_stays_plain);
    tcase_add_test(tc, other_instruction_sets_stay_plain);
    suite_add_tcase(s, tc);
    return s;
}
