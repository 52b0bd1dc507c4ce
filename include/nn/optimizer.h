/* libnn — the generic optimizer handle. Create one with nn_sgd_create(),
 * nn_adam_create() or nn_adamw_create(). */
#ifndef NN_OPTIMIZER_H
#define NN_OPTIMIZER_H

#include <stdint.h>
#include <nn/export.h>
#include <nn/status.h>
#include <nn/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An optimizer bound to one graph's parameters, with its state (momentum,
 * moments), all allocated when it is created. Opaque. Destroy the optimizer
 * before its graph. If the graph is destroyed first anyway, the optimizer
 * notices: nn_optimizer_step() then returns NN_ERR_STATE, the setters and
 * queries still work, and nn_optimizer_destroy() still frees it safely. */
typedef struct nn_optimizer nn_optimizer;

/* Applies the graph's current gradients to its parameters (one step) and
 * counts it. Allocates nothing. NN_ERR_STATE, changing nothing, if the
 * graph was destroyed or has gained layers since the optimizer was created
 * (make a new optimizer after the last nn_graph_add_dense()). Results do
 * not depend on the thread count. */
NN_API nn_status nn_optimizer_step(nn_optimizer *o);

/* Coupled L2 decay (wd finite, >= 0; default 0): g <- g + wd * w before
 * the update, as PyTorch's weight_decay for SGD and Adam. For AdamW this
 * sets the decoupled decay instead. */
NN_API nn_status nn_optimizer_set_weight_decay(nn_optimizer *o, float wd);

/* Clips the global L2 norm of all gradients to max_norm (finite, >= 0)
 * before each update, as PyTorch's clip_grad_norm_: when
 * max_norm / (norm + 1e-6) < 1 the graph's gradients are scaled by it in
 * place. 0 (the default) disables. */
NN_API nn_status nn_optimizer_set_clip_norm(nn_optimizer *o, float max_norm);

/* Learning rate for the next steps (finite, >= 0). */
NN_API nn_status nn_optimizer_set_lr(nn_optimizer *o, float lr);

/* Current learning rate; 0 for NULL. */
NN_API float nn_optimizer_lr(const nn_optimizer *o);

/* Steps taken so far; 0 for NULL. */
NN_API int64_t nn_optimizer_step_count(const nn_optimizer *o);

/* Frees the optimizer and its state. NULL is a no-op. Call it before
 * destroying the graph; after is safe too (see nn_optimizer above). */
NN_API void nn_optimizer_destroy(nn_optimizer *o);

#ifdef __cplusplus
}
#endif

#endif /* NN_OPTIMIZER_H */
