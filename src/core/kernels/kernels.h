/*
 * kernels.h — the SIMD kernel table. One table per ISA level (scalar, avx2, avx512, amx), each
 * in its own file; a level writes only what it specialises and falls back to the level below for
 * the rest (core/dispatch.h: amx is avx512 plus kernels_amx.c's tile kernels, avx512 takes its
 * row conversions from avx2). rt_kernels_get() picks one at first use from core/cpu's level
 * (thread-safe) and every caller goes through it. The scalar table is the reference the others
 * are tested against.
 *
 * Conventions of every kernel:
 *   - n is the number of elements of a row; for q8_0/q4_0 it is a multiple of RT_QK (32).
 *   - "w" is a weight row (any storage dtype), "x" an activation row (f32, or quantized to q8_0
 *     by quantize_row_q8_act, as llama.cpp does for integer dot products).
 *   - Conversions are bit-exact across levels (the same rounding as core/quant's reference:
 *     q8_0 rounds half away from zero, f16/bf16 round to nearest even).
 *   - Dot products differ across levels only by float summation order.
 *   - No kernel allocates, and all are safe to call from many threads at once.
 */
#ifndef RT_CORE_KERNELS_H
#define RT_CORE_KERNELS_H

#include "core/cpu.h"
#include "core/tensor.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rt_kernels {
    rt_cpu_level level;

    /* Row conversions: y (n) from x (n). */
    void (*f16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*bf16_to_f32)(const uint16_t *x, float *y, int64_t n);
    void (*f32_to_f16)(const float *x, uint16_t *y, int64_t n);
    void (*f32_to_bf16)(const float *x, uint16_t *y, int64_t n);
    void (*q8_0_to_f32)(const rt_block_q8_0 *x, float *y, int64_t n);
    void (*q4_0_to_f32)(const rt_block_q4_0 *x, float *y, int64_t n);
    void (*quantize_row_q8_0)(const float *x, rt_block_q8_0 *y, int64_t n);
    void (*quantize_row_q4_0)(const float *x, rt_block_q4_0 *y, int64_t n);

    /* Activation rows for the integer dot products: x (n) f32 quantized exactly as q8_0 (same
     * scale, same rounding), but stored as n offset-binary bytes xq = q + 128 and n / 32 f32
     * scales xd (the f16-rounded q8_0 scale, widened). Contiguous quants let SIMD code load
     * several blocks at once, and unsigned bytes suit VPDPBUSD (unsigned x signed). */
    void (*quantize_row_q8_act)(const float *x, uint8_t *xq, float *xd, int64_t n);

    /* Dot products of one weight row w (n) with n_x activation rows:
     *   out[t * out_stride] = sum_i w[i] * x_t[i]   for t in [0, n_x)
     * For q8_0/q4_0 weights the activation rows are in the q8_act layout above, packed: row t
     * at xq + t * n and xd + t * n / 32. For f16/bf16 weights they are f32 rows x_stride apart.
     * With n_x = 1 this is a plain vector dot product (decode); with more rows each weight
     * block is loaded once for several rows (prefill). */
    void (*dot_q8_0_q8)(int64_t n, const rt_block_q8_0 *w, const uint8_t *xq, const float *xd,
                        int n_x, float *out, size_t out_stride);
    void (*dot_q4_0_q8)(int64_t n, const rt_block_q4_0 *w, const uint8_t *xq, const float *xd,
                        int n_x, float *out, size_t out_stride);
    /* Four consecutive weight rows (row_bytes apart) against one activation row (q8_act
     * layout): out[r] = sum_i w_r[i] * x[i], r < 4 (decode). NULL where the level has none. */
    void (*dot_q8_0_q8_r4)(int64_t n, const void *w, size_t row_bytes, const uint8_t *xq,
                           const float *xd, float *out);
    void (*dot_q4_0_q8_r4)(int64_t n, const void *w, size_t row_bytes, const uint8_t *xq,
                           const float *xd, float *out);
    /* y (n_rows) = W x for f32 rows of n, ld floats apart (decode's matrix-vector product;
     * prefetches far ahead of the rows it reads). NULL where the level has none (OpenBLAS's
     * sgemv is used there). */
    void (*gemv_f32)(int64_t n, const float *w, size_t ld, int n_rows, const float *x, float *y);
    void (*dot_f16_f32)(int64_t n, const uint16_t *w, const float *x, size_t x_stride, int n_x,
                        float *out, size_t out_stride);
    void (*dot_bf16_f32)(int64_t n, const uint16_t *w, const float *x, size_t x_stride, int n_x,
                         float *out, size_t out_stride);

    /* AMX tiles (NULL below the amx level): 16 weight rows times 16 activation rows per tile
     * multiply, for prefill. amx_pack_q lays out n_w <= 16 rows of q8_0 or q4_0 weights (rows
     * w_row_bytes apart, n elements each) as signed bytes in the tile layout, packed
     * (n * 16 bytes), with their scales dw (n / 32 * 16 floats); missing rows are zero.
     * amx_gemm_q then computes, for t < n_x and r < n_w,
     *   out[t * out_stride + r] = sum_i w_r[i] * x_t[i]
     * from signed q8_0 activation quants xs and their scales xd (rows n / 32 apart), both for
     * n_x rounded up to a multiple of 16 rows (zero padded). xs is in tiles: rows 16 tt to
     * 16 tt + 15 take n * 16 bytes from xs + tt * n * 16, block after block, each block 16 rows
     * of 32 bytes (so every A tile is one contiguous 512-byte load). */
    void (*amx_pack_q)(rt_dtype dtype, const void *w, size_t w_row_bytes, int n_w, int64_t n,
                       int8_t *packed, float *dw);
    void (*amx_gemm_q)(int64_t n, const int8_t *packed, const float *dw, int n_w, const int8_t *xs,
                       const float *xd, int n_x, float *out, size_t out_stride);
    /* AMX-BF16 (NULL below the amx level), for bf16 weights in prefill: activations rounded
     * to bf16 (as llama.cpp does for bf16 weights), products summed in f32 tiles.
     * amx_pack_bf16 lays out n_w <= 16 bf16 rows (w_row_elems apart, n elements each) as B
     * tiles: packed holds (n rounded up to 32) * 16 values, zero padded. amx_gemm_bf16 computes
     *   out[t * out_stride + r] = sum_i w_r[i] * x_t[i]   for t < n_x, r < n_w
     * from bf16 activations xb in tiles: rows 16 tt to 16 tt + 15 take k_pad * 16 values from
     * xb + tt * k_pad * 16, 32 columns after 32 columns, each chunk 16 rows of 32 values
     * (k_pad = n rounded up to 32, zero padded; n_x rounded up to 16 rows, zero padded). */
    void (*amx_pack_bf16)(const uint16_t *w, size_t w_row_elems, int n_w, int64_t n,
                          uint16_t *packed);
    void (*amx_gemm_bf16)(int64_t n, const uint16_t *packed, int n_w, const uint16_t *xb, int n_x,
                          float *out, size_t out_stride);

    /* bf16 GEMM with f32 sums (training's --precision bf16, core/matmul.h's rt_gemm_bf16):
     * operands are packed as bf16 pairs along k, as VDPBF16PS reads them, and a micro-kernel
     * multiplies RT_GEMM_BF16_MR rows of A by a panel of RT_GEMM_BF16_NR columns of B.
     * The avx512 level's entries need AVX512-BF16, which that level does not imply: callers go
     * through rt_gemm_bf16, which takes the scalar entries (exact emulation) on CPUs without it.
     *
     * gemm_bf16_pack: n lines (rows of A or columns of B) over kc steps of k, from the f32
     * elements e(r, k) = src[r * ld + k] when k_contig, else src[k * ld + r] (r < n, k < kc),
     * rounded to bf16 as f32_to_bf16 rounds, into ceil(n / width) panels of kp = (kc + 1) / 2
     * pairs of `width` lines, one after another: line r's pair p is at
     *   dst[(r / width) * kp * width + p * width + r % width]
     *     = bf16(e(r, 2p)) | bf16(e(r, 2p + 1)) << 16,
     * zero for the last panel's lines past n and for k >= kc. width 1 is A's rows one after
     * another (kp pairs each); width RT_GEMM_BF16_NR is B's panels.
     * gemm_bf16_tile: for i < m <= MR, j < n <= NR, with s the f32 sum over kp pairs of the exact
     * products of A's pairs a[i * a_rs + p * a_ps] (rows m to MR - 1 are not read) and B's panel
     * b[p * NR + j]:
     *   c[i * ldc + j] = alpha * s + beta * c[i * ldc + j]   (c is not read when beta == 0). */
    void (*gemm_bf16_pack)(const float *src, size_t ld, int k_contig, int n, int64_t kc, int width,
                           uint32_t *dst);
    void (*gemm_bf16_tile)(int64_t kp, const uint32_t *a, size_t a_rs, size_t a_ps,
                           const uint32_t *b, float *c, size_t ldc, int m, int n, float alpha,
                           float beta);
} rt_kernels;

/* The micro-tile of gemm_bf16_tile: 6 rows x 64 columns (24 zmm accumulators, 4 loads of B and
 * 6 broadcasts of A per 24 VDPBF16PS). */
enum { RT_GEMM_BF16_MR = 6, RT_GEMM_BF16_NR = 64 };

/* The table in use (level rt_cpu_level_get()). Never NULL. */
const rt_kernels *rt_kernels_get(void);
/* The table of a given level, or NULL when this CPU (or this build) lacks it. For tests and
 * benchmarks that compare levels. */
const rt_kernels *rt_kernels_for(rt_cpu_level level);

/* The scalar q4_0 quantizer, shared by every table (weights are quantized offline, so this is
 * not worth a SIMD version). */
void rt_quantize_row_q4_0_ref(const float *x, rt_block_q4_0 *y, int64_t n);

/* Each ISA file defines its table, registered in kernels.c through core/dispatch.h: scalar and
 * avx2 are complete, avx512 and amx are parts whose NULL entries fall back to the level below.
 * Tables of levels the compiler cannot target are absent (kernels.c checks RT_HAVE_*). */
extern const rt_kernels rt_kernels_scalar;
#if defined(__x86_64__)
#define RT_HAVE_X86_KERNELS 1
extern const rt_kernels rt_kernels_avx2;
extern const rt_kernels rt_kernels_avx512;
extern const rt_kernels rt_kernels_amx; /* a part: the tile kernels (kernels_amx.c) */
/* The avx512 part's bf16 GEMM (kernels_bf16_avx512.c, needs AVX512-BF16; see gemm_bf16_pack). */
void rt_gemm_bf16_pack_avx512(const float *src, size_t ld, int k_contig, int n, int64_t kc,
                              int width, uint32_t *dst);
void rt_gemm_bf16_tile_avx512(int64_t kp, const uint32_t *a, size_t a_rs, size_t a_ps,
                              const uint32_t *b, float *c, size_t ldc, int m, int n, float alpha,
                              float beta);
#endif

#endif
