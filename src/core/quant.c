/*
 * quant.c — conversions between f32 and storage dtypes, row by row. The formulas (and the scalar
 * reference) live in core/kernels/kernels_scalar.c; this goes through the dispatched kernel
 * table, whose conversions are bit-exact across ISA levels.
 */
#include "core/quant.h"
#include "core/error.h"
#include "core/kernels/kernels.h"

#include <string.h>

void rt_dequantize_row(rt_dtype dtype, const void *src, float *dst, int64_t n) {
    const rt_kernels *k = rt_kernels_get();
    switch (dtype) {
    case RT_DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case RT_DTYPE_F16:
        k->f16_to_f32(src, dst, n);
        break;
    case RT_DTYPE_BF16:
        k->bf16_to_f32(src, dst, n);
        break;
    case RT_DTYPE_Q8_0:
        k->q8_0_to_f32(src, dst, n);
        break;
    case RT_DTYPE_Q4_0:
        k->q4_0_to_f32(src, dst, n);
        break;
    case RT_DTYPE_I32: {
        const int32_t *s = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)s[i];
        break;
    }
    default:
        RT_ASSERT(!"unsupported dtype in rt_dequantize_row");
    }
}

void rt_quantize_row(rt_dtype dtype, const float *src, void *dst, int64_t n) {
    const rt_kernels *k = rt_kernels_get();
    switch (dtype) {
    case RT_DTYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case RT_DTYPE_F16:
        k->f32_to_f16(src, dst, n);
        break;
    case RT_DTYPE_BF16:
        k->f32_to_bf16(src, dst, n);
        break;
    case RT_DTYPE_Q8_0:
        k->quantize_row_q8_0(src, dst, n);
        break;
    case RT_DTYPE_Q4_0:
        k->quantize_row_q4_0(src, dst, n);
        break;
    default:
        RT_ASSERT(!"unsupported dtype in rt_quantize_row");
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
