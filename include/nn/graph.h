/* libnn — graphs of layers: building, forward and backward passes. */
#ifndef NN_GRAPH_H
#define NN_GRAPH_H

#include <stdint.h>
#include <nn/export.h>
#include <nn/status.h>
#include <nn/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A chain of layers with its parameters, gradients and the per-batch-size
 * working memory. Opaque. One graph must not be used by two threads at once;
 * distinct graphs may be used from distinct threads. */
typedef struct nn_graph nn_graph;

/* Element-wise activations. Values pinned, append-only. */
typedef enum nn_activation {
    NN_ACT_RELU = 0,
    NN_ACT_SIGMOID = 1,
    NN_ACT_TANH = 2,
    NN_ACT_GELU = 3 /* erf form: x * (1 + erf(x / sqrt 2)) / 2 */
} nn_activation;

/* Weight initialisation schemes (fan_in, fan_out of a dense layer).
 * Values pinned, append-only. */
typedef enum nn_init {
    NN_INIT_GLOROT_UNIFORM = 0, /* U(-a, a), a = sqrt(6 / (fan_in + fan_out)) */
    NN_INIT_GLOROT_NORMAL = 1,  /* N(0, 2 / (fan_in + fan_out)) */
    NN_INIT_HE_UNIFORM = 2,     /* U(-a, a), a = sqrt(6 / fan_in) */
    NN_INIT_HE_NORMAL = 3       /* N(0, 2 / fan_in) */
} nn_init;

/* Arithmetic of the matrix products in training passes. Values pinned,
 * append-only. */
typedef enum nn_precision {
    NN_PRECISION_F32 = 0, /* the default: f32 throughout */
    NN_PRECISION_BF16 = 1 /* bf16 operands, f32 sums: see nn_graph_set_training_precision */
} nn_precision;

/* Creates an empty graph whose input rows have in_features (>= 1) values.
 * On success *out owns the graph: release it with nn_graph_destroy(). */
NN_API nn_status nn_graph_create(nn_graph **out, int64_t in_features);

/* Frees the graph, its parameters and working memory. NULL is a no-op.
 * Tensors borrowed from it become invalid. */
NN_API void nn_graph_destroy(nn_graph *g);

/* Appends a fully connected layer y = x W^T + b with W [units, in] row-major
 * and b [units]. W is Glorot-uniform from the graph's generator, b is zero. */
NN_API nn_status nn_graph_add_dense(nn_graph *g, int64_t units);

/* Appends an element-wise activation. */
NN_API nn_status nn_graph_add_activation(nn_graph *g, nn_activation a);

/* Appends a leaky ReLU: y = x for x > 0, alpha * x otherwise (alpha finite,
 * >= 0). */
NN_API nn_status nn_graph_add_leaky_relu(nn_graph *g, float alpha);

/* Appends inverted dropout (0 <= rate < 1): in training forward passes each
 * value is zeroed with probability rate and the rest scaled by 1/(1-rate);
 * the identity in nn_graph_forward(). */
NN_API nn_status nn_graph_add_dropout(nn_graph *g, float rate);

/* Appends the loss head: softmax followed by cross-entropy, fused. At most
 * one head per graph and it is last: adding anything after it gives
 * NN_ERR_STATE. */
NN_API nn_status nn_graph_add_softmax_cross_entropy(nn_graph *g);

/* Appends the loss head: mean squared error over all N*out elements. */
NN_API nn_status nn_graph_add_mse_loss(nn_graph *g);

/* Re-initialises every dense weight with the scheme (biases to zero) and
 * reseeds the graph's generator, which dropout draws from too. */
NN_API nn_status nn_graph_init_params(nn_graph *g, nn_init scheme, uint64_t seed);

/* Input width; 0 for NULL. */
NN_API int64_t nn_graph_in_features(const nn_graph *g);

/* Width of the last layer's output (the input width while there is no
 * layer); 0 for NULL. */
NN_API int64_t nn_graph_out_features(const nn_graph *g);

/* Inference: x [N, in] -> y [N, out] for any N >= 1. With a softmax
 * cross-entropy head y holds probabilities; otherwise the last layer's
 * outputs. Dropout is the identity. x and y are not retained. */
NN_API nn_status nn_graph_forward(nn_graph *g, const nn_tensor *x, nn_tensor *y);

/* Training forward with a softmax cross-entropy head: x [N, in], labels[i]
 * in [0, out) for i < N. *loss receives the mean cross-entropy over N.
 * The inputs are copied: x and labels may be released right away. */
NN_API nn_status nn_graph_forward_loss(nn_graph *g, const nn_tensor *x,
                                       const int32_t *labels, float *loss);

/* Training forward with explicit targets [N, out]: class probabilities for
 * softmax cross-entropy, values for MSE (mean over N*out elements). */
NN_API nn_status nn_graph_forward_loss_targets(nn_graph *g, const nn_tensor *x,
                                               const nn_tensor *targets, float *loss);

/* Gradients of the last training forward's mean loss with respect to every
 * parameter, overwriting the previous ones. NN_ERR_STATE without a
 * preceding training forward (each forward allows one backward). */
NN_API nn_status nn_graph_backward(nn_graph *g);

/* Sets the precision of the training passes' matrix products (forward
 * with a loss, backward, nn_graph_train_step); nn_graph_forward() and
 * nn_graph_evaluate() always compute in f32. With NN_PRECISION_BF16 the
 * dense layers' forward products and weight gradients round both operands
 * to bfloat16 (nearest even, subnormals to zero) and sum in f32; data
 * gradients, biases, activations, the loss, parameters, gradients and the
 * optimizer state stay f32. Faster on CPUs with AVX512_BF16, and changes
 * results (docs/graph.md). Not stored in saved models.
 * NN_ERR_UNSUPPORTED for bf16 where the CPU lacks AVX512_BF16 (and, at the
 * next training forward, for graphs of more than 64 dense layers);
 * NN_ERR_STATE between a training forward and its backward. */
NN_API nn_status nn_graph_set_training_precision(nn_graph *g, nn_precision p);

/* The training precision; NN_PRECISION_F32 for NULL. */
NN_API nn_precision nn_graph_training_precision(const nn_graph *g);

/* Number of parameter tensors (two per dense layer); 0 for NULL. */
NN_API int nn_graph_param_count(const nn_graph *g);

/* Parameter i (0 <= i < count) and its gradient, in order: each dense layer
 * in turn, its W [units, in] then its b [units]. Either out-pointer may be
 * NULL. Borrowed: owned by the graph, valid until it is destroyed (adding
 * a dense layer keeps them, with their values, but moves their elements:
 * pointers from nn_tensor_data() taken before it are stale); never
 * destroy or reshape them. Set weights with nn_tensor_copy_from(), read
 * them with nn_tensor_copy_to(). Writing through nn_tensor_data() works
 * too, at any time, but the graph then stops keeping its faster copy of
 * the weights for one-row inference (docs/graph.md). */
NN_API nn_status nn_graph_param(nn_graph *g, int i, nn_tensor **value, nn_tensor **grad);

#ifdef __cplusplus
}
#endif

#endif /* NN_GRAPH_H */
