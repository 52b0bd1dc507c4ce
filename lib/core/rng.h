/* The graph's random generator: xoshiro256** seeded through splitmix64.
 * Same seed, same sequence, on every platform. */
#ifndef NN_LIB_RNG_H
#define NN_LIB_RNG_H

#include <stdint.h>

typedef struct nn_rng {
    uint64_t s[4];
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_next(nn_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float nn_rng_uniform(nn_rng *r);
/* Standard normal (Box-Muller on two draws), computed in double. */
double nn_rng_normal(nn_rng *r);

#endif
