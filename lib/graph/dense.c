/* Dense layer: y[N,O] = x[N,I] W[O,I]^T + b[O], optionally followed by a
 * fused activation (the next layer, computed here as a oneDNN post-op).
 * Backward: dW = dy^T x, db = sum_n dy, dx = dy W. */
#include <math.h>

#include "graph_impl.h"

nn_status nn_dense_plan(nn_graph *g, int i, plan *p)
{
    const layer *l = &g->layers[i];
    nn_bk_eltwise_alg post = NN_BK_NONE;
    float alpha = 0.0f;
    if (i + 1 < g->nlayers && g->layers[i + 1].fused) {
        post = g->layers[i + 1].alg;
        alpha = g->layers[i + 1].alpha;
    }
    return nn_bk_dense_create(&p->lp[i].dense, g->ctx, p->n, l->in, l->out, post, alpha,
                              p->training, p->training && i > g->first_dense);
}

nn_status nn_dense_forward(nn_graph *g, int i, plan *p, const float *x)
{
    const layer *l = &g->layers[i];
    return nn_bk_dense_forward(p->lp[i].dense, x, g->values + l->w_off, g->values + l->b_off,
                               p->lp[i].y);
}

nn_status nn_dense_backward(nn_graph *g, int i, plan *p, const float *x, float *dx)
{
    const layer *l = &g->layers[i];
    layer_plan *lp = &p->lp[i];
    nn_status s = nn_bk_dense_backward_weights(lp->dense, x, lp->dy, g->grads + l->w_off,
                                               g->grads + l->b_off);
    if (s == NN_OK && dx)
        s = nn_bk_dense_backward_data(lp->dense, lp->dy, g->values + l->w_off, dx);
    return s;
}

void nn_dense_init(nn_graph *g, const layer *l, nn_init scheme)
{
    float *w = g->values + l->w_off;
    int64_t n = l->in * l->out;
    double fan = (scheme == NN_INIT_HE_UNIFORM || scheme == NN_INIT_HE_NORMAL)
                     ? (double)l->in
                     : (double)(l->in + l->out);
    if (scheme == NN_INIT_GLOROT_UNIFORM || scheme == NN_INIT_HE_UNIFORM) {
        float limit = (float)sqrt(6.0 / fan);
        for (int64_t k = 0; k < n; k++)
            w[k] = (2.0f * nn_rng_uniform(&g->rng) - 1.0f) * limit;
    } else {
        double sd = sqrt(2.0 / fan);
        for (int64_t k = 0; k < n; k++)
            w[k] = (float)(sd * nn_rng_normal(&g->rng));
    }
    for (int64_t k = 0; k < l->out; k++)
        g->values[l->b_off + k] = 0.0f;
}
