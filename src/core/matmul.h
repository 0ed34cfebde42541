/*
 * matmul.h — the one matrix multiply every layer uses: out = x W^T (+ bias), for a weight W of
 * any storage dtype, and its gradient with respect to x. f32 weights go to OpenBLAS sgemm;
 * f16/bf16/q8_0/q4_0 weights use the SIMD kernels of core/kernels (chosen by CPU detection),
 * threaded over rows (core/team.h), or f32 tiles of W and sgemm where that is faster (see
 * matmul.c).
 * Also the bf16 GEMM of training's --precision bf16 (rt_gemm_bf16, AVX512-BF16 kernels).
 * Threads: the light team (forward), OpenMP (backward, bf16 GEMM) and OpenBLAS, all sized by
 * rt_set_threads().
 */
#ifndef RT_CORE_MATMUL_H
#define RT_CORE_MATMUL_H

#include "core/tensor.h"

#include <stdbool.h>

/* x (n_tokens, n_in) f32, w (n_out, n_in) any dtype, bias (n_out) f32 or NULL,
 * out (n_tokens, n_out) f32. out must not alias x. */
void rt_matmul(float *out, const float *x, const rt_tensor *w, const float *bias, int n_tokens);

/* Several products of the same x at once: items[i].out (n_tokens, n_out_i) = x W_i^T + bias_i,
 * for weights with the same number of columns. Weights of one dtype (f32, or q8_0/q4_0 where
 * they take the integer path) are threaded as one stacked weight: one parallel region, not one
 * per product, so the q, k and v (or gate and up) products of a decode step wake the threads
 * once and small ones are shared out too. The same products as rt_matmul on each item (up to
 * the summation order of OpenBLAS's kernels, which may depend on where a thread's rows start). */
typedef struct rt_matmul_item {
    float *out;
    const rt_tensor *w;
    const float *bias; /* (n_out) or NULL */
} rt_matmul_item;
void rt_matmul_multi(const float *x, int n_tokens, const rt_matmul_item *items, int n_items);

/* The gradient of rt_matmul with respect to x: dx (n_tokens, n_in) += dy (n_tokens, n_out) . W,
 * for w (n_out, n_in) of any dtype (a frozen, possibly quantized base under LoRA). dx must not
 * alias dy. Accumulates: the caller zeroes dx first when it wants a plain product. */
void rt_matmul_backward_x(float *dx, const float *dy, const rt_tensor *w, int n_tokens);

/* Lets bf16 weights in prefill (n_tokens >= 16) use AMX-BF16 tiles with the activations rounded
 * to bf16 (a relative error of at most 2^-9 per product, as llama.cpp and torch's bf16 matmul
 * have): about 5x faster prefill on CPUs with AMX. Off by default, so that prefill and decode
 * give the same numbers up to float summation order. Process-wide; thread-safe. */
void rt_matmul_set_bf16_activations(bool on);

/* C (M,N) = alpha op(A) op(B) + beta C, row-major like cblas_sgemm (op(A) is (M,K): A (M,lda)
 * or, transposed, A (K,lda); op(B) is (K,N): B (K,ldb) or, transposed, B (N,ldb)), with A and B
 * rounded to bf16 (round to nearest even, rt_f32_to_bf16) and the exact products summed in f32:
 * training's --precision bf16. AVX512-BF16 (VDPBF16PS) where the CPU has it, else an exact
 * scalar emulation (same numbers up to f32 summation order, much slower). C is not read when
 * beta is 0 and must not alias A or B. Threads over row or column ranges of C (rt_set_threads);
 * no OpenBLAS. Inside an OpenMP parallel region it runs on the calling thread. */
void rt_gemm_bf16(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Whether rt_gemm_bf16 runs on AVX512-BF16 (false: the scalar emulation). */
bool rt_gemm_bf16_native(void);

/* op(B) of rt_gemm_bf16 rounded to bf16 and packed once, for several products that share it
 * (attention's keys and values per head, the lm head over loss chunks, a frozen weight): data
 * holds rt_gemm_bf16_panels_size(K, N) words (the caller allocates; 64-byte aligned is
 * fastest) for op(B) of K rows and N columns. */
typedef struct rt_gemm_bf16_panels {
    uint32_t *data;
    int K, N; /* op(B)'s shape as packed */
} rt_gemm_bf16_panels;
/* Words of data for op(B) (K,N): about K N / 2, N rounded up to whole 64-column panels. */
size_t rt_gemm_bf16_panels_size(int K, int N);
/* Packs op(B) (p->K, p->N) from B as rt_gemm_bf16 reads it (B (K,ldb), or transposed B (N,ldb));
 * threads over panels outside a parallel region. */
void rt_gemm_bf16_pack_panels(rt_gemm_bf16_panels *p, bool trans_b, const float *B, int ldb);
/* rt_gemm_bf16 with op(B) taken from B's panels: C (M,N) = alpha op(A) (M,K) op(B)[0:K, 0:N] +
 * beta C, the same numbers. K and N may be less than the packed shape (a causal prefix of keys);
 * K is then even. Threads as rt_gemm_bf16 does, on the calling thread alone inside a parallel
 * region (as rt_gemm_bf16 too). */
void rt_gemm_bf16_panels_mul(bool trans_a, int M, int N, int K, float alpha, const float *A,
                             int lda, const rt_gemm_bf16_panels *B, float beta, float *C, int ldc);

#endif
