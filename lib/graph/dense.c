/* Dense layer: y[N,O] = x[N,I] W[O,I]^T + b[O], optionally followed by a
 * fused activation (the next layer, computed here as a oneDNN post-op).
 * Backward: dW = dy^T x, db = sum_n dy, dx = dy W. */
#include <math.h>

#include "core/pool.h"
#include "graph_impl.h"
#include "kernels.h"

nn_status nn_dense_plan(nn_graph *g, int i, plan *p)
{
    const layer *l = &g->layers[i];
    nn_bk_eltwise_alg post = NN_BK_NONE;
    float alpha = 0.0f;
    if (i + 1 < g->nlayers && g->layers[i + 1].fused) {
        post = g->layers[i + 1].alg;
        alpha = g->layers[i + 1].alpha;
    }
    return nn_bk_dense_create(&p->lp[i].dense, g->ctx, p->n, l->in, l->out, post, alpha,
                              p->training, p->training && i > g->first_dense);
}

nn_status nn_dense_forward(nn_graph *g, int i, plan *p, const float *x)
{
    const layer *l = &g->layers[i];
    return nn_bk_dense_forward(p->lp[i].dense, x, g->values + l->w_off, g->values + l->b_off,
                               p->lp[i].y);
}

nn_status nn_dense_backward(nn_graph *g, int i, plan *p, const float *x, float *dx)
{
    const layer *l = &g->layers[i];
    layer_plan *lp = &p->lp[i];
    nn_status s = nn_bk_dense_backward_weights(lp->dense, x, lp->dy, g->grads + l->w_off,
                                               g->grads + l->b_off);
    if (s == NN_OK && dx)
        s = nn_bk_dense_backward_data(lp->dense, lp->dy, g->values + l->w_off, dx);
    return s;
}

/* Small batches skip sgemm's packing (kernels.c) where the CPU allows. */
static int small_batch(const plan *p)
{
    return p->n <= nn_kernels_max_rows() && nn_kernels_available();
}

/* Column-range versions for the threaded executor (parallel.c): each call
 * touches only output columns (or weight rows) c0..c1-1, so disjoint
 * ranges run on different threads at once, and a range's result does not
 * depend on which thread computes it. */
/* Few rows: dot products, which read each weight row once for all rows
 * and skip sgemm's packing (what one-image latency is made of). */
enum { GEMV_ROWS = 4 };

/* The portable version: eight outputs at a time, so eight independent
 * sums keep the FMA units busy where one would wait on its own latency. */
static void dense_rows_dot_c(const float *restrict x, const float *restrict w,
                             const float *restrict b, float *restrict y, int64_t n, int64_t in,
                             int64_t out, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + r * in;
        int64_t c = c0;
        for (; c + 8 <= c1; c += 8) {
            const float *w0 = w + c * in;
            float s[8] = {0};
            for (int64_t k = 0; k < in; k++)
                for (int j = 0; j < 8; j++)
                    s[j] += xr[k] * w0[j * in + k];
            for (int j = 0; j < 8; j++)
                y[r * out + c + j] = s[j] + b[c + j];
        }
        for (; c < c1; c++) {
            const float *wc = w + c * in;
            float s = 0.0f;
            for (int64_t k = 0; k < in; k++)
                s += xr[k] * wc[k];
            y[r * out + c] = s + b[c];
        }
    }
}

static void dense_rows_dot(const float *restrict x, const float *restrict w,
                           const float *restrict b, float *restrict y, int64_t n, int64_t in,
                           int64_t out, int64_t c0, int64_t c1, int reverse)
{
    if (nn_kernels_available())
        nn_kernel_rows_dot(x, w, b, y, n, in, out, c0, c1, reverse);
    else
        dense_rows_dot_c(x, w, b, y, n, in, out, c0, c1);
}

/* One-row inference reads every weight once per call, from L2 when the
 * threads' shares fit: at 784-512-10 on two threads it is most of the
 * latency. Read in nn_il_pack's layout (one stream instead of four), a
 * thread's 256 x 784 took 4.6-5.1 us instead of 7.4, and bench_train's
 * one-image latency went from 10.4-10.8 to 6.1-7.3 us (Zen 5, 2 threads).
 *
 * The copy is made on the second one-row inference in a row at the same
 * weights version, so that training with a single inference now and then
 * never pays for packing, by the tasks that read it (each chunk lands in
 * the cache of the thread that computes it); it is used while the version
 * stays (nn_graph_values_changed). Once the user holds a pointer to the
 * values (nn_param_watch.exposed) it is never used again: a write through
 * it would go unseen. On one thread, which reads the weights from L3, it
 * measured 17.3-18.5 us against 18.5-19.0. A failed allocation leaves the
 * plain path. */
static int il_wanted(const nn_graph *g, const plan *p)
{
    return p->fast && !p->training && p->n == 1 &&
           !atomic_load_explicit(&g->watch.exposed, memory_order_relaxed) && nn_kernels_il();
}

/* The one allocation behind every dense layer's copy (not the folded last
 * layer's: nn_dense_forward_part reads W where it lies). Layers of fewer
 * than four outputs have none; NN_ERR_UNSUPPORTED where no layer has one. */
static nn_status il_alloc(nn_graph *g, plan *p)
{
    for (int pass = 0; pass < 2; pass++) {
        int64_t off = 0;
        for (int i = 0; i < g->nlayers; i++) {
            const layer *l = &g->layers[i];
            if (l->kind != LAYER_DENSE || (p->fold && i == p->fold))
                continue;
            if (pass && nn_il_floats(l->out, l->in) > 0)
                p->lp[i].il = p->il + off;
            off += nn_il_floats(l->out, l->in);
        }
        if (!pass && off == 0)
            return NN_ERR_UNSUPPORTED;
        if (!pass && !(p->il = nn_mem_alloc((size_t)off * sizeof(float))))
            return NN_ERR_OUT_OF_MEMORY;
    }
    return NN_OK;
}

static void il_free(nn_graph *g, plan *p)
{
    for (int i = 0; i < g->nlayers; i++)
        p->lp[i].il = NULL;
    nn_mem_free(p->il);
    p->il = NULL;
    p->il_valid = 0;
}

void nn_dense_il_begin(nn_graph *g, plan *p)
{
    p->il_mode = IL_OFF;
    if (!il_wanted(g, p)) {
        p->il_seen = 0;
        if (p->il && atomic_load_explicit(&g->watch.exposed, memory_order_relaxed))
            il_free(g, p); /* never to be used again */
        return;
    }
    const uint64_t v = g->watch.version;
    if (p->il_valid == v + 1)
        p->il_mode = IL_USE;
    else if (p->il_seen == v + 1 && (p->il || il_alloc(g, p) == NN_OK)) {
        p->il_mode = IL_PACK;
        p->il_valid = 0;
    }
    p->il_seen = v + 1;
}

void nn_dense_il_end(nn_graph *g, plan *p, nn_status s)
{
    if (p->il_mode == IL_PACK) /* on success every task ran: every group is packed */
        p->il_valid = s == NN_OK ? g->watch.version + 1 : 0;
    p->il_last = p->il_mode;
    p->il_mode = IL_OFF;
}

/* Panels need full vectors of rows: a last panel of fewer than 16 rows
 * would cost as much as a full one (measured, Zen 5: 32 x 784 x 512 at
 * 195 GFLOP/s on panels against 160 with nn_kernel_nt; 8 rows at 81
 * against 173), so such rows go to nn_kernel_nt (in row-block inference,
 * nn_dense_forward_rows, to the dot-product kernel). */
int64_t nn_dense_panel_rows(int64_t n)
{
    if (n > NN_KERNEL_MAX_N_AVX512 || n < 16)
        return 0;
    return n % NN_PANEL_ROWS >= 16 ? n : n - n % NN_PANEL_ROWS;
}

int64_t nn_dense_panel_floats(const plan *p, int64_t in)
{
    return (p->panel_rows + NN_PANEL_ROWS - 1) / NN_PANEL_ROWS * NN_PANEL_ROWS * in;
}

void nn_dense_pack_input(nn_graph *g, int i, plan *p, const float *x, int64_t c0, int64_t c1)
{
    const int64_t in = g->layers[i].in;
    if (p->lp[i].xt)
        nn_panel_pack(p->lp[i].xt, in, x, in, p->panel_rows, c0, c1);
}

/* The panels dense layer i reads. Every task of the first dense layer
 * reads all of its input, which arrives in the caller's cache; each thread
 * packs its own copy in the first task it runs of each forward (unless the
 * pool has more threads than the plan has copies: then the caller packed
 * copy 0 for all). Against one copy packed by the caller before the phase:
 * 283-313 against 298-317 us a training step on two threads (Zen 5); the
 * worker's pack takes ~10 us there, almost all of it spent fetching the
 * input from the other core. */
static const float *dense_panels(nn_graph *g, int i, plan *p, const float *x)
{
    layer_plan *lp = &p->lp[i];
    if (i != g->first_dense || p->xt_shared)
        return lp->xt;
    const int k = nn_pool_thread_index();
    const int64_t in = g->layers[i].in;
    float *xt = lp->xt + k * nn_dense_panel_floats(p, in);
    if (p->xt_stamp[8 * k] != p->last_used) {
        nn_panel_pack(xt, in, x, in, p->panel_rows, 0, in);
        p->xt_stamp[8 * k] = p->last_used;
    }
    return xt;
}

nn_status nn_dense_forward_cols(nn_graph *g, int i, plan *p, const float *x, int64_t c0,
                                int64_t c1)
{
    const layer *l = &g->layers[i];
    float *y = p->lp[i].y;
    const float *b = g->values + l->b_off;
    if (p->n <= GEMV_ROWS && !p->training) {
        float *il = p->lp[i].il;
        const float *w = g->values + l->w_off;
        if (p->il_mode != IL_OFF && il && c0 % 4 == 0) {
            if (p->il_mode == IL_PACK)
                nn_il_pack(il, w, l->in, c0, c1);
            nn_kernel_il_rows(x, il, w, b, y, l->in, c0, c1);
            return NN_OK;
        }
        /* every other call reads the weights in the opposite order (the
         * plan's use count is set once per call, before the threads run) */
        dense_rows_dot(x, w, b, y, p->n, l->in, l->out, c0, c1, (int)(p->last_used & 1));
        return NN_OK;
    }
    nn_status s = NN_OK;
    int64_t r0 = 0; /* rows from here on still need the bias */
    if (p->use_panels && p->lp[i].xt) {
        const int64_t pr = p->panel_rows;
        const float *w = g->values + l->w_off + c0 * l->in;
        nn_kernel_panel(pr, c1 - c0, l->in, dense_panels(g, i, p, x), w, l->in, b + c0, y + c0,
                        l->out);
        if (pr < p->n)
            nn_kernel_nt(p->n - pr, c1 - c0, l->in, x + pr * l->in, l->in, w, l->in,
                         y + pr * l->out + c0, l->out);
        r0 = pr;
    } else if (p->bf16) {
        /* this chunk's weights rounded afresh (the optimizer, or the user
         * through nn_graph_param, may have changed them since), then the
         * product with the input rounded before this phase (parallel.c);
         * and this task's share of the input packed for the weight
         * gradient */
        layer_plan *lp = &p->lp[i];
        const float *w = g->values + l->w_off + c0 * l->in;
        nn_bf16_round(lp->wbf + c0 * l->in, w, (c1 - c0) * l->in);
        nn_kernel_nt_bf16(p->n, c1 - c0, l->in, lp->xbf, l->in, lp->wbf + c0 * l->in, l->in,
                          y + c0, l->out);
        nn_bf16_pairs(lp->xpairs, l->in, x, l->in, p->n, l->in * c0 / l->out,
                      l->in * c1 / l->out);
    } else if (small_batch(p))
        nn_kernel_nt(p->n, c1 - c0, l->in, x, l->in, g->values + l->w_off + c0 * l->in, l->in,
                     y + c0, l->out);
    else
        s = nn_bk_sgemm('N', 'T', p->n, c1 - c0, l->in, x, l->in,
                        g->values + l->w_off + c0 * l->in, l->in, y + c0, l->out);
    for (int64_t r = r0; r < p->n; r++) {
        float *yr = y + r * l->out;
        for (int64_t c = c0; c < c1; c++)
            yr[c] += b[c];
    }
    return s;
}

/* Rows r0..r1-1 of the output, every column (large-batch inference).
 * With AVX-512 each panel of the block's rows is packed into this
 * thread's buffer and run through nn_kernel_panel (the weights stream past
 * each panel in turn either way), a layer of fewer outputs and the rows
 * past the last panel of 16 or more on the dot-product kernel: against one
 * sgemm of the block (which allocates its packing buffers in every call),
 * 512 x 784 x 512 on one Zen 5 core took 2,224 us (55 to pack) against
 * 2,307. Without AVX-512, sgemm. */
nn_status nn_dense_forward_rows(nn_graph *g, int i, plan *p, const float *x, int64_t r0,
                                int64_t r1)
{
    const layer *l = &g->layers[i];
    const int64_t n = r1 - r0, in = l->in, out = l->out;
    float *y = p->lp[i].y + r0 * out;
    const float *w = g->values + l->w_off, *b = g->values + l->b_off;
    x += r0 * in;
    if (nn_kernels_panel()) {
        const int k = nn_pool_thread_index();
        int64_t r = 0;
        /* k < threads unless the pool outgrew the plan (plan_get remakes
         * such plans) */
        if (p->rows_xt && dense_uses_panels(l) && k < p->threads) {
            float *xt = p->rows_xt + k * p->rows_xt_floats;
            for (; r + 16 <= n; r += NN_PANEL_ROWS) {
                const int64_t m = n - r < NN_PANEL_ROWS ? n - r : NN_PANEL_ROWS;
                nn_panel_pack(xt, in, x + r * in, in, m, 0, in);
                nn_kernel_panel(m, out, in, xt, w, in, b, y + r * out, out);
            }
        }
        if (r < n)
            nn_kernel_rows_dot(x + r * in, w, b, y + r * out, n - r, in, out, 0, out, 0);
        return NN_OK;
    }
    nn_status s = nn_bk_sgemm('N', 'T', n, out, in, x, in, w, in, y, out);
    for (int64_t r = 0; r < n; r++) {
        float *yr = y + r * out;
        for (int64_t c = 0; c < out; c++)
            yr[c] += b[c];
    }
    return s;
}

nn_status nn_dense_backward_weights_rows(nn_graph *g, int i, plan *p, const float *x,
                                         int64_t c0, int64_t c1)
{
    const layer *l = &g->layers[i];
    const float *dy = p->lp[i].dy;
    /* The kernels read x where it lies; sgemm packs it again for every
     * chunk. Alone, sgemm measured 2-4 % faster than the AVX-512 4x64
     * blocks (Zen 5), but in a training step on two threads its chunks took
     * 23-27 us against 19-23 (the packing's traffic competes with the
     * optimizer's). With AVX2 the 6x16 blocks measured about 10 % faster
     * than sgemm alone (Zen 3: 151 against 168 us for 256 x 784 x 32).
     * Past 128 rows the AVX-512 kernel sums them in blocks of 128
     * (kernels.c): 512 rows at 179-180 against sgemm's 190 GFLOP/s alone,
     * and steps at batch 200-512 as fast as with sgemm, without its
     * allocations. */
    nn_status s = NN_OK;
    if (p->bf16) {
        layer_plan *lp = &p->lp[i];
        nn_bf16_pairs(lp->dypairs, l->out, dy, l->out, p->n, c0, c1);
        nn_kernel_nn_bf16(c1 - c0, l->in, (p->n + 1) / 2, lp->dypairs + c0, l->out, lp->xpairs,
                          l->in, g->grads + l->w_off + c0 * l->in, l->in);
    } else if (small_batch(p))
        nn_kernel_nn(c1 - c0, l->in, p->n, dy + c0, 1, l->out, x, l->in,
                     g->grads + l->w_off + c0 * l->in, l->in);
    else
        s = nn_bk_sgemm('T', 'N', c1 - c0, l->in, p->n, dy + c0, l->out, x, l->in,
                        g->grads + l->w_off + c0 * l->in, l->in);
    nn_dense_backward_bias(g, i, p, c0, c1);
    return s;
}

void nn_dense_backward_bias(nn_graph *g, int i, plan *p, int64_t c0, int64_t c1)
{
    const layer *l = &g->layers[i];
    const float *dy = p->lp[i].dy;
    float *db = g->grads + l->b_off;
    for (int64_t c = c0; c < c1; c++)
        db[c] = 0.0f;
    for (int64_t r = 0; r < p->n; r++) {
        const float *dyr = dy + r * l->out;
        for (int64_t c = c0; c < c1; c++)
            db[c] += dyr[c];
    }
}

/* Input columns c0..c1-1 of dense layer i (a folded last layer, see
 * parallel.c): part[n, O] = x[:, c0..c1-1] W[:, c0..c1-1]^T, no bias. */
nn_status nn_dense_forward_part(nn_graph *g, int i, plan *p, const float *x, int64_t c0,
                                int64_t c1, float *part)
{
    const layer *l = &g->layers[i];
    const float *w = g->values + l->w_off + c0;
    if (small_batch(p)) {
        nn_kernel_nt(p->n, l->out, c1 - c0, x + c0, l->in, w, l->in, part, l->out);
        return NN_OK;
    }
    return nn_bk_sgemm('N', 'T', p->n, l->out, c1 - c0, x + c0, l->in, w, l->in, part, l->out);
}

/* The weight gradient's input columns c0..c1-1: dW[:, c0..c1-1] = dy^T
 * x[:, c0..c1-1]; the bias gradient is not touched. */
nn_status nn_dense_backward_weights_cols(nn_graph *g, int i, plan *p, const float *x,
                                         int64_t c0, int64_t c1)
{
    const layer *l = &g->layers[i];
    float *dw = g->grads + l->w_off + c0;
    if (small_batch(p)) {
        nn_kernel_nn(l->out, c1 - c0, p->n, p->lp[i].dy, 1, l->out, x + c0, l->in, dw, l->in);
        return NN_OK;
    }
    return nn_bk_sgemm('T', 'N', l->out, c1 - c0, p->n, p->lp[i].dy, l->out, x + c0, l->in, dw,
                       l->in);
}

void nn_dense_round_input(nn_graph *g, int i, plan *p, const float *x, int64_t c0, int64_t c1)
{
    const int64_t in = g->layers[i].in;
    for (int64_t r = 0; r < p->n; r++)
        nn_bf16_round(p->lp[i].xbf + r * in + c0, x + r * in + c0, c1 - c0);
}

nn_status nn_dense_backward_data_cols(nn_graph *g, int i, plan *p, float *dx, int64_t c0,
                                      int64_t c1)
{
    const layer *l = &g->layers[i];
    if (small_batch(p)) {
        nn_kernel_nn(p->n, c1 - c0, l->out, p->lp[i].dy, l->out, 1, g->values + l->w_off + c0,
                     l->in, dx + c0, l->in);
        return NN_OK;
    }
    return nn_bk_sgemm('N', 'N', p->n, c1 - c0, l->out, p->lp[i].dy, l->out,
                       g->values + l->w_off + c0, l->in, dx + c0, l->in);
}

void nn_dense_init(nn_graph *g, const layer *l, nn_init scheme)
{
    float *w = g->values + l->w_off;
    int64_t n = l->in * l->out;
    double fan = (scheme == NN_INIT_HE_UNIFORM || scheme == NN_INIT_HE_NORMAL)
                     ? (double)l->in
                     : (double)(l->in + l->out);
    if (scheme == NN_INIT_GLOROT_UNIFORM || scheme == NN_INIT_HE_UNIFORM) {
        float limit = (float)sqrt(6.0 / fan);
        for (int64_t k = 0; k < n; k++)
            w[k] = (2.0f * nn_rng_uniform(&g->rng) - 1.0f) * limit;
    } else {
        double sd = sqrt(2.0 / fan);
        for (int64_t k = 0; k < n; k++)
            w[k] = (float)(sd * nn_rng_normal(&g->rng));
    }
    for (int64_t k = 0; k < l->out; k++)
        g->values[l->b_off + k] = 0.0f;
}
