#include <nn/version.h>

unsigned nn_version_number(void)
{
    return NN_VERSION_NUMBER;
}

const char *nn_version_string(void)
{
    return NN_VERSION_STRING;
}
