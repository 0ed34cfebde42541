/*
 * kernels_scalar.c — the portable reference of every kernel in kernels.h, in plain C. The GGUF
 * quantization formulas are llama.cpp's reference ones, so quantized rows are bit-identical:
 *   q8_0: d = max|x| / 127, q = roundf(x / d) (half away from zero), stored d is f16.
 *   q4_0: d = m / -8 where m is the signed value of largest magnitude,
 *         q = min(15, (int)(x / d + 8.5)); element j in the low nibble of byte j, element
 *         j + 16 in the high nibble.
 * The dot products accumulate each q8_0 block's integer sum exactly, then in float over blocks
 * (ordered left to right); the SIMD levels differ from this only in that float order.
 */
#include "core/kernels/kernels.h"

#include <math.h>
#include <string.h>

static void f16_to_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_f16_to_f32(x[i]);
}

static void bf16_to_f32(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_bf16_to_f32(x[i]);
}

static void f32_to_f16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_f32_to_f16(x[i]);
}

static void f32_to_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = rt_f32_to_bf16(x[i]);
}

static void q8_0_to_f32(const rt_block_q8_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        float d = rt_f16_to_f32(x[b].d);
        for (int j = 0; j < RT_QK; j++)
            y[b * RT_QK + j] = (float)x[b].qs[j] * d;
    }
}

static void q4_0_to_f32(const rt_block_q4_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        float d = rt_f16_to_f32(x[b].d);
        for (int j = 0; j < RT_QK / 2; j++) {
            y[b * RT_QK + j] = (float)((x[b].qs[j] & 0x0f) - 8) * d;
            y[b * RT_QK + j + RT_QK / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

static void quantize_row_q8_0(const float *x, rt_block_q8_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        const float *xb = x + b * RT_QK;
        float amax = 0.0f;
        for (int j = 0; j < RT_QK; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f;
        float id = d ? 1.0f / d : 0.0f;
        y[b].d = rt_f32_to_f16(d);
        for (int j = 0; j < RT_QK; j++)
            y[b].qs[j] = (int8_t)roundf(xb[j] * id);
    }
}

void rt_quantize_row_q4_0_ref(const float *x, rt_block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        const float *xb = x + b * RT_QK;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < RT_QK; j++) {
            if (fabsf(xb[j]) > amax) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        float d = max / -8.0f;
        float id = d ? 1.0f / d : 0.0f;
        y[b].d = rt_f32_to_f16(d);
        for (int j = 0; j < RT_QK / 2; j++) {
            int q0 = (int)(xb[j] * id + 8.5f), q1 = (int)(xb[j + RT_QK / 2] * id + 8.5f);
            q0 = q0 > 15 ? 15 : (q0 < 0 ? 0 : q0);
            q1 = q1 > 15 ? 15 : (q1 < 0 ? 0 : q1);
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

static void quantize_row_q8_act(const float *x, uint8_t *xq, float *xd, int64_t n) {
    for (int64_t b = 0; b < n / RT_QK; b++) {
        rt_block_q8_0 blk;
        quantize_row_q8_0(x + b * RT_QK, &blk, RT_QK);
        xd[b] = rt_f16_to_f32(blk.d);
        for (int j = 0; j < RT_QK; j++)
            xq[b * RT_QK + j] = (uint8_t)(blk.qs[j] + 128);
    }
}

/* w (n) q8_0, xq (n_x, n) offset-binary quants, xd (n_x, n/32), out (n_x, out_stride) */
static void dot_q8_0_q8(int64_t n, const rt_block_q8_0 *w, const uint8_t *xq, const float *xd,
                        int n_x, float *out, size_t out_stride) {
    int64_t nb = n / RT_QK;
    for (int t = 0; t < n_x; t++) {
        const uint8_t *q = xq + (size_t)t * n;
        float sum = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            int isum = 0;
            for (int j = 0; j < RT_QK; j++)
                isum += w[b].qs[j] * (q[b * RT_QK + j] - 128);
            sum += (float)isum * (rt_f16_to_f32(w[b].d) * xd[t * nb + b]);
        }
        out[(size_t)t * out_stride] = sum;
    }
}

/* w (n) q4_0, xq (n_x, n) offset-binary quants, xd (n_x, n/32), out (n_x, out_stride) */
static void dot_q4_0_q8(int64_t n, const rt_block_q4_0 *w, const uint8_t *xq, const float *xd,
                        int n_x, float *out, size_t out_stride) {
    int64_t nb = n / RT_QK;
    for (int t = 0; t < n_x; t++) {
        const uint8_t *q = xq + (size_t)t * n;
        float sum = 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const uint8_t *qb = q + b * RT_QK;
            int isum = 0;
            for (int j = 0; j < RT_QK / 2; j++) {
                isum += ((w[b].qs[j] & 0x0f) - 8) * (qb[j] - 128);
                isum += ((w[b].qs[j] >> 4) - 8) * (qb[j + RT_QK / 2] - 128);
            }
            sum += (float)isum * (rt_f16_to_f32(w[b].d) * xd[t * nb + b]);
        }
        out[(size_t)t * out_stride] = sum;
    }
}

/* w (n) f16, x (n_x, x_stride) f32, out (n_x, out_stride) */
static void dot_f16_f32(int64_t n, const uint16_t *w, const float *x, size_t x_stride, int n_x,
                        float *out, size_t out_stride) {
    for (int t = 0; t < n_x; t++) {
        const float *xt = x + (size_t)t * x_stride;
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++)
            sum += rt_f16_to_f32(w[i]) * xt[i];
        out[(size_t)t * out_stride] = sum;
    }
}

/* w (n) bf16, x (n_x, x_stride) f32, out (n_x, out_stride) */
static void dot_bf16_f32(int64_t n, const uint16_t *w, const float *x, size_t x_stride, int n_x,
                         float *out, size_t out_stride) {
    for (int t = 0; t < n_x; t++) {
        const float *xt = x + (size_t)t * x_stride;
        float sum = 0.0f;
        for (int64_t i = 0; i < n; i++)
            sum += rt_bf16_to_f32(w[i]) * xt[i];
        out[(size_t)t * out_stride] = sum;
    }
}

/* ---- bf16 GEMM (the reference of the packing layout and of VDPBF16PS's arithmetic) ---- */

static void gemm_bf16_pack(const float *src, size_t ld, int k_contig, int n, int64_t kc, int width,
                           uint32_t *dst) {
    int64_t kp = (kc + 1) / 2;
    int n_pad = (n + width - 1) / width * width;
    for (int r = 0; r < n_pad; r++) {
        uint32_t *panel = dst + (size_t)(r / width) * kp * width + r % width;
        for (int64_t p = 0; p < kp; p++) {
            uint32_t pair = 0;
            for (int h = 0; h < 2 && r < n; h++) {
                int64_t k = 2 * p + h;
                if (k >= kc) break;
                float e = k_contig ? src[(size_t)r * ld + k] : src[(size_t)k * ld + r];
                pair |= (uint32_t)rt_f32_to_bf16(e) << (16 * h);
            }
            panel[p * width] = pair;
        }
    }
}

static inline float bf16_half(uint32_t pair, int h) {
    return rt_bf16_to_f32((uint16_t)(pair >> (16 * h)));
}

/* Products of two bf16 values are exact in f32; each pair adds to the f32 sum in the order
 * VDPBF16PS's pseudo-code gives (the odd element first). */
static void gemm_bf16_tile(int64_t kp, const uint32_t *a, size_t a_rs, size_t a_ps,
                           const uint32_t *b, float *c, size_t ldc, int m, int n, float alpha,
                           float beta) {
    enum { MR = RT_GEMM_BF16_MR, NR = RT_GEMM_BF16_NR };
    float acc[MR][NR];
    memset(acc, 0, sizeof acc);
    for (int64_t p = 0; p < kp; p++) {
        const uint32_t *bp = b + p * NR;
        for (int i = 0; i < m; i++) {
            uint32_t ai = a[i * a_rs + (size_t)p * a_ps];
            float a0 = bf16_half(ai, 0), a1 = bf16_half(ai, 1);
            for (int j = 0; j < n; j++) {
                acc[i][j] += a1 * bf16_half(bp[j], 1);
                acc[i][j] += a0 * bf16_half(bp[j], 0);
            }
        }
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float *cij = c + (size_t)i * ldc + j;
            *cij = beta == 0.0f ? alpha * acc[i][j] : alpha * acc[i][j] + beta * *cij;
        }
}

const rt_kernels rt_kernels_scalar = {
    .level = RT_CPU_SCALAR,
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
    .gemm_bf16_pack = gemm_bf16_pack,
    .gemm_bf16_tile = gemm_bf16_tile,
};
