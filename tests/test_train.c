/* nn_graph_train_step and nn_graph_evaluate: XOR learned with every
 * optimizer, evaluation figures checked against hand-made cases. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <nn/nn.h>
#include "test_main.h"

static const float xor_x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
static const int32_t xor_y[4] = {0, 1, 1, 0};

static nn_graph *xor_graph(void)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 8), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_TANH), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_GLOROT_UNIFORM, 3), NN_OK);
    return g;
}

/* 0: SGD, 1: SGD momentum, 2: SGD Nesterov, 3: Adam, 4: AdamW */
START_TEST(xor_with_each_optimizer)
{
    nn_graph *g = xor_graph();
    nn_optimizer *o = NULL;
    switch (_i) {
    case 0: ck_assert_int_eq(nn_sgd_create(&o, g, 0.5f), NN_OK); break;
    case 1:
        ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(o, 0.9f, 0), NN_OK);
        break;
    case 2:
        ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(o, 0.9f, 1), NN_OK);
        break;
    case 3: ck_assert_int_eq(nn_adam_create(&o, g, 0.05f), NN_OK); break;
    case 4: ck_assert_int_eq(nn_adamw_create(&o, g, 0.05f, 1e-4f), NN_OK); break;
    }
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){4, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(x, xor_x, 8), NN_OK);
    float loss = 0, first = 0, acc = 0, eloss = 0;
    for (int step = 0; step < 1000; step++) {
        ck_assert_int_eq(nn_graph_train_step(g, o, x, xor_y, &loss), NN_OK);
        if (step == 0)
            first = loss;
    }
    ck_assert_int_eq(nn_optimizer_step_count(o), 1000);
    ck_assert_float_gt(first, 0.5f);
    ck_assert_msg(loss < 0.01f, "optimizer %d: loss %g after 1000 steps", _i, (double)loss);
    ck_assert_int_eq(nn_graph_evaluate(g, x, xor_y, &eloss, &acc), NN_OK);
    ck_assert_float_eq(acc, 1.0f);
    ck_assert_float_lt(eloss, 0.01f);
    nn_tensor_destroy(x);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(evaluate_matches_forward)
{
    /* 600 rows: more than one internal batch, and a ragged last one */
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 3), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 4), NN_OK);
    ck_assert_int_eq(nn_graph_add_dropout(g, 0.5f), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    nn_tensor *x, *p;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){600, 3}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&p, 2, (int64_t[]){600, 4}), NN_OK);
    int32_t labels[600];
    for (int r = 0; r < 600; r++) {
        for (int k = 0; k < 3; k++)
            nn_tensor_data(x)[r * 3 + k] = (float)((r * 7 + k * 13) % 11) / 5.0f - 1.0f;
        labels[r] = (r * 5) % 4;
    }
    ck_assert_int_eq(nn_graph_forward(g, x, p), NN_OK);
    double want_loss = 0;
    int correct = 0;
    for (int r = 0; r < 600; r++) {
        const float *pr = nn_tensor_data(p) + r * 4;
        int best = 0;
        for (int k = 1; k < 4; k++)
            best = pr[k] > pr[best] ? k : best;
        correct += best == labels[r];
        want_loss -= log(pr[labels[r]]);
    }
    float loss, acc;
    ck_assert_int_eq(nn_graph_evaluate(g, x, labels, &loss, &acc), NN_OK);
    ck_assert_double_eq_tol(loss, want_loss / 600, 1e-5);
    ck_assert_double_eq_tol(acc, correct / 600.0, 1e-7);
    ck_assert_int_eq(nn_graph_evaluate(g, x, labels, NULL, &acc), NN_OK);
    ck_assert_int_eq(nn_graph_evaluate(g, x, labels, &loss, NULL), NN_OK);
    nn_tensor_destroy(x);
    nn_tensor_destroy(p);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(evaluate_keeps_pending_backward)
{
    nn_graph *g = xor_graph();
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){4, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_copy_from(x, xor_x, 8), NN_OK);
    float loss, acc;
    ck_assert_int_eq(nn_graph_forward_loss(g, x, xor_y, &loss), NN_OK);
    ck_assert_int_eq(nn_graph_evaluate(g, x, xor_y, NULL, &acc), NN_OK);
    ck_assert_int_eq(nn_graph_backward(g), NN_OK);
    nn_tensor_destroy(x);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(bad_arguments)
{
    nn_graph *g = xor_graph();
    nn_optimizer *o;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
    nn_tensor *x, *bad;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){4, 2}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&bad, 2, (int64_t[]){4, 3}), NN_OK);
    float loss = 5.0f, acc = 5.0f;
    int32_t labels[4] = {0, 1, 2, 0};
    ck_assert_int_eq(nn_graph_train_step(NULL, o, x, xor_y, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_train_step: g is NULL");
    ck_assert_int_eq(nn_graph_train_step(g, NULL, x, xor_y, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_train_step(g, o, NULL, xor_y, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_train_step(g, o, bad, xor_y, &loss), NN_ERR_SHAPE);
    ck_assert_int_eq(nn_graph_train_step(g, o, x, labels, &loss), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_step_count(o), 0);
    ck_assert_float_eq(loss, 5.0f);
    ck_assert_int_eq(nn_graph_train_step(g, o, x, xor_y, NULL), NN_OK);
    ck_assert_int_eq(nn_optimizer_step_count(o), 1);
    ck_assert_int_eq(nn_graph_evaluate(NULL, x, xor_y, &loss, &acc), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_evaluate(g, NULL, xor_y, &loss, &acc), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_evaluate(g, x, NULL, &loss, &acc), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_graph_evaluate(g, bad, xor_y, &loss, &acc), NN_ERR_SHAPE);
    ck_assert_int_eq(nn_graph_evaluate(g, x, labels, &loss, &acc), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_evaluate: labels[2] is 2, must be in [0, 2)");
    ck_assert_float_eq(acc, 5.0f);
    nn_graph *m;
    ck_assert_int_eq(nn_graph_create(&m, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(m, 2), NN_OK);
    ck_assert_int_eq(nn_graph_add_mse_loss(m), NN_OK);
    ck_assert_int_eq(nn_graph_evaluate(m, x, xor_y, &loss, &acc), NN_ERR_STATE);
    nn_graph_destroy(m);
    nn_tensor_destroy(x);
    nn_tensor_destroy(bad);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* 30-150-70-5 with dropout (three dense layers, so that every phase kind
 * of the threaded executor runs), or 30-150-5 (two: the last one folded
 * into the first's tasks, which then also update its weights; see
 * lib/graph/parallel.c). */
static nn_graph *mlp_graph(int dense)
{
    nn_graph *g;
    ck_assert_int_eq(nn_graph_create(&g, 30), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 150), NN_OK);
    ck_assert_int_eq(nn_graph_add_activation(g, NN_ACT_RELU), NN_OK);
    if (dense == 3) {
        ck_assert_int_eq(nn_graph_add_dropout(g, 0.25f), NN_OK);
        ck_assert_int_eq(nn_graph_add_dense(g, 70), NN_OK);
        ck_assert_int_eq(nn_graph_add_leaky_relu(g, 0.1f), NN_OK);
    }
    ck_assert_int_eq(nn_graph_add_dense(g, 5), NN_OK);
    ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(g), NN_OK);
    ck_assert_int_eq(nn_graph_init_params(g, NN_INIT_HE_UNIFORM, 11), NN_OK);
    return g;
}

static nn_graph *mlp3(void)
{
    return mlp_graph(3);
}

static nn_optimizer *make_opt(nn_graph *g, int kind)
{
    nn_optimizer *o = NULL;
    if (kind == 0) {
        ck_assert_int_eq(nn_sgd_create(&o, g, 0.05f), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(o, 0.9f, 1), NN_OK);
        ck_assert_int_eq(nn_optimizer_set_weight_decay(o, 1e-3f), NN_OK);
    } else if (kind == 1) {
        ck_assert_int_eq(nn_adam_create(&o, g, 1e-3f), NN_OK);
    } else {
        ck_assert_int_eq(nn_adamw_create(&o, g, 1e-3f, 0.01f), NN_OK);
    }
    return o;
}

/* Trains steps batches of 24 rows (the last one ragged, 13 rows) with
 * train_step (fused) or with forward, backward and step (unfused). */
static void train(nn_graph *g, nn_optimizer *o, int steps, int fused)
{
    nn_tensor *x24, *x13;
    ck_assert_int_eq(nn_tensor_create(&x24, 2, (int64_t[]){24, 30}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&x13, 2, (int64_t[]){13, 30}), NN_OK);
    int32_t labels[24];
    unsigned seed = 7;
    for (int s = 0; s < steps; s++) {
        nn_tensor *x = s % 4 == 3 ? x13 : x24;
        int n = (int)nn_tensor_dim(x, 0);
        for (int k = 0; k < n * 30; k++) {
            seed = seed * 1103515245u + 12345u;
            nn_tensor_data(x)[k] = (float)((seed >> 16) % 1000) / 500.0f - 1.0f;
        }
        for (int r = 0; r < n; r++)
            labels[r] = (int32_t)((r * 7 + s) % 5);
        float loss;
        if (fused) {
            ck_assert_int_eq(nn_graph_train_step(g, o, x, labels, &loss), NN_OK);
        } else {
            ck_assert_int_eq(nn_graph_forward_loss(g, x, labels, &loss), NN_OK);
            ck_assert_int_eq(nn_graph_backward(g), NN_OK);
            ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
        }
    }
    nn_tensor_destroy(x24);
    nn_tensor_destroy(x13);
}

static void assert_same_params(nn_graph *a, nn_graph *b)
{
    for (int i = 0; i < nn_graph_param_count(a); i++) {
        nn_tensor *va, *vb;
        nn_graph_param(a, i, &va, NULL);
        nn_graph_param(b, i, &vb, NULL);
        ck_assert_msg(memcmp(nn_tensor_data(va), nn_tensor_data(vb),
                             (size_t)nn_tensor_numel(va) * sizeof(float)) == 0,
                      "parameter %d differs", i);
    }
}

/* The first layer's weights (150 x 30) of a and b are not the same bits. */
static void assert_first_weights_differ(nn_graph *a, nn_graph *b)
{
    nn_tensor *va, *vb;
    nn_graph_param(a, 0, &va, NULL);
    nn_graph_param(b, 0, &vb, NULL);
    ck_assert(memcmp(nn_tensor_data(va), nn_tensor_data(vb), 150 * 30 * sizeof(float)) != 0);
}

/* The fused step (optimizer inside the backward pass) gives the bits of
 * backward followed by nn_optimizer_step: SGD, Adam and AdamW, on three
 * dense layers and on two. */
START_TEST(fused_step_equals_unfused)
{
    nn_graph *a = mlp_graph(_i < 3 ? 3 : 2), *b = mlp_graph(_i < 3 ? 3 : 2);
    nn_optimizer *oa = make_opt(a, _i % 3), *ob = make_opt(b, _i % 3);
    train(a, oa, 12, 1);
    train(b, ob, 12, 0);
    assert_same_params(a, b);
    ck_assert_int_eq(nn_optimizer_step_count(oa), 12);
    /* train_step runs on the caller's x without copying it: nothing may
     * be left pending that would read it after the call */
    ck_assert_int_eq(nn_graph_backward(a), NN_ERR_STATE);
    nn_optimizer_destroy(oa);
    nn_optimizer_destroy(ob);
    nn_graph_destroy(a);
    nn_graph_destroy(b);
}
END_TEST

/* The threaded executor splits work the same way for any thread count. */
START_TEST(thread_count_does_not_change_results)
{
    nn_graph *ref = NULL;
    for (int threads = 1; threads <= 3; threads++) {
        ck_assert_int_eq(nn_set_num_threads(threads), NN_OK);
        nn_graph *g = mlp3();
        nn_optimizer *o = make_opt(g, 1);
        train(g, o, 10, 1);
        nn_optimizer_destroy(o);
        if (ref) {
            assert_same_params(ref, g);
            nn_graph_destroy(g);
        } else {
            ref = g;
        }
    }
    nn_graph_destroy(ref);
}
END_TEST

/* With clipping the step cannot be fused; train_step still applies it. */
START_TEST(train_step_with_clipping)
{
    nn_graph *a = mlp3(), *b = mlp3();
    nn_optimizer *oa = make_opt(a, 1), *ob = make_opt(b, 1);
    ck_assert_int_eq(nn_optimizer_set_clip_norm(oa, 0.05f), NN_OK);
    ck_assert_int_eq(nn_optimizer_set_clip_norm(ob, 0.05f), NN_OK);
    train(a, oa, 6, 1);
    train(b, ob, 6, 0);
    assert_same_params(a, b);
    nn_graph *c = mlp3();
    nn_optimizer *oc = make_opt(c, 1);
    train(c, oc, 6, 1); /* unclipped: must differ */
    assert_first_weights_differ(a, c);
    nn_optimizer_destroy(oa);
    nn_optimizer_destroy(ob);
    nn_optimizer_destroy(oc);
    nn_graph_destroy(a);
    nn_graph_destroy(b);
    nn_graph_destroy(c);
}
END_TEST

START_TEST(optimizer_of_another_graph)
{
    nn_graph *a = mlp3(), *b = mlp3();
    nn_optimizer *ob = make_opt(b, 1);
    nn_tensor *x;
    ck_assert_int_eq(nn_tensor_create(&x, 2, (int64_t[]){2, 30}), NN_OK);
    int32_t labels[2] = {0, 1};
    ck_assert_int_eq(nn_graph_train_step(a, ob, x, labels, NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_graph_train_step: the optimizer is bound to another graph");
    ck_assert_int_eq(nn_optimizer_step_count(ob), 0);
    nn_tensor_destroy(x);
    nn_optimizer_destroy(ob);
    nn_graph_destroy(a);
    nn_graph_destroy(b);
}
END_TEST

/* ---- nn_graph_train_step_rows ---- */

enum { DATA_ROWS = 200 };

/* 200 rows of 30 features in [-1, 1) and labels in [0, 5). */
static nn_tensor *row_data(int32_t *labels)
{
    nn_tensor *d;
    ck_assert_int_eq(nn_tensor_create(&d, 2, (int64_t[]){DATA_ROWS, 30}), NN_OK);
    unsigned seed = 3;
    for (int k = 0; k < DATA_ROWS * 30; k++) {
        seed = seed * 1103515245u + 12345u;
        nn_tensor_data(d)[k] = (float)((seed >> 16) % 1000) / 500.0f - 1.0f;
    }
    for (int r = 0; r < DATA_ROWS; r++)
        labels[r] = (int32_t)((r * 3 + r / 7) % 5);
    return d;
}

/* Step s's rows: 24 (13 every fourth step), picked with repeats and in
 * no order. */
static int step_rows(int s, int64_t *rows)
{
    int n = s % 4 == 3 ? 13 : 24;
    for (int k = 0; k < n; k++)
        rows[k] = (int64_t)((k * 37 + s * 53 + (k % 3) * 11) % DATA_ROWS);
    rows[n - 1] = rows[0]; /* a repeat */
    return n;
}

/* Steps first..first+steps-1 on a by index and on b by copying the rows
 * into a batch tensor: every loss the same bits. */
static void train_both(nn_graph *a, nn_optimizer *oa, nn_graph *b, nn_optimizer *ob,
                       const nn_tensor *data, const int32_t *labels, int first, int steps)
{
    nn_tensor *x24, *x13;
    ck_assert_int_eq(nn_tensor_create(&x24, 2, (int64_t[]){24, 30}), NN_OK);
    ck_assert_int_eq(nn_tensor_create(&x13, 2, (int64_t[]){13, 30}), NN_OK);
    int64_t rows[24];
    int32_t picked[24];
    const float *src = nn_tensor_data((nn_tensor *)(uintptr_t)data);
    for (int s = first; s < first + steps; s++) {
        int n = step_rows(s, rows);
        nn_tensor *x = n == 24 ? x24 : x13;
        for (int k = 0; k < n; k++) {
            memcpy(nn_tensor_data(x) + k * 30, src + rows[k] * 30, 30 * sizeof(float));
            picked[k] = labels[rows[k]];
        }
        float la = -1.0f, lb = -2.0f;
        ck_assert_int_eq(nn_graph_train_step_rows(a, oa, data, labels, rows, n, &la), NN_OK);
        ck_assert_int_eq(nn_graph_train_step(b, ob, x, picked, &lb), NN_OK);
        ck_assert_msg(memcmp(&la, &lb, sizeof la) == 0, "step %d: loss %.9g by index, %.9g copied",
                      s, (double)la, (double)lb);
    }
    nn_tensor_destroy(x24);
    nn_tensor_destroy(x13);
}

/* By index or copied, the same bits: SGD, Adam, AdamW on three dense
 * layers and on two (folded), on 1, 2 and 3 threads and then with one
 * thread more than the plans were made for (batches of 24 rows are
 * gathered by the threads together, of 13 by the caller). */
START_TEST(rows_step_equals_copied_batch)
{
    int32_t labels[DATA_ROWS];
    nn_tensor *data = row_data(labels);
    for (int threads = 1; threads <= 3; threads++) {
        ck_assert_int_eq(nn_set_num_threads(threads), NN_OK);
        nn_graph *a = mlp_graph(_i < 3 ? 3 : 2), *b = mlp_graph(_i < 3 ? 3 : 2);
        nn_optimizer *oa = make_opt(a, _i % 3), *ob = make_opt(b, _i % 3);
        train_both(a, oa, b, ob, data, labels, 0, 8);
        ck_assert_int_eq(nn_set_num_threads(threads + 1), NN_OK);
        train_both(a, oa, b, ob, data, labels, 8, 4);
        assert_same_params(a, b);
        ck_assert_int_eq(nn_optimizer_step_count(oa), 12);
        ck_assert_int_eq(nn_graph_backward(a), NN_ERR_STATE); /* nothing left pending */
        nn_optimizer_destroy(oa);
        nn_optimizer_destroy(ob);
        nn_graph_destroy(a);
        nn_graph_destroy(b);
    }
    ck_assert_int_eq(nn_set_num_threads(2), NN_OK);
    nn_tensor_destroy(data);
}
END_TEST

/* The other ways a step runs: clipping (backward, then the step), bf16
 * training where the CPU has it, and a graph that starts with an
 * activation (the gathered rows are not the first dense layer's input). */
START_TEST(rows_step_other_paths)
{
    int32_t labels[DATA_ROWS];
    nn_tensor *data = row_data(labels);
    nn_graph *a, *b;
    if (_i == 2) {
        nn_graph *gs[2];
        for (int k = 0; k < 2; k++) {
            ck_assert_int_eq(nn_graph_create(&gs[k], 30), NN_OK);
            ck_assert_int_eq(nn_graph_add_activation(gs[k], NN_ACT_TANH), NN_OK);
            ck_assert_int_eq(nn_graph_add_dense(gs[k], 150), NN_OK);
            ck_assert_int_eq(nn_graph_add_activation(gs[k], NN_ACT_RELU), NN_OK);
            ck_assert_int_eq(nn_graph_add_dense(gs[k], 5), NN_OK);
            ck_assert_int_eq(nn_graph_add_softmax_cross_entropy(gs[k]), NN_OK);
            ck_assert_int_eq(nn_graph_init_params(gs[k], NN_INIT_HE_UNIFORM, 11), NN_OK);
        }
        a = gs[0], b = gs[1];
    } else {
        a = mlp3(), b = mlp3();
    }
    if (_i == 1) {
        nn_status s = nn_graph_set_training_precision(a, NN_PRECISION_BF16);
        if (s == NN_ERR_UNSUPPORTED) {
            printf("rows_step_other_paths: no bf16 on this CPU, skipped\n");
            nn_graph_destroy(a);
            nn_graph_destroy(b);
            nn_tensor_destroy(data);
            return;
        }
        ck_assert_int_eq(s, NN_OK);
        ck_assert_int_eq(nn_graph_set_training_precision(b, NN_PRECISION_BF16), NN_OK);
    }
    nn_optimizer *oa = make_opt(a, 1), *ob = make_opt(b, 1);
    if (_i == 0) {
        ck_assert_int_eq(nn_optimizer_set_clip_norm(oa, 0.05f), NN_OK);
        ck_assert_int_eq(nn_optimizer_set_clip_norm(ob, 0.05f), NN_OK);
    }
    train_both(a, oa, b, ob, data, labels, 0, 8);
    assert_same_params(a, b);
    nn_optimizer_destroy(oa);
    nn_optimizer_destroy(ob);
    nn_graph_destroy(a);
    nn_graph_destroy(b);
    nn_tensor_destroy(data);
}
END_TEST

/* Each bad argument is refused with a message naming it, and leaves the
 * graph and the optimizer as they were. */
START_TEST(rows_step_bad_arguments)
{
    int32_t labels[DATA_ROWS];
    nn_tensor *data = row_data(labels), *narrow;
    ck_assert_int_eq(nn_tensor_create(&narrow, 2, (int64_t[]){DATA_ROWS, 29}), NN_OK);
    nn_graph *g = mlp3(), *fresh = mlp3();
    nn_optimizer *o = make_opt(g, 1);
    int64_t rows[4] = {0, 1, 2, 3};
    float loss = 0.0f;
    struct {
        nn_graph *g;
        nn_optimizer *o;
        const nn_tensor *d;
        const int32_t *labels;
        const int64_t *rows;
        int64_t n;
        nn_status want;
        const char *msg;
    } bad[] = {
        {NULL, o, data, labels, rows, 4, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: g is NULL"},
        {g, NULL, data, labels, rows, 4, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: o is NULL"},
        {g, o, NULL, labels, rows, 4, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: data is NULL"},
        {g, o, data, NULL, rows, 4, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: labels is NULL"},
        {g, o, data, labels, NULL, 4, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: rows is NULL"},
        {g, o, data, labels, rows, 0, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: n is 0, must be at least 1"},
        {g, o, data, labels, rows, -3, NN_ERR_INVALID_ARGUMENT, "nn_graph_train_step_rows: n is -3, must be at least 1"},
        {g, o, narrow, labels, rows, 4, NN_ERR_SHAPE, "nn_graph_train_step_rows: data is not [N, 30]"},
        {g, o, data, labels, (int64_t[]){0, 1, -1, 3}, 4, NN_ERR_INVALID_ARGUMENT,
         "nn_graph_train_step_rows: rows[2] is -1, data has rows 0 to 199"},
        {g, o, data, labels, (int64_t[]){0, 1, 2, 200}, 4, NN_ERR_INVALID_ARGUMENT,
         "nn_graph_train_step_rows: rows[3] is 200, data has rows 0 to 199"},
        {g, o, data, (int32_t[DATA_ROWS]){0, 0, 5}, rows, 4, NN_ERR_INVALID_ARGUMENT,
         "nn_graph_train_step_rows: labels[2] (rows[2]) is 5, must be in [0, 5)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ck_assert_int_eq(nn_graph_train_step_rows(bad[k].g, bad[k].o, bad[k].d, bad[k].labels,
                                                  bad[k].rows, bad[k].n, &loss),
                         bad[k].want);
        ck_assert_str_eq(nn_last_error(), bad[k].msg);
        ck_assert_int_eq(nn_optimizer_step_count(o), 0);
        ck_assert_int_eq(nn_graph_backward(g), NN_ERR_STATE);
    }
    assert_same_params(g, fresh);
    /* a graph without a softmax head has no use for labels */
    nn_graph *mse;
    ck_assert_int_eq(nn_graph_create(&mse, 30), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(mse, 5), NN_OK);
    ck_assert_int_eq(nn_graph_add_mse_loss(mse), NN_OK);
    nn_optimizer *om = make_opt(mse, 1);
    ck_assert_int_eq(nn_graph_train_step_rows(mse, om, data, labels, rows, 4, NULL), NN_ERR_STATE);
    /* and a good call after all that trains: the loss is finite, the
     * weights move */
    ck_assert_int_eq(nn_graph_train_step_rows(g, o, data, labels, rows, 4, &loss), NN_OK);
    ck_assert(isfinite(loss) && loss > 0.0f);
    ck_assert_int_eq(nn_optimizer_step_count(o), 1);
    assert_first_weights_differ(g, fresh);
    nn_optimizer_destroy(om);
    nn_graph_destroy(mse);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    nn_graph_destroy(fresh);
    nn_tensor_destroy(narrow);
    nn_tensor_destroy(data);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("train");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, xor_with_each_optimizer, 0, 5);
    tcase_add_test(tc, evaluate_matches_forward);
    tcase_add_test(tc, evaluate_keeps_pending_backward);
    tcase_add_test(tc, bad_arguments);
    tcase_add_loop_test(tc, fused_step_equals_unfused, 0, 6);
    tcase_add_test(tc, thread_count_does_not_change_results);
    tcase_add_test(tc, train_step_with_clipping);
    tcase_add_test(tc, optimizer_of_another_graph);
    tcase_add_loop_test(tc, rows_step_equals_copied_batch, 0, 6);
    tcase_add_loop_test(tc, rows_step_other_paths, 0, 3);
    tcase_add_test(tc, rows_step_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
