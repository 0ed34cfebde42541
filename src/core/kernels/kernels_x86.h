/*
 * kernels_x86.h — helpers shared by kernels_avx2.c and kernels_avx512.c: static inline, so each
 * file compiles them with its own ISA flags (both levels have AVX2 + FMA + F16C). Also the row
 * loops both levels wrap around their block kernels, as macros over those kernels.
 */
#ifndef RT_CORE_KERNELS_X86_H
#define RT_CORE_KERNELS_X86_H

#include "core/kernels/kernels.h"

#include <immintrin.h>

/* Loops over activation rows and block pairs run a constant number of times: unrolled, their
 * accumulators stay in registers. */
#define UNROLL _Pragma("GCC unroll 8")

/* How far ahead in the weights to prefetch (decode). Measured on one Zen 5 core with a 125M
 * model's q8_0 weights (121 MB): none 6.4 GB/s, 1 KiB 12.0, 2 KiB 12.8, 4 KiB 18.3, 6 KiB
 * similar; the hardware prefetcher alone keeps too few lines in flight. */
#define PREFETCH_BYTES 4096

static inline float f16(uint16_t h) {
    return _cvtsh_ss(h);
}

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 floats to 8 bf16 in the low 16 bits of each 32-bit lane, round to nearest even, NaN kept
 * quiet (the same bits as rt_f32_to_bf16; VCVTNEPS2BF16 would flush subnormals). */
static inline __m256i bf16_round(__m256 v) {
    __m256i u = _mm256_castps_si256(v);
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(
        _mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff))), 16);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffffff)),
                                     _mm256_set1_epi32(0x7f800000));
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(64));
    return _mm256_blendv_epi8(r, q, nan);
}

/* The 32 quants of a q4_0 block as signed bytes in [-8, 7], in element order. */
static inline __m256i q4_unpack(const uint8_t *qs) {
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    return _mm256_sub_epi8(_mm256_set_m128i(hi, lo), _mm256_set1_epi8(8));
}

/* quantize_row_q8_0 and quantize_row_q8_act of kernels.h from a block quantizer
 * `__m256i block(const float *x, float *d)` (32 quants in element order, f32 scale in *d). */
#define DEFINE_QUANTIZE_ROWS(block)                                                                \
    static void quantize_row_q8_0(const float *x, rt_block_q8_0 *y, int64_t n) {                   \
        for (int64_t b = 0; b < n / RT_QK; b++) {                                                  \
            float d;                                                                               \
            __m256i q = block(x + b * RT_QK, &d);                                                  \
            y[b].d = rt_f32_to_f16(d);                                                             \
            _mm256_storeu_si256((__m256i *)y[b].qs, q);                                            \
        }                                                                                          \
    }                                                                                              \
    static void quantize_row_q8_act(const float *x, uint8_t *xq, float *xd, int64_t n) {           \
        for (int64_t b = 0; b < n / RT_QK; b++) {                                                  \
            float d;                                                                               \
            __m256i q = block(x + b * RT_QK, &d);                                                  \
            xd[b] = f16(rt_f32_to_f16(d));                                                         \
            _mm256_storeu_si256((__m256i *)(xq + b * RT_QK),                                       \
                                _mm256_xor_si256(q, _mm256_set1_epi8((char)0x80)));                \
        }                                                                                          \
    }

/* dot_q8_0_q8 and dot_q4_0_q8 of kernels.h from an always-inline row kernel
 * `dot_q_nx(int q4, int nx, n, w, xq, xd, out, out_stride)` taking nx activation rows (nx a
 * constant: nx_max, then 1 for the rest). */
#define DEFINE_DOT_Q_ROW(name, block, q4, dot_q_nx, nx_max)                                        \
    static void name(int64_t n, const block *w, const uint8_t *xq, const float *xd, int n_x,       \
                     float *out, size_t out_stride) {                                              \
        int t = 0;                                                                                 \
        for (; t + (nx_max) <= n_x; t += (nx_max))                                                 \
            dot_q_nx(q4, (nx_max), n, w, xq + t * n, xd + t * n / RT_QK, out + t * out_stride,     \
                     out_stride);                                                                  \
        for (; t < n_x; t++)                                                                       \
            dot_q_nx(q4, 1, n, w, xq + t * n, xd + t * n / RT_QK, out + t * out_stride,            \
                     out_stride);                                                                  \
    }
#define DEFINE_DOT_Q_ROWS(dot_q_nx, nx_max)                                                        \
    DEFINE_DOT_Q_ROW(dot_q8_0_q8, rt_block_q8_0, 0, dot_q_nx, nx_max)                              \
    DEFINE_DOT_Q_ROW(dot_q4_0_q8, rt_block_q4_0, 1, dot_q_nx, nx_max)

/* The row loop of a 16-bit-float dot product `name` of kernels.h around its always-inline
 * kernel name##_nx(nx, n, w, x, x_stride, out, out_stride), four activation rows at a time. */
#define DEFINE_DOT_H_ROWS(name)                                                                    \
    static void name(int64_t n, const uint16_t *w, const float *x, size_t x_stride, int n_x,       \
                     float *out, size_t out_stride) {                                              \
        int t = 0;                                                                                 \
        for (; t + 4 <= n_x; t += 4)                                                               \
            name##_nx(4, n, w, x + (size_t)t * x_stride, x_stride, out + t * out_stride,           \
                      out_stride);                                                                 \
        for (; t < n_x; t++)                                                                       \
            name##_nx(1, n, w, x + (size_t)t * x_stride, x_stride, out + t * out_stride,           \
                      out_stride);                                                                 \
    }

#endif
