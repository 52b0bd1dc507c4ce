/* Every oneDNN call libnn makes goes through this interface, so that a port
 * to oneDNN 3.x touches lib/backend only. Shapes: N = batch, I = in
 * features, O = out features, C = channels of an element-wise op; all
 * buffers are plain row-major float32. Never installed. */
#ifndef NN_LIB_BACKEND_H
#define NN_LIB_BACKEND_H

#include <stdint.h>
#include <nn/status.h>

/* Element-wise operations the backend knows. */
typedef enum nn_bk_eltwise_alg {
    NN_BK_NONE = 0,
    NN_BK_RELU,     /* alpha = negative slope (leaky ReLU) */
    NN_BK_SIGMOID,
    NN_BK_TANH,
    NN_BK_GELU_ERF
} nn_bk_eltwise_alg;

/* True when the op's backward can be computed from its output alone, so
 * that it can run fused as a post-op of the producing dense layer. */
int nn_bk_eltwise_uses_dst(nn_bk_eltwise_alg alg);

/* A per-caller execution context (oneDNN stream over the shared engine).
 * Distinct graphs hold distinct contexts so they may run on distinct
 * threads at once. */
typedef struct nn_bk_ctx nn_bk_ctx;
nn_status nn_bk_ctx_create(nn_bk_ctx **out);
void nn_bk_ctx_destroy(nn_bk_ctx *c);

/* Dense layer y[N,O] = act(x[N,I] W[O,I]^T + b[O]) for one batch size,
 * with its backward passes. post may be NN_BK_NONE; if not, it must use
 * dst (see above). with_bwd_data: whether dx is ever needed. training:
 * whether the backward primitives are made at all. */
typedef struct nn_bk_dense nn_bk_dense;
nn_status nn_bk_dense_create(nn_bk_dense **out, nn_bk_ctx *c, int64_t n, int64_t i, int64_t o,
                             nn_bk_eltwise_alg post, float alpha, int training,
                             int with_bwd_data);
void nn_bk_dense_destroy(nn_bk_dense *d);
nn_status nn_bk_dense_forward(nn_bk_dense *d, const float *x, const float *w, const float *b,
                              float *y);
/* dw[O,I], db[O] from x and dy[N,O]: overwritten, not accumulated. */
nn_status nn_bk_dense_backward_weights(nn_bk_dense *d, const float *x, const float *dy,
                                       float *dw, float *db);
/* dx[N,I] = dy[N,O] W */
nn_status nn_bk_dense_backward_data(nn_bk_dense *d, const float *dy, const float *w, float *dx);

/* Element-wise op over an [N, C] buffer. */
typedef struct nn_bk_eltwise nn_bk_eltwise;
nn_status nn_bk_eltwise_create(nn_bk_eltwise **out, nn_bk_ctx *c, int64_t n, int64_t ch,
                               nn_bk_eltwise_alg alg, float alpha, int training);
void nn_bk_eltwise_destroy(nn_bk_eltwise *e);
nn_status nn_bk_eltwise_forward(nn_bk_eltwise *e, const float *x, float *y);
/* dx = dy * f'(.), reading y when the op uses dst, x otherwise. */
nn_status nn_bk_eltwise_backward(nn_bk_eltwise *e, const float *x, const float *y,
                                 const float *dy, float *dx);

/* C[M,N] = op(A) op(B), row-major, op = transpose for 't'; alpha 1, beta 0.
 * Runs on the calling thread's OpenMP thread count. */
nn_status nn_bk_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);

#endif
