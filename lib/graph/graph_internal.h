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

/* Whether the graph ends in a softmax cross-entropy head. */
int nn_graph_has_softmax_head(const nn_graph *g);

/* Adding a dense layer reallocates both arrays and changes the count: an
 * optimizer compares nn_graph_numel() with its state size before a step. */

#endif
