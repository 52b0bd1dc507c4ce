/* Small-batch matrix kernels for the threaded executor (AVX-512).
 *
 * At batch 32 a dense layer's chunk is a product with one short side, and
 * oneDNN's sgemm spends a good part of each call packing both operands
 * (and allocates a packing buffer). These kernels read the operands where
 * they lie: the weights are read once per call, the batch (at most
 * NN_KERNEL_MAX_N rows, a few hundred KB) stays in L1/L2.
 *
 * Each result element is computed by one fixed sequence of operations that
 * depends on the shapes only, never on the thread or the call, so results
 * stay bitwise reproducible. Without AVX-512 the callers use sgemm. */
#include "kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdatomic.h>

#define AVX512 __attribute__((target("avx512f,fma")))

/* Asked from every pool thread: an atomic, so that the first callers'
 * racing to fill it in (with the same answer) are not a data race. */
int nn_kernels_available(void)
{
    static atomic_int have = -1;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        h = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h;
}

/* ---- C[M,N] = A[M,K] B[N,K]^T: both operands run along K ---- */

/* Sixteen vector sums (4 rows x 4 columns) to one vector whose lane
 * 4i + j is the sum of acc[4i + j]: pairwise transposing adds. */
AVX512 static inline __m512 reduce16(const __m512 a[16])
{
    __m512 t[8], u[4];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* u[i] holds, in each 128-bit lane L, lane L's sums of acc[4i..4i+3] */
    __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88),
                               _mm512_shuffle_f32x4(u[0], u[1], 0xdd));
    __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88),
                               _mm512_shuffle_f32x4(u[2], u[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88),
                         _mm512_shuffle_f32x4(s01, s23, 0xdd));
}

/* One 4x4 block of C from 4 rows of A and 4 rows of B. pf, if not NULL,
 * is a row of K floats to fetch into L1 meanwhile, a line per step. */
AVX512 static inline void nt_block4x4(const float *a, int64_t lda, const float *b, int64_t ldb,
                                      int64_t k, float *c, int64_t ldc, const float *pf)
{
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++)
        acc[i] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) {
        __m512 av[4], bv[4];
        if (pf)
            _mm_prefetch((const char *)(pf + p), _MM_HINT_T0);
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            av[i] = _mm512_loadu_ps(a + i * lda + p);
            bv[i] = _mm512_loadu_ps(b + i * ldb + p);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[4 * i + j] = _mm512_fmadd_ps(av[i], bv[j], acc[4 * i + j]);
    }
    if (p < k) {
        __mmask16 m = (__mmask16)((1u << (k - p)) - 1u);
        __m512 av[4], bv[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            av[i] = _mm512_maskz_loadu_ps(m, a + i * lda + p);
            bv[i] = _mm512_maskz_loadu_ps(m, b + i * ldb + p);
        }
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                acc[4 * i + j] = _mm512_fmadd_ps(av[i], bv[j], acc[4 * i + j]);
    }
    float out[16];
    _mm512_storeu_ps(out, reduce16(acc));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            c[i * ldc + j] = out[4 * i + j];
}

/* One element of C, for the edges: one sum per element. */
AVX512 static inline float nt_dot(const float *a, const float *b, int64_t k)
{
    __m512 acc = _mm512_setzero_ps();
    int64_t p = 0;
    for (; p + 16 <= k; p += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), acc);
    if (p < k) {
        __mmask16 m = (__mmask16)((1u << (k - p)) - 1u);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + p), _mm512_maskz_loadu_ps(m, b + p),
                              acc);
    }
    return _mm512_reduce_add_ps(acc);
}

AVX512 void nn_kernel_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float *c, int64_t ldc)
{
    const int64_t m4 = m & ~(int64_t)3, n4 = n & ~(int64_t)3;
    /* columns outer: four rows of B (weights) stay in L1 while A's rows
     * (the batch) stream past them */
    for (int64_t j = 0; j < n4; j += 4) {
        /* the first four row blocks fetch the next four rows of B, one row
         * each: the weights come from L3 (the optimizer has just streamed
         * its state through L2), and this hides that behind the FMAs */
        for (int64_t i = 0; i < m4; i += 4) {
            const float *pf = j + 4 < n4 && i < 16 ? b + (j + 4 + i / 4) * ldb : NULL;
            nt_block4x4(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc, pf);
        }
        for (int64_t i = m4; i < m; i++)
            for (int64_t jj = j; jj < j + 4; jj++)
                c[i * ldc + jj] = nt_dot(a + i * lda, b + jj * ldb, k);
    }
    for (int64_t j = n4; j < n; j++)
        for (int64_t i = 0; i < m; i++)
            c[i * ldc + j] = nt_dot(a + i * lda, b + j * ldb, k);
}

/* ---- C[M,N] = A B, A element (i, p) at a[i * ars + p * acs], B[K,N] row-major ---- */

/* Rows i..i+3 of C, columns j..j+63: sixteen sums, written out so that
 * they stay in registers whatever the optimisation level. */
AVX512 static inline void nn_block_4x4(const float *a, int64_t ars, int64_t acs, const float *b,
                                       int64_t ldb, int64_t k, float *c, int64_t ldc)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb, *ap = a + p * acs;
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
        __m512 b2 = _mm512_loadu_ps(bp + 32), b3 = _mm512_loadu_ps(bp + 48);
        __m512 s = _mm512_set1_ps(ap[0]);
        c00 = _mm512_fmadd_ps(s, b0, c00), c01 = _mm512_fmadd_ps(s, b1, c01);
        c02 = _mm512_fmadd_ps(s, b2, c02), c03 = _mm512_fmadd_ps(s, b3, c03);
        s = _mm512_set1_ps(ap[ars]);
        c10 = _mm512_fmadd_ps(s, b0, c10), c11 = _mm512_fmadd_ps(s, b1, c11);
        c12 = _mm512_fmadd_ps(s, b2, c12), c13 = _mm512_fmadd_ps(s, b3, c13);
        s = _mm512_set1_ps(ap[2 * ars]);
        c20 = _mm512_fmadd_ps(s, b0, c20), c21 = _mm512_fmadd_ps(s, b1, c21);
        c22 = _mm512_fmadd_ps(s, b2, c22), c23 = _mm512_fmadd_ps(s, b3, c23);
        s = _mm512_set1_ps(ap[3 * ars]);
        c30 = _mm512_fmadd_ps(s, b0, c30), c31 = _mm512_fmadd_ps(s, b1, c31);
        c32 = _mm512_fmadd_ps(s, b2, c32), c33 = _mm512_fmadd_ps(s, b3, c33);
    }
    _mm512_storeu_ps(c, c00), _mm512_storeu_ps(c + 16, c01);
    _mm512_storeu_ps(c + 32, c02), _mm512_storeu_ps(c + 48, c03);
    c += ldc;
    _mm512_storeu_ps(c, c10), _mm512_storeu_ps(c + 16, c11);
    _mm512_storeu_ps(c + 32, c12), _mm512_storeu_ps(c + 48, c13);
    c += ldc;
    _mm512_storeu_ps(c, c20), _mm512_storeu_ps(c + 16, c21);
    _mm512_storeu_ps(c + 32, c22), _mm512_storeu_ps(c + 48, c23);
    c += ldc;
    _mm512_storeu_ps(c, c30), _mm512_storeu_ps(c + 16, c31);
    _mm512_storeu_ps(c + 32, c32), _mm512_storeu_ps(c + 48, c33);
}

/* The edges: one row of C, up to 16 columns (mask), one sum. */
AVX512 static inline void nn_block_1x1(const float *a, int64_t acs, const float *b, int64_t ldb,
                                       int64_t k, float *c, __mmask16 cols)
{
    __m512 acc = _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(a[p * acs]), _mm512_maskz_loadu_ps(cols, b + p * ldb),
                              acc);
    _mm512_mask_storeu_ps(c, cols, acc);
}

AVX512 void nn_kernel_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                         int64_t acs, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    const int64_t m4 = m & ~(int64_t)3, n64 = n & ~(int64_t)63;
    for (int64_t j = 0; j < n64; j += 64)
        for (int64_t i = 0; i < m4; i += 4)
            nn_block_4x4(a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc);
    for (int64_t i = 0; i < m; i++) {
        /* rows left below the 4-row blocks, then every row's last columns */
        for (int64_t j = i < m4 ? n64 : 0; j < n; j += 16) {
            __mmask16 cols = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
            nn_block_1x1(a + i * ars, acs, b + j, ldb, k, c + i * ldc + j, cols);
        }
    }
}

#else

int nn_kernels_available(void)
{
    return 0;
}

void nn_kernel_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

void nn_kernel_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                  const float *b, int64_t ldb, float *c, int64_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)ars, (void)acs, (void)b, (void)ldb, (void)c,
        (void)ldc;
}

#endif
