/* What the rest of libnn (optimizers, training, model files) may know of a
 * graph beyond the public API. Never installed. */
#ifndef NN_LIB_GRAPH_INTERNAL_H
#define NN_LIB_GRAPH_INTERNAL_H

#include <stdint.h>
#include <nn/graph.h>

/* Every parameter lives in one allocation, every gradient in another, in
 * the order of nn_graph_param(): optimizers walk them as flat arrays.
 * NULL / 0 while the graph has no dense layer. Borrowed. */
float *nn_graph_values(nn_graph *g);
float *nn_graph_grads(nn_graph *g);
int64_t nn_graph_numel(const nn_graph *g);

/* Whoever writes parameter values through nn_graph_values() or
 * nn_graph_param_values() must call this afterwards, from one thread,
 * before the next inference: plans keep copies of the weights in other
 * layouts (dense.c), which then go unused until a later inference has
 * made them afresh. */
void nn_graph_values_changed(nn_graph *g);

/* Parameter i's values (0 <= i < nn_graph_param_count(g)), as
 * nn_tensor_data() on nn_graph_param()'s view would give them, without
 * marking the values as handed to the user (which ends those copies for
 * good, see nn_param_watch). */
float *nn_graph_param_values(nn_graph *g, int i);

/* A watcher of the graph's lifetime: the graph sets *slot to NULL when it is
 * destroyed, so an optimizer that outlives its graph reports NN_ERR_STATE
 * instead of touching freed memory. Attach may fail with
 * NN_ERR_OUT_OF_MEMORY; detach never fails (unknown slots are ignored). */
nn_status nn_graph_attach(nn_graph *g, nn_graph **slot);
void nn_graph_detach(nn_graph *g, nn_graph **slot);

/* Inference on n rows of x [n, in] (borrowed, not copied): *out receives the
 * graph's output [n, out] (probabilities under a softmax head), *logits
 * (optional) the head's input, both borrowed from the graph until its next
 * call. Used by evaluation, which slices a large x without copying. */
nn_status nn_graph_infer(nn_graph *g, const float *x, int64_t n, const float **out,
                         const float **logits);

/* nn_graph_forward_loss without copying x: the pending backward reads x's
 * data, so the caller must run it before x can change, and must not
 * return with it pending (nn_graph_train_step runs it at once, and every
 * backward, failed or not, ends the pending state). */
nn_status nn_graph_forward_loss_borrowed(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                                         float *loss);

/* nn_graph_forward_loss on the rows rows[0..n) of data, whose classes are
 * labels[rows[k]] (the rows are copied into the plan: nothing is
 * borrowed). Errors name nn_graph_train_step_rows, its only caller. */
nn_status nn_graph_forward_loss_rows(nn_graph *g, const nn_tensor *data, const int32_t *labels,
                                    const int64_t *rows, int64_t n, float *loss);

/* Called by the backward pass for each range of parameters whose gradient
 * is final and whose old value nothing else reads any more: an optimizer
 * updates them there, while they are still in cache. Ranges are disjoint,
 * cover every parameter once, and may come from several threads at once. */
typedef struct nn_param_hook {
    void (*update)(void *ctx, int64_t lo, int64_t len);
    void *ctx;
} nn_param_hook;

/* nn_graph_backward, calling hook as ranges become final. Graphs the
 * threaded executor does not run give NN_ERR_UNSUPPORTED and change
 * nothing: then call nn_graph_backward and step separately. */
nn_status nn_graph_backward_with(nn_graph *g, const nn_param_hook *hook);

/* Runs fn(ctx, 0 .. ntasks-1) on the graph's worker threads (made on
 * first use: may fail with NN_ERR_OUT_OF_MEMORY, then nothing ran). The
 * tasks must be independent. */
nn_status nn_graph_run_tasks(nn_graph *g, int ntasks, void (*fn)(void *ctx, int task),
                             void *ctx);

/* Whether the graph ends in a softmax cross-entropy head. */
int nn_graph_has_softmax_head(const nn_graph *g);

/* Adding a dense layer reallocates both arrays and changes the count: an
 * optimizer compares nn_graph_numel() with its state size before a step. */

/* For model files (lib/io/model.c): each layer as the public nn_graph_add_*
 * call that made it, and the generator's state. */
typedef enum nn_layer_type {
    NN_LAYER_DENSE,
    NN_LAYER_ACTIVATION, /* act */
    NN_LAYER_LEAKY_RELU, /* alpha != 0 (a zero slope is NN_ACT_RELU) */
    NN_LAYER_DROPOUT,    /* rate */
    NN_LAYER_SOFTMAX_CE,
    NN_LAYER_MSE
} nn_layer_type;

typedef struct nn_layer_desc {
    nn_layer_type type;
    int64_t in, out;       /* features per row */
    nn_activation act;     /* activation */
    float alpha;           /* leaky ReLU */
    float rate;            /* dropout */
    const float *w, *b;    /* dense: W [out, in], b [out]; borrowed */
} nn_layer_desc;

int nn_graph_layer_count(const nn_graph *g);
/* Layer i, 0 <= i < nn_graph_layer_count(g). */
void nn_graph_layer_desc(const nn_graph *g, int i, nn_layer_desc *d);
void nn_graph_rng_get(const nn_graph *g, uint64_t state[4]);
void nn_graph_rng_set(nn_graph *g, const uint64_t state[4]);

#endif
