/*
 * quant.h — conversion between f32 and the storage dtypes (f16, bf16, q8_0, q4_0), row by row.
 * The block layouts are GGUF's, so rows quantized here are bit-identical to llama.cpp's
 * (reference quantization: q8_0 d = max|x|/127, q = round(x/d); q4_0 d = x_maxabs_signed/-8,
 * q = min(15, (int)(x/d + 8.5))). The SIMD kernels give the same bits as the scalar reference.
 */
#ifndef RT_CORE_QUANT_H
#define RT_CORE_QUANT_H

#include "core/tensor.h"

/* dst (n) = src row of n elements of dtype. n must be a multiple of the block size. */
void rt_dequantize_row(rt_dtype dtype, const void *src, float *dst, int64_t n);
/* dst = n elements of dtype from f32 src. n must be a multiple of the block size. */
void rt_quantize_row(rt_dtype dtype, const float *src, void *dst, int64_t n);

/* Converts a whole tensor to a new owned tensor of another dtype (the last dimension must be a
 * multiple of the block size for q8_0/q4_0). */
int rt_tensor_convert(const rt_tensor *src, rt_dtype dtype, rt_tensor *out);

#endif
