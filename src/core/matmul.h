/*
 * matmul.h — the one matrix multiply every layer uses: out = x W^T (+ bias), for a weight W of
 * any storage dtype. f32 weights go to OpenBLAS sgemm; f16/bf16/q8_0/q4_0 weights use the
 * SIMD dot-product kernels of core/kernels (chosen by CPU detection), threaded over rows.
 */
#ifndef RT_CORE_MATMUL_H
#define RT_CORE_MATMUL_H

#include "core/tensor.h"

/* x (n_tokens, n_in) f32, w (n_out, n_in) any dtype, bias (n_out) f32 or NULL,
 * out (n_tokens, n_out) f32. out must not alias x. */
void rt_matmul(float *out, const float *x, const rt_tensor *w, const float *bias, int n_tokens);

#endif
