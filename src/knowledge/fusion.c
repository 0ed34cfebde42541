/*
 * fusion.c — see fusion.h. Lists are short (tens to hundreds), so merging is quadratic-free
 * only where it matters: ids are matched by a linear scan of the output built so far.
 */
#include "knowledge/fusion.h"
#include "knowledge/vector.h"
#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int find(const rt_hit *out, int n, int64_t id) {
    for (int i = 0; i < n; i++)
        if (out[i].id == id) return i;
    return -1;
}

static int cmp_hit(const void *x, const void *y) {
    const rt_hit *a = x, *b = y;
    if (rt_hit_worse(a, b)) return 1;
    if (rt_hit_worse(b, a)) return -1;
    return 0;
}

static int add(rt_hit *out, int n, int64_t id, float s) {
    int j = find(out, n, id);
    if (j >= 0) {
        out[j].score += s;
        return n;
    }
    out[n].id = id;
    out[n].score = s;
    return n + 1;
}

int rt_fuse_rrf(const rt_hit *a, int na, const rt_hit *b, int nb, float k, rt_hit *out) {
    int n = 0;
    for (int i = 0; i < na; i++)
        n = add(out, n, a[i].id, 1.0f / (k + (float)(i + 1)));
    for (int i = 0; i < nb; i++)
        n = add(out, n, b[i].id, 1.0f / (k + (float)(i + 1)));
    qsort(out, (size_t)n, sizeof *out, cmp_hit);
    return n;
}

static void min_max(const rt_hit *h, int n, float *lo, float *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (h[i].score < *lo) *lo = h[i].score;
        if (h[i].score > *hi) *hi = h[i].score;
    }
}

static float norm(float s, float lo, float hi) {
    return hi > lo ? (s - lo) / (hi - lo) : 1.0f;
}

int rt_fuse_weighted(const rt_hit *a, int na, const rt_hit *b, int nb, float alpha, rt_hit *out) {
    float alo, ahi, blo, bhi;
    min_max(a, na, &alo, &ahi);
    min_max(b, nb, &blo, &bhi);
    int n = 0;
    for (int i = 0; i < na; i++)
        n = add(out, n, a[i].id, alpha * norm(a[i].score, alo, ahi));
    for (int i = 0; i < nb; i++)
        n = add(out, n, b[i].id, (1 - alpha) * norm(b[i].score, blo, bhi));
    qsort(out, (size_t)n, sizeof *out, cmp_hit);
    return n;
}

int rt_mmr(const rt_hit *cands, int n, const float *vecs, int dim, const float *q, float lambda,
           int k, rt_hit *out) {
    if (k > n) k = n;
    if (k <= 0) return 0;
    size_t d = (size_t)dim;
    float *v = rt_malloc((size_t)n * d * sizeof *v + d * sizeof *v);
    float *rel = rt_malloc((size_t)n * sizeof *rel), *maxsim = rt_malloc((size_t)n * sizeof *rel);
    bool *used = rt_calloc((size_t)n, sizeof *used);
    if (!v || !rel || !maxsim || !used) {
        free(v);
        free(rel);
        free(maxsim);
        free(used);
        return RT_ERR_NOMEM;
    }
    const rt_vec_kernels *kern = rt_vec_kernels_get();
    float *qn = v + (size_t)n * d;
    memcpy(qn, q, d * sizeof *qn);
    rt_vec_normalize(qn, d);
    memcpy(v, vecs, (size_t)n * d * sizeof *v);
    for (int i = 0; i < n; i++) {
        rt_vec_normalize(v + (size_t)i * d, d);
        rel[i] = kern->dot(qn, v + (size_t)i * d, d);
        maxsim[i] = -INFINITY;
    }
    for (int t = 0; t < k; t++) {
        int best = -1;
        float best_s = -INFINITY;
        for (int i = 0; i < n; i++) {
            if (used[i]) continue;
            float div = t == 0 ? 0 : maxsim[i];
            float s = lambda * rel[i] - (1 - lambda) * div;
            if (best < 0 || s > best_s || (s == best_s && cands[i].id < cands[best].id)) {
                best = i;
                best_s = s;
            }
        }
        used[best] = true;
        out[t] = cands[best];
        for (int i = 0; i < n; i++) {
            if (used[i]) continue;
            float s = kern->dot(v + (size_t)i * d, v + (size_t)best * d, d);
            if (s > maxsim[i]) maxsim[i] = s;
        }
    }
    free(v);
    free(rel);
    free(maxsim);
    free(used);
    return k;
}
