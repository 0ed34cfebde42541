/*
 * matmul.h — the one matrix multiply every layer uses: out = x W^T (+ bias), for a weight W of
 * any storage dtype, and its gradient with respect to x. f32 weights go to OpenBLAS sgemm;
 * f16/bf16/q8_0/q4_0 weights use the SIMD kernels of core/kernels (chosen by CPU detection),
 * threaded over rows with OpenMP, or f32 tiles of W and sgemm where that is faster (see matmul.c).
 * Threads: OpenMP and OpenBLAS, both set by rt_set_threads().
 */
#ifndef RT_CORE_MATMUL_H
#define RT_CORE_MATMUL_H

#include "core/tensor.h"

#include <stdbool.h>

/* x (n_tokens, n_in) f32, w (n_out, n_in) any dtype, bias (n_out) f32 or NULL,
 * out (n_tokens, n_out) f32. out must not alias x. */
void rt_matmul(float *out, const float *x, const rt_tensor *w, const float *bias, int n_tokens);

/* The gradient of rt_matmul with respect to x: dx (n_tokens, n_in) += dy (n_tokens, n_out) . W,
 * for w (n_out, n_in) of any dtype (a frozen, possibly quantized base under LoRA). dx must not
 * alias dy. Accumulates: the caller zeroes dx first when it wants a plain product. */
void rt_matmul_backward_x(float *dx, const float *dy, const rt_tensor *w, int n_tokens);

/* Lets bf16 weights in prefill (n_tokens >= 16) use AMX-BF16 tiles with the activations rounded
 * to bf16 (a relative error of at most 2^-9 per product, as llama.cpp and torch's bf16 matmul
 * have): about 5x faster prefill on CPUs with AMX. Off by default, so that prefill and decode
 * give the same numbers up to float summation order. Process-wide; thread-safe. */
void rt_matmul_set_bf16_activations(bool on);

#endif
