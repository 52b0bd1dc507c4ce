/* Running a graph: per-batch-size plans, the forward passes and backward. */
#include <stdio.h>
#include <string.h>

#include <nn/threads.h>
#include "core/pool.h"
#include "graph_impl.h"
#include "kernels.h"

static void plan_free(nn_graph *g, plan *p)
{
    if (!p)
        return;
    if (p->lp) {
        for (int i = 0; i < g->nlayers; i++) {
            nn_bk_dense_destroy(p->lp[i].dense);
            nn_bk_eltwise_destroy(p->lp[i].eltwise);
        }
    }
    nn_parallel_plan_free(p);
    nn_mem_free(p->il);
    nn_mem_free(p->lp);
    nn_mem_free(p->buf);
    nn_mem_free(p);
}

void nn_graph_free_plans(nn_graph *g)
{
    for (int k = 0; k < NN_PLAN_SLOTS; k++) {
        plan_free(g, g->plans[k]);
        g->plans[k] = NULL;
    }
    g->pending = NULL;
}

/* Does layer i write a buffer of its own, or pass its input's on? */
static int owns_output(const layer *l, int training)
{
    switch (l->kind) {
    case LAYER_ACTIVATION: return !l->fused;
    case LAYER_DROPOUT: return training;
    case LAYER_MSE: return 0;
    default: return 1;
    }
}

/* Lays out (or, with buf NULL, only measures) a plan's buffers. */
static int64_t plan_layout(nn_graph *g, plan *p, float *buf)
{
    int64_t off = 0, n = p->n;
#define TAKE(ptr, count)                                \
    do {                                                \
        if (buf)                                        \
            (ptr) = buf + off;                          \
        off += ((count) + 15) / 16 * 16;                \
    } while (0)
    if (p->training)
        TAKE(p->x, n * g->in_features);
    for (int i = 0; i < g->nlayers; i++) {
        const layer *l = &g->layers[i];
        layer_plan *lp = &p->lp[i];
        if (owns_output(l, p->training))
            TAKE(lp->y, n * l->out);
        if (p->training && i >= g->first_dense && g->first_dense >= 0 && !layer_is_head(l))
            TAKE(lp->dy, n * l->out);
        if (p->training && l->kind == LAYER_DROPOUT)
            TAKE(lp->mask, n * l->out);
        if (p->panel_rows && dense_uses_panels(l)) {
            /* the first dense layer's input: a copy per thread (dense.c) */
            int copies = i == g->first_dense ? p->xt_copies : 1;
            TAKE(lp->xt, copies * nn_dense_panel_floats(p, l->in));
            if (i == g->first_dense) {
                float *stamps = NULL; /* 8 uint64 a copy, counted in floats */
                TAKE(stamps, 16 * copies);
                p->xt_stamp = (uint64_t *)(void *)stamps;
            }
        }
        if (p->bf16 && l->kind == LAYER_DENSE) {
            /* bf16 halves and uint32 pairs, counted in floats */
            float *wbf = NULL, *xbf = NULL, *xpairs = NULL, *dypairs = NULL;
            TAKE(wbf, (l->out * l->in + 1) / 2);
            TAKE(xbf, (n * l->in + 1) / 2);
            TAKE(xpairs, (n + 1) / 2 * l->in);
            TAKE(dypairs, (n + 1) / 2 * l->out);
            lp->wbf = (uint16_t *)(void *)wbf;
            lp->xbf = (uint16_t *)(void *)xbf;
            lp->xpairs = (uint32_t *)(void *)xpairs;
            lp->dypairs = (uint32_t *)(void *)dypairs;
        }
    }
    if (p->fold)
        TAKE(p->part, nn_parallel_part_floats(g, p));
    p->rows_xt_floats = nn_parallel_rows_xt_floats(g, p);
    if (p->rows_xt_floats)
        TAKE(p->rows_xt, p->threads * p->rows_xt_floats);
    if (p->training) {
        float *labels = NULL;
        TAKE(p->targets, n * nn_graph_out_features(g));
        TAKE(labels, n); /* int32 and float have the same size */
        p->labels = (int32_t *)(void *)labels;
    }
#undef TAKE
    return off;
}

static int threads_now(void)
{
    return nn_get_num_threads() > 1 ? nn_get_num_threads() : 1;
}

/* Copies of the first dense layer's panels: one per thread (dense.c), as
 * long as they take at most XT_COPIES_MAX bytes in all; else one, packed
 * by the caller for all threads. At 784 inputs a copy is 100 KB at batch
 * 32 and 1.6 MB at 512. */
enum { XT_COPIES_MAX = 16 << 20 };
static int xt_copies(const nn_graph *g, const plan *p)
{
    if (!p->panel_rows || g->first_dense < 0)
        return p->threads;
    const double bytes = (double)nn_dense_panel_floats(p, g->layers[g->first_dense].in) *
                         sizeof(float) * p->threads;
    return bytes <= XT_COPIES_MAX ? p->threads : 1;
}

static nn_status plan_build(nn_graph *g, int64_t n, int training, plan **out)
{
    nn_status s = NN_OK;
    plan *p = nn_mem_calloc(sizeof *p);
    if (!p)
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a batch-size-%lld plan", (long long)n);
    p->n = n;
    p->training = training;
    p->bf16 = training && g->training_precision == NN_PRECISION_BF16;
    p->panel_rows = !p->bf16 && nn_kernels_panel() ? nn_dense_panel_rows(n) : 0;
    p->threads = threads_now();
    p->xt_copies = xt_copies(g, p);
    p->row_blocks = nn_parallel_row_blocks(g, p);
    p->fold = nn_parallel_fold(g, p);
    p->lp = nn_mem_calloc((size_t)(g->nlayers ? g->nlayers : 1) * sizeof *p->lp);
    if (!p->lp) {
        s = nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a batch-size-%lld plan", (long long)n);
        goto fail;
    }
    int64_t total = plan_layout(g, p, NULL);
    if ((uint64_t)total > SIZE_MAX / sizeof(float)) {
        s = nn_fail(NN_ERR_OUT_OF_MEMORY, "batch size %lld needs too much working memory",
                    (long long)n);
        goto fail;
    }
    p->buf = nn_mem_calloc((size_t)total * sizeof(float));
    if (!p->buf) {
        s = nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for %lld floats of working memory at batch size %lld",
                    (long long)total, (long long)n);
        goto fail;
    }
    plan_layout(g, p, p->buf);
    if (nn_parallel_eligible(g)) {
        s = nn_parallel_plan(g, p);
        if (s != NN_OK)
            goto fail;
    }
    if (p->bf16 && (!p->fast || !nn_kernels_bf16())) {
        s = nn_fail(NN_ERR_UNSUPPORTED,
                    !p->fast ? "bf16 training needs a graph of at most 64 dense layers"
                             : "bf16 training needs a CPU with AVX512_BF16");
        goto fail;
    }
    for (int i = 0; i < g->nlayers && s == NN_OK && !p->fast; i++) {
        switch (g->layers[i].kind) {
        case LAYER_DENSE: s = nn_dense_plan(g, i, p); break;
        case LAYER_ACTIVATION: s = nn_activation_plan(g, i, p); break;
        default: break;
        }
    }
    if (s != NN_OK)
        goto fail;
    *out = p;
    return NN_OK;
fail:
    plan_free(g, p);
    return s;
}

/* The plan for (n, training), made on first use; the least recently used
 * one that is not awaiting its backward makes room. */
static nn_status plan_get(nn_graph *g, int64_t n, int training, plan **out)
{
    int victim = -1;
    for (int k = 0; k < NN_PLAN_SLOTS; k++) {
        plan *p = g->plans[k];
        if (p && p->n == n && p->training == training) {
            if (p->row_blocks && p->threads != threads_now()) {
                victim = k; /* its blocks and buffers are for another count */
                break;
            }
            p->last_used = ++g->clock;
            *out = p;
            return NN_OK;
        }
        if (!p)
            victim = victim >= 0 && !g->plans[victim] ? victim : k;
        else if (p != g->pending && (victim < 0 || (g->plans[victim] &&
                                                    p->last_used < g->plans[victim]->last_used)))
            victim = k;
    }
    plan *p = NULL;
    nn_status s = plan_build(g, n, training, &p);
    if (s != NN_OK)
        return s;
    plan_free(g, g->plans[victim]);
    g->plans[victim] = p;
    p->last_used = ++g->clock;
    *out = p;
    return NN_OK;
}

/* Where layer i's output lives: its own buffer, or the one it passes on. */
const float *nn_layer_out(const nn_graph *g, const plan *p, int i, const float *x)
{
    while (i >= 0 && !p->lp[i].y)
        i = g->layers[i].input;
    return i < 0 ? x : p->lp[i].y;
}

static nn_status run_forward(nn_graph *g, plan *p, const float *x, float *loss)
{
    if (p->fast)
        return nn_parallel_forward(g, p, x, loss);
    nn_status s = NN_OK;
    if (p->training)
        nn_dropout_draw_keys(g, p);
    for (int i = 0; i < g->nlayers && s == NN_OK; i++) {
        const layer *l = &g->layers[i];
        const float *in = nn_layer_out(g, p, l->input, x);
        switch (l->kind) {
        case LAYER_DENSE: s = nn_dense_forward(g, i, p, in); break;
        case LAYER_ACTIVATION: s = nn_activation_forward(g, i, p, in); break;
        case LAYER_DROPOUT:
            if (p->training)
                nn_dropout_forward_cols(l, &p->lp[i], p->n, in, 0, l->out);
            break;
        case LAYER_SOFTMAX_CE: {
            float v = nn_softmax_ce_forward(p, l->out, in, p->lp[i].y, p->training);
            if (loss)
                *loss = v;
            break;
        }
        case LAYER_MSE:
            if (p->training && loss)
                *loss = nn_mse_forward(p, l->out, in);
            break;
        }
    }
    return s;
}

static nn_status check_x(const nn_graph *g, const char *fn, const nn_tensor *x)
{
    if (x->ndim != 2 || x->dims[1] != g->in_features) {
        char shape[64];
        int len = snprintf(shape, sizeof shape, "[%lld", (long long)x->dims[0]);
        for (int k = 1; k < x->ndim && len < (int)sizeof shape; k++)
            len += snprintf(shape + len, sizeof shape - (size_t)len, ", %lld", (long long)x->dims[k]);
        return nn_fail(NN_ERR_SHAPE, "%s: x is %s], graph expects [N, %lld]", fn, shape,
                       (long long)g->in_features);
    }
    return NN_OK;
}

nn_status nn_graph_infer(nn_graph *g, const float *x, int64_t n, const float **out,
                         const float **logits)
{
    plan *p = NULL;
    nn_threads_apply();
    nn_status s = plan_get(g, n, 0, &p);
    if (s == NN_OK) {
        nn_dense_il_begin(g, p);
        s = run_forward(g, p, x, NULL);
        nn_dense_il_end(g, p, s);
    }
    if (s != NN_OK)
        return s;
    int last = g->nlayers - 1;
    *out = nn_layer_out(g, p, last, x);
    if (logits)
        *logits = last >= 0 && g->layers[last].kind == LAYER_SOFTMAX_CE
                      ? nn_layer_out(g, p, g->layers[last].input, x)
                      : *out;
    return NN_OK;
}

nn_status nn_graph_forward(nn_graph *g, const nn_tensor *x, nn_tensor *y)
{
    if (!g || !x || !y)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_forward: %s is NULL",
                       !g ? "g" : !x ? "x" : "y");
    nn_status s = check_x(g, __func__, x);
    if (s != NN_OK)
        return s;
    int64_t n = x->dims[0], o = nn_graph_out_features(g);
    if (y->ndim != 2 || y->dims[0] != n || y->dims[1] != o)
        return nn_fail(NN_ERR_SHAPE, "nn_graph_forward: y is %s[%lld, %lld], expected [%lld, %lld]",
                       y->ndim != 2 ? "not 2-D, " : "", (long long)y->dims[0],
                       (long long)(y->ndim > 1 ? y->dims[1] : 0), (long long)n, (long long)o);
    const float *out;
    s = nn_graph_infer(g, x->data, n, &out, NULL);
    if (s == NN_OK) {
        memcpy(y->data, out, (size_t)(n * o) * sizeof(float));
        nn_tensor_written(y); /* y may be a parameter, of this graph or another */
    }
    return nn_fail_in("nn_graph_forward", s);
}

/* Rows picked from a large data set come from memory, a few misses in
 * flight per core: several threads gather a batch faster than one, each
 * at least GATHER_MIN_ROWS rows (graphs on the threaded executor). */
enum { GATHER_MIN_ROWS = 8 };

/* dst [n, in] = rows rows[0..n) of src [*, in] */
static void gather_rows(float *dst, const float *src, int64_t in, const int64_t *rows, int64_t n)
{
    /* Rows picked at random from a large data set come from memory; asking
     * for the next rows' lines while copying one keeps several misses in
     * flight: 32 rows of 784 floats, 8.4-9.2 us a batch without the
     * prefetches, 5.0-6.2 with them (Zen 5). */
    enum { AHEAD = 4, LINE = 64 };
    const size_t bytes = (size_t)in * sizeof *src;
    for (int64_t k = 0; k < n + AHEAD; k++) {
        if (k < n) {
            const char *q = (const char *)(src + rows[k] * in);
            for (size_t o = 0; o < bytes; o += LINE)
                __builtin_prefetch(q + o);
        }
        if (k >= AHEAD)
            memcpy(dst + (k - AHEAD) * in, src + rows[k - AHEAD] * in, bytes);
    }
}

typedef struct gather_job {
    float *dst;
    const float *src;
    int64_t in;
    const int64_t *rows;
    int64_t n;
    int parts;
} gather_job;

static void gather_part(void *ctx, int k)
{
    const gather_job *j = ctx;
    int64_t r0 = j->n * k / j->parts, r1 = j->n * (k + 1) / j->parts;
    gather_rows(j->dst + r0 * j->in, j->src, j->in, j->rows + r0, r1 - r0);
}

/* borrow: run on x's own data instead of a copy; the caller must run the
 * backward before x can change (nn_graph_train_step). rows: the batch is
 * x's rows rows[0..n), copied, and labels[rows[k]] their classes
 * (nn_graph_train_step_rows). */
static nn_status forward_train(nn_graph *g, const nn_tensor *x, const int64_t *rows, int64_t n,
                               const int32_t *labels, const nn_tensor *targets, float *loss,
                               int borrow)
{
    plan *p = NULL;
    if (!rows)
        n = x->dims[0];
    nn_status s = plan_get(g, n, 1, &p);
    if (s != NN_OK)
        return s;
    int64_t o = nn_graph_out_features(g);
    if (rows) {
        gather_job j = {p->x, x->data, g->in_features, rows, n, 1};
        int parts = nn_get_num_threads();
        if (parts > n / GATHER_MIN_ROWS)
            parts = (int)(n / GATHER_MIN_ROWS);
        if (p->fast && parts > 1) {
            j.parts = parts;
            s = nn_graph_run_tasks(g, j.parts, gather_part, &j);
            if (s != NN_OK)
                return s;
        } else {
            gather_part(&j, 0);
        }
        p->input = p->x;
    } else if (borrow) {
        p->input = x->data;
    } else {
        memcpy(p->x, x->data, (size_t)(n * g->in_features) * sizeof(float));
        p->input = p->x;
    }
    p->use_labels = labels != NULL;
    if (labels && rows)
        for (int64_t k = 0; k < n; k++)
            p->labels[k] = labels[rows[k]];
    else if (labels)
        memcpy(p->labels, labels, (size_t)n * sizeof *labels);
    else
        memcpy(p->targets, targets->data, (size_t)(n * o) * sizeof(float));
    g->pending = NULL;
    float l = 0.0f;
    s = run_forward(g, p, p->input, &l);
    if (s != NN_OK)
        return s;
    g->pending = p;
    g->pending_loss = l;
    *loss = l;
    return NN_OK;
}

static nn_status forward_loss(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                              float *loss, int borrow)
{
    if (!g || !x || !labels || !loss)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_forward_loss: %s is NULL",
                       !g ? "g" : !x ? "x" : !labels ? "labels" : "loss");
    if (!g->nlayers || g->layers[g->nlayers - 1].kind != LAYER_SOFTMAX_CE)
        return nn_fail(NN_ERR_STATE,
                       "nn_graph_forward_loss: class labels need a softmax cross-entropy head");
    nn_status s = check_x(g, "nn_graph_forward_loss", x);
    if (s != NN_OK)
        return s;
    int64_t n = x->dims[0], o = nn_graph_out_features(g);
    for (int64_t r = 0; r < n; r++)
        if (labels[r] < 0 || labels[r] >= o)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "nn_graph_forward_loss: labels[%lld] is %d, must be in [0, %lld)",
                           (long long)r, (int)labels[r], (long long)o);
    nn_threads_apply();
    return nn_fail_in("nn_graph_forward_loss", forward_train(g, x, NULL, 0, labels, NULL, loss, borrow));
}

nn_status nn_graph_forward_loss(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                                float *loss)
{
    return forward_loss(g, x, labels, loss, 0);
}

nn_status nn_graph_forward_loss_borrowed(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                                         float *loss)
{
    return forward_loss(g, x, labels, loss, 1);
}

nn_status nn_graph_forward_loss_rows(nn_graph *g, const nn_tensor *data, const int32_t *labels,
                                    const int64_t *rows, int64_t n, float *loss)
{
    static const char fn[] = "nn_graph_train_step_rows";
    if (!g || !data || !labels || !rows || !loss)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: %s is NULL", fn,
                       !g ? "g" : !data ? "data" : !labels ? "labels" : !rows ? "rows" : "loss");
    if (!g->nlayers || g->layers[g->nlayers - 1].kind != LAYER_SOFTMAX_CE)
        return nn_fail(NN_ERR_STATE, "%s: class labels need a softmax cross-entropy head", fn);
    if (n < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "%s: n is %lld, must be at least 1", fn,
                       (long long)n);
    if (data->ndim != 2 || data->dims[1] != g->in_features)
        return nn_fail(NN_ERR_SHAPE, "%s: data is not [N, %lld]", fn, (long long)g->in_features);
    int64_t total = data->dims[0], o = nn_graph_out_features(g);
    for (int64_t k = 0; k < n; k++) {
        if (rows[k] < 0 || rows[k] >= total)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "%s: rows[%lld] is %lld, data has rows 0 to %lld", fn, (long long)k,
                           (long long)rows[k], (long long)total - 1);
        int32_t c = labels[rows[k]];
        if (c < 0 || c >= o)
            return nn_fail(NN_ERR_INVALID_ARGUMENT,
                           "%s: labels[%lld] (rows[%lld]) is %d, must be in [0, %lld)", fn,
                           (long long)rows[k], (long long)k, (int)c, (long long)o);
    }
    nn_threads_apply();
    return nn_fail_in(fn, forward_train(g, data, rows, n, labels, NULL, loss, 1));
}

nn_status nn_graph_forward_loss_targets(nn_graph *g, const nn_tensor *x, const nn_tensor *targets,
                                        float *loss)
{
    if (!g || !x || !targets || !loss)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_forward_loss_targets: %s is NULL",
                       !g ? "g" : !x ? "x" : !targets ? "targets" : "loss");
    if (!g->nlayers || !layer_is_head(&g->layers[g->nlayers - 1]))
        return nn_fail(NN_ERR_STATE, "nn_graph_forward_loss_targets: the graph has no loss head");
    nn_status s = check_x(g, __func__, x);
    if (s != NN_OK)
        return s;
    int64_t n = x->dims[0], o = nn_graph_out_features(g);
    if (targets->ndim != 2 || targets->dims[0] != n || targets->dims[1] != o)
        return nn_fail(NN_ERR_SHAPE,
                       "nn_graph_forward_loss_targets: targets are %s[%lld, %lld], expected [%lld, %lld]",
                       targets->ndim != 2 ? "not 2-D, " : "", (long long)targets->dims[0],
                       (long long)(targets->ndim > 1 ? targets->dims[1] : 0), (long long)n,
                       (long long)o);
    nn_threads_apply();
    return nn_fail_in("nn_graph_forward_loss_targets", forward_train(g, x, NULL, 0, NULL, targets, loss, 0));
}

nn_status nn_graph_backward(nn_graph *g)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_backward: g is NULL");
    plan *p = g->pending;
    if (!p)
        return nn_fail(NN_ERR_STATE, "nn_graph_backward: no training forward to differentiate "
                                     "(call nn_graph_forward_loss first)");
    nn_status s = NN_OK;
    if (p->fast) {
        s = nn_parallel_backward(g, p, NULL);
        g->pending = NULL;
        return nn_fail_in("nn_graph_backward", s);
    }
    nn_threads_apply();
    for (int i = g->nlayers - 1; i >= g->first_dense && g->first_dense >= 0 && s == NN_OK; i--) {
        const layer *l = &g->layers[i];
        const float *x = nn_layer_out(g, p, l->input, p->input);
        float *dx = i > g->first_dense ? p->lp[l->input].dy : NULL;
        switch (l->kind) {
        case LAYER_DENSE: s = nn_dense_backward(g, i, p, x, dx); break;
        case LAYER_ACTIVATION:
            s = nn_activation_backward(g, i, p, x, nn_layer_out(g, p, i, p->input), dx);
            break;
        case LAYER_DROPOUT: nn_dropout_backward_cols(l, &p->lp[i], p->n, dx, 0, l->out); break;
        case LAYER_SOFTMAX_CE: nn_softmax_ce_backward(p, l->out, p->lp[i].y, dx); break;
        case LAYER_MSE: nn_mse_backward(p, l->out, x, dx); break;
        }
    }
    g->pending = NULL;
    return nn_fail_in("nn_graph_backward", s);
}

nn_status nn_graph_backward_with(nn_graph *g, const nn_param_hook *hook)
{
    if (!g)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_graph_backward: g is NULL");
    plan *p = g->pending;
    if (!p)
        return nn_graph_backward(g); /* for its error */
    if (!p->fast)
        return NN_ERR_UNSUPPORTED;
    nn_status s = nn_parallel_backward(g, p, hook);
    g->pending = NULL;
    nn_graph_values_changed(g); /* the hook may have written any of them */
    return s;
}
