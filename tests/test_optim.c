/* Optimizers and schedules through the public API only: SGD (momentum,
 * Nesterov, weight decay), Adam, AdamW, gradient clipping, learning-rate
 * schedules and every bad argument. Gradients are written straight into the
 * graph's gradient tensors, so no forward or backward pass is needed; each
 * run is compared with the same formula evaluated in double precision. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <nn/nn.h>
#include "test_main.h"

/* ---- the graph's parameters as one flat list (nn_graph_param order) ---- */

enum { MAX_TENSORS = 8 };

typedef struct params {
    int count;
    int64_t n;
    int64_t len[MAX_TENSORS];
    float *w[MAX_TENSORS];
    float *g[MAX_TENSORS];
} params;

static params params_of(nn_graph *g)
{
    params p = {0};
    p.count = nn_graph_param_count(g);
    ck_assert_int_le(p.count, MAX_TENSORS);
    for (int i = 0; i < p.count; i++) {
        nn_tensor *value = NULL, *grad = NULL;
        ck_assert_int_eq(nn_graph_param(g, i, &value, &grad), NN_OK);
        p.len[i] = nn_tensor_numel(value);
        ck_assert_int_eq(nn_tensor_numel(grad), p.len[i]);
        p.w[i] = nn_tensor_data(value);
        p.g[i] = nn_tensor_data(grad);
        p.n += p.len[i];
    }
    return p;
}

/* Copies between the graph (which = 'w' weights, 'g' gradients) and a flat
 * float array. */
static void put(const params *p, char which, const float *src)
{
    for (int64_t i = 0, j = 0; i < p->count; j += p->len[i], i++)
        memcpy(which == 'w' ? p->w[i] : p->g[i], src + j, (size_t)p->len[i] * sizeof(float));
}

static void get(const params *p, char which, float *dst)
{
    for (int64_t i = 0, j = 0; i < p->count; j += p->len[i], i++)
        memcpy(dst + j, which == 'w' ? p->w[i] : p->g[i], (size_t)p->len[i] * sizeof(float));
}

/* Weights 0.5..1.5 in magnitude with both signs, so that ten small steps
 * keep them well away from zero and a relative error means something. */
static float init_value(int64_t j)
{
    float mag = 0.5f + 0.01f * (float)(j % 100);
    return (j & 1) ? -mag : mag;
}

/* A fixed gradient for element j at step t (1-based), varying with both. */
static float grad_value(int64_t j, int t)
{
    return (float)(0.4 * sin(0.37 * (double)j + 1.1 * t) + 0.05 * (double)(j % 3));
}

static nn_graph *make_graph(int64_t in, int64_t units1, int64_t units2)
{
    nn_graph *g = NULL;
    ck_assert_int_eq(nn_graph_create(&g, in), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, units1), NN_OK);
    if (units2 > 0)
        ck_assert_int_eq(nn_graph_add_dense(g, units2), NN_OK);
    return g;
}

/* ---- the double-precision reference ---- */

typedef struct config {
    enum { SGD, ADAM, ADAMW } kind;
    float lr;
    float wd;          /* via nn_optimizer_set_weight_decay (AdamW: its create argument) */
    float momentum;
    int nesterov;
    int set_betas;
    float beta1, beta2;
    int set_eps;
    float eps;
    float clip;        /* 0: off */
} config;

static nn_optimizer *make_optimizer(const config *c, nn_graph *g)
{
    nn_optimizer *o = NULL;
    switch (c->kind) {
    case SGD:
        ck_assert_int_eq(nn_sgd_create(&o, g, c->lr), NN_OK);
        ck_assert_int_eq(nn_sgd_set_momentum(o, c->momentum, c->nesterov), NN_OK);
        break;
    case ADAM:
        ck_assert_int_eq(nn_adam_create(&o, g, c->lr), NN_OK);
        break;
    case ADAMW:
        ck_assert_int_eq(nn_adamw_create(&o, g, c->lr, c->wd), NN_OK);
        break;
    }
    ck_assert_ptr_nonnull(o);
    if (c->kind != ADAMW && c->wd != 0.0f)
        ck_assert_int_eq(nn_optimizer_set_weight_decay(o, c->wd), NN_OK);
    if (c->set_betas)
        ck_assert_int_eq(nn_adam_set_betas(o, c->beta1, c->beta2), NN_OK);
    if (c->set_eps)
        ck_assert_int_eq(nn_adam_set_epsilon(o, c->eps), NN_OK);
    if (c->clip > 0.0f)
        ck_assert_int_eq(nn_optimizer_set_clip_norm(o, c->clip), NN_OK);
    return o;
}

/* PyTorch's clip_grad_norm_ on g (double copy). */
static void ref_clip(double *g, int64_t n, double max_norm)
{
    double sq = 0.0;
    for (int64_t j = 0; j < n; j++)
        sq += g[j] * g[j];
    double coef = max_norm / (sqrt(sq) + 1e-6);
    if (coef < 1.0)
        for (int64_t j = 0; j < n; j++)
            g[j] *= coef;
}

/* One step of the configured optimizer at step t on w with state s0, s1. */
static void ref_step(const config *c, double *w, double *s0, double *s1, const double *g,
                     int64_t n, int t)
{
    double lr = c->lr, wd = c->wd, mu = c->momentum;
    double b1 = c->set_betas ? c->beta1 : 0.9f;
    double b2 = c->set_betas ? c->beta2 : 0.999f;
    double eps = c->set_eps ? c->eps : 1e-7f;
    for (int64_t j = 0; j < n; j++) {
        if (c->kind == SGD) {
            double gp = g[j] + wd * w[j], d = gp;
            if (mu != 0.0) {
                s0[j] = t == 1 ? gp : mu * s0[j] + gp; /* PyTorch's first step */
                d = c->nesterov ? gp + mu * s0[j] : s0[j];
            }
            w[j] -= lr * d;
        } else {
            double gp = g[j];
            if (c->kind == ADAM)
                gp += wd * w[j];
            else
                w[j] -= lr * wd * w[j];
            s0[j] = b1 * s0[j] + (1 - b1) * gp;
            s1[j] = b2 * s1[j] + (1 - b2) * gp * gp;
            double mhat = s0[j] / (1 - pow(b1, t));
            double vhat = s1[j] / (1 - pow(b2, t));
            w[j] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

/* Runs `steps` steps on a fresh graph in -> units1 (-> units2) and returns
 * the largest relative error against the reference where |ref| > 1e-6.
 * If out is not NULL it receives the final float weights (caller frees). */
static double run_against_reference(const config *c, int64_t in, int64_t units1,
                                    int64_t units2, int steps, float **out)
{
    nn_graph *g = make_graph(in, units1, units2);
    params p = params_of(g);
    int64_t n = p.n;
    float *wf = malloc((size_t)n * sizeof *wf), *gf = malloc((size_t)n * sizeof *gf);
    double *w = malloc((size_t)n * sizeof *w), *gd = malloc((size_t)n * sizeof *gd);
    double *s0 = calloc((size_t)n, sizeof *s0), *s1 = calloc((size_t)n, sizeof *s1);
    ck_assert(wf && gf && w && gd && s0 && s1);
    for (int64_t j = 0; j < n; j++) {
        wf[j] = init_value(j);
        w[j] = wf[j];
    }
    put(&p, 'w', wf);
    nn_optimizer *o = make_optimizer(c, g);

    for (int t = 1; t <= steps; t++) {
        for (int64_t j = 0; j < n; j++) {
            gf[j] = grad_value(j, t);
            gd[j] = gf[j];
        }
        put(&p, 'g', gf);
        ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
        if (c->clip > 0.0f)
            ref_clip(gd, n, c->clip);
        ref_step(c, w, s0, s1, gd, n, t);
    }
    ck_assert_int_eq(nn_optimizer_step_count(o), steps);

    get(&p, 'w', wf);
    double worst = 0.0;
    for (int64_t j = 0; j < n; j++) {
        if (!isfinite(wf[j]))
            worst = INFINITY;
        else if (fabs(w[j]) > 1e-6) {
            double e = fabs((double)wf[j] - w[j]) / fabs(w[j]);
            if (e > worst)
                worst = e;
        }
    }
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
    if (out)
        *out = wf;
    else
        free(wf);
    free(gf);
    free(w);
    free(gd);
    free(s0);
    free(s1);
    return worst;
}

/* Two dense layers 3 -> 4 -> 2: four parameter tensors, 26 values. */
static void check_small(const config *c)
{
    double e = run_against_reference(c, 3, 4, 2, 10, NULL);
    ck_assert_msg(e <= 1e-6, "max relative error %g", e);
}

/* ---- SGD ---- */

START_TEST(sgd_plain)
{
    check_small(&(config){.kind = SGD, .lr = 0.05f});
}
END_TEST

START_TEST(sgd_momentum)
{
    check_small(&(config){.kind = SGD, .lr = 0.02f, .momentum = 0.9f});
}
END_TEST

START_TEST(sgd_nesterov)
{
    check_small(&(config){.kind = SGD, .lr = 0.02f, .momentum = 0.8f, .nesterov = 1});
}
END_TEST

START_TEST(sgd_weight_decay)
{
    check_small(&(config){.kind = SGD, .lr = 0.05f, .wd = 0.1f});
    check_small(&(config){.kind = SGD, .lr = 0.02f, .wd = 0.05f, .momentum = 0.9f});
    check_small(&(config){.kind = SGD, .lr = 0.02f, .wd = 0.05f, .momentum = 0.5f,
                          .nesterov = 1});
}
END_TEST

START_TEST(sgd_one_step_by_hand)
{
    /* w = 1, g = 0.5, lr 0.1, wd 0.2: g' = 0.5 + 0.2 = 0.7; w = 1 - 0.07 = 0.93.
     * Then momentum 0.9, g = 0.5: v = 0.9 * 0 + 0.5 + 0.2 * 0.93 = 0.686;
     * w = 0.93 - 0.0686 = 0.8614. */
    nn_graph *g = make_graph(1, 1, 0);
    params p = params_of(g);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_optimizer_set_weight_decay(o, 0.2f), NN_OK);
    p.w[0][0] = 1.0f;
    p.w[1][0] = 0.0f;
    p.g[0][0] = 0.5f;
    p.g[1][0] = -1.0f;
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.93f, 1e-7f);
    ck_assert_float_eq_tol(p.w[1][0], 0.1f, 1e-7f);
    ck_assert_int_eq(nn_sgd_set_momentum(o, 0.9f, 0), NN_OK);
    p.g[0][0] = 0.5f;
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.8614f, 1e-7f);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- Adam, AdamW ---- */

START_TEST(adam_defaults)
{
    check_small(&(config){.kind = ADAM, .lr = 0.01f});
}
END_TEST

START_TEST(adam_custom_betas_eps)
{
    check_small(&(config){.kind = ADAM, .lr = 0.01f, .set_betas = 1, .beta1 = 0.8f,
                          .beta2 = 0.99f, .set_eps = 1, .eps = 1e-3f});
    check_small(&(config){.kind = ADAM, .lr = 0.01f, .set_betas = 1, .beta1 = 0.0f,
                          .beta2 = 0.5f, .set_eps = 1, .eps = 0.1f});
}
END_TEST

START_TEST(adam_coupled_weight_decay)
{
    check_small(&(config){.kind = ADAM, .lr = 0.01f, .wd = 0.1f});
}
END_TEST

START_TEST(adamw)
{
    check_small(&(config){.kind = ADAMW, .lr = 0.01f, .wd = 0.1f});
    check_small(&(config){.kind = ADAMW, .lr = 0.01f, .wd = 0.0f});
    check_small(&(config){.kind = ADAMW, .lr = 0.01f, .wd = 0.5f, .set_betas = 1,
                          .beta1 = 0.5f, .beta2 = 0.9f});

    /* nn_optimizer_set_weight_decay changes the decoupled decay: with g = 0
     * the moments stay 0, so w = w (1 - lr wd) exactly, step after step. */
    nn_graph *g = make_graph(1, 1, 0);
    params p = params_of(g);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adamw_create(&o, g, 0.1f, 0.0f), NN_OK);
    ck_assert_int_eq(nn_optimizer_set_weight_decay(o, 0.5f), NN_OK);
    p.w[0][0] = 2.0f;
    p.g[0][0] = 0.0f;
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 1.9f, 1e-6f);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 1.805f, 1e-6f);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(adam_bias_correction_by_hand)
{
    /* Defaults (b1 0.9, b2 0.999, eps 1e-7), lr 0.1. With a constant g the
     * corrected moments are exactly g and g^2 at every step, so each step
     * moves w by -lr g / (|g| + 1e-7); without the correction step 1 would
     * move it by 0.1 * 0.05 / (sqrt(0.00025) + 1e-7) = 0.316.
     *   g = 0.5, 0.5 from w = 0:  -0.09999998,  -0.19999996
     *   g = -2, -2  from w = 1:    1.099999995,  1.19999999
     * g = 0.5 then -0.25 from w = 0: step 1 as above; step 2
     *   m = 0.045 - 0.025 = 0.02,  v = 0.00024975 + 0.0000625 = 0.00031225
     *   mhat = 0.02 / 0.19 = 0.1052631579, vhat = 0.00031225 / 0.001999
     *   = 0.1562031016, sqrt = 0.3952253808
     *   w = -0.09999998 - 0.1 * 0.1052631579 / 0.3952254808 = -0.1266336772
     * A zero gradient leaves its weight exactly where it was. */
    nn_graph *g = make_graph(3, 2, 0); /* W [2, 3], b [2] */
    params p = params_of(g);
    ck_assert_int_eq(p.n, 8);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 0.1f), NN_OK);
    float w0[8] = {0, 1, 0, 0.25f, 0, 0, 0, 0};
    put(&p, 'w', w0);

    float g1[8] = {0.5f, -2.0f, 0.5f, 0, 0, 0, 0, 0};
    put(&p, 'g', g1);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    float w[8];
    get(&p, 'w', w);
    ck_assert_double_eq_tol(w[0], -0.09999998, 2.5e-8);
    ck_assert_double_eq_tol(w[1], 1.099999995, 2.5e-7);
    ck_assert_double_eq_tol(w[2], -0.09999998, 2.5e-8);
    ck_assert_float_eq(w[3], 0.25f);
    ck_assert_float_eq(w[4], 0.0f);

    float g2[8] = {0.5f, -2.0f, -0.25f, 0, 0, 0, 0, 0};
    put(&p, 'g', g2);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    get(&p, 'w', w);
    ck_assert_double_eq_tol(w[0], -0.19999996, 5e-8);
    ck_assert_double_eq_tol(w[1], 1.19999999, 2.5e-7);
    ck_assert_double_eq_tol(w[2], -0.1266336772, 3e-8);
    ck_assert_float_eq(w[3], 0.25f);
    ck_assert_int_eq(nn_optimizer_step_count(o), 2);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- clipping ---- */

START_TEST(clip_norm)
{
    /* 8 values, gradients 0.1 (j + 1): norm = 0.1 sqrt(204) = 1.4282857;
     * clipped to 0.5 they become 0.1 (j + 1) * 0.5 / (1.4282857 + 1e-6) and
     * SGD with lr 0.1 moves each weight by -0.1 times that. */
    nn_graph *g = make_graph(3, 2, 0);
    params p = params_of(g);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_optimizer_set_clip_norm(o, 0.5f), NN_OK);
    float w[8], gr[8];
    for (int j = 0; j < 8; j++) {
        w[j] = 1.0f;
        gr[j] = 0.1f * (float)(j + 1);
    }
    put(&p, 'w', w);
    put(&p, 'g', gr);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);

    double norm = 0.1 * sqrt(204.0), coef = 0.5 / (norm + 1e-6), sq = 0.0;
    get(&p, 'g', gr); /* clipped in place, as PyTorch does */
    get(&p, 'w', w);
    for (int j = 0; j < 8; j++) {
        double expect = (double)(0.1f * (float)(j + 1)) * coef;
        ck_assert_double_eq_tol(gr[j], expect, 1e-7);
        ck_assert_double_eq_tol(w[j], 1.0 - 0.1 * expect, 1e-7);
        sq += (double)gr[j] * gr[j];
    }
    ck_assert_double_eq_tol(sqrt(sq), 0.5, 1e-6);
    ck_assert_double_lt(sqrt(sq), 0.5);

    /* Below the limit the gradients are left exactly as they are. */
    ck_assert_int_eq(nn_optimizer_set_clip_norm(o, 100.0f), NN_OK);
    float before[8];
    for (int j = 0; j < 8; j++)
        before[j] = -0.3f * (float)j;
    put(&p, 'g', before);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    get(&p, 'g', gr);
    ck_assert_mem_eq(gr, before, sizeof gr);

    /* 0 disables it. */
    ck_assert_int_eq(nn_optimizer_set_clip_norm(o, 0.0f), NN_OK);
    for (int j = 0; j < 8; j++)
        before[j] = 10.0f;
    put(&p, 'g', before);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    get(&p, 'g', gr);
    ck_assert_mem_eq(gr, before, sizeof gr);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(clip_norm_with_adam_and_momentum)
{
    check_small(&(config){.kind = ADAM, .lr = 0.01f, .clip = 0.3f});
    check_small(&(config){.kind = SGD, .lr = 0.02f, .momentum = 0.9f, .clip = 0.3f});
    check_small(&(config){.kind = ADAMW, .lr = 0.01f, .wd = 0.1f, .clip = 100.0f});
}
END_TEST

/* ---- threads ---- */

START_TEST(thread_count_does_not_change_results)
{
    /* 300 -> 300: 90300 values, over the threshold for splitting across
     * threads, with a partial last chunk. */
    int before = nn_get_num_threads();
    const config cs[] = {
        {.kind = ADAM, .lr = 0.01f, .wd = 0.01f, .clip = 5.0f},
        {.kind = ADAMW, .lr = 0.01f, .wd = 0.1f},
        {.kind = SGD, .lr = 0.02f, .momentum = 0.9f, .nesterov = 1, .clip = 5.0f},
    };
    for (size_t k = 0; k < sizeof cs / sizeof cs[0]; k++) {
        float *one = NULL, *many = NULL;
        ck_assert_int_eq(nn_set_num_threads(1), NN_OK);
        double e1 = run_against_reference(&cs[k], 300, 300, 0, 3, &one);
        ck_assert_int_eq(nn_set_num_threads(3), NN_OK);
        double e3 = run_against_reference(&cs[k], 300, 300, 0, 3, &many);
        ck_assert_msg(e1 <= 1e-6 && e3 <= 1e-6, "config %d: errors %g %g", (int)k, e1, e3);
        ck_assert_mem_eq(one, many, 90300 * sizeof(float));
        free(one);
        free(many);
    }
    ck_assert_int_eq(nn_set_num_threads(before), NN_OK);
}
END_TEST

/* ---- options ---- */

START_TEST(lr_and_step_count)
{
    nn_graph *g = make_graph(1, 1, 0);
    params p = params_of(g);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.1f), NN_OK);
    ck_assert_float_eq(nn_optimizer_lr(o), 0.1f);
    ck_assert_int_eq(nn_optimizer_step_count(o), 0);
    p.w[0][0] = 1.0f;
    p.g[0][0] = 2.0f;
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.8f, 1e-7f);
    ck_assert_int_eq(nn_optimizer_set_lr(o, 0.01f), NN_OK);
    ck_assert_float_eq(nn_optimizer_lr(o), 0.01f);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.78f, 1e-7f);
    ck_assert_int_eq(nn_optimizer_set_lr(o, 0.0f), NN_OK);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.78f, 1e-7f);
    ck_assert_int_eq(nn_optimizer_step_count(o), 3);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

/* ---- schedules ---- */

START_TEST(schedule_step_decay)
{
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 0, 10, 0.5f), 0.1f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 9, 10, 0.5f), 0.1f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 10, 10, 0.5f), 0.05f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 25, 10, 0.5f), 0.025f);
    ck_assert_float_eq_tol(nn_lr_step_decay(1.0f, 3, 1, 0.1f), 1e-3f, 1e-10f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 1000, 10, 1.0f), 0.1f);
    /* every <= 0 or step < 0: base */
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 50, 0, 0.5f), 0.1f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, 50, -3, 0.5f), 0.1f);
    ck_assert_float_eq(nn_lr_step_decay(0.1f, -1, 10, 0.5f), 0.1f);
    /* far out it underflows to 0, not to a NaN */
    ck_assert_float_eq(nn_lr_step_decay(0.1f, INT64_MAX, 1, 0.5f), 0.0f);
}
END_TEST

START_TEST(schedule_cosine)
{
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, 0, 100), 1.0f);
    ck_assert_float_eq_tol(nn_lr_cosine(1.0f, 0.1f, 50, 100), 0.55f, 1e-7f);
    /* 0.1 + 0.9 (1 + cos(pi / 4)) / 2 = 0.86819805 */
    ck_assert_float_eq_tol(nn_lr_cosine(1.0f, 0.1f, 25, 100), 0.86819805f, 1e-7f);
    ck_assert_float_eq_tol(nn_lr_cosine(1.0f, 0.1f, 75, 100), 0.23180195f, 1e-7f);
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, 100, 100), 0.1f);
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, 1000, 100), 0.1f);
    ck_assert_float_eq_tol(nn_lr_cosine(2.0f, 0.0f, 1, 2), 1.0f, 1e-7f);
    /* total <= 0 or step < 0: base */
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, 5, 0), 1.0f);
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, 5, -1), 1.0f);
    ck_assert_float_eq(nn_lr_cosine(1.0f, 0.1f, -5, 100), 1.0f);
}
END_TEST

START_TEST(schedule_warmup_linear)
{
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 0, 4), 0.125f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 1, 4), 0.25f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 3, 4), 0.5f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 4, 4), 0.5f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 1000, 4), 0.5f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 0, 1), 0.5f);
    /* warmup <= 0: base, whatever the step; otherwise step < 0: 0 */
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, 2, 0), 0.5f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, -1, 0), 0.5f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, -1, 4), 0.0f);
    ck_assert_float_eq(nn_lr_warmup_linear(0.5f, INT64_MAX - 1, INT64_MAX), 0.5f);
}
END_TEST

/* ---- bad arguments ---- */

START_TEST(create_bad_arguments)
{
    nn_graph *g = make_graph(3, 2, 0);
    nn_optimizer *o = (nn_optimizer *)0x1; /* untouched on failure */

    ck_assert_int_eq(nn_sgd_create(NULL, g, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_create: out is NULL");
    ck_assert_int_eq(nn_sgd_create(&o, NULL, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_create: g is NULL");
    ck_assert_int_eq(nn_sgd_create(&o, g, -0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_create: lr is -0.1, must be finite and >= 0");
    ck_assert_int_eq(nn_sgd_create(&o, g, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_create: lr is nan, must be finite and >= 0");
    ck_assert_int_eq(nn_adam_create(&o, g, INFINITY), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_create: lr is inf, must be finite and >= 0");
    ck_assert_int_eq(nn_adam_create(NULL, g, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_create: out is NULL");
    ck_assert_int_eq(nn_adamw_create(&o, g, 0.1f, -1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(),
                     "nn_adamw_create: weight_decay is -1, must be finite and >= 0");
    ck_assert_int_eq(nn_adamw_create(&o, g, 0.1f, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_adamw_create(&o, NULL, 0.1f, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adamw_create: g is NULL");

    /* a graph without parameters */
    nn_graph *empty = NULL;
    ck_assert_int_eq(nn_graph_create(&empty, 3), NN_OK);
    ck_assert_int_eq(nn_adam_create(&o, empty, 0.1f), NN_ERR_STATE);
    ck_assert_str_eq(nn_last_error(),
                     "nn_adam_create: the graph has no parameters; add a dense layer first");
    ck_assert_int_eq(nn_sgd_create(&o, empty, 0.1f), NN_ERR_STATE);
    ck_assert_ptr_eq(o, (nn_optimizer *)0x1);
    nn_graph_destroy(empty);

    /* lr 0 is allowed */
    o = NULL;
    ck_assert_int_eq(nn_sgd_create(&o, g, 0.0f), NN_OK);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(setter_bad_arguments)
{
    /* Every failure leaves the optimizer as it was: afterwards it still
     * matches a reference that never saw the bad calls. */
    nn_graph *g = make_graph(1, 1, 0);
    params p = params_of(g);
    nn_optimizer *sgd = NULL, *adam = NULL, *adamw = NULL;
    ck_assert_int_eq(nn_sgd_create(&sgd, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_adam_create(&adam, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_adamw_create(&adamw, g, 0.1f, 0.0f), NN_OK);

    ck_assert_int_eq(nn_optimizer_set_lr(sgd, -1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_set_lr: lr is -1, must be finite and >= 0");
    ck_assert_int_eq(nn_optimizer_set_lr(sgd, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_set_lr(sgd, INFINITY), NN_ERR_INVALID_ARGUMENT);
    ck_assert_float_eq(nn_optimizer_lr(sgd), 0.1f);
    ck_assert_int_eq(nn_optimizer_set_weight_decay(sgd, -0.5f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(),
                     "nn_optimizer_set_weight_decay: wd is -0.5, must be finite and >= 0");
    ck_assert_int_eq(nn_optimizer_set_weight_decay(adam, NAN), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_optimizer_set_clip_norm(sgd, -1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(),
                     "nn_optimizer_set_clip_norm: max_norm is -1, must be finite and >= 0");
    ck_assert_int_eq(nn_optimizer_set_clip_norm(sgd, INFINITY), NN_ERR_INVALID_ARGUMENT);

    ck_assert_int_eq(nn_sgd_set_momentum(sgd, 1.0f, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_set_momentum: momentum is 1, must be in [0, 1)");
    ck_assert_int_eq(nn_sgd_set_momentum(sgd, -0.1f, 1), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_sgd_set_momentum(sgd, NAN, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_sgd_set_momentum(adam, 0.9f, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_set_momentum: optimizer is Adam, not SGD");
    ck_assert_int_eq(nn_sgd_set_momentum(adamw, 0.9f, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_set_momentum: optimizer is AdamW, not SGD");

    ck_assert_int_eq(nn_adam_set_betas(sgd, 0.9f, 0.999f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_betas: optimizer is SGD, not Adam");
    ck_assert_int_eq(nn_adam_set_epsilon(sgd, 1e-8f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_epsilon: optimizer is SGD, not Adam");
    ck_assert_int_eq(nn_adam_set_betas(adam, 1.0f, 0.999f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_betas: beta1 is 1, must be in [0, 1)");
    ck_assert_int_eq(nn_adam_set_betas(adam, 0.9f, -0.5f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_betas: beta2 is -0.5, must be in [0, 1)");
    ck_assert_int_eq(nn_adam_set_betas(adamw, NAN, 0.5f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_adam_set_betas(adam, 0.5f, 1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_adam_set_epsilon(adam, 0.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_epsilon: eps is 0, must be finite and > 0");
    ck_assert_int_eq(nn_adam_set_epsilon(adam, -1e-8f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_adam_set_epsilon(adamw, INFINITY), NN_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(nn_adam_set_epsilon(adam, NAN), NN_ERR_INVALID_ARGUMENT);

    /* Still plain SGD, lr 0.1, no decay, no clip: w = 1 - 0.1 * 20 = -1. */
    p.w[0][0] = 1.0f;
    p.g[0][0] = 20.0f;
    ck_assert_int_eq(nn_optimizer_step(sgd), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], -1.0f, 1e-6f);
    /* Still Adam with the defaults: a constant-gradient first step moves w
     * by -lr g / (|g| + 1e-7). */
    p.w[0][0] = 1.0f;
    p.g[0][0] = 20.0f;
    ck_assert_int_eq(nn_optimizer_step(adam), NN_OK);
    ck_assert_float_eq_tol(p.w[0][0], 0.9f, 1e-6f);
    ck_assert_int_eq(nn_optimizer_step_count(adam), 1);

    nn_optimizer_destroy(adamw);
    nn_optimizer_destroy(adam);
    nn_optimizer_destroy(sgd);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(null_handles)
{
    ck_assert_int_eq(nn_optimizer_step(NULL), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_step: o is NULL");
    ck_assert_int_eq(nn_optimizer_set_lr(NULL, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_set_lr: o is NULL");
    ck_assert_int_eq(nn_optimizer_set_weight_decay(NULL, 0.1f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_set_weight_decay: o is NULL");
    ck_assert_int_eq(nn_optimizer_set_clip_norm(NULL, 1.0f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_set_clip_norm: o is NULL");
    ck_assert_int_eq(nn_sgd_set_momentum(NULL, 0.9f, 0), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_sgd_set_momentum: o is NULL");
    ck_assert_int_eq(nn_adam_set_betas(NULL, 0.9f, 0.999f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_betas: o is NULL");
    ck_assert_int_eq(nn_adam_set_epsilon(NULL, 1e-8f), NN_ERR_INVALID_ARGUMENT);
    ck_assert_str_eq(nn_last_error(), "nn_adam_set_epsilon: o is NULL");
    ck_assert_float_eq(nn_optimizer_lr(NULL), 0.0f);
    ck_assert_int_eq(nn_optimizer_step_count(NULL), 0);
    nn_optimizer_destroy(NULL);
}
END_TEST

/* ---- lifetime ---- */

START_TEST(graph_destroyed_first)
{
    nn_graph *g = make_graph(3, 2, 0);
    nn_optimizer *sgd = NULL, *adam = NULL;
    ck_assert_int_eq(nn_sgd_create(&sgd, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_adam_create(&adam, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_optimizer_step(adam), NN_OK);
    nn_graph_destroy(g);
    ck_assert_int_eq(nn_optimizer_step(sgd), NN_ERR_STATE);
    ck_assert_str_eq(nn_last_error(), "nn_optimizer_step: its graph was destroyed");
    ck_assert_int_eq(nn_optimizer_step(adam), NN_ERR_STATE);
    ck_assert_int_eq(nn_optimizer_step_count(adam), 1);
    /* the options still work; destroy frees without touching the graph */
    ck_assert_int_eq(nn_optimizer_set_lr(sgd, 0.5f), NN_OK);
    ck_assert_float_eq(nn_optimizer_lr(sgd), 0.5f);
    nn_optimizer_destroy(sgd);
    nn_optimizer_destroy(adam);
}
END_TEST

START_TEST(optimizer_destroyed_first_then_graph)
{
    /* The usual order, with several optimizers on one graph. */
    nn_graph *g = make_graph(3, 2, 0);
    nn_optimizer *a = NULL, *b = NULL;
    ck_assert_int_eq(nn_sgd_create(&a, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_adamw_create(&b, g, 0.1f, 0.01f), NN_OK);
    nn_optimizer_destroy(a);
    ck_assert_int_eq(nn_optimizer_step(b), NN_OK);
    nn_optimizer_destroy(b);
    nn_graph_destroy(g);
}
END_TEST

START_TEST(layers_added_after_create)
{
    nn_graph *g = make_graph(3, 2, 0);
    nn_optimizer *o = NULL;
    ck_assert_int_eq(nn_adam_create(&o, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_graph_add_dense(g, 4), NN_OK);
    ck_assert_int_eq(nn_optimizer_step(o), NN_ERR_STATE);
    /* the counts include any padding the graph puts between tensors */
    const char *prefix = "nn_optimizer_step: the graph has ";
    ck_assert_int_eq(strncmp(nn_last_error(), prefix, strlen(prefix)), 0);
    ck_assert_ptr_nonnull(strstr(nn_last_error(), "(layers added after it was created)"));
    ck_assert_int_eq(nn_optimizer_step_count(o), 0);
    nn_optimizer_destroy(o);

    /* a new optimizer covers them all */
    ck_assert_int_eq(nn_adam_create(&o, g, 0.1f), NN_OK);
    ck_assert_int_eq(nn_optimizer_step(o), NN_OK);
    nn_optimizer_destroy(o);
    nn_graph_destroy(g);
}
END_TEST

Suite *make_suite(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, sgd_plain);
    tcase_add_test(tc, sgd_momentum);
    tcase_add_test(tc, sgd_nesterov);
    tcase_add_test(tc, sgd_weight_decay);
    tcase_add_test(tc, sgd_one_step_by_hand);
    tcase_add_test(tc, adam_defaults);
    tcase_add_test(tc, adam_custom_betas_eps);
    tcase_add_test(tc, adam_coupled_weight_decay);
    tcase_add_test(tc, adamw);
    tcase_add_test(tc, adam_bias_correction_by_hand);
    tcase_add_test(tc, clip_norm);
    tcase_add_test(tc, clip_norm_with_adam_and_momentum);
    tcase_add_test(tc, thread_count_does_not_change_results);
    tcase_add_test(tc, lr_and_step_count);
    tcase_add_test(tc, schedule_step_decay);
    tcase_add_test(tc, schedule_cosine);
    tcase_add_test(tc, schedule_warmup_linear);
    tcase_add_test(tc, create_bad_arguments);
    tcase_add_test(tc, setter_bad_arguments);
    tcase_add_test(tc, null_handles);
    tcase_add_test(tc, graph_destroyed_first);
    tcase_add_test(tc, optimizer_destroyed_first_then_graph);
    tcase_add_test(tc, layers_added_after_create);
    suite_add_tcase(s, tc);
    return s;
}
