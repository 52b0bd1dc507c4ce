/* libnn — status codes and error reporting. */
#ifndef NN_STATUS_H
#define NN_STATUS_H

#include <nn/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every fallible libnn call returns an nn_status. The values are pinned:
 * they are never renumbered or reused, and new ones are only appended. */
typedef enum nn_status {
    NN_OK = 0,
    NN_ERR_INVALID_ARGUMENT = 1, /* NULL pointer, out-of-range value */
    NN_ERR_SHAPE = 2,            /* dimensions or element counts disagree */
    NN_ERR_OUT_OF_MEMORY = 3,    /* an allocation failed */
    NN_ERR_STATE = 4,            /* call not valid in the object's state */
    NN_ERR_IO = 5,               /* a file could not be opened, read or written */
    NN_ERR_FORMAT = 6,           /* a file or buffer is malformed */
    NN_ERR_BACKEND = 7,          /* oneDNN reported a failure */
    NN_ERR_UNSUPPORTED = 8       /* valid request this build cannot serve */
} nn_status;

/* Short English name of a status ("invalid argument"). Returns a static
 * string, never NULL; unknown values give "unknown status". */
NN_API const char *nn_status_str(nn_status s);

/* Detail of the most recent failed call made by this thread, naming the
 * function and the offending value ("nn_tensor_create: dims[1] is 0, must be
 * >= 1"); "" if no call on this thread has failed. Successful calls leave it
 * unchanged, as errno is. Borrowed: valid until the next libnn call on this
 * thread; never free it. */
NN_API const char *nn_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* NN_STATUS_H */
