/* libnn — Adam and AdamW. */
#ifndef NN_ADAM_H
#define NN_ADAM_H

#include <nn/optimizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Adam (Kingma & Ba) on g's parameters, beta1 0.9, beta2 0.999, eps 1e-7
 * (Keras's defaults). At step t:
 *   m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g^2
 *   w <- w - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * On success *out owns the optimizer: release it with
 * nn_optimizer_destroy() before destroying g. */
NN_API nn_status nn_adam_create(nn_optimizer **out, nn_graph *g, float lr);

/* AdamW: Adam with decoupled weight decay (weight_decay finite, >= 0):
 * w <- w - lr * weight_decay * w before the Adam update, whose g then
 * excludes it. nn_optimizer_set_weight_decay() changes it later. (Plain
 * Adam's weight decay, off by default, is coupled: g <- g + wd * w.) */
NN_API nn_status nn_adamw_create(nn_optimizer **out, nn_graph *g, float lr,
                                 float weight_decay);

/* beta1 and beta2 each in [0, 1). NN_ERR_INVALID_ARGUMENT on SGD, or on a
 * value out of range (then neither is changed). */
NN_API nn_status nn_adam_set_betas(nn_optimizer *o, float beta1, float beta2);

/* eps > 0 and finite. NN_ERR_INVALID_ARGUMENT on SGD. */
NN_API nn_status nn_adam_set_epsilon(nn_optimizer *o, float eps);

#ifdef __cplusplus
}
#endif

#endif /* NN_ADAM_H */
