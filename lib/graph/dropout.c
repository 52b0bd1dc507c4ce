/* Inverted dropout on [N, C], training only: y = x * m with m = 0 at
 * probability rate, 1/(1 - rate) otherwise; backward dx = dy * m. */
#include "graph_impl.h"

void nn_dropout_forward(nn_graph *g, int i, plan *p, const float *x)
{
    const layer *l = &g->layers[i];
    layer_plan *lp = &p->lp[i];
    int64_t n = p->n * l->out;
    float keep = 1.0f - l->rate, scale = 1.0f / keep;
    for (int64_t k = 0; k < n; k++) {
        lp->mask[k] = nn_rng_uniform(&g->rng) < keep ? scale : 0.0f;
        lp->y[k] = x[k] * lp->mask[k];
    }
}

void nn_dropout_backward(nn_graph *g, int i, plan *p, float *dx)
{
    const layer_plan *lp = &p->lp[i];
    int64_t n = p->n * g->layers[i].out;
    for (int64_t k = 0; k < n; k++)
        dx[k] = lp->dy[k] * lp->mask[k];
}
