/* What optimizer.c, sgd.c and adam.c share: the handle's layout, the
 * per-kind update entry points and the chunked threading policy. Never
 * installed. */
#ifndef NN_LIB_OPTIM_INTERNAL_H
#define NN_LIB_OPTIM_INTERNAL_H

#include <stdint.h>
#include <nn/optimizer.h>

/* Run-time dispatch for the element-wise kernels: gcc builds one copy per
 * target and an ifunc resolver picks the widest the CPU has. ifunc needs
 * glibc on ELF; elsewhere the portable loop is the only one. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#  define NN_OPTIM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#  define NN_OPTIM_CLONES
#endif

typedef enum nn_optim_kind {
    NN_OPTIM_SGD,
    NN_OPTIM_ADAM,
    NN_OPTIM_ADAMW
} nn_optim_kind;

/* Arrays are walked in fixed chunks of this many elements (64 KiB of floats,
 * so every chunk keeps the 64-byte alignment); the chunks go to OpenMP
 * threads only when there are more than NN_OPTIM_PARALLEL_MIN elements. The
 * split never depends on the thread count, so neither do the results. */
enum { NN_OPTIM_CHUNK = 16384, NN_OPTIM_PARALLEL_MIN = 65536 };

/* One Adam step's constants, in float. */
typedef struct nn_adam_consts {
    float b1, omb1;       /* beta1, 1 - beta1 */
    float b2, omb2;       /* beta2, 1 - beta2 */
    float cwd;            /* coupled decay: wd for Adam, 0 for AdamW */
    float keep;           /* decoupled decay: 1 - lr wd for AdamW, 1 for Adam */
    float step_size;      /* lr / (1 - b1^t) */
    float inv_sqrt_bc2;   /* 1 / sqrt(1 - b2^t) */
    float eps;
} nn_adam_consts;

struct nn_optimizer {
    nn_optim_kind kind;
    nn_graph *graph;    /* registered with nn_graph_attach: NULL once the graph is gone */
    int64_t n;          /* parameter count when created; the state's size */
    float lr;
    float weight_decay; /* coupled L2 for SGD and Adam, decoupled for AdamW */
    float clip_norm;    /* global L2 norm limit; 0: off */
    float momentum;     /* SGD */
    int nesterov;       /* SGD */
    float beta1, beta2, eps; /* Adam, AdamW */
    int64_t step;       /* steps taken */
    float *state;       /* one allocation: SGD velocity [n]; Adam m [n] then v [n] */
    double *partial;    /* squared norm of each chunk, for clipping [chunks(n)] */
    nn_adam_consts fused; /* Adam: the constants of the step a fused step is
                             taking, set by nn_optimizer_fused_begin */
};

/* The shared part of nn_sgd_create / nn_adam_create / nn_adamw_create:
 * validates (fn names the caller in messages), allocates the zeroed state
 * for the kind, attaches to g and sets every option to its default. *out
 * is untouched on failure. */
nn_status nn_optim_create(nn_optimizer **out, const char *fn, nn_optim_kind kind,
                          nn_graph *g, float lr, float weight_decay);

/* One update of the n parameters w from the gradients g (already clipped);
 * t = 1 on the first step. */
void nn_sgd_update(nn_optimizer *o, float *w, const float *g);
void nn_adam_update(nn_optimizer *o, float *w, const float *g, int64_t t);

/* The same updates restricted to elements [lo, lo + len), for a step fused
 * into the backward pass: each range as soon as its gradient is final. */
void nn_sgd_range(nn_optimizer *o, float *w, const float *g, int64_t lo, int64_t len);
/* Adam's ranges use the constants nn_adam_prepare(o, t) stored in
 * o->fused: a backward pass may call this thousands of times a step. */
void nn_adam_prepare(nn_optimizer *o, int64_t t);
void nn_adam_range(nn_optimizer *o, float *w, const float *g, int64_t lo, int64_t len);

/* A step in pieces, for lib/train.c: begin checks what nn_optimizer_step
 * checks (NN_ERR_UNSUPPORTED with clipping on, which needs every gradient
 * before any update); range may then run on disjoint ranges from several
 * threads at once; end counts the step. Together they give the same bits
 * as nn_optimizer_step. */
nn_status nn_optimizer_fused_begin(nn_optimizer *o);
void nn_optimizer_fused_range(nn_optimizer *o, int64_t lo, int64_t len);
void nn_optimizer_fused_end(nn_optimizer *o);

/* Calls fn(ctx, chunk index, first element, length) for every chunk of
 * 0..n-1, in parallel when n > NN_OPTIM_PARALLEL_MIN. */
typedef void nn_optim_chunk_fn(void *ctx, int64_t chunk, int64_t lo, int64_t len);
void nn_optim_for_chunks(nn_optimizer *o, nn_optim_chunk_fn *fn, void *ctx);

static inline int64_t nn_optim_chunks(int64_t n)
{
    return (n + NN_OPTIM_CHUNK - 1) / NN_OPTIM_CHUNK;
}

/* For checkpoints (lib/io/model.c): the kind's state arrays, each n floats
 * laid out as the graph's values: 1 for SGD (velocity), 2 for Adam and AdamW
 * (m, then v). Borrowed; 0 <= slot < nn_optim_state_slots(o). */
int nn_optim_state_slots(const nn_optimizer *o);
float *nn_optim_state(nn_optimizer *o, int slot);

#endif
