/* The threaded executor for chains of dense, activation and dropout layers
 * (every graph libnn builds today), on libnn's own thread pool.
 *
 * Every dense layer's output columns are cut into fixed chunks of CHUNK;
 * a task computes one chunk: its matrix product (libnn's kernels, or
 * oneDNN's sgemm on one thread: dense.c) and the element-wise layers after
 * it on the same columns. Tasks of a
 * phase are independent, so a step needs few synchronisations: for a
 * 784-512-10 MLP two per step (hidden layer forward; the whole backward).
 * Because chunks never depend on the thread count and each is computed the
 * same way on any thread, results are bitwise identical whatever the
 * number of threads or the order tasks run in.
 *
 * Backward, with dense layers D0..Dm-1: the phase for Dj (j < m-1) computes,
 * per chunk c of Dj's outputs, the data gradient of Dj+1 on those columns,
 * the element-wise backward between them, then Dj's weight gradient rows c.
 * Dm-1's weight gradient needs no data gradient and joins the first phase.
 * A parameter hook (the optimizer, fused) updates D0's rows in the same
 * task; Dj's (j >= 1) once no later phase reads the old weights.
 *
 * A small last dense layer L (at most FOLD_MAX_OUT outputs, like the
 * classifier of an MLP) is folded into the layer P before it, so that it
 * adds no phase of its own: P's chunk c also computes L's product with
 * P's output columns c, a partial sum the caller adds up in chunk order;
 * backward, the chunk that computes L's data gradient on columns c also
 * computes and updates L's weight columns c, the only task that reads
 * them. A 784-512-10 training step is then one forward and one backward
 * phase. */
#include <omp.h>
#include <stdatomic.h>
#include <string.h>

#include <nn/threads.h>
#include "core/pool.h"
#include "graph_impl.h"
#include "kernels.h"

enum { CHUNK = 64 };

/* Inference on more than ROW_BLOCK rows cuts rows instead of columns: a
 * task takes a block of rows through the whole chain, so each layer is one
 * product of a well-shaped block (panels with AVX-512, else sgemm: see
 * nn_dense_forward_rows) whose activations stay in the core's cache, where
 * column chunks would make every chunk re-read the whole input. A block
 * has n / threads rows rounded up to whole panels of NN_PANEL_ROWS, at
 * most ROW_BLOCK, and the last one what is left (2 threads: 600 rows as
 * 320 and 280, 1,100 as 512, 512 and 76). Blocks of equal size throughout
 * measured worse: 1,100 rows as 3 x ~367 took 1.23 x the time of 512, 512
 * and 76 on two threads. Every block but the last is whole panels, so a
 * row's result does not depend on the blocks, nor on the thread count
 * (only the last n % 32 rows, if fewer than 16, go to the dot-product
 * kernel). Up to ROW_BLOCK rows, column chunks (on the kernels with
 * AVX-512: nn_kernels_max_rows). */
enum { ROW_BLOCK = 512, ROW_SPLIT_MIN = ROW_BLOCK + 1 };
_Static_assert(ROW_BLOCK % NN_PANEL_ROWS == 0, "row blocks are whole panels");

/* Rows per block of a row-block plan of n rows (n >= ROW_SPLIT_MIN). */
static int64_t row_block(int64_t n, int threads)
{
    int64_t per = (n + threads - 1) / threads;
    per = (per + NN_PANEL_ROWS - 1) / NN_PANEL_ROWS * NN_PANEL_ROWS;
    return per < ROW_BLOCK ? per : ROW_BLOCK;
}

enum { T_FWD, T_GRAD_LAST, T_CHAIN, T_UPDATE, T_ROWS };

/* Longer chains of dense layers keep the primitive executor. */
enum { MAX_DENSE = 64 };

int nn_parallel_eligible(const nn_graph *g)
{
    for (int i = 0; i < g->nlayers; i++)
        switch (g->layers[i].kind) {
        case LAYER_DENSE:
        case LAYER_ACTIVATION:
        case LAYER_DROPOUT:
        case LAYER_SOFTMAX_CE:
        case LAYER_MSE: break;
        default: return 0;
        }
    return 1;
}

static int chunks(int64_t cols)
{
    return (int)((cols + CHUNK - 1) / CHUNK);
}

/* Folding L into P makes the caller add chunks(P.out) partial sums of
 * [N, L.out]: cheap while P has few chunks and L few outputs. With L.out <=
 * CHUNK the partials take at most as many floats as P's own output. */
enum { FOLD_MAX_OUT = 64, FOLD_MAX_CHUNKS = 16 };

/* The dense layers' indices in order into dense; their count, or -1 for
 * more than MAX_DENSE (such chains keep the primitive executor). */
static int dense_layers(const nn_graph *g, int dense[MAX_DENSE])
{
    int m = 0;
    for (int i = 0; i < g->nlayers; i++)
        if (g->layers[i].kind == LAYER_DENSE) {
            if (m == MAX_DENSE)
                return -1;
            dense[m++] = i;
        }
    return m;
}

int nn_parallel_fold(const nn_graph *g, const plan *p)
{
    if (!nn_parallel_eligible(g) || p->bf16 || p->row_blocks)
        return 0;
    int dense[MAX_DENSE];
    const int m = dense_layers(g, dense);
    if (m < 2)
        return 0;
    const layer *l = &g->layers[dense[m - 1]], *prev = &g->layers[dense[m - 2]];
    if (l->out > FOLD_MAX_OUT || chunks(prev->out) > FOLD_MAX_CHUNKS)
        return 0;
    return dense[m - 1];
}

int64_t nn_parallel_part_floats(const nn_graph *g, const plan *p)
{
    const layer *l = &g->layers[p->fold];
    return (int64_t)chunks(l->in) * p->n * l->out;
}

int nn_parallel_row_blocks(const nn_graph *g, const plan *p)
{
    int dense[MAX_DENSE];
    return nn_parallel_eligible(g) && dense_layers(g, dense) >= 0 && !p->training &&
           p->n >= ROW_SPLIT_MIN;
}

int64_t nn_parallel_rows_xt_floats(const nn_graph *g, const plan *p)
{
    if (!p->row_blocks || !nn_kernels_panel())
        return 0;
    int64_t in = 0;
    for (int i = 0; i < g->nlayers; i++)
        if (dense_uses_panels(&g->layers[i]) && g->layers[i].in > in)
            in = g->layers[i].in;
    return NN_PANEL_ROWS * in;
}

/* Appends the chunk tasks of kind for dense layer i. */
static void add_tasks(plan *p, int *nt, int kind, int i, int64_t cols)
{
    for (int64_t c0 = 0; c0 < cols; c0 += CHUNK) {
        task *t = &p->tasks[(*nt)++];
        t->kind = kind;
        t->layer = i;
        t->c0 = c0;
        t->c1 = c0 + CHUNK < cols ? c0 + CHUNK : cols;
    }
}

static void open_phase(plan *p, int *np, int nt)
{
    p->phases[*np].first = nt;
    p->phases[*np].count = 0;
}

static void close_phase(plan *p, int *np, int nt)
{
    p->phases[*np].count = nt - p->phases[*np].first;
    (*np)++;
}

nn_status nn_parallel_plan(nn_graph *g, plan *p)
{
    int dense[MAX_DENSE], ntasks = 0;
    int m = dense_layers(g, dense);
    if (m < 0)
        return NN_OK;
    const int fold = p->fold != 0; /* then dense[m - 1] == p->fold */
    int rows = p->row_blocks;
    for (int j = 0; j < m; j++) /* forward + chain/grad + update */
        ntasks += 3 * chunks(g->layers[dense[j]].out);
    if (rows)
        ntasks = (int)((p->n + row_block(p->n, p->threads) - 1) / row_block(p->n, p->threads));
    p->tasks = nn_mem_alloc((size_t)(ntasks ? ntasks : 1) * sizeof *p->tasks);
    p->phases = nn_mem_alloc((size_t)(2 * m + 2) * sizeof *p->phases);
    if (!p->tasks || !p->phases) {
        nn_parallel_plan_free(p);
        return nn_fail(NN_ERR_OUT_OF_MEMORY, "no memory for a batch-size-%lld plan",
                       (long long)p->n);
    }
    int nt = 0, np = 0;
    if (rows && m > 0) {
        open_phase(p, &np, nt);
        const int64_t per = row_block(p->n, p->threads);
        for (int64_t r0 = 0; r0 < p->n; r0 += per) {
            task *t = &p->tasks[nt++];
            t->kind = T_ROWS;
            t->layer = dense[0];
            t->c0 = r0;
            t->c1 = r0 + per < p->n ? r0 + per : p->n;
        }
        close_phase(p, &np, nt);
        m = 0; /* no column phases */
    }
    for (int j = 0; j < m - fold; j++) {
        open_phase(p, &np, nt);
        add_tasks(p, &nt, T_FWD, dense[j], g->layers[dense[j]].out);
        close_phase(p, &np, nt);
    }
    p->nfwd = np;
    if (p->training && m > 0) {
        /* first backward phase: last layer's weight gradient, and the phase
         * of the layer before it (a folded last layer's tasks do both) */
        open_phase(p, &np, nt);
        for (int j = m - 2; j >= 0; j--) {
            if (j < m - 2)
                open_phase(p, &np, nt);
            add_tasks(p, &nt, T_CHAIN, dense[j], g->layers[dense[j]].out);
            /* Dj+2's old weights were last read in the phase before */
            if (j + 2 < m && !(fold && j + 2 == m - 1))
                add_tasks(p, &nt, T_UPDATE, dense[j + 2], g->layers[dense[j + 2]].out);
            if (j == m - 2 && !fold) /* last, so that chunk k lands where its forward ran */
                add_tasks(p, &nt, T_GRAD_LAST, dense[m - 1], g->layers[dense[m - 1]].out);
            close_phase(p, &np, nt);
        }
        if (m == 1) {
            add_tasks(p, &nt, T_GRAD_LAST, dense[0], g->layers[dense[0]].out);
            close_phase(p, &np, nt);
        }
        if (m >= 2 && !(fold && m == 2)) { /* D1 was read by the last phase */
            open_phase(p, &np, nt);
            add_tasks(p, &nt, T_UPDATE, dense[1], g->layers[dense[1]].out);
            close_phase(p, &np, nt);
        }
    }
    p->nbwd = np - p->nfwd;
    p->fast = 1;
    return NN_OK;
}

void nn_parallel_plan_free(plan *p)
{
    nn_mem_free(p->tasks);
    nn_mem_free(p->phases);
    p->tasks = NULL;
    p->phases = NULL;
    p->fast = 0;
}

typedef struct run_ctx {
    nn_graph *g;
    plan *p;
    const float *x;           /* the graph input */
    const nn_param_hook *hook;
    const task *tasks;        /* the current phase's */
    atomic_int status;        /* first failure, NN_OK if none */
} run_ctx;

static void record(run_ctx *r, nn_status s)
{
    int ok = NN_OK;
    if (s != NN_OK)
        atomic_compare_exchange_strong(&r->status, &ok, (int)s);
}

/* The element-wise layers from first to last (inclusive), forward, on
 * columns c0..c1-1. */
static void chain_forward(run_ctx *r, int first, int last, int64_t c0, int64_t c1)
{
    nn_graph *g = r->g;
    plan *p = r->p;
    for (int e = first; e <= last; e++) {
        const layer *l = &g->layers[e];
        const float *in = nn_layer_out(g, p, l->input, r->x);
        if (l->kind == LAYER_ACTIVATION)
            nn_act_forward_cols(l, p->n, in, p->lp[e].y ? p->lp[e].y : (float *)(uintptr_t)in,
                                c0, c1);
        else if (l->kind == LAYER_DROPOUT && p->training)
            nn_dropout_forward_cols(l, &p->lp[e], p->n, in, c0, c1);
    }
}

/* Backward through element-wise layers last down to first, on columns
 * c0..c1-1: from layer last's dy to the dy of first's input. */
static void chain_backward(run_ctx *r, int first, int last, int64_t c0, int64_t c1)
{
    nn_graph *g = r->g;
    plan *p = r->p;
    for (int e = last; e >= first; e--) {
        const layer *l = &g->layers[e];
        float *dx = p->lp[l->input].dy;
        if (l->kind == LAYER_ACTIVATION)
            nn_act_backward_cols(l, p->n, nn_layer_out(g, p, l->input, p->input),
                                 nn_layer_out(g, p, e, p->input), p->lp[e].dy, dx, c0, c1);
        else
            nn_dropout_backward_cols(l, &p->lp[e], p->n, dx, c0, c1);
    }
}

/* The last layer of dense layer i's group: i, or the element-wise layers
 * that follow it up to the next dense layer or the head. */
static int group_end(const nn_graph *g, int i)
{
    while (i + 1 < g->nlayers && (g->layers[i + 1].kind == LAYER_ACTIVATION ||
                                  g->layers[i + 1].kind == LAYER_DROPOUT))
        i++;
    return i;
}

/* Rows r0..r1-1 through every layer from first up to the head (inference:
 * dropout passes its input on). */
static void rows_forward(run_ctx *r, int first, int64_t r0, int64_t r1)
{
    nn_graph *g = r->g;
    plan *p = r->p;
    for (int e = first; e < g->nlayers; e++) {
        const layer *l = &g->layers[e];
        if (layer_is_head(l))
            break;
        const float *in = nn_layer_out(g, p, l->input, r->x);
        if (l->kind == LAYER_DENSE)
            record(r, nn_dense_forward_rows(g, e, p, in, r0, r1));
        else if (l->kind == LAYER_ACTIVATION)
            nn_act_forward_cols(l, r1 - r0, in + r0 * l->out,
                                (p->lp[e].y ? p->lp[e].y : (float *)(uintptr_t)in) + r0 * l->out,
                                0, l->out);
    }
}

static void update(run_ctx *r, const layer *l, int64_t c0, int64_t c1)
{
    if (!r->hook)
        return;
    r->hook->update(r->hook->ctx, l->w_off + c0 * l->in, (c1 - c0) * l->in);
    r->hook->update(r->hook->ctx, l->b_off + c0, c1 - c0);
}

/* Weight columns c0..c1-1 of dense layer l, every row, then nothing of
 * the bias (a folded layer's bias is updated by the caller). */
static void update_cols(run_ctx *r, const layer *l, int64_t c0, int64_t c1)
{
    if (!r->hook)
        return;
    for (int64_t o = 0; o < l->out; o++)
        r->hook->update(r->hook->ctx, l->w_off + o * l->in + c0, c1 - c0);
}

/* Chunk c0..c1-1's share of the folded layer's output. */
static float *part_of(const plan *p, const layer *l, int64_t c0)
{
    return p->part + c0 / CHUNK * p->n * l->out;
}

static void run_task(void *arg, int k)
{
    run_ctx *r = arg;
    const task *t = &r->tasks[k];
    nn_graph *g = r->g;
    plan *p = r->p;
    const layer *l = &g->layers[t->layer];
    const float *x = nn_layer_out(g, p, l->input, r->x);
    switch (t->kind) {
    case T_FWD: {
        int next = group_end(g, t->layer) + 1;
        record(r, nn_dense_forward_cols(g, t->layer, p, x, t->c0, t->c1));
        chain_forward(r, t->layer + 1, next - 1, t->c0, t->c1);
        if (next < g->nlayers && g->layers[next].kind == LAYER_DENSE) {
            const float *nx = nn_layer_out(g, p, g->layers[next].input, r->x);
            if (next == p->fold)
                record(r, nn_dense_forward_part(g, next, p, nx, t->c0, t->c1,
                                                part_of(p, &g->layers[next], t->c0)));
            else if (p->bf16)
                nn_dense_round_input(g, next, p, nx, t->c0, t->c1);
            else if (p->use_panels)
                nn_dense_pack_input(g, next, p, nx, t->c0, t->c1);
        }
        break;
    }
    case T_GRAD_LAST:
        record(r, nn_dense_backward_weights_rows(g, t->layer, p, x, t->c0, t->c1));
        if (t->layer == g->first_dense)
            update(r, l, t->c0, t->c1);
        break;
    case T_CHAIN: {
        /* the next dense layer's data gradient on these columns */
        int next = group_end(g, t->layer) + 1;
        const layer *nl = &g->layers[next];
        record(r, nn_dense_backward_data_cols(g, next, p, p->lp[nl->input].dy, t->c0, t->c1));
        if (next == p->fold) { /* its weight columns here: nothing else reads them */
            record(r, nn_dense_backward_weights_cols(
                          g, next, p, nn_layer_out(g, p, nl->input, r->x), t->c0, t->c1));
            update_cols(r, nl, t->c0, t->c1);
        }
        chain_backward(r, t->layer + 1, next - 1, t->c0, t->c1);
        record(r, nn_dense_backward_weights_rows(g, t->layer, p, x, t->c0, t->c1));
        if (t->layer == g->first_dense)
            update(r, l, t->c0, t->c1);
        break;
    }
    case T_UPDATE:
        update(r, l, t->c0, t->c1);
        break;
    case T_ROWS:
        rows_forward(r, t->layer, t->c0, t->c1);
        break;
    }
}

/* Runs on the pool with oneDNN single-threaded on every thread; the
 * caller's OpenMP setting is restored afterwards. */
static nn_status pool_ready(nn_graph *g)
{
    int want = nn_get_num_threads();
    if (g->pool && nn_pool_threads(g->pool) == want)
        return NN_OK;
    nn_pool_destroy(g->pool);
    g->pool = NULL;
    return nn_pool_create(&g->pool, want);
}

/* What every run on the pool wraps around its work: the pool at the
 * current thread count, oneDNN single-threaded on the calling thread (its
 * sgemm runs inside tasks) and subnormals flushed; pool_leave restores the
 * caller's settings. */
typedef struct pool_mode {
    int omp_threads;
    unsigned fp;
} pool_mode;

static nn_status pool_enter(nn_graph *g, pool_mode *m)
{
    nn_status s = pool_ready(g);
    if (s != NN_OK)
        return s;
    m->omp_threads = omp_get_max_threads();
    omp_set_num_threads(1);
    m->fp = nn_fpmode_enter();
    return NN_OK;
}

static void pool_leave(pool_mode m)
{
    nn_fpmode_leave(m.fp);
    omp_set_num_threads(m.omp_threads);
}

nn_status nn_graph_run_tasks(nn_graph *g, int ntasks, void (*fn)(void *ctx, int task),
                             void *ctx)
{
    pool_mode m;
    nn_status s = pool_enter(g, &m);
    if (s != NN_OK)
        return s;
    nn_pool_run(g->pool, ntasks, fn, ctx, NN_POOL_DYNAMIC);
    pool_leave(m);
    return NN_OK;
}

static nn_status run_phases(run_ctx *r, int first, int count, int mode)
{
    for (int ph = first; ph < first + count; ph++) {
        r->tasks = r->p->tasks + r->p->phases[ph].first;
        if (!r->hook && r->tasks[0].kind == T_UPDATE)
            continue; /* updates only, and nobody to apply them */
        nn_pool_run(r->g->pool, r->p->phases[ph].count, run_task, r, mode);
        if (atomic_load(&r->status) != NN_OK)
            return (nn_status)atomic_load(&r->status);
    }
    return NN_OK;
}

/* The folded layer's output: its tasks' partial sums in chunk order, the
 * bias, then the element-wise layers after it (all columns). */
static void fold_forward(run_ctx *r)
{
    nn_graph *g = r->g;
    plan *p = r->p;
    const layer *l = &g->layers[p->fold];
    const int64_t size = p->n * l->out;
    const int nc = chunks(l->in);
    float *restrict y = p->lp[p->fold].y;
    const float *b = g->values + l->b_off;
    memcpy(y, p->part, (size_t)size * sizeof *y);
    for (int c = 1; c < nc; c++) {
        const float *restrict q = p->part + c * size;
        for (int64_t k = 0; k < size; k++)
            y[k] += q[k];
    }
    for (int64_t row = 0; row < p->n; row++)
        for (int64_t o = 0; o < l->out; o++)
            y[row * l->out + o] += b[o];
    chain_forward(r, p->fold + 1, group_end(g, p->fold), 0, l->out);
}

/* The folded layer's bias gradient, and its update. */
static void fold_bias(run_ctx *r)
{
    nn_graph *g = r->g;
    plan *p = r->p;
    const layer *l = &g->layers[p->fold];
    nn_dense_backward_bias(g, p->fold, p, 0, l->out);
    if (r->hook)
        r->hook->update(r->hook->ctx, l->b_off, l->out);
}

nn_status nn_parallel_forward(nn_graph *g, plan *p, const float *x, float *loss)
{
    pool_mode m;
    nn_status s = pool_enter(g, &m);
    if (s != NN_OK)
        return s;
    run_ctx r = {.g = g, .p = p, .x = x};
    atomic_init(&r.status, NN_OK);
    if (p->training)
        nn_dropout_draw_keys(g, p);
    /* element-wise layers before the first dense layer, all columns */
    int lead_end = g->first_dense >= 0 ? g->first_dense - 1 : g->nlayers - 1;
    while (lead_end >= 0 && layer_is_head(&g->layers[lead_end]))
        lead_end--;
    if (lead_end >= 0)
        chain_forward(&r, 0, lead_end, 0, g->in_features);
    /* the first dense layer's input rounded or packed here, later dense
     * layers' by the tasks that compute it (run_task) */
    p->use_panels = p->panel_rows > 0 && nn_kernels_panel();
    p->xt_shared = nn_pool_threads(g->pool) > p->xt_copies;
    if (p->bf16 && g->first_dense >= 0)
        nn_dense_round_input(g, g->first_dense, p,
                             nn_layer_out(g, p, g->layers[g->first_dense].input, x), 0,
                             g->in_features);
    else if (p->use_panels && p->xt_shared && g->first_dense >= 0)
        nn_dense_pack_input(g, g->first_dense, p,
                            nn_layer_out(g, p, g->layers[g->first_dense].input, x), 0,
                            g->in_features);
    /* column chunks go to fixed threads (the pool's static ranges), so a
     * chunk's weights and optimizer state stay in one core's caches from
     * step to step: the backward phases list chunk k at the same place as
     * the forward (T_GRAD_LAST last). In training a thread done with its
     * range takes what is left of a late one's. Row blocks balance load. */
    int rows = p->nfwd > 0 && p->tasks[p->phases[0].first].kind == T_ROWS;
    s = run_phases(&r, 0, p->nfwd,
                   rows ? NN_POOL_DYNAMIC : p->training ? NN_POOL_AFFINE : NN_POOL_STATIC);
    if (s == NN_OK && p->fold)
        fold_forward(&r);
    const layer *head = g->nlayers ? &g->layers[g->nlayers - 1] : NULL;
    if (s == NN_OK && head && layer_is_head(head)) {
        const float *in = nn_layer_out(g, p, head->input, x);
        float v = 0.0f;
        if (head->kind == LAYER_SOFTMAX_CE)
            v = nn_softmax_ce_forward(p, head->out, in, p->lp[g->nlayers - 1].y, p->training);
        else if (p->training)
            v = nn_mse_forward(p, head->out, in);
        if (loss)
            *loss = v;
    }
    pool_leave(m);
    return s;
}

nn_status nn_parallel_backward(nn_graph *g, plan *p, const nn_param_hook *hook)
{
    if (g->first_dense < 0)
        return NN_OK;
    pool_mode m;
    nn_status s = pool_enter(g, &m);
    if (s != NN_OK)
        return s;
    run_ctx r = {.g = g, .p = p, .x = p->input, .hook = hook};
    atomic_init(&r.status, NN_OK);
    /* the head's gradient, then back through the element-wise layers after
     * the last dense layer, all columns */
    int last = g->nlayers - 1;
    const layer *head = &g->layers[last];
    int top = last; /* the layer whose dy is known */
    if (layer_is_head(head)) {
        float *dx = p->lp[head->input].dy;
        if (head->kind == LAYER_SOFTMAX_CE)
            nn_softmax_ce_backward(p, head->out, p->lp[last].y, dx);
        else
            nn_mse_backward(p, head->out, nn_layer_out(g, p, head->input, p->input), dx);
        top = head->input;
    }
    int last_dense = top;
    while (g->layers[last_dense].kind != LAYER_DENSE)
        last_dense--;
    if (top > last_dense)
        chain_backward(&r, last_dense + 1, top, 0, g->layers[top].out);
    if (p->fold)
        fold_bias(&r);
    s = run_phases(&r, p->nfwd, p->nbwd, NN_POOL_AFFINE);
    pool_leave(m);
    return s;
}
