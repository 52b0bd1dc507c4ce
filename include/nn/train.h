/* libnn — training step and evaluation: where a graph meets an optimizer. */
#ifndef NN_TRAIN_H
#define NN_TRAIN_H

#include <stdint.h>
#include <nn/export.h>
#include <nn/status.h>
#include <nn/tensor.h>
#include <nn/graph.h>
#include <nn/optimizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One training step on a batch: nn_graph_forward_loss(), nn_graph_backward()
 * and nn_optimizer_step(). o must be bound to g. loss may be NULL. */
NN_API nn_status nn_graph_train_step(nn_graph *g, nn_optimizer *o, const nn_tensor *x,
                                     const int32_t *labels, float *loss);

/* nn_graph_train_step on the batch made of rows rows[0..n) of data [N, in]
 * (in any order, repeats allowed), whose classes are labels[rows[k]]
 * (labels has N entries): the same, bit for bit, as copying those rows
 * and their labels into a batch and calling nn_graph_train_step, with the
 * copy done by libnn. On several threads, for graphs the threaded executor
 * runs (chains of dense, activation and dropout layers) and batches of 16
 * rows or more, the threads gather shares of the rows, which a shuffled
 * batch from a large data set reads from memory faster than one thread
 * can. data, labels and rows are only read, during the call.
 * Errors are nn_graph_train_step's (NN_ERR_SHAPE if data is not [N, in],
 * NN_ERR_STATE without a softmax cross-entropy head, ...) and
 * NN_ERR_INVALID_ARGUMENT if n < 1, a row index is outside [0, N) or a
 * picked label outside [0, classes); the graph and the optimizer's
 * state are then as they were. */
NN_API nn_status nn_graph_train_step_rows(nn_graph *g, nn_optimizer *o, const nn_tensor *data,
                                          const int32_t *labels, const int64_t *rows,
                                          int64_t n, float *loss);

/* Mean cross-entropy and accuracy of a softmax cross-entropy graph on x
 * [N, in] with labels, in internal batches, without dropout. Either of loss
 * and accuracy may be NULL. Gradients and the pending backward are kept. */
NN_API nn_status nn_graph_evaluate(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                                   float *loss, float *accuracy);

#ifdef __cplusplus
}
#endif

#endif /* NN_TRAIN_H */
