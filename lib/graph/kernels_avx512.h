/* AVX-512 helpers shared by kernels.c and kernels_bf16.c. Never installed;
 * include only where <immintrin.h> and GCC's target attributes are there. */
#ifndef NN_LIB_GRAPH_KERNELS_AVX512_H
#define NN_LIB_GRAPH_KERNELS_AVX512_H

#include <immintrin.h>

/* Sixteen vector sums (4 rows x 4 columns) to one vector whose lane
 * 4i + j is the sum of acc[4i + j]: pairwise transposing adds. */
__attribute__((target("avx512f,fma"))) static inline __m512 nn_reduce16(const __m512 a[16])
{
    __m512 t[8], u[4];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        t[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                             _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        u[i] = _mm512_add_ps(_mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                             _mm512_shuffle_ps(t[2 * i], t[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    /* u[i] holds, in each 128-bit lane L, lane L's sums of acc[4i..4i+3] */
    __m512 s01 = _mm512_add_ps(_mm512_shuffle_f32x4(u[0], u[1], 0x88),
                               _mm512_shuffle_f32x4(u[0], u[1], 0xdd));
    __m512 s23 = _mm512_add_ps(_mm512_shuffle_f32x4(u[2], u[3], 0x88),
                               _mm512_shuffle_f32x4(u[2], u[3], 0xdd));
    return _mm512_add_ps(_mm512_shuffle_f32x4(s01, s23, 0x88),
                         _mm512_shuffle_f32x4(s01, s23, 0xdd));
}

#endif
