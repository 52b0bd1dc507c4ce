/* The process-wide thread count. OpenMP keeps its count per thread, so every
 * computing call copies the process-wide value into the calling thread. */
#include <stdatomic.h>
#include <omp.h>

#include <nn/threads.h>
#include "core.h"

static atomic_int num_threads; /* 0: OpenMP's default */

nn_status nn_set_num_threads(int n)
{
    if (n < 1)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_set_num_threads: n is %d, must be >= 1", n);
    if (n > NN_MAX_THREADS)
        return nn_fail(NN_ERR_INVALID_ARGUMENT, "nn_set_num_threads: n is %d, must be <= %d", n,
                       NN_MAX_THREADS);
    atomic_store(&num_threads, n);
    omp_set_num_threads(n);
    return NN_OK;
}

int nn_get_num_threads(void)
{
    int n = atomic_load(&num_threads);
    return n > 0 ? n : omp_get_max_threads();
}

void nn_threads_apply(void)
{
    int n = atomic_load(&num_threads);
    if (n > 0 && omp_get_max_threads() != n)
        omp_set_num_threads(n);
}
