/* Sigmoid, tanh and GELU (erf) on columns c0..c1-1 of [N, C] rows, for the
 * threaded executor, which runs them on libnn's own threads (oneDNN's
 * eltwise primitives would bring their OpenMP team, which collapses when
 * another process holds a core).
 *
 * Backward works from the output y for sigmoid and tanh (as the fused
 * primitives do) and from the input x for GELU. With AVX-512 the loops use
 * the vector functions below: exp by range reduction (x = n ln2 + r,
 * |r| <= ln2/2) and a degree-7 Taylor polynomial, relative error about
 * 1e-7; erf by Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7.
 * Elsewhere they call libm. NaN inputs give NaN outputs either way. */
#include <math.h>

#include "graph_impl.h"
#include "kernels.h"

#define INV_SQRT2 0.70710678118654752f
#define INV_SQRT_2PI 0.39894228040143268f

static float gelu_scalar(float x)
{
    return 0.5f * x * (1.0f + erff(x * INV_SQRT2));
}

static float gelu_grad_scalar(float x)
{
    return 0.5f * (1.0f + erff(x * INV_SQRT2)) + x * INV_SQRT_2PI * expf(-0.5f * x * x);
}

/* The portable loops (and the tail of the vector ones). */
static void fwd_scalar(nn_bk_eltwise_alg alg, const float *x, float *y, int64_t len)
{
    for (int64_t c = 0; c < len; c++) {
        float v = x[c];
        switch (alg) {
        case NN_BK_SIGMOID: y[c] = 1.0f / (1.0f + expf(-v)); break;
        case NN_BK_TANH: y[c] = tanhf(v); break;
        default: y[c] = gelu_scalar(v); break;
        }
    }
}

static void bwd_scalar(nn_bk_eltwise_alg alg, const float *x, const float *y, const float *dy,
                       float *dx, int64_t len)
{
    for (int64_t c = 0; c < len; c++) {
        switch (alg) {
        case NN_BK_SIGMOID: dx[c] = dy[c] * y[c] * (1.0f - y[c]); break;
        case NN_BK_TANH: dx[c] = dy[c] * (1.0f - y[c] * y[c]); break;
        default: dx[c] = dy[c] * gelu_grad_scalar(x[c]); break;
        }
    }
}

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,fma")))
#define HAVE_VECTOR 1

/* e^x. Inputs are clamped to [-200, 200] (max/min keep NaN: they return
 * their second operand when one is NaN), where the result is already 0 or
 * inf; scalef applies 2^n with correct overflow and underflow. */
AVX512 static inline __m512 v_exp(__m512 x)
{
    x = _mm512_min_ps(_mm512_set1_ps(200.0f), _mm512_max_ps(_mm512_set1_ps(-200.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

AVX512 static inline __m512 v_abs(__m512 x)
{
    return _mm512_castsi512_ps(
        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}

/* x's sign on the non-negative a. */
AVX512 static inline __m512 v_copysign(__m512 a, __m512 x)
{
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_castps_si512(a),
                        _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
}

/* tanh: the odd Taylor series below |x| = 0.3 (next term < 1e-9), where
 * (1 - e^-2|x|) / (1 + e^-2|x|) would lose bits to cancellation. */
AVX512 static inline __m512 v_tanh(__m512 x)
{
    __m512 a = v_abs(x);
    __m512 e = v_exp(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
    __m512 big = _mm512_div_ps(_mm512_sub_ps(_mm512_set1_ps(1.0f), e),
                               _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 s = _mm512_set1_ps(-1382.0f / 155925.0f);
    s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(62.0f / 2835.0f));
    s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-17.0f / 315.0f));
    s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(2.0f / 15.0f));
    s = _mm512_fmadd_ps(s, x2, _mm512_set1_ps(-1.0f / 3.0f));
    __m512 small = _mm512_fmadd_ps(_mm512_mul_ps(s, x2), x, x);
    __mmask16 is_small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.3f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(is_small, v_copysign(big, x), small);
}

/* erf (Abramowitz & Stegun 7.1.26). */
AVX512 static inline __m512 v_erf(__m512 z)
{
    __m512 a = v_abs(z);
    __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f),
                             _mm512_fmadd_ps(a, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.0f)));
    __m512 p = _mm512_set1_ps(1.061405429f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
    p = _mm512_mul_ps(p, t);
    __m512 e = v_exp(_mm512_mul_ps(_mm512_mul_ps(a, a), _mm512_set1_ps(-1.0f)));
    return v_copysign(_mm512_fnmadd_ps(p, e, _mm512_set1_ps(1.0f)), z);
}

AVX512 static inline __m512 v_fwd(nn_bk_eltwise_alg alg, __m512 v)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    switch (alg) {
    case NN_BK_SIGMOID:
        return _mm512_div_ps(one, _mm512_add_ps(one, v_exp(_mm512_sub_ps(_mm512_setzero_ps(), v))));
    case NN_BK_TANH: return v_tanh(v);
    default: {
        __m512 erf = v_erf(_mm512_mul_ps(v, _mm512_set1_ps(INV_SQRT2)));
        return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), v), _mm512_add_ps(one, erf));
    }
    }
}

AVX512 static inline __m512 v_bwd(nn_bk_eltwise_alg alg, __m512 x, __m512 y, __m512 dy)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    switch (alg) {
    case NN_BK_SIGMOID: return _mm512_mul_ps(_mm512_mul_ps(dy, y), _mm512_sub_ps(one, y));
    case NN_BK_TANH: return _mm512_mul_ps(dy, _mm512_fnmadd_ps(y, y, one));
    default: {
        __m512 cdf = _mm512_mul_ps(_mm512_set1_ps(0.5f),
                                   _mm512_add_ps(one, v_erf(_mm512_mul_ps(x, _mm512_set1_ps(INV_SQRT2)))));
        __m512 pdf = _mm512_mul_ps(_mm512_set1_ps(INV_SQRT_2PI),
                                   v_exp(_mm512_mul_ps(_mm512_mul_ps(x, x), _mm512_set1_ps(-0.5f))));
        return _mm512_mul_ps(dy, _mm512_fmadd_ps(x, pdf, cdf));
    }
    }
}

AVX512 static void fwd_vector(nn_bk_eltwise_alg alg, const float *x, float *y, int64_t len)
{
    int64_t c = 0;
    for (; c + 16 <= len; c += 16)
        _mm512_storeu_ps(y + c, v_fwd(alg, _mm512_loadu_ps(x + c)));
    if (c < len) {
        __mmask16 m = (__mmask16)((1u << (len - c)) - 1u);
        _mm512_mask_storeu_ps(y + c, m, v_fwd(alg, _mm512_maskz_loadu_ps(m, x + c)));
    }
}

AVX512 static void bwd_vector(nn_bk_eltwise_alg alg, const float *x, const float *y,
                              const float *dy, float *dx, int64_t len)
{
    int64_t c = 0;
    for (; c + 16 <= len; c += 16) {
        __m512 xv = alg == NN_BK_GELU_ERF ? _mm512_loadu_ps(x + c) : _mm512_setzero_ps();
        __m512 yv = alg == NN_BK_GELU_ERF ? _mm512_setzero_ps() : _mm512_loadu_ps(y + c);
        _mm512_storeu_ps(dx + c, v_bwd(alg, xv, yv, _mm512_loadu_ps(dy + c)));
    }
    if (c < len) {
        __mmask16 m = (__mmask16)((1u << (len - c)) - 1u);
        __m512 xv = alg == NN_BK_GELU_ERF ? _mm512_maskz_loadu_ps(m, x + c) : _mm512_setzero_ps();
        __m512 yv = alg == NN_BK_GELU_ERF ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, y + c);
        _mm512_mask_storeu_ps(dx + c, m, v_bwd(alg, xv, yv, _mm512_maskz_loadu_ps(m, dy + c)));
    }
}
#endif

void nn_eltwise_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                             int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * l->out + c0;
        float *yr = y + r * l->out + c0;
#ifdef HAVE_VECTOR
        if (nn_kernels_isa() == NN_ISA_AVX512) {
            fwd_vector(l->alg, xr, yr, c1 - c0);
            continue;
        }
#endif
        fwd_scalar(l->alg, xr, yr, c1 - c0);
    }
}

void nn_eltwise_backward_cols(const layer *l, int64_t n, const float *x, const float *y,
                              const float *dy, float *dx, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        int64_t o = r * l->out + c0;
#ifdef HAVE_VECTOR
        if (nn_kernels_isa() == NN_ISA_AVX512) {
            bwd_vector(l->alg, x + o, y + o, dy + o, dx + o, c1 - c0);
            continue;
        }
#endif
        bwd_scalar(l->alg, x + o, y + o, dy + o, dx + o, c1 - c0);
    }
}
