/*
 * ops.h — the layers of a decoder transformer for training, each forward next to its backward
 * (llm.c style): embeddings, RMSNorm, LayerNorm, linear, RoPE (both pairings), causal attention
 * with grouped-query heads, SwiGLU, GELU (tanh). All f32. Backward functions ACCUMULATE (+=)
 * into their gradient outputs, so callers zero gradients once per step.
 *
 * B = sequences in the batch, T = tokens per sequence, N = B*T rows, C = channels.
 * These kernels do not allocate; threads go over rows or (sequence, head) with OpenMP.
 */
#ifndef RT_TRAIN_OPS_H
#define RT_TRAIN_OPS_H

#include "core/matmul.h"
#include "core/tensor.h"

#include <stdbool.h>
#include <stdint.h>

/* out (N,C) = wte[ids] (+ wpe[t] when wpe != NULL, position t = row % T). wte (V,C) any dtype,
 * wpe (T_max,C) f32. */
void op_embedding_forward(float *out, const int32_t *ids, const rt_tensor *wte, const float *wpe,
                          int N, int T, int C);
/* dwte (V,C) += scatter of dout (N,C) (skipped when NULL); dwpe (T_max,C) likewise. */
void op_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids, int N,
                           int T, int C);

/* out (N,C) = inp / rms(inp) * w; rstd (N) saved for backward. */
void op_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps);
/* dinp (N,C) +=, dw (C) += (dw may be NULL when frozen). */
void op_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, int N, int C);

/* out (N,C) = (inp - mean) * rstd * w + b; mean, rstd (N) saved. */
void op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps);
/* dinp (N,C) +=, dw, db (C) += (NULL when frozen). */
void op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C);

/* cblas_sgemm (row-major) split into blocks of rows or columns of C across the OpenMP threads,
 * each block a single-threaded sgemm: one thread pool (OpenMP) does all the work, so OpenBLAS's
 * own pool and idle OpenMP threads never fight over the cores. Call between
 * op_threads_begin/op_threads_end, which make OpenBLAS single-threaded. */
void op_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
/* Returns the OpenBLAS thread count to restore with op_threads_end. */
int op_threads_begin(void);
void op_threads_end(int blas_threads);

/* op_sgemm, or with bf16 core/matmul's rt_gemm_bf16 (A and B rounded to bf16, f32 sums:
 * --precision bf16) when M, N and K are all at least 32 (smaller products, such as LoRA's
 * rank-r ones, are memory-bound and stay f32). The same contract otherwise. */
void op_gemm(bool bf16, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
/* Whether op_gemm(bf16, ...) of these dimensions runs in bf16. */
bool op_gemm_is_bf16(bool bf16, int M, int N, int K);

/* out (N,n_out) = inp (N,n_in) W^T + b, W (n_out,n_in) f32 (sgemm). */
void op_linear_forward_f32(float *out, const float *inp, const float *w, const float *b, int N,
                           int n_in, int n_out);
/* dinp (N,n_in) += dout W (skipped when NULL); dw (n_out,n_in) += dout^T inp; db (n_out) += sum
 * of dout rows (dw/db skipped when NULL). */
void op_linear_backward_f32(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, int N, int n_in, int n_out);
/* The two above with their products through op_gemm(bf16, ...). */
void op_linear_forward(bool bf16, float *out, const float *inp, const float *w, const float *b,
                       int N, int n_in, int n_out);
void op_linear_backward(bool bf16, float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int n_in, int n_out);
/* op_linear_forward and op_linear_backward's input gradient (dinp += dout W) with W's panels
 * packed ahead (w_fwd: W^T, (n_in, n_out); w_bwd: W, (n_out, n_in); see core/matmul.h), the
 * same numbers; without panels (NULL data) or where op_gemm stays f32, as those two. */
void op_linear_forward_packed(bool bf16, float *out, const float *inp, const float *w,
                              const rt_gemm_bf16_panels *w_fwd, const float *b, int N, int n_in,
                              int n_out);
void op_linear_backward_x_packed(bool bf16, float *dinp, const float *dout, const float *w,
                                 const rt_gemm_bf16_panels *w_bwd, int N, int n_in, int n_out);
/* dinp (N,n_in) += dout (N,n_out) W for a weight of any dtype (frozen bases: bf16, q8_0, ...). */
void op_linear_backward_x(float *dinp, const float *dout, const rt_tensor *w, int N);

/* RoPE tables: cos, sin (T_max, head_dim/2) from theta and optional Llama-3 scaling
 * (factor 0 = none), as Hugging Face computes inv_freq. */
void op_rope_tables(float *cos_t, float *sin_t, int T_max, int head_dim, float theta,
                    float scaling_factor, float low_freq_factor, float high_freq_factor,
                    int original_ctx);
/* In place on x (N, n_heads*head_dim), position = row % T. interleaved: pairs (2i, 2i+1);
 * otherwise HF rotate_half pairs (i, i + head_dim/2). backward applies the inverse rotation
 * to the gradient in place. */
void op_rope(float *x, const float *cos_t, const float *sin_t, int N, int T, int n_heads,
             int head_dim, bool interleaved, bool backward);

/* Causal attention. q (N, H*D), k, v (N, KV*D), out (N, H*D), lse (B,H,T) saved: the
 * log-sum-exp of each row of scaled scores (backward recomputes the weights from it). Head h
 * reads kv head h / (H/KV). bf16: the score and value products (and their gradients' products)
 * through rt_gemm_bf16, inputs rounded to bf16 and f32 sums (the probabilities too, where they
 * multiply v); softmax and log-sum-exp stay f32. */
void op_attention_forward(bool bf16, float *out, float *lse, const float *q, const float *k,
                          const float *v, int B, int T, int H, int KV, int D);
/* dq (N,H*D), dk, dv (N,KV*D) +=. */
void op_attention_backward(bool bf16, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *lse, int B,
                           int T, int H, int KV, int D);

/* h (n) = silu(gate) * up. */
void op_swiglu_forward(float *h, const float *gate, const float *up, int64_t n);
/* dgate, dup (n) = (overwrite) from dh. */
void op_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate,
                        const float *up, int64_t n);

/* out (n) = gelu_tanh(inp) (GPT-2's "gelu_new"). */
void op_gelu_forward(float *out, const float *inp, int64_t n);
/* dinp (n) = (overwrite) dout * gelu'(inp). */
void op_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n);

#endif
