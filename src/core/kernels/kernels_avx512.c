/*
 * kernels_avx512.c — the kernels of kernels.h for AVX-512 F/BW/VL/DQ + VNNI (512-bit vectors,
 * masked tails).
 *
 * Integer dot products take two q8_0 blocks per 512-bit register and use VPDPBUSD (unsigned x
 * signed bytes, summed in groups of four into int32): activations are stored offset-binary
 * (q + 128, the q8_act layout), and the accumulator starts at -128 * sum(w), so the result is
 * the signed dot product with no per-row sign fix-up. Each weight block pair is loaded and
 * prepared once and used for up to NX_MAX activation rows.
 *
 * AVX512-BF16 is deliberately not used: VDPBF16PS would round the f32 activations to bf16
 * (relative error 2^-9) and VCVTNEPS2BF16 flushes subnormals, so neither matches the
 * reference; bf16 weights are widened to f32 exactly instead (a shift). Training's opt-in bf16
 * GEMM, which rounds both operands on purpose, is kernels_bf16_avx512.c.
 *
 * This is a part table (core/dispatch.h): the row conversions (f16/bf16 both ways, q8_0/q4_0 to
 * f32) are memory-bound and left to the avx2 level's, which this level falls back to.
 */
#include "core/kernels/kernels_x86.h"

#define NX_MAX 8 /* activation rows per pass over a weight row */

static inline __mmask16 tail_mask(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

static inline __m512 widen_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* ---- quantization ----------------------------------------------------------------------- */

/* roundf(): half away from zero, exactly (v - trunc(v) is exact in float). */
static inline __m512 round_away(__m512 v) {
    __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 step = _mm512_or_ps(_mm512_and_ps(v, _mm512_set1_ps(-0.0f)), _mm512_set1_ps(1.0f));
    return _mm512_mask_add_ps(t, up, t, step);
}

/* One q8_0 block of x (32 floats): the quants in element order, the f32 scale in *d. */
static inline __m256i quantize_block(const float *x, float *d) {
    __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    *d = amax / 127.0f;
    __m512 id = _mm512_set1_ps(*d ? 1.0f / *d : 0.0f);
    __m512i q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, id)));
    __m512i q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, id)));
    return _mm256_set_m128i(_mm512_cvtepi32_epi8(q1), _mm512_cvtepi32_epi8(q0));
}

DEFINE_QUANTIZE_ROWS(quantize_block)

/* ---- dot products ----------------------------------------------------------------------- */

static inline __m512i join256(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

static inline __m512i load2_q8_0(const rt_block_q8_0 *b) {
    return join256(_mm256_loadu_si256((const __m256i *)b[0].qs),
                   _mm256_loadu_si256((const __m256i *)b[1].qs));
}
static inline __m512i load2_q4_0(const rt_block_q4_0 *b) {
    return join256(q4_unpack(b[0].qs), q4_unpack(b[1].qs));
}
static inline __m256i load1_q8_0(const rt_block_q8_0 *b) {
    return _mm256_loadu_si256((const __m256i *)b->qs);
}
static inline __m256i load1_q4_0(const rt_block_q4_0 *b) {
    return q4_unpack(b->qs);
}

/* The f16 scales of 8 consecutive blocks (block_bytes apart) as f32: one gather of the 32-bit
 * words starting at each scale (the scale and two quant bytes of the same block). */
static inline __m256 scales8(const uint16_t *d0, int block_bytes) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                           _mm256_set1_epi32(block_bytes));
    __m256i g = _mm256_i32gather_epi32((const int *)d0, idx, 1);
    return _mm256_cvtph_ps(_mm256_cvtepi32_epi16(g));
}

/* -128 * (sum of each group of four w bytes): the start value that turns VPDPBUSD of
 * offset-binary activations (q + 128) into the signed dot product. */
static inline __m512i offset_correction(__m512i wq) {
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)0x80), wq);
    return _mm512_sub_epi32(_mm512_setzero_si512(), s);
}

/* The permutation that spreads scales 2p and 2p + 1 (of 8) over the two blocks of pair p: lanes
 * 0-7 take 2p, lanes 8-15 take 2p + 1 (a constant once p is). */
static inline __m512i pair_index(int p) {
    return _mm512_mask_blend_epi32(0xff00, _mm512_set1_epi32(2 * p), _mm512_set1_epi32(2 * p + 1));
}

/* One weight row (q8_0, or q4_0 when `q4`) against nx activation rows (q8_act layout). Blocks
 * go in pairs per register (int32 lanes 0-7: first block, 8-15: second) and 8 at a time for the
 * scales: dw is gathered once, multiplied by each row's 8 scales (one load), and spread to the
 * pairs with a permute. Leftover blocks take the pair and single-block paths. always_inline
 * with constant q4 and nx keeps the accumulators in registers. */
static inline __attribute__((always_inline)) void dot_q_nx(int q4, int nx, int64_t n, const void *w,
                                                           const uint8_t *xq, const float *xd,
                                                           float *out, size_t os) {
    const rt_block_q8_0 *w8 = w;
    const rt_block_q4_0 *w4 = w;
    const int64_t nb = n / RT_QK;
    const int wbytes = q4 ? (int)sizeof(rt_block_q4_0) : (int)sizeof(rt_block_q8_0);
    __m512 acc[NX_MAX];
    UNROLL for (int t = 0; t < nx; t++) acc[t] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8) {
        /* decode is memory bound: keep loads in flight ahead of the hardware prefetcher */
        const char *ahead = (const char *)(q4 ? (const void *)&w4[b] : (const void *)&w8[b]);
        for (int off = 0; off < 8 * wbytes; off += 64)
            _mm_prefetch(ahead + PREFETCH_BYTES + off, _MM_HINT_T0);
        __m256 dw = scales8(q4 ? &w4[b].d : &w8[b].d, wbytes);
        __m512 d[NX_MAX];
        UNROLL for (int t = 0; t < nx; t++) d[t] =
            _mm512_castps256_ps512(_mm256_mul_ps(dw, _mm256_loadu_ps(xd + t * nb + b)));
        UNROLL for (int p = 0; p < 4; p++) {
            __m512i wq = q4 ? load2_q4_0(&w4[b + 2 * p]) : load2_q8_0(&w8[b + 2 * p]);
            __m512i corr = offset_correction(wq);
            UNROLL for (int t = 0; t < nx; t++) {
                __m512i x = _mm512_loadu_si512(xq + t * n + (b + 2 * p) * RT_QK);
                __m512 sum = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr, x, wq));
                acc[t] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_index(p), d[t]), sum, acc[t]);
            }
        }
    }
    for (; b + 2 <= nb; b += 2) {
        __m512i wq = q4 ? load2_q4_0(&w4[b]) : load2_q8_0(&w8[b]);
        __m512i corr = offset_correction(wq);
        float dw0 = f16(q4 ? w4[b].d : w8[b].d), dw1 = f16(q4 ? w4[b + 1].d : w8[b + 1].d);
        UNROLL for (int t = 0; t < nx; t++) {
            __m512i x = _mm512_loadu_si512(xq + t * n + b * RT_QK);
            __m512 sum = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr, x, wq));
            __m512 d = _mm512_mask_blend_ps(0xff00, _mm512_set1_ps(dw0 * xd[t * nb + b]),
                                            _mm512_set1_ps(dw1 * xd[t * nb + b + 1]));
            acc[t] = _mm512_fmadd_ps(d, sum, acc[t]);
        }
    }
    UNROLL for (int t = 0; t < nx; t++) {
        float sum = _mm512_reduce_add_ps(acc[t]);
        if (b < nb) { /* odd last block, in 256 bits with the sign trick */
            __m256i wq = q4 ? load1_q4_0(&w4[b]) : load1_q8_0(&w8[b]);
            __m256i x = _mm256_loadu_si256((const __m256i *)(xq + t * n + b * RT_QK));
            x = _mm256_sign_epi8(_mm256_xor_si256(x, _mm256_set1_epi8((char)0x80)), wq);
            __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wq), x);
            sum += hsum256(_mm256_cvtepi32_ps(p)) * (f16(q4 ? w4[b].d : w8[b].d) * xd[t * nb + b]);
        }
        out[t * os] = sum;
    }
}

DEFINE_DOT_Q_ROWS(dot_q_nx, NX_MAX)

/* The f16 scales of 4 consecutive blocks as f32 in the low half (see scales8). */
static inline __m256 scales4(const uint16_t *d0, int block_bytes) {
    const __m128i idx = _mm_mullo_epi32(_mm_setr_epi32(0, 1, 2, 3), _mm_set1_epi32(block_bytes));
    __m128i g = _mm_i32gather_epi32((const int *)d0, idx, 1);
    return _mm256_zextps128_ps256(_mm_cvtph_ps(_mm_cvtepi32_epi16(g)));
}

/* Blocks b .. b + 2 n_pairs - 1 (n_pairs 4 or 2, a constant) of four weight rows against the
 * activation row, added into acc[4]: the scales of each row gathered once and multiplied by
 * the activation's, the activation's quants loaded once per pair for the four rows. */
static inline __attribute__((always_inline)) void dot_r4_step(int q4, int n_pairs,
                                                              const char *const *rows, int wbytes,
                                                              int64_t b, const uint8_t *xq,
                                                              const float *xd, __m512 *acc,
                                                              size_t ahead) {
    __m256 dx =
        n_pairs == 4 ? _mm256_loadu_ps(xd + b) : _mm256_zextps128_ps256(_mm_loadu_ps(xd + b));
    __m512 d[4];
    UNROLL for (int r = 0; r < 4; r++) {
        const char *blk = rows[r] + b * wbytes;
        for (int off = 0; off < 2 * n_pairs * wbytes; off += 64)
            _mm_prefetch(blk + ahead + off, _MM_HINT_T0);
        __m256 dw = n_pairs == 4 ? scales8((const uint16_t *)blk, wbytes)
                                 : scales4((const uint16_t *)blk, wbytes);
        d[r] = _mm512_castps256_ps512(_mm256_mul_ps(dw, dx));
    }
    UNROLL for (int p = 0; p < n_pairs; p++) {
        __m512i x = _mm512_loadu_si512(xq + (b + 2 * p) * RT_QK);
        UNROLL for (int r = 0; r < 4; r++) {
            const char *blk = rows[r] + (b + 2 * p) * wbytes;
            __m512i wq = q4 ? load2_q4_0((const rt_block_q4_0 *)blk)
                            : load2_q8_0((const rt_block_q8_0 *)blk);
            __m512 sum = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(offset_correction(wq), x, wq));
            acc[r] = _mm512_fmadd_ps(_mm512_permutexvar_ps(pair_index(p), d[r]), sum, acc[r]);
        }
    }
}

/* Four weight rows (row_bytes apart) against one activation row, for decode: the activation's
 * quants and scales are loaded once for the four rows, the rows' sums run in four independent
 * chains, and the per-row overhead (set-up, horizontal sums) is shared; 8 blocks per step, then
 * 4, and leftover blocks (fewer than 4) go through dot_q_nx. */
static inline __attribute__((always_inline)) void dot_q_r4_at(int q4, int64_t n, const void *w,
                                                              size_t row_bytes, const uint8_t *xq,
                                                              const float *xd, float *out,
                                                              size_t ahead) {
    const int64_t nb = n / RT_QK;
    const int wbytes = q4 ? (int)sizeof(rt_block_q4_0) : (int)sizeof(rt_block_q8_0);
    const char *rows[4];
    UNROLL for (int r = 0; r < 4; r++) rows[r] = (const char *)w + (size_t)r * row_bytes;
    __m512 acc[4];
    UNROLL for (int r = 0; r < 4; r++) acc[r] = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= nb; b += 8)
        dot_r4_step(q4, 4, rows, wbytes, b, xq, xd, acc, ahead);
    if (b + 4 <= nb) { /* e.g. rows of 384 = 8 + 4 blocks */
        dot_r4_step(q4, 2, rows, wbytes, b, xq, xd, acc, ahead);
        b += 4;
    }
    UNROLL for (int r = 0; r < 4; r++) {
        float tail = 0.0f;
        if (b < nb)
            dot_q_nx(q4, 1, (nb - b) * RT_QK, rows[r] + b * wbytes, xq + b * RT_QK, xd + b, &tail,
                     1);
        out[r] = _mm512_reduce_add_ps(acc[r]) + tail;
    }
}

/* Prefetch distance (a constant in each copy): ten rows ahead where rows are 410-819 bytes (8
 * KiB), else PREFETCH_BYTES (4 KiB). The 114M model's decode (rows of 816 bytes) ran 5-11% faster
 * from 8 KiB (A/B of bench_inference, 5-7 alternating runs, three times); 8 KiB on the 23M
 * model's rows of 408 and 1,088 bytes lost ~7%, and a distance computed at run time, not a
 * constant, cost its decode ~3-4%. */
static inline __attribute__((always_inline)) void dot_q_r4(int q4, int64_t n, const void *w,
                                                           size_t row_bytes, const uint8_t *xq,
                                                           const float *xd, float *out) {
    if (row_bytes * 10 > PREFETCH_BYTES && row_bytes * 10 <= 2 * PREFETCH_BYTES)
        dot_q_r4_at(q4, n, w, row_bytes, xq, xd, out, 2 * PREFETCH_BYTES);
    else
        dot_q_r4_at(q4, n, w, row_bytes, xq, xd, out, PREFETCH_BYTES);
}

static void dot_q8_0_q8_r4(int64_t n, const void *w, size_t row_bytes, const uint8_t *xq,
                           const float *xd, float *out) {
    dot_q_r4(0, n, w, row_bytes, xq, xd, out);
}
static void dot_q4_0_q8_r4(int64_t n, const void *w, size_t row_bytes, const uint8_t *xq,
                           const float *xd, float *out) {
    dot_q_r4(1, n, w, row_bytes, xq, xd, out);
}

/* Four f32 weight rows (ld floats apart) against x, 32 elements per step in two accumulators per
 * row, a masked tail; each row prefetched PREFETCH_BYTES ahead. */
static inline __attribute__((always_inline)) void gemv_f32_r4(int64_t n, const float *w, size_t ld,
                                                              const float *x, float *y) {
    __m512 acc0[4], acc1[4];
    UNROLL for (int r = 0; r < 4; r++) acc0[r] = acc1[r] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
        UNROLL for (int r = 0; r < 4; r++) {
            const float *row = w + r * ld + i;
            _mm_prefetch((const char *)row + PREFETCH_BYTES, _MM_HINT_T0);
            _mm_prefetch((const char *)row + PREFETCH_BYTES + 64, _MM_HINT_T0);
            acc0[r] = _mm512_fmadd_ps(_mm512_loadu_ps(row), x0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(_mm512_loadu_ps(row + 16), x1, acc1[r]);
        }
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        __m512 x0 = _mm512_maskz_loadu_ps(m, x + i);
        UNROLL for (int r = 0; r < 4; r++) acc0[r] =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + r * ld + i), x0, acc0[r]);
    }
    UNROLL for (int r = 0; r < 4; r++) y[r] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[r], acc1[r]));
}

/* The same for one row. */
static inline __attribute__((always_inline)) float gemv_f32_r1(int64_t n, const float *w,
                                                               const float *x) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        _mm_prefetch((const char *)(w + i) + PREFETCH_BYTES, _MM_HINT_T0);
        _mm_prefetch((const char *)(w + i) + PREFETCH_BYTES + 64, _MM_HINT_T0);
        acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), acc1);
    }
    for (; i < n; i += 16) {
        __mmask16 m = tail_mask(n - i);
        acc0 =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), acc0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

static void gemv_f32(int64_t n, const float *w, size_t ld, int n_rows, const float *x, float *y) {
    int r = 0;
    for (; r + 4 <= n_rows; r += 4)
        gemv_f32_r4(n, w + r * ld, ld, x, y + r);
    for (; r < n_rows; r++)
        y[r] = gemv_f32_r1(n, w + r * ld, x);
}

static inline __m512 load16_f16(const uint16_t *w, __mmask16 m) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, w));
}
static inline __m512 load16_bf16(const uint16_t *w, __mmask16 m) {
    return widen_bf16(_mm256_maskz_loadu_epi16(m, w));
}

/* Weight row (16-bit floats) against NX f32 rows: 32 elements per step in two accumulators, a
 * masked tail. */
#define DEFINE_DOT_H(name, load16)                                                                 \
    static inline __attribute__((always_inline)) void name##_nx(                                   \
        int nx, int64_t n, const uint16_t *w, const float *x, size_t x_stride, float *out,         \
        size_t out_stride) {                                                                       \
        __m512 acc0[NX_MAX], acc1[NX_MAX];                                                         \
        UNROLL for (int t = 0; t < nx; t++) acc0[t] = acc1[t] = _mm512_setzero_ps();               \
        int64_t i = 0;                                                                             \
        for (; i + 32 <= n; i += 32) {                                                             \
            _mm_prefetch((const char *)(w + i) + PREFETCH_BYTES, _MM_HINT_T0);                     \
            __m512 w0 = load16(w + i, 0xffff), w1 = load16(w + i + 16, 0xffff);                    \
            UNROLL for (int t = 0; t < nx; t++) {                                                  \
                const float *xt = x + (size_t)t * x_stride + i;                                    \
                acc0[t] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(xt), acc0[t]);                       \
                acc1[t] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(xt + 16), acc1[t]);                  \
            }                                                                                      \
        }                                                                                          \
        for (; i < n; i += 16) {                                                                   \
            __mmask16 m = tail_mask(n - i);                                                        \
            __m512 w0 = load16(w + i, m);                                                          \
            UNROLL for (int t = 0; t < nx; t++) {                                                  \
                const float *xt = x + (size_t)t * x_stride + i;                                    \
                acc0[t] = _mm512_fmadd_ps(w0, _mm512_maskz_loadu_ps(m, xt), acc0[t]);              \
            }                                                                                      \
        }                                                                                          \
        UNROLL for (int t = 0; t < nx; t++) out[(size_t)t * out_stride] =                          \
            _mm512_reduce_add_ps(_mm512_add_ps(acc0[t], acc1[t]));                                 \
    }                                                                                              \
    DEFINE_DOT_H_ROWS(name)

DEFINE_DOT_H(dot_f16_f32, load16_f16)
DEFINE_DOT_H(dot_bf16_f32, load16_bf16)

/* Part table: NULL entries are the avx2 level's. */
const rt_kernels rt_kernels_avx512 = {
    .level = RT_CPU_AVX512,
    .quantize_row_q8_0 = quantize_row_q8_0,
    .quantize_row_q8_act = quantize_row_q8_act,
    .dot_q8_0_q8 = dot_q8_0_q8,
    .dot_q4_0_q8 = dot_q4_0_q8,
    .dot_q8_0_q8_r4 = dot_q8_0_q8_r4,
    .dot_q4_0_q8_r4 = dot_q4_0_q8_r4,
    .gemv_f32 = gemv_f32,
    .dot_f16_f32 = dot_f16_f32,
    .dot_bf16_f32 = dot_bf16_f32,
    .gemm_bf16_pack = rt_gemm_bf16_pack_avx512,
    .gemm_bf16_tile = rt_gemm_bf16_tile_avx512,
};
