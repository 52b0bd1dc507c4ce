/* Batch panels: the dense forward product with vectors along the batch
 * (AVX-512 only).
 *
 * nn_kernel_nt computes each output as a dot product along K and needs a
 * horizontal sum per element; at batch 32 it loads one vector for every
 * two FMAs. Here the layer's input is first transposed into panels of 32
 * rows, [K][32], so that one K step is two vector loads of the input and
 * one broadcast weight per output column: a tile of 8 output columns by
 * 32 rows does 16 FMAs for 10 loads, keeps its 16 sums in registers and
 * needs no horizontal sums. Each weight row is read once per panel, in
 * order, and the transposed input stays in L2 (100 KB at batch 32; 1.6 MB
 * at 512 rows of 784 inputs, which spills to L3 on a 1 MB L2, and still
 * beat sgemm: kernels.h).
 *
 * Every output element is its bias plus the products summed in K order by
 * one FMA chain, whatever the tile, the panel or the thread: results are
 * bitwise reproducible. */
#include "kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define AVX512 __attribute__((target("avx512f,fma")))
#define INLINE __attribute__((always_inline)) inline

enum { P = NN_PANEL_ROWS };

int nn_kernels_panel(void)
{
    return nn_kernels_isa() == NN_ISA_AVX512;
}

/* 16 rows of 16 floats, transposed in registers: on return r[j] holds what
 * was column j. */
AVX512 static INLINE void transpose16(__m512 r[16])
{
    __m512 a[16], b[16];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* a[2i], a[2i+1]: rows 2i and 2i+1 interleaved, per 128-bit lane */
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++) {
        __m512d a0 = _mm512_castps_pd(a[4 * i]), a1 = _mm512_castps_pd(a[4 * i + 1]);
        __m512d a2 = _mm512_castps_pd(a[4 * i + 2]), a3 = _mm512_castps_pd(a[4 * i + 3]);
        b[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        b[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        b[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        b[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    /* b[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512 lo0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0x44);
        __m512 hi0 = _mm512_shuffle_f32x4(b[j], b[4 + j], 0xee);
        __m512 lo1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0x44);
        __m512 hi1 = _mm512_shuffle_f32x4(b[8 + j], b[12 + j], 0xee);
        r[j] = _mm512_shuffle_f32x4(lo0, lo1, 0x88);
        r[4 + j] = _mm512_shuffle_f32x4(lo0, lo1, 0xdd);
        r[8 + j] = _mm512_shuffle_f32x4(hi0, hi1, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(hi0, hi1, 0xdd);
    }
}

AVX512 void nn_panel_pack(float *xt, int64_t k, const float *x, int64_t ldx, int64_t n,
                          int64_t c0, int64_t c1)
{
    const int64_t panels = (n + P - 1) / P;
    for (int64_t q = 0; q < panels; q++)
        for (int64_t h = 0; h < P; h += 16) {
            const int64_t r0 = q * P + h;
            const int64_t nr = n - r0 < 0 ? 0 : n - r0 > 16 ? 16 : n - r0;
            float *dst = xt + q * k * P + h;
            for (int64_t p0 = c0; p0 < c1; p0 += 16) {
                const int64_t w = c1 - p0 < 16 ? c1 - p0 : 16;
                const __mmask16 m = (__mmask16)((1u << w) - 1u);
                __m512 r[16];
#pragma GCC unroll 16
                for (int i = 0; i < 16; i++)
                    r[i] = i < nr ? _mm512_maskz_loadu_ps(m, x + (r0 + i) * ldx + p0)
                                  : _mm512_setzero_ps();
                transpose16(r);
                for (int64_t j = 0; j < w; j++)
                    _mm512_store_ps(dst + (p0 + j) * P, r[j]);
            }
        }
}

/* Output columns o..o+R-1 of panel rows 0..nb-1 (NB = 1 or 2 vectors of
 * 16 rows; lanes past nb are computed from the panel's zero padding and
 * not written). */
AVX512 static INLINE void panel_tile(const int R, const int NB, int64_t nb, int64_t k,
                                     const float *xt, const float *w, int64_t ldw,
                                     const float *bias, float *y, int64_t ldy)
{
    __m512 acc[16][2];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NB; v++)
            acc[i][v] = bias ? _mm512_set1_ps(bias[i]) : _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int64_t p = 0; p < k; p++) {
        __m512 xv[2];
#pragma GCC unroll 2
        for (int v = 0; v < NB; v++)
            xv[v] = _mm512_load_ps(xt + p * P + 16 * v);
#pragma GCC unroll 16
        for (int i = 0; i < R; i++) {
            const __m512 s = _mm512_set1_ps(w[i * ldw + p]);
#pragma GCC unroll 2
            for (int v = 0; v < NB; v++)
                acc[i][v] = _mm512_fmadd_ps(s, xv[v], acc[i][v]);
        }
    }
    /* through a small buffer into rows of y: R consecutive columns a row */
    float t[16][P];
#pragma GCC unroll 16
    for (int i = 0; i < R; i++)
#pragma GCC unroll 2
        for (int v = 0; v < NB; v++)
            _mm512_storeu_ps(&t[i][16 * v], acc[i][v]);
    for (int64_t l = 0; l < nb; l++)
#pragma GCC unroll 16
        for (int i = 0; i < R; i++)
            y[l * ldy + i] = t[i][l];
}

AVX512 static void panel_cols(const int NB, int64_t nb, int64_t cols, int64_t k,
                              const float *xt, const float *w, int64_t ldw, const float *bias,
                              float *y, int64_t ldy)
{
    int64_t o = 0;
    if (NB == 1) /* as many sums as with two vectors of rows */
        for (; o + 16 <= cols; o += 16)
            panel_tile(16, 1, nb, k, xt, w + o * ldw, ldw, bias ? bias + o : NULL, y + o, ldy);
    for (; o + 8 <= cols; o += 8)
        panel_tile(8, NB, nb, k, xt, w + o * ldw, ldw, bias ? bias + o : NULL, y + o, ldy);
    for (; o + 4 <= cols; o += 4)
        panel_tile(4, NB, nb, k, xt, w + o * ldw, ldw, bias ? bias + o : NULL, y + o, ldy);
    for (; o < cols; o++)
        panel_tile(1, NB, nb, k, xt, w + o * ldw, ldw, bias ? bias + o : NULL, y + o, ldy);
}

AVX512 void nn_kernel_panel(int64_t n, int64_t cols, int64_t k, const float *xt, const float *w,
                            int64_t ldw, const float *bias, float *y, int64_t ldy)
{
    for (int64_t r0 = 0; r0 < n; r0 += P) {
        const int64_t nb = n - r0 < P ? n - r0 : P;
        const float *panel = xt + r0 * k; /* panel r0 / P */
        if (nb > 16)
            panel_cols(2, nb, cols, k, panel, w, ldw, bias, y + r0 * ldy, ldy);
        else
            panel_cols(1, nb, cols, k, panel, w, ldw, bias, y + r0 * ldy, ldy);
    }
}

#else

int nn_kernels_panel(void)
{
    return 0;
}

void nn_panel_pack(float *xt, int64_t k, const float *x, int64_t ldx, int64_t n, int64_t c0,
                   int64_t c1)
{
    (void)xt, (void)k, (void)x, (void)ldx, (void)n, (void)c0, (void)c1;
}

void nn_kernel_panel(int64_t n, int64_t cols, int64_t k, const float *xt, const float *w,
                     int64_t ldw, const float *bias, float *y, int64_t ldy)
{
    (void)n, (void)cols, (void)k, (void)xt, (void)w, (void)ldw, (void)bias, (void)y, (void)ldy;
}

#endif
