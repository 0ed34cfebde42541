/*
 * ops.c — see ops.h. The row kernels are model/opkern's, compiled per ISA level and chosen once
 * (core/dispatch.h); here they are threaded: the outer loop (rows, heads, spans) is
 * OpenMP-parallel when the work is large enough.
 */
#include "model/ops.h"
#include "model/opkern.h"

#include <math.h>
#include <omp.h>

/* Below this many rows x columns, threading costs more than it saves. */
#define RT_OPS_PAR_MIN 16384
/* Elements per span of the elementwise operations, split over threads. */
#define RT_OPS_SPAN 4096

// x (T,C), weight (C), out (T,C)
void rt_op_rmsnorm(float *out, const float *x, const float *weight, int T, int C, float eps) {
    const opkern_table *k = opkern_get();
#pragma omp parallel for schedule(static) if ((size_t)T * C >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++)
        k->rmsnorm_row(out + (size_t)t * C, x + (size_t)t * C, weight, C, eps);
}

// x (T,C), weight (C), bias (C), out (T,C)
void rt_op_layernorm(float *out, const float *x, const float *weight, const float *bias, int T,
                     int C, float eps) {
    const opkern_table *k = opkern_get();
#pragma omp parallel for schedule(static) if ((size_t)T * C >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++)
        k->layernorm_row(out + (size_t)t * C, x + (size_t)t * C, weight, bias, C, eps);
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
    const opkern_table *k = opkern_get();
    int half = head_dim / 2;
#pragma omp parallel for schedule(static) if ((size_t)T * n_heads * head_dim >= RT_OPS_PAR_MIN)
    for (int t = 0; t < T; t++)
        k->rope_row(x + (size_t)t * n_heads * head_dim, cos_sin + (size_t)(pos0 + t) * half * 2,
                    n_heads, head_dim, interleaved);
}

void rt_op_softmax(float *x, int n) {
    opkern_get()->softmax(x, n);
}

/* fn over x (n) in spans of RT_OPS_SPAN, threaded when n is large. */
static void each_span(void (*fn)(float *, size_t), float *x, size_t n) {
    size_t n_spans = (n + RT_OPS_SPAN - 1) / RT_OPS_SPAN;
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t s = 0; s < n_spans; s++) {
        size_t i = s * RT_OPS_SPAN;
        fn(x + i, n - i < RT_OPS_SPAN ? n - i : RT_OPS_SPAN);
    }
}

/* fn over a (n) and b (n) in spans of RT_OPS_SPAN, threaded when n is large. */
static void each_span2(void (*fn)(float *, const float *, size_t), float *a, const float *b,
                       size_t n) {
    size_t n_spans = (n + RT_OPS_SPAN - 1) / RT_OPS_SPAN;
#pragma omp parallel for schedule(static) if (n >= RT_OPS_PAR_MIN)
    for (size_t s = 0; s < n_spans; s++) {
        size_t i = s * RT_OPS_SPAN;
        fn(a + i, b + i, n - i < RT_OPS_SPAN ? n - i : RT_OPS_SPAN);
    }
}

void rt_op_gelu_tanh(float *x, size_t n) {
    each_span(opkern_get()->gelu_tanh, x, n);
}

void rt_op_gelu_erf(float *x, size_t n) {
    each_span(opkern_get()->gelu_erf, x, n);
}

void rt_op_swiglu(float *gate, const float *up, size_t n) {
    each_span2(opkern_get()->swiglu, gate, up, n);
}

// q (T, n_head, hd), k_cache/v_cache (n_kv, kv_stride), out (T, n_head, hd), scratch (rows, n_kv)
void rt_op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int T,
                     int pos0, int n_kv, int n_head, int n_kv_head, int head_dim, size_t kv_stride,
                     bool causal, float *scratch, int n_scratch_rows) {
    const opkern_table *k = opkern_get();
    const float scale = 1.0f / sqrtf((float)head_dim);
    const int group = n_head / n_kv_head;
    int n_threads = omp_get_max_threads();
    if (n_threads > n_scratch_rows) n_threads = n_scratch_rows;
    const int n_items = T * n_head;
    /* Small problems (a decode step over a very short cache) run on the calling thread: waking
     * the OpenMP team costs more. From 2^14 multiply-adds (a 6-head decode step over 43 cached
     * positions, a few microseconds) the heads are shared out: the team, spinning briefly
     * between regions (rt_runtime_setup), starts in about a microsecond. */
    bool parallel = (size_t)n_items * (size_t)n_kv * (size_t)head_dim >= ((size_t)1 << 14);
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (parallel)
    for (int item = 0; item < n_items; item++) {
        int t = item / n_head, h = item % n_head;
        size_t g_off = (size_t)(h / group) * head_dim;
        int n_see = causal ? pos0 + t + 1 : n_kv;
        if (n_see > n_kv) n_see = n_kv;
        float *att = scratch + (size_t)omp_get_thread_num() * n_kv;
        size_t qo = ((size_t)t * n_head + h) * head_dim;
        k->attention_head(out + qo, q + qo, k_cache + g_off, v_cache + g_off, kv_stride, n_see,
                          head_dim, scale, att);
    }
}

void rt_op_add(float *a, const float *b, size_t n) {
    each_span2(opkern_get()->add, a, b, n);
}
