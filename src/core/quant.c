/*
 * quant.c — conversions between f32 and storage dtypes, row by row and for whole tensors. The
 * formulas (and the scalar reference) live in core/kernels/kernels_scalar.c; the row kernels of
 * each dtype are found in core/dtype's traits table, which goes through the dispatched kernel
 * table, whose conversions are bit-exact across ISA levels.
 */
#include "core/quant.h"
#include "core/error.h"

void rt_dequantize_row(rt_dtype dtype, const void *src, float *dst, int64_t n) {
    const rt_dtype_traits *t = rt_dtype_traits_of(dtype);
    RT_ASSERT(t && t->to_f32 && "unsupported dtype in rt_dequantize_row");
    t->to_f32(src, dst, n);
}

void rt_quantize_row(rt_dtype dtype, const float *src, void *dst, int64_t n) {
    const rt_dtype_traits *t = rt_dtype_traits_of(dtype);
    RT_ASSERT(t && t->from_f32 && "unsupported dtype in rt_quantize_row");
    t->from_f32(src, dst, n);
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
