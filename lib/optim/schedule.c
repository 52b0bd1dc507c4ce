/* Learning-rate schedules: pure functions of the step, computed in double. */
#include <math.h>

#include <nn/schedule.h>

static const double pi = 3.14159265358979323846;

float nn_lr_step_decay(float base, int64_t step, int64_t every, float gamma)
{
    if (every <= 0 || step < 0)
        return base;
    return (float)((double)base * pow((double)gamma, (double)(step / every)));
}

float nn_lr_cosine(float base, float min_lr, int64_t step, int64_t total)
{
    if (total <= 0 || step < 0)
        return base;
    if (step >= total)
        return min_lr;
    double c = cos(pi * (double)step / (double)total);
    return (float)((double)min_lr + ((double)base - (double)min_lr) * (1.0 + c) / 2.0);
}

float nn_lr_warmup_linear(float base, int64_t step, int64_t warmup)
{
    if (warmup <= 0)
        return base;
    if (step < 0)
        return 0.0f;
    if (step >= warmup)
        return base;
    return (float)((double)base * (double)(step + 1) / (double)warmup);
}
