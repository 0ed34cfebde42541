/*
 * contrastive.c — mean pooling + L2 norm and InfoNCE with in-batch negatives, forward and
 * backward side by side, and one training step of a bi-encoder over tmodel's hidden states.
 */
#include "train/contrastive.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- InfoNCE ------------------------------------------------------------------------------ */

// q (n,C), p (n,C), dq (n,C), dp (n,C)
double ct_infonce(const float *q, const float *p, int n, int C, float temperature, bool symmetric,
                  float *dq, float *dp) {
    double *S = malloc((size_t)n * n * sizeof *S);  /* scores, then d(loss)/dS */
    double *G = calloc((size_t)n * n, sizeof *G);
    if (!S || !G) {
        free(S);
        free(G);
        return NAN;
    }
    double inv_t = 1.0 / (double)temperature;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double d = 0.0;
            for (int c = 0; c < C; c++)
                d += (double)q[(size_t)i * C + c] * (double)p[(size_t)j * C + c];
            S[(size_t)i * n + j] = d * inv_t;
        }
    double w = symmetric ? 0.5 / n : 1.0 / n;
    double loss = 0.0;
    /* query -> passage: softmax over each row */
    for (int i = 0; i < n; i++) {
        const double *row = S + (size_t)i * n;
        double mx = row[0];
        for (int j = 1; j < n; j++)
            mx = fmax(mx, row[j]);
        double sum = 0.0;
        for (int j = 0; j < n; j++)
            sum += exp(row[j] - mx);
        loss += w * (mx + log(sum) - row[i]);
        for (int j = 0; j < n; j++)
            G[(size_t)i * n + j] += w * exp(row[j] - mx) / sum;
        G[(size_t)i * n + i] -= w;
    }
    if (symmetric) /* passage -> query: softmax over each column */
        for (int j = 0; j < n; j++) {
            double mx = S[j];
            for (int i = 1; i < n; i++)
                mx = fmax(mx, S[(size_t)i * n + j]);
            double sum = 0.0;
            for (int i = 0; i < n; i++)
                sum += exp(S[(size_t)i * n + j] - mx);
            loss += w * (mx + log(sum) - S[(size_t)j * n + j]);
            for (int i = 0; i < n; i++)
                G[(size_t)i * n + j] += w * exp(S[(size_t)i * n + j] - mx) / sum;
            G[(size_t)j * n + j] -= w;
        }
    if (dq && dp) {
        /* dq = G p / tau, dp = G^T q / tau */
        for (int i = 0; i < n; i++)
            for (int c = 0; c < C; c++) {
                double a = 0.0, b = 0.0;
                for (int j = 0; j < n; j++) {
                    a += G[(size_t)i * n + j] * (double)p[(size_t)j * C + c];
                    b += G[(size_t)j * n + i] * (double)q[(size_t)j * C + c];
                }
                dq[(size_t)i * C + c] = (float)(a * inv_t);
                dp[(size_t)i * C + c] = (float)(b * inv_t);
            }
    }
    free(S);
    free(G);
    return loss;
}

/* ---- pooling ------------------------------------------------------------------------------ */

// hidden (B,T,C), lens (B), out (B,C), norms (B)
void ct_pool(const float *hidden, const int *lens, int B, int T, int C, float *out, float *norms) {
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * C;
        memset(o, 0, (size_t)C * sizeof(float));
        for (int t = 0; t < lens[b]; t++) {
            const float *h = hidden + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++)
                o[c] += h[c];
        }
        double ss = 0.0;
        for (int c = 0; c < C; c++) {
            o[c] /= (float)lens[b];
            ss += (double)o[c] * o[c];
        }
        double norm = sqrt(ss);
        norms[b] = (float)norm;
        float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        for (int c = 0; c < C; c++)
            o[c] *= inv;
    }
}

// dhidden (B,T,C), dout (B,C), out (B,C) unit vectors, norms (B)
void ct_pool_backward(float *dhidden, const float *dout, const float *out, const float *norms,
                      const int *lens, int B, int T, int C) {
    for (int b = 0; b < B; b++) {
        const float *u = out + (size_t)b * C, *du = dout + (size_t)b * C;
        double dot = 0.0;
        for (int c = 0; c < C; c++)
            dot += (double)u[c] * du[c];
        /* u = e/|e|: de = (du - u (u.du)) / |e|; e = mean of lens[b] rows */
        double s = 1.0 / ((norms[b] > 1e-12f ? (double)norms[b] : 1e-12) * lens[b]);
        float *row0 = dhidden + (size_t)b * T * C;
        for (int c = 0; c < C; c++)
            row0[c] = (float)(((double)du[c] - (double)u[c] * dot) * s);
        for (int t = 1; t < T; t++) {
            float *r = row0 + (size_t)t * C;
            if (t < lens[b])
                memcpy(r, row0, (size_t)C * sizeof(float));
            else
                memset(r, 0, (size_t)C * sizeof(float));
        }
        if (lens[b] < 1) memset(row0, 0, (size_t)C * sizeof(float));
    }
}

/* ---- a training step ---------------------------------------------------------------------- */

int ct_work_init(ct_work *w, int n_max, int t_max, int C) {
    memset(w, 0, sizeof *w);
    w->n_max = n_max;
    w->t_max = t_max;
    w->C = C;
    size_t nc = (size_t)n_max * C;
    w->q = rt_malloc(nc * sizeof(float));
    w->p = rt_malloc(nc * sizeof(float));
    w->dq = rt_malloc(nc * sizeof(float));
    w->dp = rt_malloc(nc * sizeof(float));
    w->qnorm = rt_malloc((size_t)n_max * sizeof(float));
    w->pnorm = rt_malloc((size_t)n_max * sizeof(float));
    w->dhidden = rt_malloc(nc * (size_t)t_max * sizeof(float));
    if (!w->q || !w->p || !w->dq || !w->dp || !w->qnorm || !w->pnorm || !w->dhidden) {
        ct_work_free(w);
        return RT_ERR_NOMEM;
    }
    return RT_OK;
}

void ct_work_free(ct_work *w) {
    free(w->q);
    free(w->p);
    free(w->dq);
    free(w->dp);
    free(w->qnorm);
    free(w->pnorm);
    free(w->dhidden);
    memset(w, 0, sizeof *w);
}

static int check_lens(const int *lens, int n, int T, const char *what) {
    for (int i = 0; i < n; i++)
        if (lens[i] < 1 || lens[i] > T)
            return rt_error(RT_ERR_INVALID, "%s %d: length %d outside 1..%d", what, i, lens[i], T);
    return RT_OK;
}

int ct_step(tmodel *m, ct_work *w, const int32_t *q_ids, const int *q_lens, int Tq,
            const int32_t *p_ids, const int *p_lens, int Tp, int n, float temperature,
            bool symmetric, bool backward, float grad_scale, float *loss) {
    int C = m->cfg.n_embd;
    if (n < 1 || n > w->n_max || Tq < 1 || Tp < 1 || Tq > w->t_max || Tp > w->t_max ||
        C != w->C)
        return rt_error(RT_ERR_INVALID, "contrastive batch %d x (%d, %d) exceeds the work area", n,
                        Tq, Tp);
    if (!(temperature > 0.0f)) return rt_error(RT_ERR_INVALID, "temperature must be > 0");
    RT_TRY(check_lens(q_lens, n, Tq, "query"));
    RT_TRY(check_lens(p_lens, n, Tp, "passage"));
    const float *hidden;
    RT_TRY(tmodel_hidden(m, q_ids, n, Tq, false, &hidden));
    ct_pool(hidden, q_lens, n, Tq, C, w->q, w->qnorm);
    RT_TRY(tmodel_hidden(m, p_ids, n, Tp, backward, &hidden));
    ct_pool(hidden, p_lens, n, Tp, C, w->p, w->pnorm);
    double l = ct_infonce(w->q, w->p, n, C, temperature, symmetric, backward ? w->dq : NULL,
                          backward ? w->dp : NULL);
    if (isnan(l)) return RT_ERR_NOMEM;
    *loss = (float)l;
    if (!backward) return RT_OK;
    size_t nc = (size_t)n * C;
    for (size_t i = 0; i < nc; i++) {
        w->dq[i] *= grad_scale;
        w->dp[i] *= grad_scale;
    }
    ct_pool_backward(w->dhidden, w->dp, w->p, w->pnorm, p_lens, n, Tp, C);
    RT_TRY(tmodel_hidden_backward(m, p_ids, n, Tp, w->dhidden));
    RT_TRY(tmodel_hidden(m, q_ids, n, Tq, true, &hidden));
    ct_pool_backward(w->dhidden, w->dq, w->q, w->qnorm, q_lens, n, Tq, C);
    return tmodel_hidden_backward(m, q_ids, n, Tq, w->dhidden);
}
