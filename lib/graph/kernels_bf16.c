/* bfloat16 kernels for training in NN_PRECISION_BF16 (AVX512_BF16).
 *
 * A product's operands are rounded to bf16 (round to nearest even, as
 * VCVTNEPS2BF16 does: subnormal inputs count as zero) and multiplied in
 * pairs by VDPBF16PS, which adds both products into an f32 sum. Sums,
 * parameters and gradients stay f32. The operations per result element
 * depend on the shapes only, so results are bitwise reproducible for any
 * thread count, like the f32 kernels'.
 *
 * Forward (nn_kernel_nt_bf16): the weights and the layer's input are
 * rounded once per step into bf16 copies, which the kernel reads at half
 * the bytes and with half the instructions of f32.
 * Weight gradient (nn_kernel_nn_bf16): the sum runs over the batch, so both
 * operands are packed as pairs of consecutive rows, (row 2q, row 2q+1) in
 * one 32-bit word per column (nn_bf16_pairs). */
#include "kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdatomic.h>

#include "kernels_avx512.h"

#define BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))

int nn_kernels_bf16(void)
{
    static atomic_int have = -1;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        h = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl");
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h && nn_kernels_isa() == NN_ISA_AVX512;
}

/* Lanes 0..r-1 of 16 (0 <= r, saturating at 16). */
static inline __mmask16 mask16(int64_t r)
{
    return r >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << r) - 1u);
}

BF16 void nn_bf16_round(uint16_t *dst, const float *src, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(dst + i),
                            (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + i)));
    if (i < n) {
        __mmask16 m = mask16(n - i);
        _mm256_mask_storeu_epi16(dst + i, m,
                                 (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

BF16 void nn_bf16_pairs(uint32_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                        int64_t j0, int64_t j1)
{
    /* cvtne2ps puts row 2q in words 0..15 and row 2q+1 in words 16..31;
     * this permutation interleaves them into (2q, 2q+1) pairs */
    const __m512i inter = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9,
                                           24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1,
                                           16, 0);
    for (int64_t q = 0; 2 * q < rows; q++) {
        const float *r0 = src + 2 * q * lds, *r1 = r0 + lds;
        int odd = 2 * q + 1 == rows; /* the last row has no partner: pair it with 0 */
        uint32_t *d = dst + q * ldd;
        for (int64_t j = j0; j < j1; j += 16) {
            __mmask16 m = mask16(j1 - j);
            __m512 lo = _mm512_maskz_loadu_ps(m, r0 + j);
            __m512 hi = odd ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m, r1 + j);
            __m512i w = _mm512_permutexvar_epi16(inter, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
            _mm512_mask_storeu_epi32(d + j, m, w);
        }
    }
}

/* ---- C[M,N] = A[M,K] B[N,K]^T, both bf16 ---- */

/* 32 bf16 of a row; r < 32 takes the first r, zeros after. */
BF16 static inline __m512bh load_bf(const uint16_t *b, int64_t r)
{
    if (r >= 32)
        return (__m512bh)_mm512_loadu_si512(b);
    return (__m512bh)_mm512_maskz_loadu_epi16((__mmask32)((1ull << r) - 1u), b);
}

/* A block of up to 4 x 4 elements of C (rows ri, columns cj): sixteen sums
 * whatever the block's size, the missing rows and columns reading row 0. */
BF16 static inline void nt_block_bf16(const uint16_t *a, int64_t lda, const uint16_t *b,
                                      int64_t ldb, int64_t k, float *c, int64_t ldc, int ri,
                                      int cj)
{
    const uint16_t *ar[4], *br[4];
    for (int i = 0; i < 4; i++) {
        ar[i] = a + (i < ri ? i : 0) * lda;
        br[i] = b + (i < cj ? i : 0) * ldb;
    }
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        acc[i] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 32 <= k; p += 32) {
        __m512bh av[4], bv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            av[i] = (__m512bh)_mm512_loadu_si512(ar[i] + p);
            bv[i] = (__m512bh)_mm512_loadu_si512(br[i] + p);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[4 * i + j] = _mm512_dpbf16_ps(acc[4 * i + j], av[i], bv[j]);
    }
    if (p < k) {
        __m512bh av[4], bv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            av[i] = load_bf(ar[i] + p, k - p);
            bv[i] = load_bf(br[i] + p, k - p);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[4 * i + j] = _mm512_dpbf16_ps(acc[4 * i + j], av[i], bv[j]);
    }
    float out[16];
    _mm512_storeu_ps(out, nn_reduce16(acc));
    for (int i = 0; i < ri; i++)
        for (int j = 0; j < cj; j++)
            c[i * ldc + j] = out[4 * i + j];
}

BF16 void nn_kernel_nt_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t lda,
                            const uint16_t *b, int64_t ldb, float *c, int64_t ldc)
{
    /* columns outer: four weight rows stay in L1 while the batch streams */
    for (int64_t j = 0; j < n; j += 4)
        for (int64_t i = 0; i < m; i += 4)
            nt_block_bf16(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc,
                          m - i < 4 ? (int)(m - i) : 4, n - j < 4 ? (int)(n - j) : 4);
}

/* ---- C[M,N] = A B over K = 2 KP, both as pairs: a[q * lda + i], b[q * ldb + j] ---- */

/* Rows i..i+3 (ri of them), 64 columns from j (cols lanes each of four
 * vectors): sixteen vector sums, the missing rows reading row 0. */
BF16 static inline void nn_block_bf16(const uint32_t *a, int64_t lda, const uint32_t *b,
                                      int64_t ldb, int64_t kp, float *c, int64_t ldc, int ri,
                                      const __mmask16 cols[4])
{
    int o1 = ri > 1, o2 = ri > 2 ? 2 : 0, o3 = ri > 3 ? 3 : 0;
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int64_t q = 0; q < kp; q++) {
        const uint32_t *bq = b + q * ldb, *aq = a + q * lda;
        __m512bh b0 = (__m512bh)_mm512_maskz_loadu_epi32(cols[0], bq);
        __m512bh b1 = (__m512bh)_mm512_maskz_loadu_epi32(cols[1], bq + 16);
        __m512bh b2 = (__m512bh)_mm512_maskz_loadu_epi32(cols[2], bq + 32);
        __m512bh b3 = (__m512bh)_mm512_maskz_loadu_epi32(cols[3], bq + 48);
        __m512bh s = (__m512bh)_mm512_set1_epi32((int)aq[0]);
        c00 = _mm512_dpbf16_ps(c00, s, b0), c01 = _mm512_dpbf16_ps(c01, s, b1);
        c02 = _mm512_dpbf16_ps(c02, s, b2), c03 = _mm512_dpbf16_ps(c03, s, b3);
        s = (__m512bh)_mm512_set1_epi32((int)aq[o1]);
        c10 = _mm512_dpbf16_ps(c10, s, b0), c11 = _mm512_dpbf16_ps(c11, s, b1);
        c12 = _mm512_dpbf16_ps(c12, s, b2), c13 = _mm512_dpbf16_ps(c13, s, b3);
        s = (__m512bh)_mm512_set1_epi32((int)aq[o2]);
        c20 = _mm512_dpbf16_ps(c20, s, b0), c21 = _mm512_dpbf16_ps(c21, s, b1);
        c22 = _mm512_dpbf16_ps(c22, s, b2), c23 = _mm512_dpbf16_ps(c23, s, b3);
        s = (__m512bh)_mm512_set1_epi32((int)aq[o3]);
        c30 = _mm512_dpbf16_ps(c30, s, b0), c31 = _mm512_dpbf16_ps(c31, s, b1);
        c32 = _mm512_dpbf16_ps(c32, s, b2), c33 = _mm512_dpbf16_ps(c33, s, b3);
    }
    __m512 r[4][4] = {{c00, c01, c02, c03}, {c10, c11, c12, c13},
                      {c20, c21, c22, c23}, {c30, c31, c32, c33}};
    for (int i = 0; i < ri; i++)
        for (int v = 0; v < 4; v++)
            _mm512_mask_storeu_ps(c + i * ldc + 16 * v, cols[v], r[i][v]);
}

BF16 void nn_kernel_nn_bf16(int64_t m, int64_t n, int64_t kp, const uint32_t *a, int64_t lda,
                            const uint32_t *b, int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t j = 0; j < n; j += 64) {
        __mmask16 cols[4];
        for (int v = 0; v < 4; v++)
            cols[v] = mask16(n - j - 16 * v > 0 ? n - j - 16 * v : 0);
        for (int64_t i = 0; i < m; i += 4)
            nn_block_bf16(a + i, lda, b + j, ldb, kp, c + i * ldc + j, ldc,
                          m - i < 4 ? (int)(m - i) : 4, cols);
    }
}

#else

int nn_kernels_bf16(void)
{
    return 0;
}

void nn_bf16_round(uint16_t *dst, const float *src, int64_t n)
{
    (void)dst, (void)src, (void)n;
}

void nn_bf16_pairs(uint32_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                   int64_t j0, int64_t j1)
{
    (void)dst, (void)ldd, (void)src, (void)lds, (void)rows, (void)j0, (void)j1;
}

void nn_kernel_nt_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t lda,
                       const uint16_t *b, int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

void nn_kernel_nn_bf16(int64_t m, int64_t n, int64_t kp, const uint32_t *a, int64_t lda,
                       const uint32_t *b, int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)kp, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

#endif
