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
