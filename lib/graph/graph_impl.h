/* The graph's own structures, shared by the files of lib/graph only.
 * Shape legend: N = batch, I = a layer's in features, O = its out features. */
#ifndef NN_LIB_GRAPH_IMPL_H
#define NN_LIB_GRAPH_IMPL_H

#include <stdint.h>

#include <nn/graph.h>
#include "backend/backend.h"
#include "core/core.h"
#include "core/rng.h"
#include "graph_internal.h"

typedef enum layer_kind {
    LAYER_DENSE,
    LAYER_ACTIVATION,
    LAYER_DROPOUT,
    LAYER_SOFTMAX_CE,
    LAYER_MSE
} layer_kind;

typedef struct layer {
    layer_kind kind;
    int input;          /* producing layer, -1 for the graph input */
    int64_t in, out;    /* features per row */
    /* dense */
    int64_t w_off, b_off; /* into the graph's values and grads arrays */
    /* activation */
    nn_bk_eltwise_alg alg;
    float alpha;
    int fused;          /* computed by the producing dense layer's post-op */
    /* dropout */
    float rate;
} layer;

static inline int layer_is_head(const layer *l)
{
    return l->kind == LAYER_SOFTMAX_CE || l->kind == LAYER_MSE;
}

/* One layer's working state for one batch size. */
typedef struct layer_plan {
    nn_bk_dense *dense;
    nn_bk_eltwise *eltwise;
    float *mask;        /* dropout: 0 or 1/(1-rate) per element */
    float *y;           /* output [N, O]; NULL where it is the input's (fused
                           activation, MSE head, dropout at inference) */
    float *dy;          /* gradient of the loss w.r.t. y (training plans) */
    /* dense layers of bf16 training plans (kernels_bf16.c) */
    uint16_t *wbf;      /* W [O, I] rounded to bf16, redone every forward */
    uint16_t *xbf;      /* the layer's input x [N, I] rounded to bf16 */
    uint32_t *xpairs;   /* the layer's input x as row pairs [ceil(N/2), I] */
    uint32_t *dypairs;  /* dy as row pairs [ceil(N/2), O] */
    /* dense layers of f32 plans with panel rows (kernels_panel.c) */
    float *xt;          /* the input's first panel_rows rows, as panels; for
                           the first dense layer one copy per thread */
    float *il;          /* dense layers of one-row inference plans: W in
                           nn_il_pack's layout, in plan.il; NULL for none */
    uint64_t key;       /* dropout: this forward's mask key */
} layer_plan;

/* One task of the threaded executor (parallel.c): a kind, a dense layer
 * (its index in the graph) and a range of its output columns. */
typedef struct task {
    int kind;
    int layer;
    int64_t c0, c1;
} task;

typedef struct phase {
    int first, count;   /* into plan.tasks */
} phase;

/* Everything the passes need for one (batch size, mode): primitives and
 * buffers, made once and reused. */
typedef struct plan {
    int64_t n;
    int training;
    int bf16;           /* training plan whose dense products run in bf16 */
    int64_t panel_rows; /* rows whose dense forward runs on panels (dense.c) */
    int use_panels;     /* panel_rows > 0 and the CPU allows, this forward */
    int threads;        /* nn_get_num_threads() when the plan was made */
    int xt_copies;      /* threads the first dense layer's xt has copies for */
    int row_blocks;     /* inference by row blocks (parallel.c); such a plan
                           is remade when the thread count changes */
    int xt_shared;      /* this forward: copy 0 for all, packed by the caller */
    uint64_t *xt_stamp; /* per copy (8 apart): the last_used it was packed at */
    uint64_t last_used;
    float *buf;         /* the one allocation behind every buffer below */
    float *x;           /* training: the copied input [N, in] */
    const float *input; /* training: what the pending forward ran on, x or
                           the caller's own (nn_graph_train_step) */
    float *targets;     /* training: [N, out] when given as a tensor */
    int32_t *labels;    /* training: [N] when given as class indices */
    int use_labels;
    layer_plan *lp;     /* one per layer */
    /* threaded executor (graphs of dense, ReLU and dropout layers) */
    int fast;
    task *tasks;
    phase *phases;
    int nfwd, nbwd;     /* forward phases, then backward phases */
    int fold;           /* the last dense layer's index if the tasks of the
                           dense layer before it compute it (parallel.c),
                           else 0 */
    float *part;        /* fold: each task's share of its output, [chunk][N, O] */
    float *rows_xt;     /* row-block inference with panels: rows_xt_floats
                           per thread, one panel of the widest input */
    int64_t rows_xt_floats;
    /* one-row inference (dense.c, nn_dense_il_begin) */
    float *il;          /* one allocation behind the layers' lp[i].il */
    int il_mode;        /* this forward: IL_OFF, IL_PACK (pack, then use) or IL_USE */
    int il_last;        /* the last forward's il_mode (for the tests) */
    uint64_t il_valid;  /* 1 + the weights' version il holds; 0: none */
    uint64_t il_seen;   /* 1 + the weights' version at the last forward; 0: none */
} plan;

enum { IL_OFF, IL_PACK, IL_USE };

enum { NN_PLAN_SLOTS = 8 };

typedef struct watcher {
    nn_graph **slot;
} watcher;

struct nn_graph {
    int64_t in_features;
    layer *layers;
    int nlayers, cap_layers;
    int first_dense;    /* index of the first dense layer, -1 if none */
    nn_precision training_precision;

    float *values, *grads; /* all parameters / gradients, one allocation each */
    int64_t numel;
    nn_tensor **pviews; /* 2 per dense layer: W then b, values then grads;
                           each layer's four views one allocation, at its W
                           value view (fixed addresses: nn_graph_param) */
    int nparams;
    nn_param_watch watch; /* writes to values, for the copies plans keep */

    nn_rng rng;
    nn_bk_ctx *ctx;
    struct nn_pool *pool; /* worker threads of the threaded executor */
    plan *plans[NN_PLAN_SLOTS];
    uint64_t clock;
    plan *pending;      /* the training forward awaiting its backward */
    float pending_loss;

    watcher *watchers;
    int nwatchers, cap_watchers;
};

/* Per-layer operations (dense.c, activation.c, dropout.c, loss.c). The
 * graph input for layer 0 is x; y and dy are the layer's own buffers. */
nn_status nn_dense_plan(nn_graph *g, int i, plan *p);
nn_status nn_dense_forward(nn_graph *g, int i, plan *p, const float *x);
nn_status nn_dense_backward(nn_graph *g, int i, plan *p, const float *x, float *dx);
void nn_dense_init(nn_graph *g, const layer *l, nn_init scheme);

nn_status nn_activation_plan(nn_graph *g, int i, plan *p);
nn_status nn_activation_forward(nn_graph *g, int i, plan *p, const float *x);
nn_status nn_activation_backward(nn_graph *g, int i, plan *p, const float *x, const float *y,
                                 float *dx);

/* Takes this forward's mask key for every dropout layer, in layer order. */
void nn_dropout_draw_keys(nn_graph *g, plan *p);
void nn_dropout_forward_cols(const layer *l, layer_plan *lp, int64_t n, const float *x,
                             int64_t c0, int64_t c1);
void nn_dropout_backward_cols(const layer *l, const layer_plan *lp, int64_t n, float *dx,
                              int64_t c0, int64_t c1);

/* Column-range kernels of the threaded executor. */
nn_status nn_dense_forward_rows(nn_graph *g, int i, plan *p, const float *x, int64_t r0,
                                int64_t r1);
/* Around every inference forward: whether this one reads (and first
 * packs) the dense weights in the one-row layout (dense.c); il_end takes
 * the forward's status. */
void nn_dense_il_begin(nn_graph *g, plan *p);
void nn_dense_il_end(nn_graph *g, plan *p, nn_status s);
nn_status nn_dense_forward_cols(nn_graph *g, int i, plan *p, const float *x, int64_t c0,
                                int64_t c1);
nn_status nn_dense_backward_weights_rows(nn_graph *g, int i, plan *p, const float *x,
                                         int64_t c0, int64_t c1);
/* The bias gradient's entries c0..c1-1 (the sums of dy's columns); part of
 * nn_dense_backward_weights_rows. */
void nn_dense_backward_bias(nn_graph *g, int i, plan *p, int64_t c0, int64_t c1);
/* bf16 plans: rounds columns c0..c1-1 of dense layer i's input x [N, I]
 * into its xbf. */
void nn_dense_round_input(nn_graph *g, int i, plan *p, const float *x, int64_t c0, int64_t c1);
/* The rows of an n-row f32 plan that the dense forward computes from batch
 * panels (0 for none); the rest use nn_kernel_nt or sgemm. Row-block
 * inference packs its own panels (nn_dense_forward_rows). */
int64_t nn_dense_panel_rows(int64_t n);
/* Dense layers with fewer outputs do not use panels: packing would cost
 * about what the product saves. */
enum { NN_PANEL_MIN_OUT = 64 };
static inline int dense_uses_panels(const layer *l)
{
    return l->kind == LAYER_DENSE && l->out >= NN_PANEL_MIN_OUT;
}
/* Floats in one copy of the panels of a plan's rows, in columns. */
int64_t nn_dense_panel_floats(const plan *p, int64_t in);
/* Panel plans (p->use_panels): transposes columns c0..c1-1 of dense layer
 * i's input x [N, I] into its xt (copy 0 of the first dense layer's), if
 * the layer has one. */
void nn_dense_pack_input(nn_graph *g, int i, plan *p, const float *x, int64_t c0, int64_t c1);
nn_status nn_dense_backward_data_cols(nn_graph *g, int i, plan *p, float *dx, int64_t c0,
                                      int64_t c1);
/* A folded last dense layer i (parallel.c) by its input columns c0..c1-1:
 * the forward's share part [N, O] of the output, without the bias; the
 * weight gradient's columns (the bias gradient is left alone). */
nn_status nn_dense_forward_part(nn_graph *g, int i, plan *p, const float *x, int64_t c0,
                                int64_t c1, float *part);
nn_status nn_dense_backward_weights_cols(nn_graph *g, int i, plan *p, const float *x,
                                         int64_t c0, int64_t c1);
/* Activations on columns c0..c1-1 of [n, out] rows (threaded executor):
 * y from x (the same buffer when the layer works in place); dx from dy and
 * the layer's output y, or its input x for GELU. activation.c for ReLU,
 * eltwise_cols.c for the rest. */
void nn_act_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                         int64_t c1);
void nn_act_backward_cols(const layer *l, int64_t n, const float *x, const float *y,
                          const float *dy, float *dx, int64_t c0, int64_t c1);
void nn_eltwise_forward_cols(const layer *l, int64_t n, const float *x, float *y, int64_t c0,
                             int64_t c1);
void nn_eltwise_backward_cols(const layer *l, int64_t n, const float *x, const float *y,
                              const float *dy, float *dx, int64_t c0, int64_t c1);

/* The threaded executor (parallel.c). */
int nn_parallel_eligible(const nn_graph *g);
/* The layer plan p would fold (plan.fold), set before the layout: 0 for none. */
int nn_parallel_fold(const nn_graph *g, const plan *p);
/* Floats of plan.part for a plan with fold set. */
int64_t nn_parallel_part_floats(const nn_graph *g, const plan *p);
/* Whether p (n, training set) runs inference by row blocks. */
int nn_parallel_row_blocks(const nn_graph *g, const plan *p);
/* Floats of one thread's share of plan.rows_xt: 0 unless p runs by row
 * blocks (row_blocks set) and its dense layers may use panels. */
int64_t nn_parallel_rows_xt_floats(const nn_graph *g, const plan *p);
nn_status nn_parallel_plan(nn_graph *g, plan *p);
void nn_parallel_plan_free(plan *p);
const float *nn_layer_out(const nn_graph *g, const plan *p, int i, const float *x);
nn_status nn_parallel_forward(nn_graph *g, plan *p, const float *x, float *loss);
nn_status nn_parallel_backward(nn_graph *g, plan *p, const nn_param_hook *hook);

/* Heads: loss of the logits / values x [N, O] against the plan's targets. */
float nn_softmax_ce_forward(const plan *p, int64_t o, const float *x, float *probs, int training);
void nn_softmax_ce_backward(const plan *p, int64_t o, const float *probs, float *dx);
float nn_mse_forward(const plan *p, int64_t o, const float *x);
void nn_mse_backward(const plan *p, int64_t o, const float *x, float *dx);

#endif
