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

/* Mean cross-entropy and accuracy of a softmax cross-entropy graph on x
 * [N, in] with labels, in internal batches, without dropout. Either of loss
 * and accuracy may be NULL. Gradients and the pending backward are kept. */
NN_API nn_status nn_graph_evaluate(nn_graph *g, const nn_tensor *x, const int32_t *labels,
                                   float *loss, float *accuracy);

#ifdef __cplusplus
}
#endif

#endif /* NN_TRAIN_H */
