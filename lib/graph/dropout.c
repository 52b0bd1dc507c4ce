/* Inverted dropout on [N, C], training only: y = x * m with m = 0 at
 * probability rate, 1/(1 - rate) otherwise; backward dx = dy * m.
 * Each element's draw is a hash of a per-forward key (taken from the
 * graph's generator) and the element's index, so any split of the columns
 * over threads draws the same mask. */
#include "graph_impl.h"

static inline float uniform_at(uint64_t key, uint64_t idx)
{
    uint64_t z = key + (idx + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(z >> 40) * 0x1.0p-24f;
}

void nn_dropout_draw_keys(nn_graph *g, plan *p)
{
    for (int i = 0; i < g->nlayers; i++)
        if (g->layers[i].kind == LAYER_DROPOUT)
            p->lp[i].key = nn_rng_next(&g->rng);
}

void nn_dropout_forward_cols(const layer *l, layer_plan *lp, int64_t n, const float *x,
                             int64_t c0, int64_t c1)
{
    float keep = 1.0f - l->rate, scale = 1.0f / keep;
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = c0; c < c1; c++) {
            int64_t k = r * l->out + c;
            lp->mask[k] = uniform_at(lp->key, (uint64_t)k) < keep ? scale : 0.0f;
            lp->y[k] = x[k] * lp->mask[k];
        }
}

void nn_dropout_backward_cols(const layer *l, const layer_plan *lp, int64_t n, float *dx,
                              int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++)
        for (int64_t c = c0; c < c1; c++) {
            int64_t k = r * l->out + c;
            dx[k] = lp->dy[k] * lp->mask[k];
        }
}
