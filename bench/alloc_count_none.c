/* bench_alloc_count() where the counting allocator is not built in (see
 * alloc_count.c): bench_train then reports no allocation figures. */
#include "alloc_count.h"

long long bench_alloc_count(void)
{
    return -1;
}
