/* Small-batch matrix kernels (kernels.c). Never installed. */
#ifndef NN_LIB_GRAPH_KERNELS_H
#define NN_LIB_GRAPH_KERNELS_H

#include <stdint.h>

/* Batches up to nn_kernels_max_rows() rows use the kernels (when
 * available); larger ones use sgemm, which allocates its packing buffers
 * in every call. With AVX2 only, up to NN_KERNEL_MAX_N rows, beyond which
 * sgemm's packing pays for itself. With AVX-512 (the panels for the
 * forward, K blocks for the weight gradient) up to NN_KERNEL_MAX_N_AVX512:
 * one core, Zen 5, 512 x 784 x 512 in 64-column chunks, the forward
 * panels ran at 177-187 GFLOP/s against sgemm's 159-169, the weight
 * gradient at 172-180 against 180-190. Beyond that the panels (a copy of
 * the batch per thread) would cost more memory than they save time. */
#define NN_KERNEL_MAX_N 128
#define NN_KERNEL_MAX_N_AVX512 512

/* The instruction sets the vector code is written for. */
enum { NN_ISA_NONE = 0, NN_ISA_AVX2 = 1, NN_ISA_AVX512 = 2 };

/* The best of them this CPU runs (AVX2 and AVX-512 both with FMA), capped
 * by nn_kernels_limit_isa. The AVX-512 loops of eltwise_cols.c run only
 * where this is NN_ISA_AVX512. */
int nn_kernels_isa(void);

/* Caps nn_kernels_isa, for all threads: lets the tests run the AVX2 (or
 * the portable) paths on a CPU with AVX-512. Default NN_ISA_AVX512. Not to
 * be changed while a graph runs. */
void nn_kernels_limit_isa(int isa);

/* Whether nn_kernel_nt, nn_kernel_nn and nn_kernel_rows_dot can run here
 * (AVX2 or AVX-512): when they cannot, the callers use sgemm or portable
 * loops instead and must not call them. */
int nn_kernels_available(void);

/* NN_KERNEL_MAX_N_AVX512 where nn_kernels_isa() is NN_ISA_AVX512, else
 * NN_KERNEL_MAX_N. */
int64_t nn_kernels_max_rows(void);

/* C[m, n] = A[m, k] B[n, k]^T, rows of A and of B contiguous along k. */
void nn_kernel_nt(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                  int64_t ldb, float *c, int64_t ldc);

/* C[m, n] = A B with A's element (i, p) at a[i * ars + p * acs] and B[k, n]
 * row-major (ldb). */
void nn_kernel_nn(int64_t m, int64_t n, int64_t k, const float *a, int64_t ars, int64_t acs,
                  const float *b, int64_t ldb, float *c, int64_t ldc);

/* y[r, c] = x[r] . w[c] + b[c] for rows r < n, outputs c0 <= c < c1: x is
 * [n, in], w [out, in], y [n, out]. For a few rows (one-image inference).
 * reverse != 0 walks a single row's weight rows last to first, with the
 * same results (AVX2 only, where the weights outgrow L2): callers alternate
 * it so that the rows the last call read last, still in L2, come first. */
void nn_kernel_rows_dot(const float *x, const float *w, const float *b, float *y, int64_t n,
                        int64_t in, int64_t out, int64_t c0, int64_t c1, int reverse);

/* ---- one row against interleaved weights, AVX-512 only ---- */

/* Whether the three functions below may be called: AVX-512 (capped by
 * nn_kernels_limit_isa). */
int nn_kernels_il(void);

/* Floats of the interleaved layout for the first rows / 4 * 4 of `rows`
 * weight rows of in floats each (the rows past a multiple of 4 stay out). */
int64_t nn_il_floats(int64_t rows, int64_t in);

/* Writes weight rows c0..c1-1 of w [out, in] (c0 % 4 == 0; the whole
 * groups of four among them) to their place in the layout at il: per group
 * of four rows, each 32-float block of the four in turn, then each 16-float
 * block, the last zero-padded. il is 64-byte aligned. */
void nn_il_pack(float *il, const float *w, int64_t in, int64_t c0, int64_t c1);

/* nn_kernel_rows_dot for one row of x, outputs c0..c1-1 (c0 % 4 == 0), the
 * whole groups of four read from il (nn_il_pack of w), the rest from w:
 * bitwise the same results. */
void nn_kernel_il_rows(const float *x, const float *il, const float *w, const float *b, float *y,
                       int64_t in, int64_t c0, int64_t c1);

/* ---- batch panels (kernels_panel.c), AVX-512 only ---- */

/* Rows per panel: a layer's input transposed for nn_kernel_panel. */
#define NN_PANEL_ROWS 32

/* Whether the panel functions below may be called: AVX-512 (capped by
 * nn_kernels_limit_isa). */
int nn_kernels_panel(void);

/* Columns c0..c1-1 of x's rows 0..n-1 transposed into panels: row r,
 * column p at xt[(r / 32) * k * 32 + p * 32 + r % 32], where k is the
 * panel's full column count; the panels' rows past n are written as 0.
 * xt is 64-byte aligned and holds ceil(n / 32) * 32 * k floats. */
void nn_panel_pack(float *xt, int64_t k, const float *x, int64_t ldx, int64_t n, int64_t c0,
                   int64_t c1);

/* y[r, j] = bias[j] + sum_p x[r, p] w[j, p] for r < n, j < cols, with x as
 * nn_panel_pack left it (k columns) and w's rows contiguous along k. bias
 * may be NULL (0). */
void nn_kernel_panel(int64_t n, int64_t cols, int64_t k, const float *xt, const float *w,
                     int64_t ldw, const float *bias, float *y, int64_t ldy);

/* ---- bfloat16 (kernels_bf16.c), for NN_PRECISION_BF16 training ---- */

/* Whether the CPU has AVX512_BF16 (and AVX-512 is not capped by
 * nn_kernels_limit_isa): the functions below may only be called if so. */
int nn_kernels_bf16(void);

/* dst[i] = src[i] rounded to bf16 (nearest even, subnormals to zero). */
void nn_bf16_round(uint16_t *dst, const float *src, int64_t n);

/* Pairs of rows: dst[q * ldd + j] holds src rows 2q (low half) and 2q+1
 * (high half; 0 past the last row) of column j, rounded to bf16, for
 * 2q < rows and j0 <= j < j1. src row r starts at src + r * lds. */
void nn_bf16_pairs(uint32_t *dst, int64_t ldd, const float *src, int64_t lds, int64_t rows,
                   int64_t j0, int64_t j1);

/* C[m, n] = A[m, k] B[n, k]^T, both bf16, rows contiguous along k. */
void nn_kernel_nt_bf16(int64_t m, int64_t n, int64_t k, const uint16_t *a, int64_t lda,
                       const uint16_t *b, int64_t ldb, float *c, int64_t ldc);

/* C[m, n] = A B over k = 2 kp, operands as nn_bf16_pairs packs them: pair q
 * of A's row i at a[q * lda + i], of B's column j at b[q * ldb + j]. */
void nn_kernel_nn_bf16(int64_t m, int64_t n, int64_t kp, const uint32_t *a, int64_t lda,
                       const uint32_t *b, int64_t ldb, float *c, int64_t ldc);

#endif
