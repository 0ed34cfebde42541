/*
 * vector.c — scalar kernels, their registration with core/dispatch, and exact search. See
 * vector.h.
 */
#include "knowledge/vector.h"
#include "core/dispatch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static float l2sq_scalar(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        s += d * d;
    }
    return s;
}

static float dot_scalar(const float *a, const float *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static float dot_i8_scalar(const float *a, const int8_t *b, size_t n) {
    float s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * (float)b[i];
    return s;
}

const rt_vec_kernels rt_vec_kernels_scalar = {RT_CPU_SCALAR, l2sq_scalar, dot_scalar,
                                              dot_i8_scalar};

RT_DISPATCH_DEFINE(rt_vec_kernels, rt_vec_kernels_get, rt_vec_kernels_for, &rt_vec_kernels_scalar,
                   &rt_vec_kernels_avx2, &rt_vec_kernels_avx512)

float rt_vec_score(rt_metric metric, const float *q, const float *x, size_t dim) {
    const rt_vec_kernels *k = rt_vec_kernels_get();
    return metric == RT_METRIC_L2 ? -k->l2sq(q, x, dim) : k->dot(q, x, dim);
}

void rt_vec_normalize(float *v, size_t dim) {
    double s = 0;
    for (size_t i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    if (s <= 0) return;
    float inv = (float)(1.0 / sqrt(s));
    for (size_t i = 0; i < dim; i++)
        v[i] *= inv;
}

int rt_vec_exact_search(const float *data, const int64_t *ids, size_t n, size_t dim,
                        rt_metric metric, const float *q, int k, const rt_idset *allowed,
                        rt_hit *out) {
    if (k <= 0) return 0;
    const rt_vec_kernels *kern = rt_vec_kernels_get();
    rt_topk top = {out, 0, k};
    for (size_t i = 0; i < n; i++) {
        int64_t id = ids ? ids[i] : (int64_t)i;
        if (allowed && !rt_idset_has(allowed, id)) continue;
        const float *x = data + i * dim;
        float s = metric == RT_METRIC_L2 ? -kern->l2sq(q, x, dim) : kern->dot(q, x, dim);
        rt_topk_push(&top, id, s);
    }
    return rt_topk_sort(&top);
}
