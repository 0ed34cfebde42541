/*
 * ops.h — the per-token transformer operations of inference: normalizations, rotary position
 * embedding, softmax, activations and causal / bidirectional attention over a KV cache.
 *
 * All of them are f32, row-parallel with OpenMP at the outer loop over the row kernels of
 * model/opkern.h (plain C compiled per ISA level; the scalar level is the reference).
 * Projections are not here: every matrix multiply with a weight goes through rt_matmul
 * (core/matmul.h). These are forward-only kernels; training keeps its own forward/backward pairs in
 * src/train.
 */
#ifndef RT_MODEL_OPS_H
#define RT_MODEL_OPS_H

#include <stdbool.h>
#include <stddef.h>

/* RMSNorm (Llama): out = x / sqrt(mean(x^2) + eps) * weight.
 * x (T,C), weight (C), out (T,C); out may alias x. */
void rt_op_rmsnorm(float *out, const float *x, const float *weight, int T, int C, float eps);

/* LayerNorm: out = (x - mean) / sqrt(var + eps) * weight + bias (bias may be NULL).
 * x (T,C), weight (C), bias (C), out (T,C); out may alias x. */
void rt_op_layernorm(float *out, const float *x, const float *weight, const float *bias, int T,
                     int C, float eps);

/* Rotary embedding frequencies, Hugging Face's computation: inv_freq[i] = theta^(-2i/head_dim)
 * for i < head_dim/2, then Llama-3 scaling when scaling_factor > 0 (long wavelengths divided by
 * the factor, short ones kept, a smooth blend between low_freq_factor and high_freq_factor).
 * inv_freq (head_dim/2). */
void rt_op_rope_inv_freq(float *inv_freq, int head_dim, float theta, float scaling_factor,
                         float low_freq_factor, float high_freq_factor, int original_ctx);

/* Fills cos/sin tables for positions 0..n_pos-1: cos_sin (n_pos, head_dim/2, 2) with
 * angle = pos * inv_freq[i] computed in f32 as PyTorch does. */
void rt_op_rope_table(float *cos_sin, const float *inv_freq, int head_dim, int n_pos);

/* Applies RoPE in place to x (T, n_heads, head_dim) for the positions pos0..pos0+T-1.
 * interleaved false: pairs (i, i + head_dim/2) (HF rotate_half); true: pairs (2i, 2i+1)
 * (GGUF / original Meta layout). cos_sin is the table from rt_op_rope_table. */
void rt_op_rope(float *x, const float *cos_sin, int T, int n_heads, int head_dim, int pos0,
                bool interleaved);

/* In-place softmax over n values (max-subtracted). */
void rt_op_softmax(float *x, int n);

/* Activations, in place over n values. */
void rt_op_gelu_tanh(float *x, size_t n); /* HF gelu_new / gelu_pytorch_tanh */
void rt_op_gelu_erf(float *x, size_t n);  /* exact GELU (BERT "gelu") */
/* SwiGLU: gate = silu(gate) * up. gate, up (n). */
void rt_op_swiglu(float *gate, const float *up, size_t n);

/* Scaled dot-product attention of T new query tokens against a KV cache.
 *   q   (T, n_head, head_dim)            queries of the new tokens
 *   k_cache, v_cache (n_kv, kv_stride)   rows 0..n_kv-1 hold keys / values of positions
 *                                        0..n_kv-1; head g of a row starts at g*head_dim
 *   out (T, n_head, head_dim)
 *   scratch (n_scratch_rows, n_kv)       one row of scores per thread
 * Query t sits at position pos0 + t. causal: it sees positions 0..pos0+t; otherwise all n_kv.
 * Grouped-query attention: query head h reads kv head h / (n_head / n_kv_head). */
void rt_op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int T,
                     int pos0, int n_kv, int n_head, int n_kv_head, int head_dim, size_t kv_stride,
                     bool causal, float *scratch, int n_scratch_rows);

/* Adds a (T,C) += b (T,C). */
void rt_op_add(float *a, const float *b, size_t n);

#endif
