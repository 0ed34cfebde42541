/*
 * sampling.c — see sampling.h. Follows Hugging Face's logits processors, in their order:
 * repetition penalty (on the raw logits), temperature, top-k, top-p, min-p, then a draw.
 * Every buffer is allocated in rt_sampler_new; sampling does not allocate.
 */
#include "model/sampling.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct candidate {
    float value; /* logit, later probability */
    int32_t id;
} candidate;

struct rt_sampler {
    rt_sampler_params params;
    int n_vocab;
    uint64_t rng;
    float *logits;  /* (n_vocab) working copy */
    uint32_t *seen; /* (n_vocab) stamp of the last penalty pass that touched the id */
    uint32_t stamp;
    candidate *cand; /* (n_vocab) */
};

rt_sampler_params rt_sampler_default_params(void) {
    rt_sampler_params p = {.temperature = 0.0f,
                           .top_k = 0,
                           .top_p = 1.0f,
                           .min_p = 0.0f,
                           .repeat_penalty = 1.0f,
                           .repeat_last_n = 64,
                           .seed = 0x5eed};
    return p;
}

float rt_rng_uniform(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f; /* 24 random bits */
}

int rt_sampler_new(const rt_sampler_params *params, int n_vocab, rt_sampler **out) {
    *out = NULL;
    rt_sampler_params defaults = rt_sampler_default_params();
    if (!params) params = &defaults;
    if (n_vocab <= 0) return rt_error(RT_ERR_INVALID, "sampler: n_vocab %d", n_vocab);
    if (params->top_k < 0 || !(params->top_p > 0.0f && params->top_p <= 1.0f) ||
        !(params->min_p >= 0.0f && params->min_p <= 1.0f) || !(params->repeat_penalty > 0.0f) ||
        params->repeat_last_n < -1 || isnan(params->temperature))
        return rt_error(RT_ERR_INVALID,
                        "sampler: parameters out of range (top_k >= 0, 0 < top_p <= 1, "
                        "0 <= min_p <= 1, repeat_penalty > 0, repeat_last_n >= -1)");
    rt_sampler *s = rt_calloc(1, sizeof *s);
    if (!s) return RT_ERR_NOMEM;
    s->params = *params;
    s->n_vocab = n_vocab;
    s->rng = params->seed;
    s->logits = rt_malloc((size_t)n_vocab * sizeof *s->logits);
    s->seen = rt_calloc((size_t)n_vocab, sizeof *s->seen);
    s->cand = rt_malloc((size_t)n_vocab * sizeof *s->cand);
    if (!s->logits || !s->seen || !s->cand) {
        rt_sampler_free(s);
        return RT_ERR_NOMEM;
    }
    *out = s;
    return RT_OK;
}

void rt_sampler_free(rt_sampler *s) {
    if (!s) return;
    free(s->logits);
    free(s->seen);
    free(s->cand);
    free(s);
}

static int by_value_desc(const void *a, const void *b) {
    float x = ((const candidate *)a)->value, y = ((const candidate *)b)->value;
    if (x != y) return x > y ? -1 : 1;
    int32_t i = ((const candidate *)a)->id, j = ((const candidate *)b)->id;
    return (i > j) - (i < j); /* lower id first: deterministic among ties */
}

/* Each id in the window is penalized once, however often it occurs (HF gathers by id). */
static void apply_repeat_penalty(rt_sampler *s, const int32_t *history, int n_history) {
    float penalty = s->params.repeat_penalty;
    if (penalty == 1.0f || !history || n_history <= 0 || s->params.repeat_last_n == 0) return;
    int start = 0;
    if (s->params.repeat_last_n > 0 && n_history > s->params.repeat_last_n)
        start = n_history - s->params.repeat_last_n;
    if (++s->stamp == 0) { /* wrapped: clear the stamps */
        memset(s->seen, 0, (size_t)s->n_vocab * sizeof *s->seen);
        s->stamp = 1;
    }
    for (int i = start; i < n_history; i++) {
        int32_t id = history[i];
        if (id < 0 || id >= s->n_vocab || s->seen[id] == s->stamp) continue;
        s->seen[id] = s->stamp;
        float v = s->logits[id];
        s->logits[id] = v > 0.0f ? v / penalty : v * penalty;
    }
}

/* Moves the k largest of cand[0..n) to the front, sorted (partial selection sort through a
 * min-heap of size k would be faster for huge k; k is small in practice). */
static int keep_top_k(candidate *cand, int n, int k) {
    if (k >= n) return n;
    /* quickselect for the k-th largest, then sort the front */
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        candidate pivot = cand[(lo + hi) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (by_value_desc(&cand[i], &pivot) < 0)
                i++;
            while (by_value_desc(&cand[j], &pivot) > 0)
                j--;
            if (i <= j) {
                candidate t = cand[i];
                cand[i] = cand[j];
                cand[j] = t;
                i++;
                j--;
            }
        }
        if (k - 1 <= j)
            hi = j;
        else if (k - 1 >= i)
            lo = i;
        else
            break;
    }
    qsort(cand, (size_t)k, sizeof *cand, by_value_desc);
    return k;
}

int32_t rt_argmax_f32(const float *x, int n) {
    float m = x[0];
    if (m != m) return 0; /* NaN first: nothing compares greater */
#pragma omp simd reduction(max : m)
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++)
        if (x[i] == m) return i;
    return 0;
}

int32_t rt_sampler_sample(rt_sampler *s, const float *logits, const int32_t *history,
                          int n_history) {
    const rt_sampler_params *p = &s->params;
    int n = s->n_vocab;
    memcpy(s->logits, logits, (size_t)n * sizeof *logits);
    apply_repeat_penalty(s, history, n_history);
    if (p->temperature <= 0.0f) return rt_argmax_f32(s->logits, n);
    float inv_t = 1.0f / p->temperature;
    for (int i = 0; i < n; i++) {
        s->cand[i].value = s->logits[i] * inv_t;
        s->cand[i].id = i;
    }
    bool sorted = false;
    if (p->top_k > 0 && p->top_k < n) {
        n = keep_top_k(s->cand, n, p->top_k);
        sorted = true;
    }
    /* softmax over the candidates */
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = s->cand[i].value > mx ? s->cand[i].value : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->cand[i].value = expf(s->cand[i].value - mx);
        sum += s->cand[i].value;
    }
    for (int i = 0; i < n; i++)
        s->cand[i].value = (float)(s->cand[i].value / sum);
    /* top-p: the smallest most-probable set with mass >= top_p. Only the head needs sorting:
     * if the tokens above a threshold already hold top_p of the mass, the set lies among them. */
    if (p->top_p < 1.0f && n > 1) {
        if (!sorted) {
            float pmax = 0.0f;
            for (int i = 0; i < n; i++)
                pmax = s->cand[i].value > pmax ? s->cand[i].value : pmax;
            float threshold = pmax * 1e-3f;
            double head_mass = 0.0;
            int n_head = 0;
            for (int i = 0; i < n; i++) {
                if (s->cand[i].value >= threshold) {
                    head_mass += s->cand[i].value;
                    candidate t = s->cand[n_head];
                    s->cand[n_head++] = s->cand[i];
                    s->cand[i] = t;
                }
            }
            int n_sort = head_mass >= p->top_p ? n_head : n;
            qsort(s->cand, (size_t)n_sort, sizeof *s->cand, by_value_desc);
            n = n_sort;
        }
        double cum = 0.0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += s->cand[i].value;
            if (cum >= p->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    /* min-p: relative to the most probable token (unchanged by the filters above). */
    double kept = 0.0;
    if (p->min_p > 0.0f) {
        float pmax = 0.0f;
        for (int i = 0; i < n; i++)
            pmax = s->cand[i].value > pmax ? s->cand[i].value : pmax;
        int m = 0;
        for (int i = 0; i < n; i++)
            if (s->cand[i].value >= p->min_p * pmax) s->cand[m++] = s->cand[i];
        n = m;
    }
    for (int i = 0; i < n; i++)
        kept += s->cand[i].value;
    double u = rt_rng_uniform(&s->rng) * kept;
    double acc = 0.0;
    for (int i = 0; i < n; i++) {
        acc += s->cand[i].value;
        if (u < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
