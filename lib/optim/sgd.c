/* SGD with optional (Nesterov) momentum, PyTorch semantics, dampening 0:
 * g' = g + wd w; v = mu v + g'; d = nesterov ? g' + mu v : v (g' without
 * momentum); w -= lr d. PyTorch sets v = g' on the first momentum step,
 * which is the same thing since v starts at 0. */
#include <nn/sgd.h>
#include "core/core.h"
#include "optim_internal.h"

nn_status nn_sgd_create(nn_optimizer **out, nn_graph *g, float lr)
{
    return nn_optim_create(out, "nn_sgd_create", NN_OPTIM_SGD, g, lr, 0.0f);
}

nn_status nn_sgd_set_momentum(nn_optimizer *o, float momentum, int nesterov)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgd_set_momentum: o is NULL");
    if (o->kind != NN_OPTIM_SGD)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_sgd_set_momentum: optimizer is %s, not SGD",
                       o->kind == NN_OPTIM_ADAMW ? "AdamW" : "Adam");
    if (!(momentum >= 0.0f && momentum < 1.0f))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_sgd_set_momentum: momentum is %g, must be in [0, 1)",
                       (double)momentum);
    o->momentum = momentum;
    o->nesterov = nesterov != 0;
    return NN_OK;
}

struct sgd_k {
    float *w;
    const float *g;
    float *v;
    float lr, wd, mu;
    int nesterov;
};

NN_OPTIM_CLONES
static void sgd_plain(float *restrict w, const float *restrict g, int64_t n, float lr, float wd)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++)
        w[i] -= lr * (g[i] + wd * w[i]);
}

NN_OPTIM_CLONES
static void sgd_momentum(float *restrict w, const float *restrict g, float *restrict v,
                         int64_t n, float lr, float wd, float mu)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float vi = mu * v[i] + (g[i] + wd * w[i]);
        v[i] = vi;
        w[i] -= lr * vi;
    }
}

NN_OPTIM_CLONES
static void sgd_nesterov(float *restrict w, const float *restrict g, float *restrict v,
                         int64_t n, float lr, float wd, float mu)
{
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i] + wd * w[i];
        float vi = mu * v[i] + gi;
        v[i] = vi;
        w[i] -= lr * (gi + mu * vi);
    }
}

static void sgd_chunk(void *ctx, int64_t c, int64_t lo, int64_t len)
{
    const struct sgd_k *k = ctx;
    (void)c;
    if (k->mu == 0.0f)
        sgd_plain(k->w + lo, k->g + lo, len, k->lr, k->wd);
    else if (k->nesterov)
        sgd_nesterov(k->w + lo, k->g + lo, k->v + lo, len, k->lr, k->wd, k->mu);
    else
        sgd_momentum(k->w + lo, k->g + lo, k->v + lo, len, k->lr, k->wd, k->mu);
}

void nn_sgd_update(nn_optimizer *o, float *w, const float *g)
{
    struct sgd_k k = {w, g, o->state, o->lr, o->weight_decay, o->momentum, o->nesterov};
    nn_optim_for_chunks(o, sgd_chunk, &k);
}

void nn_sgd_range(nn_optimizer *o, float *w, const float *g, int64_t lo, int64_t len)
{
    struct sgd_k k = {w, g, o->state, o->lr, o->weight_decay, o->momentum, o->nesterov};
    sgd_chunk(&k, 0, lo, len);
}
