/* Element-wise activations on [N, C]: ReLU / leaky ReLU, sigmoid, tanh,
 * GELU (erf). Backward dx = dy * f'(.), from the output y for all but GELU,
 * which needs its input x. After a dense layer, all but GELU run fused in
 * the dense forward; their backward is the same either way. */
#include "graph_impl.h"
#include "kernels.h"

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
/* Forward is v times a selected factor (1 or a), the same results as a
 * choice between v and a * v (NaN, infinities and -0 alike). gcc did not
 * vectorise either form in place: it turns the factor 1 back into a
 * branch, which mispredicts on signs that are close to random (batched
 * inference spent 13 % of its time there). Hence the explicit AVX2 loop;
 * the portable one serves the rest. x and y may be the same row. */
static void leaky_row(float a, const float *x, float *y, int64_t len)
{
    for (int64_t c = 0; c < len; c++)
        y[c] = (x[c] > 0.0f ? 1.0f : a) * x[c];
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_LEAKY_AVX2 1

__attribute__((target("avx2"))) static void leaky_row_avx2(float a, const float *x, float *y,
                                                          int64_t len)
{
    const __m256 one = _mm256_set1_ps(1.0f), av = _mm256_set1_ps(a), zero = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 8 <= len; c += 8) {
        __m256 v = _mm256_loadu_ps(x + c);
        __m256 f = _mm256_blendv_ps(av, one, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
        _mm256_storeu_ps(y + c, _mm256_mul_ps(v, f));
    }
    leaky_row(a, x + c, y + c, len - c);
}
#endif

static void relu_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                              int64_t c1)
{
    void (*row)(float, const float *, float *, int64_t) = leaky_row;
#ifdef HAVE_LEAKY_AVX2
    if (nn_kernels_isa() != NN_ISA_NONE)
        row = leaky_row_avx2;
#endif
    for (int64_t r = 0; r < n; r++)
        row(l->alpha, x + r * l->out + c0, y + r * l->out + c0, c1 - c0);
}

/* dx, dy and y are three different buffers. */
NN_TARGET_CLONES
static void leaky_backward(float a, int64_t n, int64_t ld, const float *restrict y,
                           const float *restrict dy, float *restrict dx, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        const float *yr = y + r * ld, *dyr = dy + r * ld;
        float *dxr = dx + r * ld;
        for (int64_t c = c0; c < c1; c++)
            dxr[c] = (yr[c] > 0.0f ? 1.0f : a) * dyr[c];
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
