/*
 * quant.c — portable scalar conversions between f32 and storage dtypes.
 */
#include "core/quant.h"
#include "core/error.h"

#include <math.h>
#include <string.h>

void rt_dequantize_row(rt_dtype dtype, const void *src, float *dst, int64_t n) {
    switch (dtype) {
    case RT_DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case RT_DTYPE_F16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = rt_f16_to_f32(s[i]);
        break;
    }
    case RT_DTYPE_BF16: {
        const uint16_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = rt_bf16_to_f32(s[i]);
        break;
    }
    case RT_DTYPE_Q8_0: {
        const rt_block_q8_0 *b = src;
        for (int64_t i = 0; i < n / RT_QK; i++) {
            float d = rt_f16_to_f32(b[i].d);
            for (int j = 0; j < RT_QK; j++) dst[i * RT_QK + j] = (float)b[i].qs[j] * d;
        }
        break;
    }
    case RT_DTYPE_Q4_0: {
        const rt_block_q4_0 *b = src;
        for (int64_t i = 0; i < n / RT_QK; i++) {
            float d = rt_f16_to_f32(b[i].d);
            for (int j = 0; j < RT_QK / 2; j++) {
                dst[i * RT_QK + j] = (float)((b[i].qs[j] & 0x0f) - 8) * d;
                dst[i * RT_QK + j + RT_QK / 2] = (float)((b[i].qs[j] >> 4) - 8) * d;
            }
        }
        break;
    }
    case RT_DTYPE_I32: {
        const int32_t *s = src;
        for (int64_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    default: RT_ASSERT(!"unsupported dtype in rt_dequantize_row");
    }
}

void rt_quantize_row(rt_dtype dtype, const float *src, void *dst, int64_t n) {
    switch (dtype) {
    case RT_DTYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case RT_DTYPE_F16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = rt_f32_to_f16(src[i]);
        break;
    }
    case RT_DTYPE_BF16: {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = rt_f32_to_bf16(src[i]);
        break;
    }
    case RT_DTYPE_Q8_0: {
        rt_block_q8_0 *b = dst;
        for (int64_t i = 0; i < n / RT_QK; i++) {
            const float *x = src + i * RT_QK;
            float amax = 0.0f;
            for (int j = 0; j < RT_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
            float d = amax / 127.0f;
            float id = d ? 1.0f / d : 0.0f;
            b[i].d = rt_f32_to_f16(d);
            for (int j = 0; j < RT_QK; j++) b[i].qs[j] = (int8_t)roundf(x[j] * id);
        }
        break;
    }
    case RT_DTYPE_Q4_0: {
        rt_block_q4_0 *b = dst;
        for (int64_t i = 0; i < n / RT_QK; i++) {
            const float *x = src + i * RT_QK;
            float amax = 0.0f, max = 0.0f;
            for (int j = 0; j < RT_QK; j++) {
                if (fabsf(x[j]) > amax) {
                    amax = fabsf(x[j]);
                    max = x[j];
                }
            }
            float d = max / -8.0f;
            float id = d ? 1.0f / d : 0.0f;
            b[i].d = rt_f32_to_f16(d);
            for (int j = 0; j < RT_QK / 2; j++) {
                int q0 = (int)(x[j] * id + 8.5f), q1 = (int)(x[j + RT_QK / 2] * id + 8.5f);
                q0 = q0 > 15 ? 15 : (q0 < 0 ? 0 : q0);
                q1 = q1 > 15 ? 15 : (q1 < 0 ? 0 : q1);
                b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        break;
    }
    default: RT_ASSERT(!"unsupported dtype in rt_quantize_row");
    }
}

int rt_tensor_convert(const rt_tensor *src, rt_dtype dtype, rt_tensor *out) {
    RT_TRY(rt_tensor_alloc(out, src->name, dtype, src->n_dims, src->shape));
    int64_t row = src->shape[src->n_dims - 1];
    int64_t n_rows = row ? rt_tensor_nelements(src) / row : 0;
    if (row % rt_dtype_block_size(src->dtype) || row % rt_dtype_block_size(dtype)) {
        rt_tensor_free(out);
        return rt_error(RT_ERR_UNSUPPORTED, "tensor %s: row of %lld elements cannot be %s",
                        src->name ? src->name : "?", (long long)row, rt_dtype_name(dtype));
    }
    size_t src_row = rt_tensor_row_bytes(src), dst_row = rt_tensor_row_bytes(out);
    float *tmp = rt_malloc((size_t)row * sizeof(float));
    if (!tmp) {
        rt_tensor_free(out);
        return RT_ERR_NOMEM;
    }
    for (int64_t r = 0; r < n_rows; r++) {
        rt_dequantize_row(src->dtype, (const char *)src->data + r * src_row, tmp, row);
        rt_quantize_row(dtype, tmp, (char *)out->data + r * dst_row, row);
    }
    free(tmp);
    return RT_OK;
}
