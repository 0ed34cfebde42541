/*
 * optim.c — AdamW, SGD and gradient clipping with PyTorch's exact update order (torch 1.13,
 * single-tensor path), so a run reproduces torch's loss curve.
 */
#include "train/optim.h"

#include "core/error.h"
#include "train/tkern.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int optim_init(optim *o, optim_kind kind, size_t n, float weight_decay) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->beta1 = 0.9f;
    o->beta2 = 0.999f;
    o->eps = 1e-8f;
    o->weight_decay = weight_decay;
    o->n = n;
    o->m = rt_calloc(n ? n : 1, sizeof(float));
    if (kind == OPTIM_ADAMW) o->v = rt_calloc(n ? n : 1, sizeof(float));
    if (!o->m || (kind == OPTIM_ADAMW && !o->v)) {
        optim_free(o);
        return RT_ERR_NOMEM;
    }
    return RT_OK;
}

void optim_free(optim *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

/* Elements per kernel call; threads take spans. */
enum { OPTIM_SPAN = 32768 };

// params, grads, m, v (lo..hi)
static void adamw_range(optim *o, float *p, const float *g, size_t lo, size_t hi, float lr,
                        float wd) {
    /* Scalars in double, as torch computes them in Python floats. */
    double bc1 = 1.0 - pow((double)o->beta1, (double)o->t);
    float bc2_sqrt = (float)sqrt(1.0 - pow((double)o->beta2, (double)o->t));
    float step_size = (float)((double)lr / bc1), decay = (float)(1.0 - (double)lr * wd);
    const tkern_table *kern = tkern_get();
#pragma omp parallel for schedule(static)
    for (size_t i0 = lo; i0 < hi; i0 += OPTIM_SPAN) {
        size_t n = hi - i0 < OPTIM_SPAN ? hi - i0 : OPTIM_SPAN;
        kern->adamw(p + i0, g + i0, o->m + i0, o->v + i0, (int64_t)n, decay, o->beta1, o->beta2,
                    bc2_sqrt, o->eps, step_size);
    }
}

// params, grads, buf (lo..hi)
static void sgd_range(optim *o, float *p, const float *g, size_t lo, size_t hi, float lr,
                      float wd) {
    float mom = o->momentum;
    bool first = o->t == 1;
#pragma omp parallel for schedule(static)
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        if (mom != 0.0f) {
            o->m[i] = first ? d : o->m[i] * mom + d;
            d = o->m[i];
        }
        p[i] -= lr * d;
    }
}

void optim_step(optim *o, float *params, const float *grads, const tm_param *ps, int n_params,
                float lr) {
    o->t++;
    if (!ps) {
        if (o->kind == OPTIM_ADAMW)
            adamw_range(o, params, grads, 0, o->n, lr, o->weight_decay);
        else
            sgd_range(o, params, grads, 0, o->n, lr, o->weight_decay);
        return;
    }
    for (int i = 0; i < n_params; i++) {
        float wd = ps[i].decay ? o->weight_decay : 0.0f;
        size_t lo = ps[i].offset, hi = ps[i].offset + ps[i].n;
        if (o->kind == OPTIM_ADAMW)
            adamw_range(o, params, grads, lo, hi, lr, wd);
        else
            sgd_range(o, params, grads, lo, hi, lr, wd);
    }
}

float optim_clip_grad_norm(float *grads, size_t n, float max_norm) {
    const tkern_table *kern = tkern_get();
    /* per-span sums in double, added in span order: the norm does not depend on the threads
     * (the spans go SUMSQ_BATCH at a time through a fixed buffer) */
    enum { SUMSQ_BATCH = 256 };
    double ss = 0.0, part[SUMSQ_BATCH];
    size_t n_spans = (n + OPTIM_SPAN - 1) / OPTIM_SPAN;
    for (size_t s0 = 0; s0 < n_spans; s0 += SUMSQ_BATCH) {
        size_t nb = n_spans - s0 < SUMSQ_BATCH ? n_spans - s0 : SUMSQ_BATCH;
#pragma omp parallel for schedule(static)
        for (size_t s = 0; s < nb; s++) {
            size_t i0 = (s0 + s) * OPTIM_SPAN;
            part[s] = kern->sumsq(grads + i0, (int64_t)(n - i0 < OPTIM_SPAN ? n - i0 : OPTIM_SPAN));
        }
        for (size_t s = 0; s < nb; s++)
            ss += part[s];
    }
    float norm = (float)sqrt(ss);
    if (max_norm <= 0.0f) return norm;
    float coef = max_norm / (norm + 1e-6f);
    if (coef < 1.0f) {
#pragma omp parallel for schedule(static)
        for (size_t i0 = 0; i0 < n; i0 += OPTIM_SPAN)
            kern->scale(grads + i0, (int64_t)(n - i0 < OPTIM_SPAN ? n - i0 : OPTIM_SPAN), coef);
    }
    return norm;
}
