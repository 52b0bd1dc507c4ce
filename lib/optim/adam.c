/* Adam and AdamW, one fused pass: at step t
 *   Adam:  g' = g + wd w                 (coupled L2, PyTorch's weight_decay)
 *   AdamW: w  = w (1 - lr wd), g' = g    (decoupled, PyTorch's AdamW)
 *   m = b1 m + (1 - b1) g';  v = b2 v + (1 - b2) g'^2
 *   w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * The bias corrections are computed once per step in double; the loop reads
 * w, g, m, v once and writes w, m, v once, written as PyTorch does it:
 * w -= (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
#include <math.h>

#include <nn/adam.h>
#include "core/core.h"
#include "optim_internal.h"

nn_status nn_adam_create(nn_optimizer **out, nn_graph *g, float lr)
{
    return nn_optim_create(out, "nn_adam_create", NN_OPTIM_ADAM, g, lr, 0.0f);
}

nn_status nn_adamw_create(nn_optimizer **out, nn_graph *g, float lr, float weight_decay)
{
    return nn_optim_create(out, "nn_adamw_create", NN_OPTIM_ADAMW, g, lr, weight_decay);
}

static nn_status check_adam(const nn_optimizer *o, const char *fn)
{
    if (!o)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: o is NULL", fn);
    if (o->kind != NN_OPTIM_ADAM && o->kind != NN_OPTIM_ADAMW)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: optimizer is SGD, not Adam", fn);
    return NN_OK;
}

nn_status nn_adam_set_betas(nn_optimizer *o, float beta1, float beta2)
{
    nn_status s = check_adam(o, "nn_adam_set_betas");
    if (s != NN_OK)
        return s;
    if (!(beta1 >= 0.0f && beta1 < 1.0f))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_adam_set_betas: beta1 is %g, must be in [0, 1)", (double)beta1);
    if (!(beta2 >= 0.0f && beta2 < 1.0f))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_adam_set_betas: beta2 is %g, must be in [0, 1)", (double)beta2);
    o->beta1 = beta1;
    o->beta2 = beta2;
    return NN_OK;
}

nn_status nn_adam_set_epsilon(nn_optimizer *o, float eps)
{
    nn_status s = check_adam(o, "nn_adam_set_epsilon");
    if (s != NN_OK)
        return s;
    if (!isfinite(eps) || !(eps > 0.0f))
        return nn_fail(NN_ERR_INVALID_ARGUMENT,
                       "nn_adam_set_epsilon: eps is %g, must be finite and > 0", (double)eps);
    o->eps = eps;
    return NN_OK;
}

struct adam_ctx {
    float *w;
    const float *g;
    float *m, *v;
    nn_adam_consts k;
};

/* Branch-free so that gcc vectorises it. gcc vectorises sqrtf only under
 * -fno-math-errno (its default -fmath-errno keeps a scalar errno path, and
 * gcc 12 ignores optimize("no-math-errno") on a function), so libnn is
 * meant to be built with that flag; libnn never reads errno from maths.
 * Adam has keep == 1 and AdamW cwd == 0, which leave finite values as they
 * are. */
NN_OPTIM_CLONES
static void adam_kernel(float *restrict w, const float *restrict g, float *restrict m,
                        float *restrict v, int64_t n, const nn_adam_consts *restrict k)
{
    const float b1 = k->b1, omb1 = k->omb1, b2 = k->b2, omb2 = k->omb2;
    const float cwd = k->cwd, keep = k->keep, step_size = k->step_size;
    const float inv_sqrt_bc2 = k->inv_sqrt_bc2, eps = k->eps;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i];
        float gi = g[i] + cwd * wi;
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        w[i] = wi * keep - step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

static void adam_chunk(void *ctx, int64_t c, int64_t lo, int64_t len)
{
    struct adam_ctx *a = ctx;
    (void)c;
    adam_kernel(a->w + lo, a->g + lo, a->m + lo, a->v + lo, len, &a->k);
}

/* The constants of step t, in float (bias corrections in double). */
static nn_adam_consts adam_consts(const nn_optimizer *o, int64_t t)
{
    double b1 = o->beta1, b2 = o->beta2, lr = o->lr, wd = o->weight_decay;
    double bc1 = 1.0 - pow(b1, (double)t);
    double bc2 = 1.0 - pow(b2, (double)t);
    int decoupled = o->kind == NN_OPTIM_ADAMW;
    nn_adam_consts k = {
        .b1 = o->beta1,
        .omb1 = (float)(1.0 - b1),
        .b2 = o->beta2,
        .omb2 = (float)(1.0 - b2),
        .cwd = decoupled ? 0.0f : o->weight_decay,
        .keep = decoupled ? (float)(1.0 - lr * wd) : 1.0f,
        .step_size = (float)(lr / bc1),
        .inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2)),
        .eps = o->eps,
    };
    return k;
}

void nn_adam_update(nn_optimizer *o, float *w, const float *g, int64_t t)
{
    struct adam_ctx a = {.w = w, .g = g, .m = o->state, .v = o->state + o->n,
                         .k = adam_consts(o, t)};
    nn_optim_for_chunks(o, adam_chunk, &a);
}

void nn_adam_prepare(nn_optimizer *o, int64_t t)
{
    o->fused = adam_consts(o, t);
}

void nn_adam_range(nn_optimizer *o, float *w, const float *g, int64_t lo, int64_t len)
{
    adam_kernel(w + lo, g + lo, o->state + lo, o->state + o->n + lo, len, &o->fused);
}
