/*
 * ops.c — training layers, forward beside backward. Plain C loops (vectorized by the compiler)
 * except the linear layers, which go to OpenBLAS sgemm (or, with bf16 set, core/matmul's
 * rt_gemm_bf16: bf16 inputs, f32 sums). Numerics follow Hugging Face: RMSNorm and
 * LayerNorm statistics in f32, softmax with the row maximum subtracted, GELU with tanh.
 */
#include "train/ops.h"
#include "train/tkern.h"

#include "core/matmul.h"
#include "core/quant.h"
#include "core/error.h"

#include <cblas.h>
#include <omp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- embeddings -------------------------------------------------------------------------- */

// out (N,C), ids (N), wte (V,C), wpe (T_max,C)
void op_embedding_forward(float *out, const int32_t *ids, const rt_tensor *wte, const float *wpe,
                          int N, int T, int C) {
    size_t row_bytes = rt_tensor_row_bytes(wte);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * C;
        rt_dequantize_row(wte->dtype, (const char *)wte->data + (size_t)ids[i] * row_bytes, o, C);
        if (wpe) {
            const float *p = wpe + (size_t)(i % T) * C;
            for (int c = 0; c < C; c++)
                o[c] += p[c];
        }
    }
}

// dwte (V,C), dwpe (T_max,C), dout (N,C)
void op_embedding_backward(float *dwte, float *dwpe, const float *dout, const int32_t *ids, int N,
                           int T, int C) {
    /* Serial over rows: two rows may hit the same token, and N*C is small next to a matmul. */
    for (int i = 0; i < N; i++) {
        const float *d = dout + (size_t)i * C;
        if (dwte) {
            float *w = dwte + (size_t)ids[i] * C;
            for (int c = 0; c < C; c++)
                w[c] += d[c];
        }
        if (dwpe) {
            float *p = dwpe + (size_t)(i % T) * C;
            for (int c = 0; c < C; c++)
                p[c] += d[c];
        }
    }
}

/* ---- RMSNorm ----------------------------------------------------------------------------- */

// out (N,C), rstd (N), inp (N,C), w (C)
void op_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C,
                        float eps) {
    const tkern_table *kern = tkern_get();
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++)
        rstd[i] = kern->rmsnorm_fwd_row(out + (size_t)i * C, inp + (size_t)i * C, w, C, eps);
}

/* Channels per thread task of a norm's weight gradient: each task sums its slice over all rows
 * in order, so the result does not depend on the thread count and needs no scratch. */
enum { DW_SLICE = 64 };

// dinp (N,C), dw (C), dout (N,C)
void op_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp,
                         const float *w, const float *rstd, int N, int C) {
    const tkern_table *kern = tkern_get();
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++)
        kern->rmsnorm_bwd_row(dinp + (size_t)i * C, dout + (size_t)i * C, inp + (size_t)i * C, w,
                              rstd[i], C);
    if (!dw) return;
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += DW_SLICE)
        kern->rmsnorm_dw_rows(dw + c0, dout + c0, inp + c0, rstd, N,
                              C - c0 < DW_SLICE ? C - c0 : DW_SLICE, C);
}

/* ---- LayerNorm --------------------------------------------------------------------------- */

// out (N,C), mean, rstd (N), inp (N,C), w, b (C)
void op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C;
        float *o = out + (size_t)i * C;
        float m = 0.0f;
        for (int c = 0; c < C; c++)
            m += x[c];
        m /= (float)C;
        float var = 0.0f;
        for (int c = 0; c < C; c++)
            var += (x[c] - m) * (x[c] - m);
        var /= (float)C;
        float r = 1.0f / sqrtf(var + eps);
        mean[i] = m;
        rstd[i] = r;
        for (int c = 0; c < C; c++)
            o[c] = (x[c] - m) * r * w[c] + (b ? b[c] : 0.0f);
    }
}

// dinp (N,C), dw, db (C), dout (N,C)
void op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (size_t)i * C, *d = dout + (size_t)i * C;
        float *dx = dinp + (size_t)i * C;
        float m = mean[i], r = rstd[i];
        float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
        for (int c = 0; c < C; c++) {
            float dn = w[c] * d[c];
            dnorm_mean += dn;
            dnorm_norm_mean += dn * (x[c] - m) * r;
        }
        dnorm_mean /= (float)C;
        dnorm_norm_mean /= (float)C;
        for (int c = 0; c < C; c++) {
            float xhat = (x[c] - m) * r;
            dx[c] += r * (w[c] * d[c] - dnorm_mean - xhat * dnorm_norm_mean);
        }
    }
    if (dw || db) {
#pragma omp parallel for schedule(static)
        for (int c = 0; c < C; c++) {
            float sw = 0.0f, sb = 0.0f;
            for (int i = 0; i < N; i++) {
                float d = dout[(size_t)i * C + c];
                sw += d * (inp[(size_t)i * C + c] - mean[i]) * rstd[i];
                sb += d;
            }
            if (dw) dw[c] += sw;
            if (db) db[c] += sb;
        }
    }
}

/* ---- linear ------------------------------------------------------------------------------ */

int op_threads_begin(void) {
    int n = openblas_get_num_threads();
    openblas_set_num_threads(1);
    return n;
}

void op_threads_end(int blas_threads) {
    openblas_set_num_threads(blas_threads);
}

// C (M,N) = alpha op(A) (M,K) op(B) (K,N) + beta C
void op_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
    int nt = omp_get_max_threads();
    bool split_rows = M >= N;
    int dim = split_rows ? M : N;
    /* Blocks of at least 32 rows/columns; few threads for small products. */
    int n_blocks = dim / 32 < nt ? dim / 32 : nt;
    if (n_blocks <= 1 || (double)M * N * K < 1e6) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(n_blocks)
    for (int b = 0; b < n_blocks; b++) {
        int lo = (int)((int64_t)dim * b / n_blocks), hi = (int)((int64_t)dim * (b + 1) / n_blocks);
        if (split_rows) {
            const float *a = trans_a ? A + lo : A + (size_t)lo * lda;
            cblas_sgemm(CblasRowMajor, ta, tb, hi - lo, N, K, alpha, a, lda, B, ldb, beta,
                        C + (size_t)lo * ldc, ldc);
        } else {
            const float *bb = trans_b ? B + (size_t)lo * ldb : B + lo;
            cblas_sgemm(CblasRowMajor, ta, tb, M, hi - lo, K, alpha, A, lda, bb, ldb, beta, C + lo,
                        ldc);
        }
    }
}

/* Under bf16, products with a dimension below this stay f32: LoRA's rank-r products (and the
 * last rows of the loss) are memory-bound, so bf16 would add rounding and packing for nothing. */
enum { BF16_MIN_DIM = 32 };

bool op_gemm_is_bf16(bool bf16, int M, int N, int K) {
    return bf16 && M >= BF16_MIN_DIM && N >= BF16_MIN_DIM && K >= BF16_MIN_DIM;
}

void op_gemm(bool bf16, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
             const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (op_gemm_is_bf16(bf16, M, N, K))
        rt_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        op_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// out (N,n_out), inp (N,n_in), w (n_out,n_in), b (n_out)
void op_linear_forward_f32(float *out, const float *inp, const float *w, const float *b, int N,
                           int n_in, int n_out) {
    op_linear_forward(false, out, inp, w, b, N, n_in, n_out);
}

// out (N,n_out) += b (n_out) on every row
static void add_bias_rows(float *out, const float *b, int N, int n_out) {
    if (!b) return;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++)
        for (int o = 0; o < n_out; o++)
            out[(size_t)i * n_out + o] += b[o];
}

void op_linear_forward(bool bf16, float *out, const float *inp, const float *w, const float *b,
                       int N, int n_in, int n_out) {
    op_gemm(bf16, false, true, N, n_out, n_in, 1.0f, inp, n_in, w, n_in, 0.0f, out, n_out);
    add_bias_rows(out, b, N, n_out);
}

void op_linear_forward_packed(bool bf16, float *out, const float *inp, const float *w,
                              const rt_gemm_bf16_panels *w_fwd, const float *b, int N, int n_in,
                              int n_out) {
    if (!w_fwd->data || !op_gemm_is_bf16(bf16, N, n_out, n_in)) {
        op_linear_forward(bf16, out, inp, w, b, N, n_in, n_out);
        return;
    }
    rt_gemm_bf16_panels_mul(false, N, n_out, n_in, 1.0f, inp, n_in, w_fwd, 0.0f, out, n_out);
    add_bias_rows(out, b, N, n_out);
}

void op_linear_backward_x_packed(bool bf16, float *dinp, const float *dout, const float *w,
                                 const rt_gemm_bf16_panels *w_bwd, int N, int n_in, int n_out) {
    if (w_bwd->data && op_gemm_is_bf16(bf16, N, n_in, n_out))
        rt_gemm_bf16_panels_mul(false, N, n_in, n_out, 1.0f, dout, n_out, w_bwd, 1.0f, dinp, n_in);
    else
        op_linear_backward(bf16, dinp, NULL, NULL, dout, NULL, w, N, n_in, n_out);
}

// dinp (N,n_in), dw (n_out,n_in), db (n_out), dout (N,n_out)
void op_linear_backward_f32(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                            const float *w, int N, int n_in, int n_out) {
    op_linear_backward(false, dinp, dw, db, dout, inp, w, N, n_in, n_out);
}

void op_linear_backward(bool bf16, float *dinp, float *dw, float *db, const float *dout,
                        const float *inp, const float *w, int N, int n_in, int n_out) {
    if (dinp)
        op_gemm(bf16, false, false, N, n_in, n_out, 1.0f, dout, n_out, w, n_in, 1.0f, dinp, n_in);
    if (dw)
        op_gemm(bf16, true, false, n_out, n_in, N, 1.0f, dout, n_out, inp, n_in, 1.0f, dw, n_in);
    if (db) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < n_out; o++) {
            float s = 0.0f;
            for (int i = 0; i < N; i++)
                s += dout[(size_t)i * n_out + o];
            db[o] += s;
        }
    }
}

// dinp (N,n_in), dout (N,n_out), w (n_out,n_in) any dtype
void op_linear_backward_x(float *dinp, const float *dout, const rt_tensor *w, int N) {
    int n_out = (int)w->shape[0], n_in = (int)w->shape[w->n_dims - 1];
    if (w->dtype == RT_DTYPE_F32) {
        op_linear_backward_f32(dinp, NULL, NULL, dout, NULL, (const float *)w->data, N, n_in,
                               n_out);
        return;
    }
    rt_matmul_backward_x(dinp, dout, w, N);
}

/* ---- RoPE -------------------------------------------------------------------------------- */

// cos_t, sin_t (T_max, head_dim/2)
void op_rope_tables(float *cos_t, float *sin_t, int T_max, int head_dim, float theta,
                    float scaling_factor, float low_freq_factor, float high_freq_factor,
                    int original_ctx) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* HF: inv_freq = 1 / theta ** (arange(0, dim, 2) / dim), in f32. */
        float inv_freq = 1.0f / powf(theta, (float)(2 * i) / (float)head_dim);
        if (scaling_factor > 0.0f) {
            /* Llama-3 scaling (transformers' _compute_llama3_parameters). */
            float low_wavelen = (float)original_ctx / low_freq_factor;
            float high_wavelen = (float)original_ctx / high_freq_factor;
            float wavelen = 2.0f * (float)M_PI / inv_freq;
            if (wavelen > low_wavelen) {
                inv_freq = inv_freq / scaling_factor;
            } else if (wavelen >= high_wavelen) {
                float smooth = ((float)original_ctx / wavelen - low_freq_factor) /
                               (high_freq_factor - low_freq_factor);
                inv_freq = (1.0f - smooth) * inv_freq / scaling_factor + smooth * inv_freq;
            }
        }
        for (int t = 0; t < T_max; t++) {
            float a = (float)t * inv_freq;
            cos_t[(size_t)t * half + i] = cosf(a);
            sin_t[(size_t)t * half + i] = sinf(a);
        }
    }
}

// x (N, n_heads*head_dim), cos_t, sin_t (T_max, head_dim/2)
void op_rope(float *x, const float *cos_t, const float *sin_t, int N, int T, int n_heads,
             int head_dim, bool interleaved, bool backward) {
    const tkern_table *kern = tkern_get();
    int half = head_dim / 2;
#pragma omp parallel for schedule(static)
    for (int r = 0; r < N; r++)
        kern->rope_row(x + (size_t)r * n_heads * head_dim, cos_t + (size_t)(r % T) * half,
                       sin_t + (size_t)(r % T) * half, n_heads, head_dim, interleaved,
                       backward ? -1.0f : 1.0f);
}

/* ---- causal attention -------------------------------------------------------------------- */

/* The attention weights are not stored: forward keeps the log-sum-exp of each row of scores
 * (B,H,T) and backward recomputes p = exp(q.k * scale - lse), as flash attention does, which
 * saves B*H*T*T floats per layer for one extra q.k pass. */

/* Per (sequence, head) the products go to single-threaded sgemm on score tiles of ATT_BLOCK query
 * rows against the keys they can see (causal): row block [i0, i0 + rows) needs keys [0, i0 + rows),
 * so the tiles cover the lower triangle plus half the diagonal blocks, 5/8 of the full (T,T)
 * products at T = 256. With bf16, to rt_gemm_bf16 instead (bf16 inputs, f32 sums: q, k, v, dout
 * and the f32 probabilities P and score gradients dS are rounded where they enter a product),
 * with each kv head's keys and values packed once for all its row blocks and query heads. */
enum { ATT_BLOCK = 64 };

/* One product of attention, C (M,N) = alpha op(A) op(B) + beta C on the calling thread: sgemm,
 * or bf16 with op(B) from panels when given (their first K rows and N columns). */
static void att_gemm(bool bf16, bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                     const float *A, int lda, const float *B, int ldb,
                     const rt_gemm_bf16_panels *panels, float beta, float *C, int ldc) {
    if (bf16 && panels)
        rt_gemm_bf16_panels_mul(trans_a, M, N, K, alpha, A, lda, panels, beta, C, ldc);
    else if (bf16)
        rt_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                    trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C,
                    ldc);
}

/* Panels of a kv head's keys or values for bf16 attention, owned by one thread. */
typedef struct att_panels {
    rt_gemm_bf16_panels p;
    bool trans; /* packed as transposed (K^T or V^T: (D, T)) or as is ((T, D)) */
} att_panels;

static void att_panels_init(att_panels *a, bool bf16, bool trans, int T, int D) {
    a->trans = trans;
    a->p.K = trans ? D : T;
    a->p.N = trans ? T : D;
    a->p.data = NULL;
    if (!bf16) return;
    size_t words = rt_gemm_bf16_panels_size(a->p.K, a->p.N);
    a->p.data = aligned_alloc(64, (words * sizeof(uint32_t) + 63) / 64 * 64);
    RT_ASSERT(a->p.data);
}

/* x (T, ld) the head's keys or values; no-op without bf16 */
static const rt_gemm_bf16_panels *att_panels_pack(att_panels *a, const float *x, int ld) {
    if (!a->p.data) return NULL;
    rt_gemm_bf16_pack_panels(&a->p, a->trans, x, ld);
    return &a->p;
}

// out (N,H*D), lse (B,H,T), q (N,H*D), k, v (N,KV*D)
void op_attention_forward(bool bf16, float *out, float *lse, const float *q, const float *k,
                          const float *v, int B, int T, int H, int KV, int D) {
    const tkern_table *kern = tkern_get();
    float scale = 1.0f / sqrtf((float)D);
    int group = H / KV;
    int qs = H * D, ks = KV * D;
#pragma omp parallel
    {
        float *S = malloc((size_t)ATT_BLOCK * T * sizeof(float));
        RT_ASSERT(S);
        att_panels kt, vp;
        att_panels_init(&kt, bf16, true, T, D);
        att_panels_init(&vp, bf16, false, T, D);
        const rt_gemm_bf16_panels *kp = NULL, *vpp = NULL;
        int packed = -1; /* b * KV + kv head in the panels: a thread's heads come in order */
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                int kh = h / group;
                const float *kb = k + (size_t)b * T * ks + (size_t)kh * D;
                const float *vb = v + (size_t)b * T * ks + (size_t)kh * D;
                if (bf16 && packed != b * KV + kh) {
                    kp = att_panels_pack(&kt, kb, ks);
                    vpp = att_panels_pack(&vp, vb, ks);
                    packed = b * KV + kh;
                }
                for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                    int rows = T - i0 < ATT_BLOCK ? T - i0 : ATT_BLOCK, cols = i0 + rows;
                    const float *qh = q + ((size_t)b * T + i0) * qs + (size_t)h * D;
                    float *l = lse + ((size_t)b * H + h) * T + i0;
                    // S (rows,cols) = scale * Q_blk (rows,D) K_h[0:cols]^T
                    att_gemm(bf16, false, true, rows, cols, D, scale, qh, qs, kb, ks, kp, 0.0f, S,
                             cols);
                    for (int r = 0; r < rows; r++) {
                        float *row = S + (size_t)r * cols;
                        int n = i0 + r + 1; /* keys 0..t */
                        float maxv = kern->max(row, n);
                        float sum = kern->exp_shift_sum(row, n, maxv);
                        kern->scale(row, n, 1.0f / sum);
                        memset(row + n, 0, (size_t)(cols - n) * sizeof(float));
                        l[r] = maxv + logf(sum);
                    }
                    // out_blk (rows,D) = P (rows,cols) V_h[0:cols] (cols,D)
                    att_gemm(bf16, false, false, rows, D, cols, 1.0f, S, cols, vb, ks, vpp, 0.0f,
                             out + ((size_t)b * T + i0) * qs + (size_t)h * D, qs);
                }
            }
        }
        free(S);
        free(kt.p.data);
        free(vp.p.data);
    }
}

// dq (N,H*D), dk, dv (N,KV*D), dout (N,H*D), lse (B,H,T)
void op_attention_backward(bool bf16, float *dq, float *dk, float *dv, const float *dout,
                           const float *q, const float *k, const float *v, const float *lse, int B,
                           int T, int H, int KV, int D) {
    const tkern_table *kern = tkern_get();
    float scale = 1.0f / sqrtf((float)D);
    int group = H / KV;
    int qs = H * D, ks = KV * D;
    /* Threads over (sequence, kv head): the heads of one group write the same dk/dv rows. */
#pragma omp parallel
    {
        float *P = malloc(2 * (size_t)ATT_BLOCK * T * sizeof(float));
        RT_ASSERT(P);
        float *dP = P + (size_t)ATT_BLOCK * T;
        att_panels kt, kn, vt;
        att_panels_init(&kt, bf16, true, T, D);
        att_panels_init(&kn, bf16, false, T, D);
        att_panels_init(&vt, bf16, true, T, D);
#pragma omp for collapse(2) schedule(static)
        for (int b = 0; b < B; b++) {
            for (int kh = 0; kh < KV; kh++) {
                const float *kb = k + (size_t)b * T * ks + (size_t)kh * D;
                const float *vb = v + (size_t)b * T * ks + (size_t)kh * D;
                float *dkb = dk + (size_t)b * T * ks + (size_t)kh * D;
                float *dvb = dv + (size_t)b * T * ks + (size_t)kh * D;
                const rt_gemm_bf16_panels *ktp = att_panels_pack(&kt, kb, ks);
                const rt_gemm_bf16_panels *knp = att_panels_pack(&kn, kb, ks);
                const rt_gemm_bf16_panels *vtp = att_panels_pack(&vt, vb, ks);
                for (int h = kh * group; h < (kh + 1) * group; h++) {
                    for (int i0 = 0; i0 < T; i0 += ATT_BLOCK) {
                        int rows = T - i0 < ATT_BLOCK ? T - i0 : ATT_BLOCK, cols = i0 + rows;
                        size_t at = ((size_t)b * T + i0) * qs + (size_t)h * D;
                        const float *qh = q + at, *doh = dout + at;
                        float *dqh = dq + at;
                        const float *l = lse + ((size_t)b * H + h) * T + i0;
                        // P = exp(scale Q_blk K^T - lse), causal
                        att_gemm(bf16, false, true, rows, cols, D, scale, qh, qs, kb, ks, ktp, 0.0f,
                                 P, cols);
                        // dP (rows,cols) = dO_blk (rows,D) V_h[0:cols]^T
                        att_gemm(bf16, false, true, rows, cols, D, 1.0f, doh, qs, vb, ks, vtp, 0.0f,
                                 dP, cols);
                        for (int r = 0; r < rows; r++) {
                            float *pr = P + (size_t)r * cols, *dr = dP + (size_t)r * cols;
                            int n = i0 + r + 1;
                            kern->exp_shift_sum(pr, n, l[r]);
                            // dS = P * (dP - sum(P * dP)) * scale, stored in dP
                            kern->softmax_bwd_row(pr, dr, n, scale);
                            memset(pr + n, 0, (size_t)(cols - n) * sizeof(float));
                            memset(dr + n, 0, (size_t)(cols - n) * sizeof(float));
                        }
                        // dV_h[0:cols] += P^T dO_blk; dQ_blk += dS K_h[0:cols];
                        // dK_h[0:cols] += dS^T Q_blk
                        att_gemm(bf16, true, false, cols, D, rows, 1.0f, P, cols, doh, qs, NULL,
                                 1.0f, dvb, ks);
                        att_gemm(bf16, false, false, rows, D, cols, 1.0f, dP, cols, kb, ks, knp,
                                 1.0f, dqh, qs);
                        att_gemm(bf16, true, false, cols, D, rows, 1.0f, dP, cols, qh, qs, NULL,
                                 1.0f, dkb, ks);
                    }
                }
            }
        }
        free(P);
        free(kt.p.data);
        free(kn.p.data);
        free(vt.p.data);
    }
}

/* ---- activations ------------------------------------------------------------------------- */

/* Elementwise spans go to the kernels in chunks of SPAN elements, threads over chunks. */
enum { SPAN = 16384 };

// h, gate, up (n)
void op_swiglu_forward(float *h, const float *gate, const float *up, int64_t n) {
    const tkern_table *kern = tkern_get();
#pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < n; i0 += SPAN)
        kern->swiglu_fwd(h + i0, gate + i0, up + i0, n - i0 < SPAN ? n - i0 : SPAN);
}

// dgate, dup, dh, gate, up (n); dgate may be dh (in place)
void op_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate,
                        const float *up, int64_t n) {
    const tkern_table *kern = tkern_get();
#pragma omp parallel for schedule(static)
    for (int64_t i0 = 0; i0 < n; i0 += SPAN)
        kern->swiglu_bwd(dgate + i0, dup + i0, dh + i0, gate + i0, up + i0,
                         n - i0 < SPAN ? n - i0 : SPAN);
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

// out, inp (n)
void op_gelu_forward(float *out, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

// dinp, dout, inp (n)
void op_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanhf(u);
        float sech2 = 1.0f - th * th;
        float g =
            0.5f * (1.0f + th) + 0.5f * x * sech2 * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = dout[i] * g;
    }
}
