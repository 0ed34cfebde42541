/*
 * kernels_bf16_avx512.c — the bf16 GEMM kernels of kernels.h (gemm_bf16_pack, gemm_bf16_tile)
 * for AVX-512 with AVX512-BF16, entries of the avx512 part table (kernels_avx512.c). Training's
 * --precision bf16 is their only user (core/matmul.c's rt_gemm_bf16 drives them and checks
 * that the CPU has AVX512-BF16, which the avx512 level does not imply).
 *
 * VDPBF16PS multiplies 16 pairs of bf16 by 16 pairs and adds both products to 16 f32 sums, so
 * both operands are packed in pairs along k: a panel of A is (k pairs, 6 rows) and the micro-
 * kernel broadcasts one row's pair against a panel of B, (k pairs, 64 columns) = 4 zmm per pair.
 * 6 x 4 = 24 accumulators stay in registers for the whole k range of a block.
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

/* e(r, k) = src[k * ld + r]: the two rows k = 2p and 2p + 1 are contiguous in r, so 16 pairs
 * are two loads, two roundings and a shift-or. */
static void pack_rows(const float *src, size_t ld, int width, int n_valid, int64_t kc,
                      uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    for (int64_t p = 0; p < kp; p++) {
        const float *k0 = src + (size_t)(2 * p) * ld;
        const float *k1 = 2 * p + 1 < kc ? k0 + ld : NULL;
        for (int r = 0; r < width; r += 16) {
            __mmask16 st = lanes(width - r), ld_mask = st & lanes(n_valid - r);
            __m512i lo = round16(_mm512_maskz_loadu_ps(ld_mask, k0 + r));
            __m512i hi =
                k1 ? round16(_mm512_maskz_loadu_ps(ld_mask, k1 + r)) : _mm512_setzero_si512();
            __m512i pair = _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
            /* masked-out loads read +0.0, which rounds to 0: padding lanes are zero */
            _mm512_mask_storeu_epi32(dst + p * width + r, st, pair);
        }
    }
}

/* e(r, k) = src[r * ld + k]: each line is contiguous in k, so 32 values of a line round to 16
 * pairs in one register, which then go to 16 consecutive pair rows of the panel. */
static void pack_lines(const float *src, size_t ld, int width, int n_valid, int64_t kc,
                       uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    for (int r = 0; r < width; r++) {
        if (r >= n_valid) {
            for (int64_t p = 0; p < kp; p++)
                dst[p * width + r] = 0;
            continue;
        }
        const float *line = src + (size_t)r * ld;
        for (int64_t k = 0; k < kc; k += 32) {
            __m256i lo =
                _mm512_cvtepi32_epi16(round16(_mm512_maskz_loadu_ps(lanes(kc - k), line + k)));
            __m256i hi = _mm512_cvtepi32_epi16(
                round16(_mm512_maskz_loadu_ps(lanes(kc - k - 16), line + k + 16)));
            uint32_t pairs[16];
            _mm512_storeu_si512(pairs, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
            int64_t p0 = k / 2, np = kp - p0 < 16 ? kp - p0 : 16;
            for (int64_t q = 0; q < np; q++)
                dst[(p0 + q) * width + r] = pairs[q];
        }
    }
}

void rt_gemm_bf16_pack_avx512(const float *src, size_t ld, int k_contig, int width, int n_valid,
                              int64_t kc, uint32_t *dst) {
    if (k_contig)
        pack_lines(src, ld, width, n_valid, kc, dst);
    else
        pack_rows(src, ld, width, n_valid, kc, dst);
}

#define UNROLL_ROWS _Pragma("GCC unroll 6")
#define UNROLL_COLS _Pragma("GCC unroll 4")

void rt_gemm_bf16_tile_avx512(int64_t kp, const uint32_t *a, const uint32_t *b, float *c,
                              size_t ldc, int m, int n, float alpha, float beta) {
    __m512 acc[MR][4];
    UNROLL_ROWS for (int i = 0; i < MR; i++) UNROLL_COLS for (int q = 0; q < 4; q++) acc[i][q] =
        _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        const uint32_t *bp = b + p * NR;
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(bp), b1 = (__m512bh)_mm512_loadu_si512(bp + 16);
        __m512bh b2 = (__m512bh)_mm512_loadu_si512(bp + 32);
        __m512bh b3 = (__m512bh)_mm512_loadu_si512(bp + 48);
        UNROLL_ROWS for (int i = 0; i < MR; i++) {
            __m512bh ai = (__m512bh)_mm512_set1_epi32((int)a[p * MR + i]);
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
