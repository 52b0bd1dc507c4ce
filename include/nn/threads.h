/* libnn — thread count. */
#ifndef NN_THREADS_H
#define NN_THREADS_H

#include <nn/export.h>
#include <nn/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest thread count nn_set_num_threads accepts. */
#define NN_MAX_THREADS 1024

/* Sets how many threads oneDNN and libnn's own loops use, process-wide,
 * from the next call on (1 <= n <= NN_MAX_THREADS). The default is OpenMP's (OMP_NUM_THREADS,
 * else one per core). */
NN_API nn_status nn_set_num_threads(int n);

/* The thread count libnn's calls use. */
NN_API int nn_get_num_threads(void);

#ifdef __cplusplus
}
#endif

#endif /* NN_THREADS_H */
