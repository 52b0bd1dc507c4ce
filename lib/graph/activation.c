/* Element-wise activations on [N, C]: ReLU / leaky ReLU, sigmoid, tanh,
 * GELU (erf). Backward dx = dy * f'(.), from the output y for all but GELU,
 * which needs its input x. After a dense layer, all but GELU run fused in
 * the dense forward; their backward is the same either way. */
#include "graph_impl.h"

nn_status nn_activation_plan(nn_graph *g, int i, plan *p)
{
    const layer *l = &g->layers[i];
    if (l->fused && !p->training)
        return NN_OK;
    return nn_bk_eltwise_create(&p->lp[i].eltwise, g->ctx, p->n, l->in, l->alg, l->alpha,
                                p->training);
}

nn_status nn_activation_forward(nn_graph *g, int i, plan *p, const float *x)
{
    if (g->layers[i].fused)
        return NN_OK;
    return nn_bk_eltwise_forward(p->lp[i].eltwise, x, p->lp[i].y);
}

nn_status nn_activation_backward(nn_graph *g, int i, plan *p, const float *x, const float *y,
                                 float *dx)
{
    (void)g;
    layer_plan *lp = &p->lp[i];
    return nn_bk_eltwise_backward(lp->eltwise, x, y, lp->dy, dx);
}

/* ReLU and leaky ReLU on columns c0..c1-1 of [N, C] rows, for the threaded
 * executor: y = x > 0 ? x : alpha x (x and y may be the same buffer), and
 * dx = dy * (y > 0 ? 1 : alpha), from the output as oneDNN's
 * relu_use_dst_for_bwd does. */
/* The products a * v are taken whether or not they are used: a select
 * between two computed values vectorises, where a multiplication under a
 * branch may not (it could trap) and the branch mispredicts on signs that
 * are close to random. */
NN_TARGET_CLONES
static void leaky_in_place(float a, int64_t n, int64_t ld, float *y, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        float *yr = y + r * ld;
        for (int64_t c = c0; c < c1; c++) {
            float v = yr[c], s = a * v;
            yr[c] = v > 0.0f ? v : s;
        }
    }
}

NN_TARGET_CLONES
static void leaky_copy(float a, int64_t n, int64_t ld, const float *restrict x,
                       float *restrict y, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * ld;
        float *yr = y + r * ld;
        for (int64_t c = c0; c < c1; c++) {
            float v = xr[c], s = a * v;
            yr[c] = v > 0.0f ? v : s;
        }
    }
}

static void relu_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                              int64_t c1)
{
    if (x == y)
        leaky_in_place(l->alpha, n, l->out, y, c0, c1);
    else
        leaky_copy(l->alpha, n, l->out, x, y, c0, c1);
}

/* dx, dy and y are three different buffers. */
NN_TARGET_CLONES
static void leaky_backward(float a, int64_t n, int64_t ld, const float *restrict y,
                           const float *restrict dy, float *restrict dx, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        const float *yr = y + r * ld, *dyr = dy + r * ld;
        float *dxr = dx + r * ld;
        for (int64_t c = c0; c < c1; c++) {
            float g = dyr[c], s = a * g;
            dxr[c] = yr[c] > 0.0f ? g : s;
        }
    }
}

static void relu_backward_cols(const layer *l, int64_t n, const float *y, const float *dy,
                               float *dx, int64_t c0, int64_t c1)
{
    leaky_backward(l->alpha, n, l->out, y, dy, dx, c0, c1);
}

void nn_act_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                         int64_t c1)
{
    if (l->alg == NN_BK_RELU)
        relu_forward_cols(l, n, x, y, c0, c1);
    else
        nn_eltwise_forward_cols(l, n, x, y, c0, c1);
}

void nn_act_backward_cols(const layer *l, int64_t n, const float *x, const float *y,
                          const float *dy, float *dx, int64_t c0, int64_t c1)
{
    if (l->alg == NN_BK_RELU)
        relu_backward_cols(l, n, y, dy, dx, c0, c1);
    else
        nn_eltwise_backward_cols(l, n, x, y, dy, dx, c0, c1);
}
