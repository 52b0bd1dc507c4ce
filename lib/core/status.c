/* Status names and the thread-local last error. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

static _Thread_local char last_error[512];

const char *nn_status_str(nn_status s)
{
    switch (s) {
    case NN_OK: return "ok";
    case NN_ERR_INVALID_ARGUMENT: return "invalid argument";
    case NN_ERR_SHAPE: return "shape mismatch";
    case NN_ERR_OUT_OF_MEMORY: return "out of memory";
    case NN_ERR_STATE: return "invalid state";
    case NN_ERR_IO: return "input/output error";
    case NN_ERR_FORMAT: return "malformed data";
    case NN_ERR_BACKEND: return "backend (oneDNN) error";
    case NN_ERR_UNSUPPORTED: return "unsupported";
    }
    return "unknown status";
}

const char *nn_last_error(void)
{
    return last_error;
}

nn_status nn_fail(nn_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

nn_status nn_fail_in(const char *fn, nn_status s)
{
    size_t n = strlen(fn);
    if (s == NN_OK || (strncmp(last_error, fn, n) == 0 && last_error[n] == ':'))
        return s;
    char inner[sizeof last_error];
    memcpy(inner, last_error, sizeof inner);
    snprintf(last_error, sizeof last_error, "%s: %.440s", fn, inner);
    return s;
}
