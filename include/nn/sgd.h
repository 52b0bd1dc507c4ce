/* libnn — stochastic gradient descent, with optional (Nesterov) momentum. */
#ifndef NN_SGD_H
#define NN_SGD_H

#include <nn/optimizer.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Plain SGD on g's parameters: w <- w - lr * g (lr finite, >= 0).
 * On success *out owns the optimizer: release it with
 * nn_optimizer_destroy() before destroying g. */
NN_API nn_status nn_sgd_create(nn_optimizer **out, nn_graph *g, float lr);

/* Momentum (0 <= momentum < 1; default 0, off), PyTorch semantics with
 * dampening 0, g including any weight decay:
 * v <- momentum * v + g; w <- w - lr * v, or with nesterov != 0
 * w <- w - lr * (g + momentum * v). v starts at 0. NN_ERR_INVALID_ARGUMENT
 * on a non-SGD optimizer. */
NN_API nn_status nn_sgd_set_momentum(nn_optimizer *o, float momentum, int nesterov);

#ifdef __cplusplus
}
#endif

#endif /* NN_SGD_H */
