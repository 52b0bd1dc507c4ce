/* libnn's own worker threads. A training step needs only a few parallel
 * phases, each a list of independent tasks; running them on a small pool
 * whose idle threads spin briefly and then sleep keeps a step fast on an
 * idle machine and keeps it from collapsing when another process holds a
 * core (spinning OpenMP barriers wait out the scheduler's whole time slice
 * there). Never installed. */
#ifndef NN_LIB_POOL_H
#define NN_LIB_POOL_H

#include <stdint.h>
#include <nn/status.h>

typedef struct nn_pool nn_pool;

/* libnn computes with subnormal floats flushed to zero (inputs and
 * results): Adam's moments of rarely-active weights decay into the
 * subnormal range, where every operation is many times slower, and a
 * 1e-38 makes no difference to a network. Enter sets the calling thread's
 * mode and returns the old one, for leave to restore; the pool's workers
 * run in this mode always. */
unsigned nn_fpmode_enter(void);
void nn_fpmode_leave(unsigned old);

/* fn(ctx, task) for one task; tasks of one run must be independent. */
typedef void nn_pool_fn(void *ctx, int task);

/* A pool of nthreads threads in all: the caller of nn_pool_run plus
 * nthreads - 1 workers, each running oneDNN single-threaded. */
nn_status nn_pool_create(nn_pool **out, int nthreads);
void nn_pool_destroy(nn_pool *p);
int nn_pool_threads(const nn_pool *p);
/* Stalls so far: runs in which the caller waited out a descheduled worker,
 * or did every task itself run after run (see pool.c); each sends the
 * pool's work to the caller alone for a while. */
int64_t nn_pool_stalls(const nn_pool *p);

/* For tests: while hold is non-zero, the workers keep watching for runs
 * but take no task, as if the scheduler kept them off their cores between
 * tasks. Takes effect from the next run. Only for dynamic and affine runs,
 * which the caller can finish alone: a static run would never finish. */
void nn_pool_hold_workers(nn_pool *p, int hold);

/* The calling thread's index in the pool whose task it runs: 1.. for a
 * worker, 0 for any other thread (the caller of nn_pool_run). */
int nn_pool_thread_index(void);

/* How nn_pool_run shares tasks out. Static: thread k (the caller is 0)
 * runs the contiguous range ntasks*k/n .. ntasks*(k+1)/n - 1, so each
 * thread touches the same data every call (weights stay in its cache).
 * Affine: the same ranges, but a thread done with its own takes what is
 * left of the others', so a descheduled thread holds up one task at most.
 * Dynamic: each thread takes the next undone task. */
enum { NN_POOL_STATIC = 0, NN_POOL_DYNAMIC = 1, NN_POOL_AFFINE = 2 };

/* Runs tasks 0..ntasks-1 (at most 32767) and returns when all are done,
 * on the caller alone for a while after a stall (pool.c), mode one of
 * NN_POOL_*. Allocates nothing. */
void nn_pool_run(nn_pool *p, int ntasks, nn_pool_fn *fn, void *ctx, int mode);

#endif
