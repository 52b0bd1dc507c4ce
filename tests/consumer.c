/* A third-party program: built only with pkg-config's flags against an
 * installed libnn, it checks that header and library agree and work. */
#include <stdio.h>
#include <string.h>
#include <nn/nn.h>

int main(void)
{
    if (nn_version_number() != NN_VERSION_NUMBER) {
        printf("header %d, library %u\n", NN_VERSION_NUMBER, nn_version_number());
        return 1;
    }
    nn_tensor *t = NULL;
    int64_t dims[2] = {2, 3};
    float in[6] = {1, 2, 3, 4, 5, 6}, out[6] = {0};
    if (nn_tensor_create(&t, 2, dims) != NN_OK || nn_tensor_copy_from(t, in, 6) != NN_OK ||
        nn_tensor_copy_to(t, out, 6) != NN_OK || memcmp(in, out, sizeof in) != 0) {
        printf("tensor round trip failed: %s\n", nn_last_error());
        return 1;
    }
    nn_tensor_destroy(t);
    if (nn_tensor_create(&t, 0, dims) != NN_ERR_INVALID_ARGUMENT) {
        printf("bad ndim accepted\n");
        return 1;
    }
    printf("consumer: libnn %s linked through pkg-config works\n", nn_version_string());
    return 0;
}
