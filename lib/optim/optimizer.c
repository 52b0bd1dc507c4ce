/* The generic optimizer handle: creation shared by every kind, the step
 * (checks, global-norm clipping, dispatch) and the common options. */
#include <math.h>
#include <stddef.h>

#include <nn/optimizer.h>
#include <nn/threads.h>
#include "core/core.h"
#include "graph/graph_internal.h"
#include "optim_internal.h"

static int bad_rate(float x)
{
    return !isfinite(x) || x < 0.0f;
}

nn_status nn_optim_create(nn_optimizer **out, const char *fn, nn_optim_kind kind,
                          nn_graph *g, float lr, float weight_decay)
{
    if (!out)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: out is NULL", fn);
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: g is NULL", fn);
    if (bad_rate(lr))
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: lr is %g, must be finite and >= 0", fn,
                       (double)lr);
    if (bad_rate(weight_decay))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "%s: weight_decay is %g, must be finite and >= 0", fn,
                       (double)weight_decay);
    int64_t n = nn_graph_numel(g);
    if (n <= 0)
        return nn_fail(NN_ERR_STATE, "%s: the graph has no parameters; add a dense layer first",
                       fn);

    /* SGD keeps a velocity, Adam two moments; both are allocated now so that
     * enabling momentum later, or any step, allocates nothing. */
    int64_t per = kind == NN_OPTIM_SGD ? 1 : 2, floats;
    int64_t chunks = nn_optim_chunks(n);
    if (nn_mul_overflows(n, per, &floats) ||
        floats > (int64_t)(SIZE_MAX / sizeof(float)) ||
        chunks > (int64_t)(SIZE_MAX / sizeof(double)))
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: state for %lld parameters overflows the size",
                       fn, (long long)n);

    nn_optimizer *o = nn_mem_calloc(sizeof *o);
    if (!o)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory for the handle", fn);
    o->state = nn_mem_calloc((size_t)floats * sizeof(float));
    o->partial = nn_mem_calloc((size_t)chunks * sizeof(double));
    if (!o->state || !o->partial) {
        nn_status s = nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory for %lld floats of state",
                              fn, (long long)floats);
        nn_mem_free(o->partial);
        nn_mem_free(o->state);
        nn_mem_free(o);
        return s;
    }
    o->graph = g;
    if (nn_graph_attach(g, &o->graph) != NN_OK) {
        nn_mem_free(o->partial);
        nn_mem_free(o->state);
        nn_mem_free(o);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "%s: no memory to watch the graph", fn);
    }
    o->kind = kind;
    o->n = n;
    o->lr = lr;
    o->weight_decay = weight_decay;
    o->clip_norm = 0.0f;
    o->momentum = 0.0f;
    o->nesterov = 0;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-7f;
    o->step = 0;
    *out = o;
    return NN_OK;
}

struct chunk_run {
    int64_t n;
    nn_optim_chunk_fn *fn;
    void *ctx;
};

static void run_chunk(void *arg, int c)
{
    const struct chunk_run *r = arg;
    int64_t lo = (int64_t)c * NN_OPTIM_CHUNK;
    r->fn(r->ctx, c, lo, r->n - lo < NN_OPTIM_CHUNK ? r->n - lo : NN_OPTIM_CHUNK);
}

void nn_optim_for_chunks(nn_optimizer *o, nn_optim_chunk_fn *fn, void *ctx)
{
    struct chunk_run r = {o->n, fn, ctx};
    int64_t chunks = nn_optim_chunks(o->n);
    /* On the graph's own pool, not OpenMP: an OpenMP team spinning beside
     * the pool's idle threads starves both on a small machine. */
    if (o->n <= NN_OPTIM_PARALLEL_MIN || chunks > 32767 ||
        nn_graph_run_tasks(o->graph, (int)chunks, run_chunk, &r) != NN_OK) {
        for (int64_t c = 0; c < chunks; c++)
            run_chunk(&r, (int)c);
    }
}

/* ---- global-norm clipping (PyTorch clip_grad_norm_, L2) ---- */

NN_OPTIM_CLONES
static double sum_squares(const float *restrict g, int64_t n)
{
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++)
        s += (double)g[i] * (double)g[i];
    return s;
}

NN_OPTIM_CLONES
static void scale(float *restrict g, int64_t n, float c)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++)
        g[i] *= c;
}

struct clip_ctx {
    float *g;
    double *partial;
    float coef;
};

static void chunk_sum_squares(void *ctx, int64_t c, int64_t lo, int64_t len)
{
    struct clip_ctx *k = ctx;
    k->partial[c] = sum_squares(k->g + lo, len);
}

static void chunk_scale(void *ctx, int64_t c, int64_t lo, int64_t len)
{
    struct clip_ctx *k = ctx;
    (void)c;
    scale(k->g + lo, len, k->coef);
}

/* Scales g in place by max_norm / (norm + 1e-6) when that is below 1. The
 * chunk sums are added in chunk order, so the norm does not depend on the
 * thread count. A non-finite norm propagates into g, as in PyTorch with
 * error_if_nonfinite=False. */
static void clip(nn_optimizer *o, float *g)
{
    struct clip_ctx k = {g, o->partial, 1.0f};
    nn_optim_for_chunks(o, chunk_sum_squares, &k);
    double sq = 0.0;
    for (int64_t c = 0, chunks = nn_optim_chunks(o->n); c < chunks; c++)
        sq += o->partial[c];
    double coef = (double)o->clip_norm / (sqrt(sq) + 1e-6);
    if (coef >= 1.0) /* false for NaN, which then spreads as in PyTorch */
        return;
    k.coef = (float)coef;
    nn_optim_for_chunks(o, chunk_scale, &k);
}

/* ---- the handle ---- */

/* What every step needs: a live graph of the size the state was made for. */
static nn_status check_ready(nn_optimizer *o, const char *fn)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: o is NULL", fn);
    if (!o->graph)
        return nn_fail(NN_ERR_STATE, "%s: its graph was destroyed", fn);
    int64_t n = nn_graph_numel(o->graph);
    if (n != o->n)
        return nn_fail(NN_ERR_STATE,
                       "%s: the graph has %lld parameters, the optimizer was "
                       "made for %lld (layers added after it was created)",
                       fn, (long long)n, (long long)o->n);
    if (!nn_graph_values(o->graph) || !nn_graph_grads(o->graph))
        return nn_fail(NN_ERR_STATE, "%s: the graph has no parameter memory", fn);
    return NN_OK;
}

nn_status nn_optimizer_step(nn_optimizer *o)
{
    nn_status s = check_ready(o, "nn_optimizer_step");
    if (s != NN_OK)
        return s;
    float *w = nn_graph_values(o->graph);
    float *g = nn_graph_grads(o->graph);
    nn_threads_apply();
    if (o->clip_norm > 0.0f)
        clip(o, g);
    int64_t t = o->step + 1;
    switch (o->kind) {
    case NN_OPTIM_SGD:
        nn_sgd_update(o, w, g);
        break;
    case NN_OPTIM_ADAM:
    case NN_OPTIM_ADAMW:
        nn_adam_update(o, w, g, t);
        break;
    }
    nn_graph_values_changed(o->graph);
    o->step = t;
    return NN_OK;
}

nn_status nn_optimizer_fused_begin(nn_optimizer *o)
{
    nn_status s = check_ready(o, "nn_optimizer_step");
    if (s == NN_OK && o->clip_norm > 0.0f)
        return NN_ERR_UNSUPPORTED; /* not an error: the caller steps unfused */
    if (s == NN_OK && o->kind != NN_OPTIM_SGD)
        nn_adam_prepare(o, o->step + 1);
    return s;
}

void nn_optimizer_fused_range(nn_optimizer *o, int64_t lo, int64_t len)
{
    float *w = nn_graph_values(o->graph);
    const float *g = nn_graph_grads(o->graph);
    if (o->kind == NN_OPTIM_SGD)
        nn_sgd_range(o, w, g, lo, len);
    else
        nn_adam_range(o, w, g, lo, len);
}

void nn_optimizer_fused_end(nn_optimizer *o)
{
    o->step++;
}

nn_status nn_optimizer_set_weight_decay(nn_optimizer *o, float wd)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_set_weight_decay: o is NULL");
    if (bad_rate(wd))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_optimizer_set_weight_decay: wd is %g, must be finite and >= 0",
                       (double)wd);
    o->weight_decay = wd;
    return NN_OK;
}

nn_status nn_optimizer_set_clip_norm(nn_optimizer *o, float max_norm)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_set_clip_norm: o is NULL");
    if (bad_rate(max_norm))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_optimizer_set_clip_norm: max_norm is %g, must be finite and >= 0",
                       (double)max_norm);
    o->clip_norm = max_norm;
    return NN_OK;
}

nn_status nn_optimizer_set_lr(nn_optimizer *o, float lr)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_optimizer_set_lr: o is NULL");
    if (bad_rate(lr))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_optimizer_set_lr: lr is %g, must be finite and >= 0", (double)lr);
    o->lr = lr;
    return NN_OK;
}

float nn_optimizer_lr(const nn_optimizer *o)
{
    return o ? o->lr : 0.0f;
}

int64_t nn_optimizer_step_count(const nn_optimizer *o)
{
    return o ? o->step : 0;
}

void nn_optimizer_destroy(nn_optimizer *o)
{
    if (!o)
        return;
    if (o->graph)
        nn_graph_detach(o->graph, &o->graph);
    nn_mem_free(o->partial);
    nn_mem_free(o->state);
    nn_mem_free(o);
}

int nn_optim_state_slots(const nn_optimizer *o)
{
    return o->kind == NN_OPTIM_SGD ? 1 : 2;
}

float *nn_optim_state(nn_optimizer *o, int slot)
{
    return o->state + (int64_t)slot * o->n;
}
