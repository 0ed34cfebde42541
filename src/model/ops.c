/*
 * ops.c — see ops.h. Plain C kernels; loops over the contiguous dimension are written so that
 * the compiler vectorizes them (omp simd), and the outer loop (rows, heads) is OpenMP-parallel.
 */
#include "model/ops.h"

#include <math.h>
#include <omp.h>

/* Below this many rows x columns, threading costs more than it saves. */
#define RT_OPS_PAR_MIN 16384

// x (T,C), weight (C), out (T,C)
void rt_op_rmsnorm(float *out, const float *x, const float *weight, int T, int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)T * C >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *ot = out + (size_t)t * C;
        float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
        for (int i = 0; i < C; i++)
            ss += xt[i] * xt[i];
        float scale = 1.0f / sqrtf(ss / (float)C + eps);
#pragma omp simd
        for (int i = 0; i < C; i++)
            ot[i] = xt[i] * scale * weight[i];
    }
}

// x (T,C), weight (C), bias (C), out (T,C)
void rt_op_layernorm(float *out, const float *x, const float *weight, const float *bias, int T,
                     int C, float eps) {
#pragma omp parallel for schedule(static) if ((size_t)T * C >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *xt = x + (size_t)t * C;
        float *ot = out + (size_t)t * C;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int i = 0; i < C; i++)
            sum += xt[i];
        float mean = sum / (float)C;
        float var = 0.0f;
#pragma omp simd reduction(+ : var)
        for (int i = 0; i < C; i++) {
            float d = xt[i] - mean;
            var += d * d;
        }
        float rstd = 1.0f / sqrtf(var / (float)C + eps);
        for (int i = 0; i < C; i++) {
            float y = (xt[i] - mean) * rstd * weight[i];
            ot[i] = bias ? y + bias[i] : y;
        }
    }
}

void rt_op_rope_inv_freq(float *inv_freq, int head_dim, float theta, float scaling_factor,
                         float low_freq_factor, float high_freq_factor, int original_ctx) {
    int half = head_dim / 2;
    for (int i = 0; i < half; i++) {
        /* PyTorch: 1.0 / (base ** (arange(0, dim, 2).float() / dim)), in f32. */
        float expo = (float)(2 * i) / (float)head_dim;
        inv_freq[i] = 1.0f / powf(theta, expo);
    }
    if (scaling_factor <= 0.0f) return;
    /* Llama-3 ("rope_type": "llama3"), as transformers' _compute_llama3_parameters. */
    float low_freq_wavelen = (float)original_ctx / low_freq_factor;
    float high_freq_wavelen = (float)original_ctx / high_freq_factor;
    for (int i = 0; i < half; i++) {
        float f = inv_freq[i];
        float wavelen = 2.0f * (float)M_PI / f;
        float scaled = wavelen > low_freq_wavelen ? f / scaling_factor : f;
        bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
        if (medium) {
            float smooth = ((float)original_ctx / wavelen - low_freq_factor) /
                           (high_freq_factor - low_freq_factor);
            scaled = (1.0f - smooth) * scaled / scaling_factor + smooth * scaled;
        }
        inv_freq[i] = scaled;
    }
}

// cos_sin (n_pos, head_dim/2, 2)
void rt_op_rope_table(float *cos_sin, const float *inv_freq, int head_dim, int n_pos) {
    int half = head_dim / 2;
    for (int p = 0; p < n_pos; p++) {
        for (int i = 0; i < half; i++) {
            float angle = (float)p * inv_freq[i];
            cos_sin[((size_t)p * half + i) * 2] = (float)cos((double)angle);
            cos_sin[((size_t)p * half + i) * 2 + 1] = (float)sin((double)angle);
        }
    }
}

// x (T, n_heads, head_dim), cos_sin (n_pos, head_dim/2, 2)
void rt_op_rope(float *x, const float *cos_sin, int T, int n_heads, int head_dim, int pos0,
                bool interleaved) {
    int half = head_dim / 2;
#pragma omp parallel for schedule(static) if ((size_t)T * n_heads * head_dim >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++) {
        const float *cs = cos_sin + (size_t)(pos0 + t) * half * 2;
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * n_heads + h) * head_dim;
            if (interleaved) {
                for (int i = 0; i < half; i++) {
                    float c = cs[2 * i], s = cs[2 * i + 1];
                    float a = v[2 * i], b = v[2 * i + 1];
                    v[2 * i] = a * c - b * s;
                    v[2 * i + 1] = b * c + a * s;
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float c = cs[2 * i], s = cs[2 * i + 1];
                    float a = v[i], b = v[i + half];
                    v[i] = a * c - b * s;
                    v[i + half] = b * c + a * s;
                }
            }
        }
    }
}

void rt_op_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

void rt_op_gelu_tanh(float *x, size_t n) {
    const float k = 0.7978845608028654f; /* sqrt(2/pi) */
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(k * (v + 0.044715f * v * v * v)));
    }
}

void rt_op_gelu_erf(float *x, size_t n) {
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    }
}

void rt_op_swiglu(float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

// q (T, n_head, hd), k_cache/v_cache (n_kv, kv_stride), out (T, n_head, hd), scratch (rows, n_kv)
void rt_op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int T,
                     int pos0, int n_kv, int n_head, int n_kv_head, int head_dim, size_t kv_stride,
                     bool causal, float *scratch, int n_scratch_rows) {
    const float scale = 1.0f / sqrtf((float)head_dim);
    const int group = n_head / n_kv_head;
    int n_threads = omp_get_max_threads();
    if (n_threads > n_scratch_rows) n_threads = n_scratch_rows;
    const int n_items = T * n_head;
    /* Small problems (a decode step over a short cache) run on the calling thread: waking the
     * OpenMP team costs more, and its spinning threads would slow the next BLAS call. */
    bool parallel = (size_t)n_items * (size_t)n_kv * (size_t)head_dim >= ((size_t)1 << 18);
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (parallel)
    for (int item = 0; item < n_items; item++) {
        int t = item / n_head, h = item % n_head;
        int g = h / group;
        int n_see = causal ? pos0 + t + 1 : n_kv;
        if (n_see > n_kv) n_see = n_kv;
        float *att = scratch + (size_t)omp_get_thread_num() * n_kv;
        const float *qh = q + ((size_t)t * n_head + h) * head_dim;
        float mx = -INFINITY;
        for (int j = 0; j < n_see; j++) {
            const float *kj = k_cache + (size_t)j * kv_stride + (size_t)g * head_dim;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int i = 0; i < head_dim; i++)
                s += qh[i] * kj[i];
            s *= scale;
            att[j] = s;
            mx = s > mx ? s : mx;
        }
        float sum = 0.0f;
        for (int j = 0; j < n_see; j++) {
            att[j] = expf(att[j] - mx);
            sum += att[j];
        }
        float inv = 1.0f / sum;
        float *oh = out + ((size_t)t * n_head + h) * head_dim;
        for (int i = 0; i < head_dim; i++)
            oh[i] = 0.0f;
        for (int j = 0; j < n_see; j++) {
            const float *vj = v_cache + (size_t)j * kv_stride + (size_t)g * head_dim;
            float a = att[j] * inv;
#pragma omp simd
            for (int i = 0; i < head_dim; i++)
                oh[i] += a * vj[i];
        }
    }
}

void rt_op_add(float *a, const float *b, size_t n) {
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t i = 0; i < n; i++)
        a[i] += b[i];
}
