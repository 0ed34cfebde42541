/*
 * kernels_amx.c — q8_0/q4_0 weights times q8_0 activations on AMX-INT8 tiles (the amx level:
 * Sapphire Rapids and later), for prefill.
 *
 * One TDPBSSD multiplies a tile of 16 activation rows x 32 signed bytes (one q8_0 block of 16
 * tokens) by 16 weight rows x 32 bytes, giving 16 x 16 int32 block sums; AVX-512 then scales
 * them by dx * dw and accumulates in f32. A q8_0 block has its own scale on both sides, so K
 * stays 32 per tile multiply (two blocks in one K = 64 would mix their sums).
 * Weights go through amx_pack_q first: the B tile wants, for each group of four k, the four
 * bytes of each of the 16 weight rows side by side ("VNNI layout"), 16 rows x n bytes total.
 * bf16 weights use TDPBF16PS on bf16-rounded activations; with no block scales, a C tile simply
 * accumulates over all of k.
 * The functions carry their own target attribute, so the file needs no ISA flags of its own; the
 * dispatcher only reaches them when cpu.c found AMX and Linux granted the tile state.
 */
#include "core/kernels/kernels.h"

#ifdef RT_HAVE_X86_KERNELS
#include <immintrin.h>
#include <string.h>

#define AMX_TARGET                                                                                 \
    __attribute__((                                                                                \
        target("amx-tile,amx-int8,amx-bf16,avx512f,avx512bw,avx512vl,avx512dq,f16c,fma")))

#define UNROLL _Pragma("GCC unroll 16")

enum { TILE_M = 16, TILE_N = 16, TILE_K = RT_QK }; /* tokens, weight rows, bytes (one block) */

/* The 64-byte LDTILECFG operand (palette 1). */
typedef struct tile_config {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16]; /* bytes per row of each tile */
    uint8_t rows[16];
} tile_config;

/* Packs with one gather per tile row: row k4 of block b's B tile is dword k4 of that block in
 * each of the 16 weight rows (a 16 x 8 dword transpose); q4_0 rows give two tile rows per
 * gathered dword (low and high nibbles). */
AMX_TARGET static void amx_pack_q(rt_dtype dtype, const void *w, size_t w_row_bytes, int n_w,
                                  int64_t n, int8_t *packed, float *dw) {
    const int64_t nb = n / RT_QK;
    const __mmask16 rows = (__mmask16)((1u << n_w) - 1);
    const __m512i row_off =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)w_row_bytes));
    const __m512i nibble = _mm512_set1_epi8(0x0f), eight = _mm512_set1_epi8(8);
    const int q4 = dtype == RT_DTYPE_Q4_0;
    const size_t block_bytes = q4 ? sizeof(rt_block_q4_0) : sizeof(rt_block_q8_0);
    for (int64_t b = 0; b < nb; b++) {
        const char *blk = (const char *)w + b * block_bytes; /* block b of row 0 */
        __m512i d = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, row_off, blk, 1);
        _mm512_storeu_ps(dw + b * TILE_N, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d)));
        int8_t *tile = packed + b * (TILE_K * TILE_N);
        const char *qs = blk + 2; /* the quants follow the f16 scale */
        if (!q4) {
            for (int k4 = 0; k4 < TILE_K / 4; k4++) {
                __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, row_off,
                                                        qs + 4 * k4, 1);
                _mm512_storeu_si512(tile + k4 * 64, g);
            }
        } else {
            for (int k4 = 0; k4 < TILE_K / 8; k4++) {
                __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, row_off,
                                                        qs + 4 * k4, 1);
                __m512i lo = _mm512_sub_epi8(_mm512_and_si512(g, nibble), eight);
                __m512i hi =
                    _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16(g, 4), nibble), eight);
                /* padded rows stay zero, not -8 */
                lo = _mm512_maskz_mov_epi32(rows, lo);
                hi = _mm512_maskz_mov_epi32(rows, hi);
                _mm512_storeu_si512(tile + k4 * 64, lo);
                _mm512_storeu_si512(tile + (k4 + TILE_K / 8) * 64, hi);
            }
        }
    }
}

AMX_TARGET static void amx_gemm_q(int64_t n, const int8_t *packed, const float *dw, int n_w,
                                  const int8_t *xs, const float *xd, int n_x, float *out,
                                  size_t out_stride) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    /* two sets (C, A, B) = tiles (0, 1, 2) and (3, 4, 5): blocks b and b + 1 in flight at once */
    for (int i = 0; i < 6; i += 3) {
        cfg.rows[i] = TILE_M, cfg.colsb[i] = TILE_N * 4;             /* C: 16 x 16 int32 */
        cfg.rows[i + 1] = TILE_M, cfg.colsb[i + 1] = TILE_K;         /* A: 16 tokens x 32 B */
        cfg.rows[i + 2] = TILE_K / 4, cfg.colsb[i + 2] = TILE_N * 4; /* B: 8 x (16 x 4 B) */
    }
    _tile_loadconfig(&cfg);
    const int64_t nb = n / RT_QK;
    const __mmask16 row_mask = (__mmask16)((1u << n_w) - 1);
    int32_t c[2][TILE_M * TILE_N] __attribute__((aligned(64)));
    for (int t0 = 0; t0 < n_x; t0 += TILE_M) {
        __m512 acc[TILE_M];
        UNROLL for (int m = 0; m < TILE_M; m++) acc[m] = _mm512_setzero_ps();
        const float *xdt = xd + (size_t)t0 * nb;
        const int8_t *xt = xs + (size_t)t0 * n; /* this row tile: nb blocks of 16 x 32 bytes */
        for (int64_t b = 0; b < nb; b += 2) {
            int two = b + 1 < nb;
            _tile_zero(0);
            _tile_loadd(1, xt + b * (TILE_M * TILE_K), TILE_K);
            _tile_loadd(2, packed + b * (TILE_K * TILE_N), TILE_N * 4);
            _tile_dpbssd(0, 1, 2);
            if (two) {
                _tile_zero(3);
                _tile_loadd(4, xt + (b + 1) * (TILE_M * TILE_K), TILE_K);
                _tile_loadd(5, packed + (b + 1) * (TILE_K * TILE_N), TILE_N * 4);
                _tile_dpbssd(3, 4, 5);
            }
            _tile_stored(0, c[0], TILE_N * 4);
            if (two) _tile_stored(3, c[1], TILE_N * 4);
            for (int h = 0; h <= two; h++) {
                __m512 dwv = _mm512_loadu_ps(dw + (b + h) * TILE_N);
                UNROLL for (int m = 0; m < TILE_M; m++) {
                    __m512 s = _mm512_cvtepi32_ps(_mm512_load_si512(c[h] + m * TILE_N));
                    __m512 d = _mm512_mul_ps(_mm512_set1_ps(xdt[m * nb + b + h]), dwv);
                    acc[m] = _mm512_fmadd_ps(s, d, acc[m]);
                }
            }
        }
        int rows = n_x - t0 < TILE_M ? n_x - t0 : TILE_M;
        for (int m = 0; m < rows; m++)
            _mm512_mask_storeu_ps(out + (size_t)(t0 + m) * out_stride, row_mask, acc[m]);
    }
    _tile_release();
}

/* ---- bf16 ------------------------------------------------------------------------------- */

/* B tile of 32 k: row p holds the pair (k = 2p, 2p + 1) of each of the 16 weight rows, i.e. dword
 * p of each row: one gather per tile row. A last partial chunk of k is copied element-wise. */
AMX_TARGET static void amx_pack_bf16(const uint16_t *w, size_t w_row_elems, int n_w, int64_t n,
                                     uint16_t *packed) {
    const int64_t n_chunks = (n + TILE_K - 1) / TILE_K;
    const __mmask16 rows = (__mmask16)((1u << n_w) - 1);
    const __m512i row_off =
        _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                           _mm512_set1_epi32((int)(w_row_elems * sizeof(uint16_t))));
    for (int64_t c = 0; c < n_chunks; c++) {
        uint16_t *tile = packed + c * (TILE_K * TILE_N);
        if ((c + 1) * TILE_K <= n) {
            for (int p = 0; p < TILE_K / 2; p++) {
                __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), rows, row_off,
                                                        w + c * TILE_K + 2 * p, 1);
                _mm512_storeu_si512(tile + p * 32, g);
            }
        } else {
            memset(tile, 0, sizeof(uint16_t) * TILE_K * TILE_N);
            for (int r = 0; r < n_w; r++)
                for (int64_t k = c * TILE_K; k < n; k++)
                    tile[((k % TILE_K) / 2) * 32 + r * 2 + (k % 2)] = w[r * w_row_elems + k];
        }
    }
}

/* Two row tiles of activations against one packed group of 16 weight rows at a time: tiles
 * (C, A) = (0, 1) and (3, 4) share the B tile 2; C accumulates over all of k in f32. */
AMX_TARGET static void amx_gemm_bf16(int64_t n, const uint16_t *packed, int n_w, const uint16_t *xb,
                                     int n_x, float *out, size_t out_stride) {
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette_id = 1;
    for (int i = 0; i < 6; i += 3) {
        cfg.rows[i] = TILE_M, cfg.colsb[i] = TILE_N * 4; /* C: 16 x 16 f32 */
        cfg.rows[i + 1] = TILE_M, cfg.colsb[i + 1] = 64; /* A: 16 tokens x 32 bf16 */
    }
    cfg.rows[2] = TILE_K / 2, cfg.colsb[2] = TILE_N * 4; /* B: 16 x (16 rows x 2 bf16) */
    _tile_loadconfig(&cfg);
    const int64_t n_chunks = (n + TILE_K - 1) / TILE_K, k_pad = n_chunks * TILE_K;
    const __mmask16 row_mask = (__mmask16)((1u << n_w) - 1);
    float c[2][TILE_M * TILE_N] __attribute__((aligned(64)));
    const int n_tiles = (n_x + TILE_M - 1) / TILE_M;
    for (int tt = 0; tt < n_tiles; tt += 2) {
        int two = tt + 1 < n_tiles;
        const uint16_t *a0 = xb + (size_t)tt * k_pad * TILE_M;
        const uint16_t *a1 = a0 + (size_t)k_pad * TILE_M;
        _tile_zero(0);
        if (two) _tile_zero(3);
        for (int64_t ch = 0; ch < n_chunks; ch++) {
            _tile_loadd(2, packed + ch * (TILE_K * TILE_N), TILE_N * 4);
            _tile_loadd(1, a0 + ch * (TILE_K * TILE_M), 64);
            _tile_dpbf16ps(0, 1, 2);
            if (two) {
                _tile_loadd(4, a1 + ch * (TILE_K * TILE_M), 64);
                _tile_dpbf16ps(3, 4, 2);
            }
        }
        _tile_stored(0, c[0], TILE_N * 4);
        if (two) _tile_stored(3, c[1], TILE_N * 4);
        for (int h = 0; h <= two; h++) {
            int t0 = (tt + h) * TILE_M, rows = n_x - t0 < TILE_M ? n_x - t0 : TILE_M;
            for (int m = 0; m < rows; m++)
                _mm512_mask_storeu_ps(out + (size_t)(t0 + m) * out_stride, row_mask,
                                      _mm512_load_ps(c[h] + m * TILE_N));
        }
    }
    _tile_release();
}

/* The amx level's part table (core/dispatch.h): the tile kernels; everything else is avx512's. */
const rt_kernels rt_kernels_amx = {
    .level = RT_CPU_AMX,
    .amx_pack_q = amx_pack_q,
    .amx_gemm_q = amx_gemm_q,
    .amx_pack_bf16 = amx_pack_bf16,
    .amx_gemm_bf16 = amx_gemm_bf16,
};
#endif /* RT_HAVE_X86_KERNELS */
