/*
 * kernels_avx2.c — the kernels of kernels.h for AVX2 + FMA + F16C (256-bit vectors).
 *
 * Integer dot products use the sign trick: VPMADDUBSW multiplies unsigned by signed bytes, so
 * |w| is paired with x negated where w < 0 (VPSIGNB); sums of byte pairs stay below 2^15 because
 * activation quants are within [-127, 127]. Each weight block is loaded and prepared once and
 * used for up to four activation rows (prefill).
 */
#include "core/kernels/kernels_x86.h"

#define NX_MAX 4 /* activation rows per pass over a weight row */

/* ---- conversions ------------------------------------------------------------------------ */

static void f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++)
        y[i] = f16(x[i]);
}

static void bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_castsi256_ps(_mm256_slli_epi32(u, 16)));
    }
    for (; i < n; i++)
        y[i] = rt_bf16_to_f32(x[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = rt_f32_to_f16(x[i]);
}

static void f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = bf16_round(_mm256_loadu_ps(x + i)), b = bf16_round(_mm256_loadu_ps(x + i + 8));
        __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);
        _mm256_storeu_si256((__m256i *)(y + i), p);
    }
    for (; i < n; i++)
        y[i] = rt_f32_to_bf16(x[i]);
}

static void q8_0_to_f32(const rt_block_q8_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        __m256 d = _mm256_set1_ps(f16(x[b].d));
        for (int j = 0; j < RT_QK; j += 8) {
            __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(x[b].qs + j)));
            _mm256_storeu_ps(y + b * RT_QK + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), d));
        }
    }
}

static void q4_0_to_f32(const rt_block_q4_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        __m256 d = _mm256_set1_ps(f16(x[b].d));
        __m256i q = q4_unpack(x[b].qs);
        __m128i q16[2] = {_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1)};
        for (int h = 0; h < 2; h++) {
            __m256i lo = _mm256_cvtepi8_epi32(q16[h]);
            __m256i hi = _mm256_cvtepi8_epi32(_mm_srli_si128(q16[h], 8));
            _mm256_storeu_ps(y + b * RT_QK + h * 16, _mm256_mul_ps(_mm256_cvtepi32_ps(lo), d));
            _mm256_storeu_ps(y + b * RT_QK + h * 16 + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(hi), d));
        }
    }
}

/* roundf(): half away from zero, exactly (v - trunc(v) is exact in float). */
static inline __m256 round_away(__m256 v) {
    __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 sign = _mm256_and_ps(v, _mm256_set1_ps(-0.0f));
    __m256 frac = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_sub_ps(v, t));
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    return _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(sign, _mm256_set1_ps(1.0f))));
}

/* One q8_0 block of x (32 floats): the quants in element order, the f32 scale in *d. */
static inline __m256i quantize_block(const float *x, float *d) {
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; j++) {
        v[j] = _mm256_loadu_ps(x + j * 8);
        amax = _mm256_max_ps(amax, _mm256_and_ps(v[j], abs_mask));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    *d = _mm_cvtss_f32(m) / 127.0f;
    float id = *d ? 1.0f / *d : 0.0f;
    __m256i q[4];
    for (int j = 0; j < 4; j++)
        q[j] = _mm256_cvttps_epi32(round_away(_mm256_mul_ps(v[j], _mm256_set1_ps(id))));
    /* packs work within 128-bit lanes: restore element order with a dword permute */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

DEFINE_QUANTIZE_ROWS(quantize_block)
/* ---- dot products ----------------------------------------------------------------------- */

/* Sum of w[i] * x[i] over 32 signed bytes, as 8 int32 partial sums. */
static inline __m256i dot_i8(__m256i abs_w, __m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

static inline __m256i load_q8_0(const rt_block_q8_0 *b) {
    return _mm256_loadu_si256((const __m256i *)b->qs);
}
static inline __m256i load_q4_0(const rt_block_q4_0 *b) {
    return q4_unpack(b->qs);
}

/* One weight row (q8_0, or q4_0 when `q4`) against nx activation rows (q8_act layout).
 * always_inline with constant q4 and nx keeps the accumulators in registers. */
static inline __attribute__((always_inline)) void dot_q_nx(int q4, int nx, int64_t n, const void *w,
                                                           const uint8_t *xq, const float *xd,
                                                           float *out, size_t os) {
    const rt_block_q8_0 *w8 = w;
    const rt_block_q4_0 *w4 = w;
    const int64_t nb = n / RT_QK;
    __m256 acc[NX_MAX];
    UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        _mm_prefetch((q4 ? (const char *)&w4[b] : (const char *)&w8[b]) + PREFETCH_BYTES,
                     _MM_HINT_T0);
        __m256i wq = q4 ? load_q4_0(&w4[b]) : load_q8_0(&w8[b]);
        __m256i aw = _mm256_sign_epi8(wq, wq);
        float dw = f16(q4 ? w4[b].d : w8[b].d);
        UNROLL for (int t = 0; t < nx; t++) {
            __m256i x = _mm256_loadu_si256((const __m256i *)(xq + t * n + b * RT_QK));
            x = _mm256_xor_si256(x, _mm256_set1_epi8((char)0x80));
            __m256 s = _mm256_cvtepi32_ps(dot_i8(aw, wq, x));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dw * xd[t * nb + b]), s, acc[t]);
        }
    }
    UNROLL for (int t = 0; t < nx; t++) out[t * os] = hsum256(acc[t]);
}

DEFINE_DOT_Q_ROWS(dot_q_nx, NX_MAX)

/* 8 weights of a 16-bit float row as f32. */
static inline __m256 load8_f16(const uint16_t *w) {
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)w));
}
static inline __m256 load8_bf16(const uint16_t *w) {
    __m256i u = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)w));
    return _mm256_castsi256_ps(_mm256_slli_epi32(u, 16));
}

/* Weight row (16-bit floats) against NX f32 rows, two independent accumulators per row. */
#define DEFINE_DOT_H(name, load8, to_f32)                                                          \
    static inline __attribute__((always_inline)) void name##_nx(                                   \
        int nx, int64_t n, const uint16_t *w, const float *x, size_t x_stride, float *out,         \
        size_t out_stride) {                                                                       \
        __m256 acc0[NX_MAX], acc1[NX_MAX];                                                         \
        UNROLL for (int t = 0; t < nx; t++) acc0[t] = acc1[t] = _mm256_setzero_ps();               \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n; i += 16) {                                                             \
            _mm_prefetch((const char *)(w + i) + PREFETCH_BYTES, _MM_HINT_T0);                     \
            __m256 w0 = load8(w + i), w1 = load8(w + i + 8);                                       \
            UNROLL for (int t = 0; t < nx; t++) {                                                  \
                const float *xt = x + (size_t)t * x_stride + i;                                    \
                acc0[t] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(xt), acc0[t]);                       \
                acc1[t] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(xt + 8), acc1[t]);                   \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int t = 0; t < nx; t++) {                                                      \
            const float *xt = x + (size_t)t * x_stride;                                            \
            float s = hsum256(_mm256_add_ps(acc0[t], acc1[t]));                                    \
            for (int64_t j = i; j < n; j++)                                                        \
                s += to_f32(w[j]) * xt[j];                                                         \
            out[(size_t)t * out_stride] = s;                                                       \
        }                                                                                          \
    }                                                                                              \
    DEFINE_DOT_H_ROWS(name)

DEFINE_DOT_H(dot_f16_f32, load8_f16, f16)
DEFINE_DOT_H(dot_bf16_f32, load8_bf16, rt_bf16_to_f32)

const rt_kernels rt_kernels_avx2 = {
    .level = RT_CPU_AVX2,
    .f16_to_f32 = f16_to_f32,
    .bf16_to_f32 = bf16_to_f32,
    .f32_to_f16 = f32_to_f16,
    .f32_to_bf16 = f32_to_bf16,
    .q8_0_to_f32 = q8_0_to_f32,
    .q4_0_to_f32 = q4_0_to_f32,
    .quantize_row_q8_0 = quantize_row_q8_0,
    .quantize_row_q4_0 = rt_quantize_row_q4_0_ref,
    .quantize_row_q8_act = quantize_row_q8_act,
    .dot_q8_0_q8 = dot_q8_0_q8,
    .dot_q4_0_q8 = dot_q4_0_q8,
    .dot_f16_f32 = dot_f16_f32,
    .dot_bf16_f32 = dot_bf16_f32,
};
