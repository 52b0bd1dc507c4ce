/* libnn — learning-rate schedules as pure functions of the step. */
#ifndef NN_SCHEDULE_H
#define NN_SCHEDULE_H

#include <stdint.h>
#include <nn/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* base * gamma^floor(step / every); base when every <= 0 or step < 0. */
NN_API float nn_lr_step_decay(float base, int64_t step, int64_t every, float gamma);

/* Cosine annealing from base (step 0) to min_lr (step >= total):
 * min_lr + (base - min_lr) * (1 + cos(pi * step / total)) / 2.
 * base when total <= 0 or step < 0. */
NN_API float nn_lr_cosine(float base, float min_lr, int64_t step, int64_t total);

/* Linear warm-up: base * (step + 1) / warmup while step < warmup, then base.
 * base when warmup <= 0 (whatever the step); otherwise 0 when step < 0. */
NN_API float nn_lr_warmup_linear(float base, int64_t step, int64_t warmup);

#ifdef __cplusplus
}
#endif

#endif /* NN_SCHEDULE_H */
