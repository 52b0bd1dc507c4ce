/* Small-batch matrix kernels for the threaded executor (AVX-512, AVX2).
 *
 * At batch 32 a dense layer's chunk is a product with one short side, and
 * oneDNN's sgemm spends a good part of each call packing both operands
 * (and allocates a packing buffer). These kernels read the operands where
 * they lie: the weights are read once per call, the batch (at most
 * nn_kernels_max_rows() rows; nn_kernel_nn takes its K 128 rows at a
 * time) stays in L1/L2.
 *
 * Each result element is computed by one fixed sequence of operations that
 * depends on the shapes only, never on the thread or the call, so results
 * stay bitwise reproducible on a given instruction set (AVX-512 and AVX2
 * sum in different orders). Without either the callers use sgemm. */
#include "kernels.h"

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#include "kernels_avx512.h"

#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))

static atomic_int isa_limit = NN_ISA_AVX512;

/* Rows of B per pass of the nn kernels (see nn_avx512). */
enum { NN_KERNEL_K_BLOCK = 128 };

/* Asked from every pool thread: an atomic, so that the first callers'
 * racing to fill it in (with the same answer) are not a data race. */
static int cpu_isa(void)
{
    static atomic_int have = -1;
    int h = atomic_load_explicit(&have, memory_order_relaxed);
    if (h < 0) {
        h = !__builtin_cpu_supports("fma")       ? NN_ISA_NONE
            : __builtin_cpu_supports("avx512f")  ? NN_ISA_AVX512
            : __builtin_cpu_supports("avx2")     ? NN_ISA_AVX2
                                                 : NN_ISA_NONE;
        atomic_store_explicit(&have, h, memory_order_relaxed);
    }
    return h;
}

int nn_kernels_isa(void)
{
    int h = cpu_isa(), lim = atomic_load_explicit(&isa_limit, memory_order_relaxed);
    return h < lim ? h : lim;
}

void nn_kernels_limit_isa(int isa)
{
    atomic_store_explicit(&isa_limit, isa, memory_order_relaxed);
}

/* ---- C[M,N] = A[M,K] B[N,K]^T: both operands run along K ---- */

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
    _mm512_storeu_ps(out, nn_reduce16(acc));
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

AVX512 static void nt_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
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
 * they stay in registers whatever the optimisation level. With add != 0
 * the sums start from C (the products over earlier rows of B) instead of
 * 0, which continues each element's FMA chain exactly. */
AVX512 static inline void nn_block_4x4(const float *a, int64_t ars, int64_t acs, const float *b,
                                       int64_t ldb, int64_t k, float *c, int64_t ldc, int add)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00;
    __m512 c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512 c20 = c00, c21 = c00, c22 = c00, c23 = c00;
    __m512 c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    if (add) {
        const float *r = c;
        c00 = _mm512_loadu_ps(r), c01 = _mm512_loadu_ps(r + 16);
        c02 = _mm512_loadu_ps(r + 32), c03 = _mm512_loadu_ps(r + 48);
        r += ldc;
        c10 = _mm512_loadu_ps(r), c11 = _mm512_loadu_ps(r + 16);
        c12 = _mm512_loadu_ps(r + 32), c13 = _mm512_loadu_ps(r + 48);
        r += ldc;
        c20 = _mm512_loadu_ps(r), c21 = _mm512_loadu_ps(r + 16);
        c22 = _mm512_loadu_ps(r + 32), c23 = _mm512_loadu_ps(r + 48);
        r += ldc;
        c30 = _mm512_loadu_ps(r), c31 = _mm512_loadu_ps(r + 16);
        c32 = _mm512_loadu_ps(r + 32), c33 = _mm512_loadu_ps(r + 48);
    }
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

/* The edges: R rows of C (R <= 8), up to 16 columns (mask), one sum per
 * row, so that up to eight independent sums cover the FMA latency. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
nn_block_rx1(const int R, const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb,
             int64_t k, float *c, int64_t ldc, __mmask16 cols, int add)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        acc[i] = add ? _mm512_maskz_loadu_ps(cols, c + i * ldc) : _mm512_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        const __m512 bv = _mm512_maskz_loadu_ps(cols, b + p * ldb);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(a[i * ars + p * acs]), bv, acc[i]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        _mm512_mask_storeu_ps(c + i * ldc, cols, acc[i]);
}

/* C = A B over rows p0..p1-1 of B (columns of A), added to C if add. */
AVX512 static void nn_avx512_part(int64_t m, int64_t n, int64_t p0, int64_t p1, const float *a,
                                  int64_t ars, int64_t acs, const float *b, int64_t ldb,
                                  float *c, int64_t ldc, int add)
{
    const int64_t m4 = m & ~(int64_t)3, n64 = n & ~(int64_t)63, k = p1 - p0;
    a += p0 * acs;
    b += p0 * ldb;
    for (int64_t j = 0; j < n64; j += 64)
        for (int64_t i = 0; i < m4; i += 4)
            nn_block_4x4(a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc, add);
    /* every row's last columns (8 rows at a time), then the rows left below
     * the 4-row blocks */
    for (int64_t j = n64; j < n; j += 16) {
        __mmask16 cols = n - j >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - j)) - 1u);
        int64_t i = 0;
        for (; i + 8 <= m; i += 8)
            nn_block_rx1(8, a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc, cols,
                         add);
        for (; i < m; i++)
            nn_block_rx1(1, a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc, cols,
                         add);
    }
    for (int64_t i = m4; i < m; i++)
        for (int64_t j = 0; j < n64; j += 16)
            nn_block_rx1(1, a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc,
                         (__mmask16)0xffff, add);
}

/* K in blocks of NN_KERNEL_K_BLOCK: a 64-column strip of B's block
 * (32 KB) and A's block stay in L1 while every 4-row block of C passes
 * over them; over all of K at once, both spill to L2 beyond about 128
 * rows. One Zen 5 core, weight gradients of 64-column chunks, 512 x 784 x
 * 512: 148 GFLOP/s in one pass, 179-180 in blocks (sgemm: 190). Each
 * element's sum keeps its order, so the blocking changes no bit. Weight
 * gradients sum over the batch here, data gradients over a layer's
 * outputs. */
AVX512 static void nn_avx512(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                         int64_t acs, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t p = 0; p == 0 || p < k; p += NN_KERNEL_K_BLOCK) {
        int64_t p1 = k - p > NN_KERNEL_K_BLOCK ? p + NN_KERNEL_K_BLOCK : k;
        nn_avx512_part(m, n, p, p1, a, ars, acs, b, ldb, c, ldc, p > 0);
    }
}

/* ---- y[r, c0..c1) = x[r] . w[c] + b[c] for a few rows (AVX-512) ---- */

/* R rows of x against O weight rows: R*O vector sums (R*O <= 16 fills the
 * register file), 16 inputs per step, so each loaded weight vector serves
 * all R rows; the last partial step is masked. Inlined with constant R, O. */
__attribute__((target("avx512f,fma"), always_inline)) static inline void
dot_block(const float *x, const float *w, const float *b, float *y, int64_t in, int64_t out,
          int R, int O)
{
    __m512 acc[16];
    for (int j = 0; j < R * O; j++)
        acc[j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= in; k += 16) {
        __m512 xv[4];
        for (int r = 0; r < R; r++)
            xv[r] = _mm512_loadu_ps(x + r * in + k);
        for (int o = 0; o < O; o++) {
            __m512 wv = _mm512_loadu_ps(w + o * in + k);
            for (int r = 0; r < R; r++)
                acc[r * O + o] = _mm512_fmadd_ps(xv[r], wv, acc[r * O + o]);
        }
    }
    if (k < in) {
        __mmask16 m = (__mmask16)((1u << (in - k)) - 1u);
        __m512 xv[4];
        for (int r = 0; r < R; r++)
            xv[r] = _mm512_maskz_loadu_ps(m, x + r * in + k);
        for (int o = 0; o < O; o++) {
            __m512 wv = _mm512_maskz_loadu_ps(m, w + o * in + k);
            for (int r = 0; r < R; r++)
                acc[r * O + o] = _mm512_fmadd_ps(xv[r], wv, acc[r * O + o]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++)
            y[r * out + o] = _mm512_reduce_add_ps(acc[r * O + o]) + b[o];
}

/* Outputs c0..c1-1 of R rows: O = 16 / R at a time, then one at a time. */
#define DOT_ROWS(R)                                                                         \
    __attribute__((target("avx512f,fma"))) static void dot_rows_##R(                       \
        const float *x, const float *w, const float *b, float *y, int64_t in, int64_t out, \
        int64_t c0, int64_t c1)                                                             \
    {                                                                                       \
        int64_t c = c0;                                                                     \
        for (; c + 16 / (R) <= c1; c += 16 / (R))                                           \
            dot_block(x, w + c * in, b + c, y + c, in, out, (R), 16 / (R));                \
        for (; c < c1; c++)                                                                 \
            dot_block(x, w + c * in, b + c, y + c, in, out, (R), 1);                       \
    }
DOT_ROWS(2)
DOT_ROWS(4)
#undef DOT_ROWS

/* One row of x against four weight rows at a time: four short sequential
 * streams, two sums per weight row to cover the FMA latency. From L2 this
 * measured 6.4-6.7 us per 0.8 MB here against 7.8-10.2 us for one row
 * after another, and 16 interleaved rows measured slower than either. */
__attribute__((target("avx512f,fma"))) static void dot4_row(const float *x, const float *w,
                                                           const float *b, float *y,
                                                           int64_t in)
{
    const float *w0 = w, *w1 = w + in, *w2 = w + 2 * in, *w3 = w + 3 * in;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t k = 0;
    for (; k + 32 <= in; k += 32) {
        __m512 xa = _mm512_loadu_ps(x + k), xb = _mm512_loadu_ps(x + k + 16);
        a0 = _mm512_fmadd_ps(xa, _mm512_loadu_ps(w0 + k), a0);
        a1 = _mm512_fmadd_ps(xa, _mm512_loadu_ps(w1 + k), a1);
        a2 = _mm512_fmadd_ps(xa, _mm512_loadu_ps(w2 + k), a2);
        a3 = _mm512_fmadd_ps(xa, _mm512_loadu_ps(w3 + k), a3);
        b0 = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w0 + k + 16), b0);
        b1 = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w1 + k + 16), b1);
        b2 = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w2 + k + 16), b2);
        b3 = _mm512_fmadd_ps(xb, _mm512_loadu_ps(w3 + k + 16), b3);
    }
    for (; k < in; k += 16) {
        __mmask16 m = in - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (in - k)) - 1u);
        __m512 xa = _mm512_maskz_loadu_ps(m, x + k);
        a0 = _mm512_fmadd_ps(xa, _mm512_maskz_loadu_ps(m, w0 + k), a0);
        a1 = _mm512_fmadd_ps(xa, _mm512_maskz_loadu_ps(m, w1 + k), a1);
        a2 = _mm512_fmadd_ps(xa, _mm512_maskz_loadu_ps(m, w2 + k), a2);
        a3 = _mm512_fmadd_ps(xa, _mm512_maskz_loadu_ps(m, w3 + k), a3);
    }
    y[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)) + b[0];
    y[1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)) + b[1];
    y[2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)) + b[2];
    y[3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3)) + b[3];
}

/* Weight rows c0..c1-1 one at a time, four sums per row to cover the FMA
 * latency: the rows past the last group of four. */
AVX512 static void dot1_rows(const float *x, const float *w, const float *b, float *y,
                             int64_t in, int64_t c0, int64_t c1)
{
    const int64_t k16 = in & ~(int64_t)15;
    const __mmask16 m = (__mmask16)((1u << (in & 15)) - 1u);
    for (int64_t c = c0; c < c1; c++) {
        const float *wc = w + c * in;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        int64_t k = 0;
        for (; k + 64 <= k16; k += 64) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(wc + k), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 16), _mm512_loadu_ps(wc + k + 16), a1);
            a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 32), _mm512_loadu_ps(wc + k + 32), a2);
            a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k + 48), _mm512_loadu_ps(wc + k + 48), a3);
        }
        for (; k < k16; k += 16)
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + k), _mm512_loadu_ps(wc + k), a0);
        if (m)
            a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + k), _mm512_maskz_loadu_ps(m, wc + k),
                                 a1);
        y[c] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))) +
               b[c];
    }
}

/* One row of x: four weight rows at a time (dot4_row), then the rest one
 * after another. */
AVX512 static void dot_rows_1(const float *x, const float *w, const float *b, float *y,
                              int64_t in, int64_t out, int64_t c0, int64_t c1)
{
    (void)out;
    int64_t c = c0;
    for (; c + 4 <= c1; c += 4)
        dot4_row(x, w + c * in, b + c, y + c, in);
    dot1_rows(x, w, b, y, in, c, c1);
}

/* ---- one row against interleaved weights (nn_il_pack) ----
 *
 * dot4_row's four streams, laid end to end: per group of four weight rows,
 * each 32-float block of the four rows in turn, then each 16-float block
 * (the last zero-padded), so that one sequential stream feeds the same
 * FMAs in the same order. The hardware prefetcher follows one stream
 * better than four: 256 x 784 weights in L2 measured 4.6-5.1 us here
 * against 7.4 for dot4_row. */

static int64_t il_group_floats(int64_t in)
{
    return 4 * ((in + 15) / 16 * 16);
}

int64_t nn_il_floats(int64_t rows, int64_t in)
{
    return rows / 4 * il_group_floats(in);
}

void nn_il_pack(float *il, const float *w, int64_t in, int64_t c0, int64_t c1)
{
    for (int64_t c = c0; c + 4 <= c1; c += 4) {
        float *dst = il + c / 4 * il_group_floats(in);
        const float *src = w + c * in;
        int64_t k = 0;
        for (; k + 32 <= in; k += 32)
            for (int r = 0; r < 4; r++, dst += 32)
                memcpy(dst, src + r * in + k, 32 * sizeof *dst);
        for (; k < in; k += 16) {
            int64_t len = in - k < 16 ? in - k : 16;
            for (int r = 0; r < 4; r++, dst += 16) {
                memcpy(dst, src + r * in + k, (size_t)len * sizeof *dst);
                memset(dst + len, 0, (size_t)(16 - len) * sizeof *dst);
            }
        }
    }
}

/* dot4_row on one group of nn_il_pack's layout: the same sums in the same
 * order (the padding adds 0 * 0 where dot4_row's masked loads do). */
AVX512 static void il_dot4(const float *x, const float *q, const float *b, float *y, int64_t in)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m512 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t k = 0;
    for (; k + 32 <= in; k += 32, q += 128) {
        __m512 xa = _mm512_loadu_ps(x + k), xb = _mm512_loadu_ps(x + k + 16);
        a0 = _mm512_fmadd_ps(xa, _mm512_load_ps(q), a0);
        b0 = _mm512_fmadd_ps(xb, _mm512_load_ps(q + 16), b0);
        a1 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 32), a1);
        b1 = _mm512_fmadd_ps(xb, _mm512_load_ps(q + 48), b1);
        a2 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 64), a2);
        b2 = _mm512_fmadd_ps(xb, _mm512_load_ps(q + 80), b2);
        a3 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 96), a3);
        b3 = _mm512_fmadd_ps(xb, _mm512_load_ps(q + 112), b3);
    }
    for (; k < in; k += 16, q += 64) {
        __mmask16 m = in - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (in - k)) - 1u);
        __m512 xa = _mm512_maskz_loadu_ps(m, x + k);
        a0 = _mm512_fmadd_ps(xa, _mm512_load_ps(q), a0);
        a1 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 16), a1);
        a2 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 32), a2);
        a3 = _mm512_fmadd_ps(xa, _mm512_load_ps(q + 48), a3);
    }
    y[0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, b0)) + b[0];
    y[1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, b1)) + b[1];
    y[2] = _mm512_reduce_add_ps(_mm512_add_ps(a2, b2)) + b[2];
    y[3] = _mm512_reduce_add_ps(_mm512_add_ps(a3, b3)) + b[3];
}

AVX512 static void il_rows_avx512(const float *x, const float *il, const float *w,
                                  const float *b, float *y, int64_t in, int64_t c0, int64_t c1)
{
    const int64_t gf = il_group_floats(in);
    int64_t c = c0;
    for (; c + 4 <= c1; c += 4)
        il_dot4(x, il + c / 4 * gf, b + c, y + c, in);
    dot1_rows(x, w, b, y, in, c, c1);
}

void nn_kernel_il_rows(const float *x, const float *il, const float *w, const float *b, float *y,
                       int64_t in, int64_t c0, int64_t c1)
{
    il_rows_avx512(x, il, w, b, y, in, c0, c1);
}

/* ---- AVX2 with FMA: the same two products in 8-float vectors ----
 *
 * Sixteen vector registers instead of thirty-two: the nt blocks are 4 rows
 * of A by 3 rows of B (twelve sums, three B vectors, one A vector), the nn
 * blocks 6 (or 4) rows by 16 columns. Tails along k or n use masked loads. */

/* Lanes 0..r-1 of a mask for _mm256_maskload_ps, 0 <= r <= 8. */
AVX2 static inline __m256i mask8(int64_t r)
{
    static const int32_t ones_then_zeros[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                                0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256((const __m256i *)(ones_then_zeros + 8 - r));
}

/* Four vector sums to one 128-bit vector whose lane i is the sum of a[i]. */
AVX2 static inline __m128 reduce4_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
}

/* One 4x3 block of C from 4 rows of A and 3 rows of B; pf as in
 * nt_block4x4 (a line every other step). */
AVX2 static inline void nt_block4x3_avx2(const float *a, int64_t lda, const float *b, int64_t ldb,
                                         int64_t k, float *c, int64_t ldc, const float *pf)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
    __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
    const float *b0 = b, *b1 = b + ldb, *b2 = b + 2 * ldb;
    const float *a0 = a, *a1 = a + lda, *a2 = a + 2 * lda, *a3 = a + 3 * lda;
    int64_t p = 0;
    for (; p + 8 <= k; p += 8) {
        if (pf && !(p & 15))
            _mm_prefetch((const char *)(pf + p), _MM_HINT_T0);
        __m256 w0 = _mm256_loadu_ps(b0 + p), w1 = _mm256_loadu_ps(b1 + p);
        __m256 w2 = _mm256_loadu_ps(b2 + p);
        __m256 x = _mm256_loadu_ps(a0 + p);
        c00 = _mm256_fmadd_ps(x, w0, c00), c01 = _mm256_fmadd_ps(x, w1, c01);
        c02 = _mm256_fmadd_ps(x, w2, c02);
        x = _mm256_loadu_ps(a1 + p);
        c10 = _mm256_fmadd_ps(x, w0, c10), c11 = _mm256_fmadd_ps(x, w1, c11);
        c12 = _mm256_fmadd_ps(x, w2, c12);
        x = _mm256_loadu_ps(a2 + p);
        c20 = _mm256_fmadd_ps(x, w0, c20), c21 = _mm256_fmadd_ps(x, w1, c21);
        c22 = _mm256_fmadd_ps(x, w2, c22);
        x = _mm256_loadu_ps(a3 + p);
        c30 = _mm256_fmadd_ps(x, w0, c30), c31 = _mm256_fmadd_ps(x, w1, c31);
        c32 = _mm256_fmadd_ps(x, w2, c32);
    }
    if (p < k) {
        __m256i m = mask8(k - p);
        __m256 w0 = _mm256_maskload_ps(b0 + p, m), w1 = _mm256_maskload_ps(b1 + p, m);
        __m256 w2 = _mm256_maskload_ps(b2 + p, m);
        __m256 x = _mm256_maskload_ps(a0 + p, m);
        c00 = _mm256_fmadd_ps(x, w0, c00), c01 = _mm256_fmadd_ps(x, w1, c01);
        c02 = _mm256_fmadd_ps(x, w2, c02);
        x = _mm256_maskload_ps(a1 + p, m);
        c10 = _mm256_fmadd_ps(x, w0, c10), c11 = _mm256_fmadd_ps(x, w1, c11);
        c12 = _mm256_fmadd_ps(x, w2, c12);
        x = _mm256_maskload_ps(a2 + p, m);
        c20 = _mm256_fmadd_ps(x, w0, c20), c21 = _mm256_fmadd_ps(x, w1, c21);
        c22 = _mm256_fmadd_ps(x, w2, c22);
        x = _mm256_maskload_ps(a3 + p, m);
        c30 = _mm256_fmadd_ps(x, w0, c30), c31 = _mm256_fmadd_ps(x, w1, c31);
        c32 = _mm256_fmadd_ps(x, w2, c32);
    }
    float out[12];
    _mm_storeu_ps(out, reduce4_avx2(c00, c01, c02, c10));
    _mm_storeu_ps(out + 4, reduce4_avx2(c11, c12, c20, c21));
    _mm_storeu_ps(out + 8, reduce4_avx2(c22, c30, c31, c32));
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++)
            c[i * ldc + j] = out[3 * i + j];
}

/* One element of C, for the edges. */
AVX2 static inline float nt_dot_avx2(const float *a, const float *b, int64_t k)
{
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    int64_t p = 0;
    for (; p + 16 <= k; p += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 8), _mm256_loadu_ps(b + p + 8), acc1);
    }
    for (; p < k; p += 8) {
        __m256i m = mask8(k - p < 8 ? k - p : 8);
        acc0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + p, m), _mm256_maskload_ps(b + p, m), acc0);
    }
    __m128 s = reduce4_avx2(acc0, acc1, _mm256_setzero_ps(), _mm256_setzero_ps());
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

AVX2 static void nt_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float *c, int64_t ldc)
{
    const int64_t m4 = m & ~(int64_t)3, n3 = n - n % 3;
    for (int64_t j = 0; j < n3; j += 3) {
        for (int64_t i = 0; i < m4; i += 4) {
            const float *pf = j + 3 < n3 && i < 12 ? b + (j + 3 + i / 4) * ldb : NULL;
            nt_block4x3_avx2(a + i * lda, lda, b + j * ldb, ldb, k, c + i * ldc + j, ldc, pf);
        }
        for (int64_t i = m4; i < m; i++)
            for (int64_t jj = j; jj < j + 3; jj++)
                c[i * ldc + jj] = nt_dot_avx2(a + i * lda, b + jj * ldb, k);
    }
    for (int64_t j = n3; j < n; j++)
        for (int64_t i = 0; i < m; i++)
            c[i * ldc + j] = nt_dot_avx2(a + i * lda, b + j * ldb, k);
}

/* Rows i..i+R-1 of C (R = 4 or 6), columns j..j+15: 2R sums, two B
 * vectors, one broadcast. Inlined with constant R. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
nn_block_16_avx2(const float *a, int64_t ars, int64_t acs, const float *b, int64_t ldb, int64_t k,
                 float *c, int64_t ldc, int R)
{
    __m256 lo[6], hi[6];
    for (int i = 0; i < R; i++)
        lo[i] = hi[i] = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++) {
        const float *bp = b + p * ldb, *ap = a + p * acs;
        __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
        for (int i = 0; i < R; i++) {
            __m256 s = _mm256_broadcast_ss(ap + i * ars);
            lo[i] = _mm256_fmadd_ps(s, b0, lo[i]);
            hi[i] = _mm256_fmadd_ps(s, b1, hi[i]);
        }
    }
    for (int i = 0; i < R; i++) {
        _mm256_storeu_ps(c + i * ldc, lo[i]);
        _mm256_storeu_ps(c + i * ldc + 8, hi[i]);
    }
}

/* The edges: one row of C, up to 8 columns (mask), one sum. */
AVX2 static inline void nn_block_1x1_avx2(const float *a, int64_t acs, const float *b,
                                          int64_t ldb, int64_t k, float *c, __m256i cols)
{
    __m256 acc = _mm256_setzero_ps();
    for (int64_t p = 0; p < k; p++)
        acc = _mm256_fmadd_ps(_mm256_broadcast_ss(a + p * acs),
                              _mm256_maskload_ps(b + p * ldb, cols), acc);
    _mm256_maskstore_ps(c, cols, acc);
}

AVX2 static void nn_avx2(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars,
                         int64_t acs, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    /* six-row blocks, then at most one four-row block, over whole 16-column
     * tiles (columns outer: a tile of B stays in L1 while A streams by) */
    const int64_t m6 = m / 6 * 6, m4 = m6 + (m - m6) / 4 * 4, n16 = n & ~(int64_t)15;
    for (int64_t j = 0; j < n16; j += 16) {
        for (int64_t i = 0; i < m6; i += 6)
            nn_block_16_avx2(a + i * ars, ars, acs, b + j, ldb, k, c + i * ldc + j, ldc, 6);
        if (m4 > m6)
            nn_block_16_avx2(a + m6 * ars, ars, acs, b + j, ldb, k, c + m6 * ldc + j, ldc, 4);
    }
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = i < m4 ? n16 : 0; j < n; j += 8)
            nn_block_1x1_avx2(a + i * ars, acs, b + j, ldb, k, c + i * ldc + j,
                              mask8(n - j >= 8 ? 8 : n - j));
}

/* ---- y[r, c0..c1) = x[r] . w[c] + b[c] for a few rows (AVX2) ---- */

AVX2 static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* R rows of x against O weight rows (R * O <= 12), 8 inputs per step, the
 * last partial step masked. Inlined with constant R and O. */
__attribute__((target("avx2,fma"), always_inline)) static inline void
dot_block_avx2(const float *x, const float *w, const float *b, float *y, int64_t in, int64_t out,
               int R, int O)
{
    __m256 acc[12];
    for (int j = 0; j < R * O; j++)
        acc[j] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= in; k += 8) {
        __m256 xv[4];
        for (int r = 0; r < R; r++)
            xv[r] = _mm256_loadu_ps(x + r * in + k);
        for (int o = 0; o < O; o++) {
            __m256 wv = _mm256_loadu_ps(w + o * in + k);
            for (int r = 0; r < R; r++)
                acc[r * O + o] = _mm256_fmadd_ps(xv[r], wv, acc[r * O + o]);
        }
    }
    if (k < in) {
        __m256i m = mask8(in - k);
        __m256 xv[4];
        for (int r = 0; r < R; r++)
            xv[r] = _mm256_maskload_ps(x + r * in + k, m);
        for (int o = 0; o < O; o++) {
            __m256 wv = _mm256_maskload_ps(w + o * in + k, m);
            for (int r = 0; r < R; r++)
                acc[r * O + o] = _mm256_fmadd_ps(xv[r], wv, acc[r * O + o]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int o = 0; o < O; o++)
            y[r * out + o] = hsum8(acc[r * O + o]) + b[o];
}

/* Outputs c0..c1-1 of R rows, O weight rows at a time, then one at a time. */
#define DOT_ROWS_AVX2(R, O)                                                                  \
    AVX2 static void dot_rows_##R##_avx2(const float *x, const float *w, const float *b,    \
                                         float *y, int64_t in, int64_t out, int64_t c0,     \
                                         int64_t c1)                                        \
    {                                                                                        \
        int64_t c = c0;                                                                      \
        for (; c + (O) <= c1; c += (O))                                                      \
            dot_block_avx2(x, w + c * in, b + c, y + c, in, out, (R), (O));                 \
        for (; c < c1; c++)                                                                  \
            dot_block_avx2(x, w + c * in, b + c, y + c, in, out, (R), 1);                   \
    }
DOT_ROWS_AVX2(2, 6)
DOT_ROWS_AVX2(4, 2)
#undef DOT_ROWS_AVX2

/* One row of x against four weight rows at a time, two sums per weight row
 * (as dot4_row above): four sequential streams, which the hardware
 * prefetchers follow. */
AVX2 static void dot4_row_avx2(const float *x, const float *w, const float *b, float *y,
                               int64_t in)
{
    const float *w0 = w, *w1 = w + in, *w2 = w + 2 * in, *w3 = w + 3 * in;
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    int64_t k = 0;
    for (; k + 16 <= in; k += 16) {
        __m256 xa = _mm256_loadu_ps(x + k), xb = _mm256_loadu_ps(x + k + 8);
        a0 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(w0 + k), a0);
        a1 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(w1 + k), a1);
        a2 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(w2 + k), a2);
        a3 = _mm256_fmadd_ps(xa, _mm256_loadu_ps(w3 + k), a3);
        b0 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(w0 + k + 8), b0);
        b1 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(w1 + k + 8), b1);
        b2 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(w2 + k + 8), b2);
        b3 = _mm256_fmadd_ps(xb, _mm256_loadu_ps(w3 + k + 8), b3);
    }
    for (; k < in; k += 8) {
        __m256i m = mask8(in - k < 8 ? in - k : 8);
        __m256 xa = _mm256_maskload_ps(x + k, m);
        a0 = _mm256_fmadd_ps(xa, _mm256_maskload_ps(w0 + k, m), a0);
        a1 = _mm256_fmadd_ps(xa, _mm256_maskload_ps(w1 + k, m), a1);
        a2 = _mm256_fmadd_ps(xa, _mm256_maskload_ps(w2 + k, m), a2);
        a3 = _mm256_fmadd_ps(xa, _mm256_maskload_ps(w3 + k, m), a3);
    }
    y[0] = hsum8(_mm256_add_ps(a0, b0)) + b[0];
    y[1] = hsum8(_mm256_add_ps(a1, b1)) + b[1];
    y[2] = hsum8(_mm256_add_ps(a2, b2)) + b[2];
    y[3] = hsum8(_mm256_add_ps(a3, b3)) + b[3];
}

/* Four weight rows at a time, then the rest one at a time; or, reversed,
 * the same blocks last to first. Each output's sum is the same either way. */
AVX2 static void dot_rows_1_avx2(const float *x, const float *w, const float *b, float *y,
                                 int64_t in, int64_t c0, int64_t c1, int reverse)
{
    const int64_t c4 = c0 + (c1 - c0) / 4 * 4;
    if (!reverse) {
        for (int64_t c = c0; c < c4; c += 4)
            dot4_row_avx2(x, w + c * in, b + c, y + c, in);
        for (int64_t c = c4; c < c1; c++)
            dot_block_avx2(x, w + c * in, b + c, y + c, in, 0, 1, 1);
    } else {
        for (int64_t c = c1 - 1; c >= c4; c--)
            dot_block_avx2(x, w + c * in, b + c, y + c, in, 0, 1, 1);
        for (int64_t c = c4 - 4; c >= c0; c -= 4)
            dot4_row_avx2(x, w + c * in, b + c, y + c, in);
    }
}

static void rows_dot_avx2(const float *x, const float *w, const float *b, float *y, int64_t n,
                          int64_t in, int64_t out, int64_t c0, int64_t c1, int reverse)
{
    int64_t r = 0;
    for (; r + 4 <= n; r += 4)
        dot_rows_4_avx2(x + r * in, w, b, y + r * out, in, out, c0, c1);
    for (; r + 2 <= n; r += 2)
        dot_rows_2_avx2(x + r * in, w, b, y + r * out, in, out, c0, c1);
    for (; r < n; r++)
        dot_rows_1_avx2(x + r * in, w, b, y + r * out, in, c0, c1, reverse);
}

static void rows_dot_avx512(const float *x, const float *w, const float *b, float *y, int64_t n,
                            int64_t in, int64_t out, int64_t c0, int64_t c1)
{
    int64_t r = 0;
    for (; r + 4 <= n; r += 4)
        dot_rows_4(x + r * in, w, b, y + r * out, in, out, c0, c1);
    for (; r + 2 <= n; r += 2)
        dot_rows_2(x + r * in, w, b, y + r * out, in, out, c0, c1);
    for (; r < n; r++)
        dot_rows_1(x + r * in, w, b, y + r * out, in, out, c0, c1);
}

void nn_kernel_rows_dot(const float *x, const float *w, const float *b, float *y, int64_t n,
                        int64_t in, int64_t out, int64_t c0, int64_t c1, int reverse)
{
    if (nn_kernels_isa() == NN_ISA_AVX512)
        rows_dot_avx512(x, w, b, y, n, in, out, c0, c1);
    else
        rows_dot_avx2(x, w, b, y, n, in, out, c0, c1, reverse);
}

int nn_kernels_available(void)
{
    return nn_kernels_isa() != NN_ISA_NONE;
}

int nn_kernels_il(void)
{
    return nn_kernels_isa() == NN_ISA_AVX512;
}

void nn_kernel_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc)
{
    if (nn_kernels_isa() == NN_ISA_AVX512)
        nt_avx512(m, n, k, a, lda, b, ldb, c, ldc);
    else
        nt_avx2(m, n, k, a, lda, b, ldb, c, ldc);
}

void nn_kernel_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                  const float *b, int64_t ldb, float *c, int64_t ldc)
{
    if (nn_kernels_isa() == NN_ISA_AVX512)
        nn_avx512(m, n, k, a, ars, acs, b, ldb, c, ldc);
    else
        nn_avx2(m, n, k, a, ars, acs, b, ldb, c, ldc);
}

#else

int nn_kernels_isa(void)
{
    return NN_ISA_NONE;
}

void nn_kernels_limit_isa(int isa)
{
    (void)isa;
}

int nn_kernels_available(void)
{
    return 0;
}

int nn_kernels_il(void)
{
    return 0;
}

int64_t nn_il_floats(int64_t rows, int64_t in)
{
    (void)rows, (void)in;
    return 0;
}

void nn_il_pack(float *il, const float *w, int64_t in, int64_t c0, int64_t c1)
{
    (void)il, (void)w, (void)in, (void)c0, (void)c1;
}

void nn_kernel_il_rows(const float *x, const float *il, const float *w, const float *b, float *y,
                       int64_t in, int64_t c0, int64_t c1)
{
    (void)x, (void)il, (void)w, (void)b, (void)y, (void)in, (void)c0, (void)c1;
}

void nn_kernel_rows_dot(const float *x, const float *w, const float *b, float *y, int64_t n,
                        int64_t in, int64_t out, int64_t c0, int64_t c1, int reverse)
{
    (void)x, (void)w, (void)b, (void)y, (void)n, (void)in, (void)out, (void)c0, (void)c1,
        (void)reverse;
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

int64_t nn_kernels_max_rows(void)
{
    return nn_kernels_isa() == NN_ISA_AVX512 ? NN_KERNEL_MAX_N_AVX512 : NN_KERNEL_MAX_N;
}
