/* The oneDNN 2.x implementation of backend.h. */
#include <pthread.h>
#include <stddef.h>

#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

#include "backend.h"
#include "core/core.h"

static dnnl_engine_t engine;
static dnnl_status_t engine_status = dnnl_runtime_error;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void engine_init(void)
{
    engine_status = dnnl_engine_create(&engine, dnnl_cpu, 0);
}

/* Turns a oneDNN failure into NN_ERR_BACKEND (or out of memory). */
static nn_status bk_fail(dnnl_status_t st, const char *what)
{
    if (st == dnnl_out_of_memory)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "oneDNN: out of memory in %s", what);
    return nn_fail(NN_ERR_BACKEND, "oneDNN: %s failed: %s", what, dnnl_status2str(st));
}

#define CK(call, what)                                      \
    do {                                                    \
        dnnl_status_t st_ = (call);                         \
        if (st_ != dnnl_success) {                          \
            s = bk_fail(st_, what);                         \
            goto fail;                                      \
        }                                                   \
    } while (0)

struct nn_bk_ctx {
    dnnl_stream_t stream;
};

nn_status nn_bk_ctx_create(nn_bk_ctx **out)
{
    nn_status s = NN_OK;
    pthread_once(&engine_once, engine_init);
    if (engine_status != dnnl_success)
        return bk_fail(engine_status, "CPU engine creation");
    nn_bk_ctx *c = nn_mem_calloc(sizeof *c);
    if (!c)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a backend context");
    CK(dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags), "stream creation");
    *out = c;
    return NN_OK;
fail:
    nn_mem_free(c);
    return s;
}

void nn_bk_ctx_destroy(nn_bk_ctx *c)
{
    if (!c)
        return;
    dnnl_stream_destroy(c->stream);
    nn_mem_free(c);
}

int nn_bk_eltwise_uses_dst(nn_bk_eltwise_alg alg)
{
    return alg == NN_BK_RELU || alg == NN_BK_SIGMOID || alg == NN_BK_TANH;
}

/* The forward algorithm, and the one that pairs with a dst-based backward. */
static dnnl_alg_kind_t alg_kind(nn_bk_eltwise_alg alg, int use_dst)
{
    switch (alg) {
    case NN_BK_RELU: return use_dst ? dnnl_eltwise_relu_use_dst_for_bwd : dnnl_eltwise_relu;
    case NN_BK_SIGMOID:
        return use_dst ? dnnl_eltwise_logistic_use_dst_for_bwd : dnnl_eltwise_logistic;
    case NN_BK_TANH: return use_dst ? dnnl_eltwise_tanh_use_dst_for_bwd : dnnl_eltwise_tanh;
    case NN_BK_GELU_ERF: return dnnl_eltwise_gelu_erf;
    case NN_BK_NONE: break;
    }
    return dnnl_alg_kind_undef;
}

/* A primitive with its own user-owned scratchpad, so that execution never
 * allocates inside oneDNN's scratchpad manager. */
typedef struct prim {
    dnnl_primitive_t p;
    dnnl_memory_t scratch_mem;
    void *scratch;
} prim;

static nn_status prim_create(prim *pr, const_dnnl_op_desc_t desc, dnnl_primitive_attr_t attr,
                             const_dnnl_primitive_desc_t hint, const char *what,
                             dnnl_primitive_desc_t *keep_pd)
{
    nn_status s = NN_OK;
    dnnl_primitive_desc_t pd = NULL;
    CK(dnnl_primitive_desc_create(&pd, desc, attr, engine, hint), what);
    CK(dnnl_primitive_create(&pr->p, pd), what);
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t size = smd ? dnnl_memory_desc_get_size(smd) : 0;
    if (size > 0) {
        pr->scratch = nn_mem_alloc(size);
        if (!pr->scratch) {
            s = nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a %zu-byte oneDNN scratchpad", size);
            goto fail;
        }
        CK(dnnl_memory_create(&pr->scratch_mem, smd, engine, pr->scratch), what);
    }
    if (keep_pd)
        *keep_pd = pd;
    else
        dnnl_primitive_desc_destroy(pd);
    return NN_OK;
fail:
    if (pr->p)
        dnnl_primitive_destroy(pr->p);
    nn_mem_free(pr->scratch);
    pr->p = NULL;
    pr->scratch = NULL;
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    return s;
}

static void prim_destroy(prim *pr)
{
    if (pr->p)
        dnnl_primitive_destroy(pr->p);
    if (pr->scratch_mem)
        dnnl_memory_destroy(pr->scratch_mem);
    nn_mem_free(pr->scratch);
}

static nn_status prim_run(nn_bk_ctx *c, prim *pr, int nargs, dnnl_exec_arg_t *args,
                          const char *what)
{
    nn_status s = NN_OK;
    if (pr->scratch_mem) {
        args[nargs].arg = DNNL_ARG_SCRATCHPAD;
        args[nargs].memory = pr->scratch_mem;
        nargs++;
    }
    CK(dnnl_primitive_execute(pr->p, c->stream, nargs, args), what);
    CK(dnnl_stream_wait(c->stream), what);
fail:
    return s;
}

static nn_status set_handle(dnnl_memory_t m, const float *p)
{
    dnnl_status_t st = dnnl_memory_set_data_handle(m, (void *)(uintptr_t)p);
    return st == dnnl_success ? NN_OK : bk_fail(st, "setting a data handle");
}

static nn_status md_2d(dnnl_memory_desc_t *md, int64_t a, int64_t b)
{
    dnnl_dims_t dims = {a, b};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(md, 2, dims, dnnl_f32, dnnl_ab);
    return st == dnnl_success ? NN_OK : bk_fail(st, "memory descriptor");
}

static nn_status md_1d(dnnl_memory_desc_t *md, int64_t a)
{
    dnnl_dims_t dims = {a};
    dnnl_status_t st = dnnl_memory_desc_init_by_tag(md, 1, dims, dnnl_f32, dnnl_a);
    return st == dnnl_success ? NN_OK : bk_fail(st, "memory descriptor");
}

/* ---- dense ---------------------------------------------------------- */

struct nn_bk_dense {
    nn_bk_ctx *ctx;
    prim fwd, bwd_w, bwd_d;
    /* One memory object per shape, repointed before each call. */
    dnnl_memory_t m_ni, m_oi, m_o, m_no;
};

void nn_bk_dense_destroy(nn_bk_dense *d)
{
    if (!d)
        return;
    prim_destroy(&d->fwd);
    prim_destroy(&d->bwd_w);
    prim_destroy(&d->bwd_d);
    dnnl_memory_t ms[] = {d->m_ni, d->m_oi, d->m_o, d->m_no};
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++)
        if (ms[k])
            dnnl_memory_destroy(ms[k]);
    nn_mem_free(d);
}

nn_status nn_bk_dense_create(nn_bk_dense **out, nn_bk_ctx *c, int64_t n, int64_t i, int64_t o,
                             nn_bk_eltwise_alg post, float alpha, int training,
                             int with_bwd_data)
{
    nn_status s = NN_OK;
    dnnl_memory_desc_t md_ni, md_oi, md_o, md_no;
    dnnl_inner_product_desc_t ipd;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t fwd_pd = NULL;

    nn_bk_dense *d = nn_mem_calloc(sizeof *d);
    if (!d)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a dense layer's primitives");
    d->ctx = c;
    if ((s = md_2d(&md_ni, n, i)) || (s = md_2d(&md_oi, o, i)) || (s = md_1d(&md_o, o)) ||
        (s = md_2d(&md_no, n, o)))
        goto fail;
    CK(dnnl_primitive_attr_create(&attr), "attribute creation");
    CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");

    CK(dnnl_inner_product_forward_desc_init(&ipd, training ? dnnl_forward_training
                                                           : dnnl_forward_inference,
                                            &md_ni, &md_oi, &md_o, &md_no),
       "inner product forward descriptor");
    if (post != NN_BK_NONE) {
        CK(dnnl_post_ops_create(&po), "post-ops creation");
        CK(dnnl_post_ops_append_eltwise(po, 1.0f, alg_kind(post, 0), alpha, 0.0f), "post-op");
        CK(dnnl_primitive_attr_set_post_ops(attr, po), "post-op attribute");
    }
    if ((s = prim_create(&d->fwd, &ipd, attr, NULL, "inner product forward", &fwd_pd)))
        goto fail;
    if (training) {
        dnnl_primitive_attr_t battr = NULL;
        CK(dnnl_primitive_attr_create(&battr), "attribute creation");
        dnnl_status_t st =
            dnnl_primitive_attr_set_scratchpad_mode(battr, dnnl_scratchpad_mode_user);
        if (st == dnnl_success)
            st = dnnl_inner_product_backward_weights_desc_init(&ipd, &md_ni, &md_oi, &md_o,
                                                               &md_no);
        if (st != dnnl_success) {
            dnnl_primitive_attr_destroy(battr);
            s = bk_fail(st, "inner product backward-weights descriptor");
            goto fail;
        }
        s = prim_create(&d->bwd_w, &ipd, battr, fwd_pd, "inner product backward weights", NULL);
        if (!s && with_bwd_data) {
            st = dnnl_inner_product_backward_data_desc_init(&ipd, &md_ni, &md_oi, &md_no);
            if (st != dnnl_success)
                s = bk_fail(st, "inner product backward-data descriptor");
            else
                s = prim_create(&d->bwd_d, &ipd, battr, fwd_pd, "inner product backward data",
                                NULL);
        }
        dnnl_primitive_attr_destroy(battr);
        if (s)
            goto fail;
    }
    CK(dnnl_memory_create(&d->m_ni, &md_ni, engine, DNNL_MEMORY_NONE), "memory creation");
    CK(dnnl_memory_create(&d->m_oi, &md_oi, engine, DNNL_MEMORY_NONE), "memory creation");
    CK(dnnl_memory_create(&d->m_o, &md_o, engine, DNNL_MEMORY_NONE), "memory creation");
    CK(dnnl_memory_create(&d->m_no, &md_no, engine, DNNL_MEMORY_NONE), "memory creation");
    dnnl_primitive_desc_destroy(fwd_pd);
    dnnl_post_ops_destroy(po);
    dnnl_primitive_attr_destroy(attr);
    *out = d;
    return NN_OK;
fail:
    if (fwd_pd)
        dnnl_primitive_desc_destroy(fwd_pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    nn_bk_dense_destroy(d);
    return s;
}

nn_status nn_bk_dense_forward(nn_bk_dense *d, const float *x, const float *w, const float *b,
                              float *y)
{
    nn_status s;
    if ((s = set_handle(d->m_ni, x)) || (s = set_handle(d->m_oi, w)) ||
        (s = set_handle(d->m_o, b)) || (s = set_handle(d->m_no, y)))
        return s;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, d->m_ni},
                               {DNNL_ARG_WEIGHTS, d->m_oi},
                               {DNNL_ARG_BIAS, d->m_o},
                               {DNNL_ARG_DST, d->m_no}};
    return prim_run(d->ctx, &d->fwd, 4, args, "inner product forward");
}

nn_status nn_bk_dense_backward_weights(nn_bk_dense *d, const float *x, const float *dy,
                                       float *dw, float *db)
{
    nn_status s;
    if (!d->bwd_w.p)
        return nn_fail(NN_ERR_STATE, "dense: backward-weights primitive was not made");
    if ((s = set_handle(d->m_ni, x)) || (s = set_handle(d->m_no, dy)) ||
        (s = set_handle(d->m_oi, dw)) || (s = set_handle(d->m_o, db)))
        return s;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, d->m_ni},
                               {DNNL_ARG_DIFF_DST, d->m_no},
                               {DNNL_ARG_DIFF_WEIGHTS, d->m_oi},
                               {DNNL_ARG_DIFF_BIAS, d->m_o}};
    return prim_run(d->ctx, &d->bwd_w, 4, args, "inner product backward weights");
}

nn_status nn_bk_dense_backward_data(nn_bk_dense *d, const float *dy, const float *w, float *dx)
{
    nn_status s;
    if (!d->bwd_d.p)
        return nn_fail(NN_ERR_STATE, "dense: backward-data primitive was not made");
    if ((s = set_handle(d->m_no, dy)) || (s = set_handle(d->m_oi, w)) ||
        (s = set_handle(d->m_ni, dx)))
        return s;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_DIFF_DST, d->m_no},
                               {DNNL_ARG_WEIGHTS, d->m_oi},
                               {DNNL_ARG_DIFF_SRC, d->m_ni}};
    return prim_run(d->ctx, &d->bwd_d, 3, args, "inner product backward data");
}

/* ---- element-wise --------------------------------------------------- */

struct nn_bk_eltwise {
    nn_bk_ctx *ctx;
    int use_dst;
    prim fwd, bwd;
    dnnl_memory_t m_a, m_b, m_c; /* three [N, C] roles */
};

void nn_bk_eltwise_destroy(nn_bk_eltwise *e)
{
    if (!e)
        return;
    prim_destroy(&e->fwd);
    prim_destroy(&e->bwd);
    dnnl_memory_t ms[] = {e->m_a, e->m_b, e->m_c};
    for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++)
        if (ms[k])
            dnnl_memory_destroy(ms[k]);
    nn_mem_free(e);
}

nn_status nn_bk_eltwise_create(nn_bk_eltwise **out, nn_bk_ctx *c, int64_t n, int64_t ch,
                               nn_bk_eltwise_alg alg, float alpha, int training)
{
    nn_status s = NN_OK;
    dnnl_memory_desc_t md;
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t fwd_pd = NULL;

    nn_bk_eltwise *e = nn_mem_calloc(sizeof *e);
    if (!e)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for an activation's primitives");
    e->ctx = c;
    e->use_dst = nn_bk_eltwise_uses_dst(alg);
    dnnl_alg_kind_t kind = alg_kind(alg, e->use_dst);
    if ((s = md_2d(&md, n, ch)))
        goto fail;
    CK(dnnl_primitive_attr_create(&attr), "attribute creation");
    CK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    CK(dnnl_eltwise_forward_desc_init(&ed, training ? dnnl_forward_training : dnnl_forward_inference,
                                      kind, &md, alpha, 0.0f),
       "eltwise forward descriptor");
    if ((s = prim_create(&e->fwd, &ed, attr, NULL, "eltwise forward", &fwd_pd)))
        goto fail;
    if (training) {
        CK(dnnl_eltwise_backward_desc_init(&ed, kind, &md, &md, alpha, 0.0f),
           "eltwise backward descriptor");
        if ((s = prim_create(&e->bwd, &ed, attr, fwd_pd, "eltwise backward", NULL)))
            goto fail;
    }
    CK(dnnl_memory_create(&e->m_a, &md, engine, DNNL_MEMORY_NONE), "memory creation");
    CK(dnnl_memory_create(&e->m_b, &md, engine, DNNL_MEMORY_NONE), "memory creation");
    CK(dnnl_memory_create(&e->m_c, &md, engine, DNNL_MEMORY_NONE), "memory creation");
    dnnl_primitive_desc_destroy(fwd_pd);
    dnnl_primitive_attr_destroy(attr);
    *out = e;
    return NN_OK;
fail:
    if (fwd_pd)
        dnnl_primitive_desc_destroy(fwd_pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    nn_bk_eltwise_destroy(e);
    return s;
}

nn_status nn_bk_eltwise_forward(nn_bk_eltwise *e, const float *x, float *y)
{
    nn_status s;
    if ((s = set_handle(e->m_a, x)) || (s = set_handle(e->m_b, y)))
        return s;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, e->m_a}, {DNNL_ARG_DST, e->m_b}};
    return prim_run(e->ctx, &e->fwd, 2, args, "eltwise forward");
}

nn_status nn_bk_eltwise_backward(nn_bk_eltwise *e, const float *x, const float *y,
                                 const float *dy, float *dx)
{
    nn_status s;
    if (!e->bwd.p)
        return nn_fail(NN_ERR_STATE, "activation: backward primitive was not made");
    if ((s = set_handle(e->m_a, e->use_dst ? y : x)) || (s = set_handle(e->m_b, dy)) ||
        (s = set_handle(e->m_c, dx)))
        return s;
    dnnl_exec_arg_t args[4] = {{e->use_dst ? DNNL_ARG_DST : DNNL_ARG_SRC, e->m_a},
                               {DNNL_ARG_DIFF_DST, e->m_b},
                               {DNNL_ARG_DIFF_SRC, e->m_c}};
    return prim_run(e->ctx, &e->bwd, 3, args, "eltwise backward");
}

/* ---- plain matrix products ---------------------------------------- */

nn_status nn_bk_sgemm(char transa, char transb, int64_t m, int64_t n, int64_t k, const float *a,
                      int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    dnnl_status_t st = dnnl_sgemm(transa, transb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    return st == dnnl_success ? NN_OK : bk_fail(st, "sgemm");
}
