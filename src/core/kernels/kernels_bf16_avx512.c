/*
 * kernels_bf16_avx512.c — the bf16 GEMM kernels of kernels.h (gemm_bf16_pack, gemm_bf16_tile)
 * for AVX-512 with AVX512-BF16, entries of the avx512 part table (kernels_avx512.c). Training's
 * --precision bf16 is their only user (core/matmul.c's rt_gemm_bf16 drives them and checks
 * that the CPU has AVX512-BF16, which the avx512 level does not imply).
 *
 * VDPBF16PS multiplies 16 pairs of bf16 by 16 pairs and adds both products to 16 f32 sums, so
 * both operands are packed in pairs along k. The micro-kernel broadcasts one pair of each of 6
 * rows of A (row after row, or one wide panel: any strides) against a panel of B, (k pairs, 64
 * columns) = 4 zmm per pair; 6 x 4 = 24 accumulators stay in registers for the whole k range of
 * a block. Packing reads memory in order: two k at a time across all lines when the source is
 * contiguous across lines (src[k * ld + r]), else 16 lines x 32 k at a time, transposed in
 * registers (src[r * ld + k] into panels), or line after line (A's rows, width 1).
 *
 * Rounding is done in integers (round to nearest even, NaN kept quiet) so that the packed bits
 * are rt_f32_to_bf16's exactly; VCVTNE2PS2BF16 would flush subnormals to zero.
 * Not here: blocking for the caches and threads (core/matmul.c).
 */
#include "core/kernels/kernels_x86.h"

enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR };

static inline __mmask16 lanes(int64_t left) {
    return left >= 16 ? (__mmask16)0xffff : left <= 0 ? 0 : (__mmask16)((1u << left) - 1);
}

/* 16 floats to bf16 in the low 16 bits of each 32-bit lane (high bits zero), as
 * rt_f32_to_bf16 rounds (kernels_x86.h's bf16_round on each half). */
static inline __m512i round16(__m512 v) {
    __m256i lo = bf16_round(_mm512_castps512_ps256(v));
    __m256i hi = bf16_round(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Asks for the n floats at x (a line of the source) ahead of their use: the source of a pack
 * is often past L2 and the hardware prefetcher alone leaves the loads waiting. */
static inline void prefetch_line(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i += 16)
        _mm_prefetch((const char *)(x + i), _MM_HINT_T0);
}

/* Where line r's pairs start in a pack of panels `width` lines wide (kernels.h). */
static inline uint32_t *panel_at(uint32_t *dst, int r, int64_t kp, int width) {
    return dst + (size_t)(r / width) * kp * width + r % width;
}

/* e(r, k) = src[k * ld + r] (width a multiple of 16): the two rows k = 2p and 2p + 1 are
 * contiguous in r, so 16 pairs are two loads, two roundings and a shift-or, read in memory
 * order. */
static void pack_rows(const float *src, size_t ld, int n, int64_t kc, int width, uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    int n_pad = (n + width - 1) / width * width;
    for (int64_t p = 0; p < kp; p++) {
        const float *k0 = src + (size_t)(2 * p) * ld;
        const float *k1 = 2 * p + 1 < kc ? k0 + ld : NULL;
        for (int64_t k = 2 * p + 2; k < 2 * p + 4 && k < kc; k++)
            prefetch_line(src + (size_t)k * ld, n);
        for (int r = 0; r < n_pad; r += 16) {
            __mmask16 m = lanes(n - r); /* masked-out lanes load +0.0: zero padding */
            __m512i lo = round16(_mm512_maskz_loadu_ps(m, k0 + r));
            __m512i hi = k1 ? round16(_mm512_maskz_loadu_ps(m, k1 + r)) : _mm512_setzero_si512();
            _mm512_storeu_si512(panel_at(dst, r, kp, width) + p * width,
                                _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

/* 32 values of a line from k (masked to kc) as 16 bf16 pairs. */
static inline __m512i line_pairs(const float *line, int64_t k, int64_t kc) {
    __m256i lo = _mm512_cvtepi32_epi16(round16(_mm512_maskz_loadu_ps(lanes(kc - k), line + k)));
    __m256i hi =
        _mm512_cvtepi32_epi16(round16(_mm512_maskz_loadu_ps(lanes(kc - k - 16), line + k + 16)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* r[i] (16 rows of 16 dwords) becomes its transpose: r[j] holds element j of every row. */
static inline void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    /* r[4g + c], 128-bit lane l: element 4l + c of rows 4g .. 4g + 3 */
    for (int g = 0; g < 16; g += 4) {
        r[g] = _mm512_unpacklo_epi64(t[g], t[g + 2]);
        r[g + 1] = _mm512_unpackhi_epi64(t[g], t[g + 2]);
        r[g + 2] = _mm512_unpacklo_epi64(t[g + 1], t[g + 3]);
        r[g + 3] = _mm512_unpackhi_epi64(t[g + 1], t[g + 3]);
    }
    for (int c = 0; c < 4; c++) {
        __m512i u0 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0x88);
        __m512i u1 = _mm512_shuffle_i32x4(r[c], r[4 + c], 0xdd);
        __m512i u2 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0x88);
        __m512i u3 = _mm512_shuffle_i32x4(r[8 + c], r[12 + c], 0xdd);
        t[c] = _mm512_shuffle_i32x4(u0, u2, 0x88);      /* lane 0 of each: elements c */
        t[4 + c] = _mm512_shuffle_i32x4(u1, u3, 0x88);  /* lane 1: elements 4 + c */
        t[8 + c] = _mm512_shuffle_i32x4(u0, u2, 0xdd);  /* lane 2 */
        t[12 + c] = _mm512_shuffle_i32x4(u1, u3, 0xdd); /* lane 3 */
    }
    for (int i = 0; i < 16; i++)
        r[i] = t[i];
}

/* e(r, k) = src[r * ld + k] (width a multiple of 16): 16 lines x 32 values are rounded to 16
 * x 16 pairs and transposed in registers, so each store is 16 lines of one pair. */
static void pack_lines16(const float *src, size_t ld, int n, int64_t kc, int width, uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    int n_pad = (n + width - 1) / width * width;
    for (int r0 = 0; r0 < n_pad; r0 += 16) {
        uint32_t *out = panel_at(dst, r0, kp, width);
        for (int i = 16; i < 32 && r0 + i < n; i++) /* the next 16 lines, while these convert */
            prefetch_line(src + (size_t)(r0 + i) * ld, kc);
        for (int64_t k = 0; k < kc; k += 32) {
            __m512i v[16];
            for (int i = 0; i < 16; i++)
                v[i] = r0 + i < n ? line_pairs(src + (size_t)(r0 + i) * ld, k, kc)
                                  : _mm512_setzero_si512();
            transpose16(v);
            int64_t p0 = k / 2, np = kp - p0 < 16 ? kp - p0 : 16;
            for (int64_t q = 0; q < np; q++)
                _mm512_storeu_si512(out + (p0 + q) * width, v[q]);
        }
    }
}

/* e(r, k) = src[r * ld + k], width 1: each line's pairs in order. */
static void pack_lines1(const float *src, size_t ld, int n, int64_t kc, uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    for (int r = 0; r < n; r++) {
        if (r + 1 < n) prefetch_line(src + (size_t)(r + 1) * ld, kc);
        for (int64_t k = 0; k < kc; k += 32)
            _mm512_mask_storeu_epi32(dst + (size_t)r * kp + k / 2, lanes(kp - k / 2),
                                     line_pairs(src + (size_t)r * ld, k, kc));
    }
}

void rt_gemm_bf16_pack_avx512(const float *src, size_t ld, int k_contig, int n, int64_t kc,
                              int width, uint32_t *dst) {
    if (k_contig && width == 1)
        pack_lines1(src, ld, n, kc, dst);
    else if (k_contig && width % 16 == 0)
        pack_lines16(src, ld, n, kc, width, dst);
    else if (!k_contig && width % 16 == 0)
        pack_rows(src, ld, n, kc, width, dst);
    else
        rt_kernels_scalar.gemm_bf16_pack(src, ld, k_contig, n, kc, width, dst);
}

#define UNROLL_ROWS _Pragma("GCC unroll 6")
#define UNROLL_COLS _Pragma("GCC unroll 4")

void rt_gemm_bf16_tile_avx512(int64_t kp, const uint32_t *a, size_t a_rs, size_t a_ps,
                              const uint32_t *b, float *c, size_t ldc, int m, int n, float alpha,
                              float beta) {
    __m512 acc[MR][4];
    /* rows past m read row 0 (their sums are not stored), so nothing past A is read */
    const uint32_t *ar[MR];
    UNROLL_ROWS for (int i = 0; i < MR; i++) {
        ar[i] = a + (i < m ? (size_t)i * a_rs : 0);
        /* C's lines arrive while the sums run (C is often past L2: the stores would stall) */
        if (i < m)
            UNROLL_COLS for (int q = 0; q < 4; q++) if (16 * q < n)
                _mm_prefetch((const char *)(c + (size_t)i * ldc + 16 * q), _MM_HINT_T0);
        UNROLL_COLS for (int q = 0; q < 4; q++) acc[i][q] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < kp; p++) {
        const uint32_t *bp = b + p * NR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp), b1 = (__m512bh)_mm512_loadu_si512(bp + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(bp + 32);
        __m512bh b3 = (__m512bh)_mm512_loadu_si512(bp + 48);
        size_t off = (size_t)p * a_ps;
        UNROLL_ROWS for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)ar[i][off]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
            acc[i][2] = _mm512_dpbf16_ps(acc[i][2], ai, b2);
            acc[i][3] = _mm512_dpbf16_ps(acc[i][3], ai, b3);
        }
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    UNROLL_ROWS for (int i = 0; i < MR; i++) {
        if (i >= m) break;
        float *ci = c + (size_t)i * ldc;
        UNROLL_COLS for (int q = 0; q < 4; q++) {
            __mmask16 mk = lanes(n - 16 * q);
            if (!mk) break;
            __m512 v = _mm512_mul_ps(va, acc[i][q]);
            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mk, ci + 16 * q), v);
            _mm512_mask_storeu_ps(ci + 16 * q, mk, v);
        }
    }
}
