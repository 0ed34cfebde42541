/*
 * ops.c — see ops.h. The row kernels are model/opkern's, compiled per ISA level and chosen once
 * (core/dispatch.h); here they are threaded: the outer loop (rows, heads, spans) runs on the
 * light team of core/team.h when the work is large enough, and as a plain loop otherwise (an
 * OpenMP region with its `if` false still cost ~1.5 us, several times a small row's work).
 */
#include "model/ops.h"
#include "model/opkern.h"
#include "core/team.h"

#include "ragtune.h"

#include <math.h>

/* Below this many rows x columns, threading costs more than it saves. */
#define RT_OPS_PAR_MIN 16384
/* Elements per span of the elementwise operations, split over threads. */
#define RT_OPS_SPAN 4096

/* The arguments of a row kernel over rows [lo, hi) of x (T, C). */
typedef struct rows_job {
    float *out;
    const float *x, *weight, *bias, *cos_sin;
    int C, n_heads, head_dim, pos0;
    float eps;
    bool interleaved;
} rows_job;

/* fn over rows [0, T), on the team when rows x width is large enough. */
static void each_row(rt_team_range_fn fn, rows_job *j, int T, size_t width) {
    if ((size_t)T * width >= RT_OPS_PAR_MIN)
        rt_team_for(T, 1, rt_get_threads(), fn, j);
    else
        fn(j, 0, 0, T);
}

static void rmsnorm_rows(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const rows_job *j = arg;
    const opkern_table *k = opkern_get();
    for (int t = lo; t < hi; t++)
        k->rmsnorm_row(j->out + (size_t)t * j->C, j->x + (size_t)t * j->C, j->weight, j->C, j->eps);
}

// x (T,C), weight (C), out (T,C)
void rt_op_rmsnorm(float *out, const float *x, const float *weight, int T, int C, float eps) {
    rows_job j = {.out = out, .x = x, .weight = weight, .C = C, .eps = eps};
    each_row(rmsnorm_rows, &j, T, (size_t)C);
}

static void layernorm_rows(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const rows_job *j = arg;
    const opkern_table *k = opkern_get();
    for (int t = lo; t < hi; t++)
        k->layernorm_row(j->out + (size_t)t * j->C, j->x + (size_t)t * j->C, j->weight, j->bias,
                         j->C, j->eps);
}

// x (T,C), weight (C), bias (C), out (T,C)
void rt_op_layernorm(float *out, const float *x, const float *weight, const float *bias, int T,
                     int C, float eps) {
    rows_job j = {.out = out, .x = x, .weight = weight, .bias = bias, .C = C, .eps = eps};
    each_row(layernorm_rows, &j, T, (size_t)C);
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

static void rope_rows(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const rows_job *j = arg;
    const opkern_table *k = opkern_get();
    size_t width = (size_t)j->n_heads * j->head_dim, half = (size_t)j->head_dim / 2;
    for (int t = lo; t < hi; t++)
        k->rope_row(j->out + (size_t)t * width, j->cos_sin + (size_t)(j->pos0 + t) * half * 2,
                    j->n_heads, j->head_dim, j->interleaved);
}

// x (T, n_heads, head_dim), cos_sin (n_pos, head_dim/2, 2)
void rt_op_rope(float *x, const float *cos_sin, int T, int n_heads, int head_dim, int pos0,
                bool interleaved) {
    rows_job j = {.out = x,
                  .cos_sin = cos_sin,
                  .n_heads = n_heads,
                  .head_dim = head_dim,
                  .pos0 = pos0,
                  .interleaved = interleaved};
    each_row(rope_rows, &j, T, (size_t)n_heads * head_dim);
}

void rt_op_softmax(float *x, int n) {
    opkern_get()->softmax(x, n);
}

/* An elementwise kernel over a (n) (and b (n)) in spans of RT_OPS_SPAN. */
typedef struct span_job {
    void (*fn1)(float *, size_t);
    void (*fn2)(float *, const float *, size_t);
    float *a;
    const float *b;
    size_t n;
} span_job;

static void span_range(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const span_job *j = arg;
    size_t i0 = (size_t)lo * RT_OPS_SPAN, i1 = (size_t)hi * RT_OPS_SPAN;
    if (i1 > j->n) i1 = j->n;
    if (j->fn1)
        j->fn1(j->a + i0, i1 - i0);
    else
        j->fn2(j->a + i0, j->b + i0, i1 - i0);
}

/* The job over its n elements, on the team when n is large. */
static void each_span_job(span_job *j) {
    if (j->n >= RT_OPS_PAR_MIN)
        rt_team_for((int)((j->n + RT_OPS_SPAN - 1) / RT_OPS_SPAN), 1, rt_get_threads(), span_range,
                    j);
    else if (j->n)
        span_range(j, 0, 0, (int)((j->n + RT_OPS_SPAN - 1) / RT_OPS_SPAN));
}

static void each_span(void (*fn)(float *, size_t), float *x, size_t n) {
    span_job j = {.fn1 = fn, .a = x, .n = n};
    each_span_job(&j);
}

static void each_span2(void (*fn)(float *, const float *, size_t), float *a, const float *b,
                       size_t n) {
    span_job j = {.fn2 = fn, .a = a, .b = b, .n = n};
    each_span_job(&j);
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

typedef struct attention_job {
    float *out, *scratch;
    const float *q, *k_cache, *v_cache;
    int pos0, n_kv, n_head, group, head_dim;
    size_t kv_stride;
    bool causal;
    float scale;
} attention_job;

/* Items [lo, hi) of (token, head), with row `thread` of the scratch. */
static void attention_items(void *arg, int thread, int lo, int hi) {
    const attention_job *j = arg;
    const opkern_table *k = opkern_get();
    float *att = j->scratch + (size_t)thread * j->n_kv;
    for (int item = lo; item < hi; item++) {
        int t = item / j->n_head, h = item % j->n_head;
        size_t g_off = (size_t)(h / j->group) * j->head_dim;
        int n_see = j->causal ? j->pos0 + t + 1 : j->n_kv;
        if (n_see > j->n_kv) n_see = j->n_kv;
        size_t qo = ((size_t)t * j->n_head + h) * j->head_dim;
        k->attention_head(j->out + qo, j->q + qo, j->k_cache + g_off, j->v_cache + g_off,
                          j->kv_stride, n_see, j->head_dim, j->scale, att);
    }
}

// q (T, n_head, hd), k_cache/v_cache (n_kv, kv_stride), out (T, n_head, hd), scratch (rows, n_kv)
void rt_op_attention(float *out, const float *q, const float *k_cache, const float *v_cache, int T,
                     int pos0, int n_kv, int n_head, int n_kv_head, int head_dim, size_t kv_stride,
                     bool causal, float *scratch, int n_scratch_rows) {
    attention_job j = {.out = out,
                       .scratch = scratch,
                       .q = q,
                       .k_cache = k_cache,
                       .v_cache = v_cache,
                       .pos0 = pos0,
                       .n_kv = n_kv,
                       .n_head = n_head,
                       .group = n_head / n_kv_head,
                       .head_dim = head_dim,
                       .kv_stride = kv_stride,
                       .causal = causal,
                       .scale = 1.0f / sqrtf((float)head_dim)};
    const int n_items = T * n_head;
    /* Small problems (a decode step over a very short cache) run on the calling thread. From
     * 2^14 multiply-adds (a 6-head decode step over 43 cached positions, a few microseconds)
     * the heads are shared out: a team run costs about a microsecond. */
    bool parallel = (size_t)n_items * (size_t)n_kv * (size_t)head_dim >= ((size_t)1 << 14);
    int n_threads = parallel ? rt_get_threads() : 1;
    if (n_threads > n_scratch_rows) n_threads = n_scratch_rows;
    rt_team_for(n_items, 1, n_threads, attention_items, &j);
}

void rt_op_add(float *a, const float *b, size_t n) {
    each_span2(opkern_get()->add, a, b, n);
}
