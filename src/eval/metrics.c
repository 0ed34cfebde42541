/*
 * metrics.c — answer, retrieval, uncertainty, refusal and latency metrics (see metrics.h).
 * Normalization and F1 follow the SQuAD v1.1 evaluate script:
 *
 *     normalize(s) = white_space_fix(remove_articles(remove_punc(lower(s))))
 *     f1 = 2 p r / (p + r), p = common / |pred tokens|, r = common / |gold tokens|,
 *     common = size of the multiset intersection of the token lists.
 */
#include "eval/metrics.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "train/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static bool is_ascii_punct(int c) {
    return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
           (c >= 123 && c <= 126);
}

static bool is_space(int c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_article(const char *w, size_t n) {
    return (n == 1 && w[0] == 'a') || (n == 2 && !memcmp(w, "an", 2)) ||
           (n == 3 && !memcmp(w, "the", 3));
}

/* Python's \b in remove_articles sees word characters; after remove_punc and lower the
 * non-word characters left are whitespace and non-ASCII symbols, so splitting on whitespace
 * and dropping whole-token articles is what the regex does on such text. */
char *rt_squad_normalize(const char *s) {
    rt_strbuf low = {0};
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)(s ? s : "");
    size_t len = strlen((const char *)p);
    while (len > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, (utf8proc_ssize_t)len, &cp);
        if (k <= 0) { /* invalid byte: keep it as it is */
            cp = -1;
            k = 1;
        }
        if (cp >= 0 && cp < 128 && is_ascii_punct(cp)) {
            /* removed */
        } else if (cp >= 0) {
            utf8proc_uint8_t buf[4];
            utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), buf);
            if (rt_strbuf_append(&low, (const char *)buf, (size_t)m) != RT_OK) goto fail;
        } else if (rt_strbuf_append(&low, (const char *)p, 1) != RT_OK) {
            goto fail;
        }
        p += k;
        len -= (size_t)k;
    }
    rt_strbuf out = {0};
    const char *t = low.data ? low.data : "";
    while (*t) {
        while (*t && is_space((unsigned char)*t))
            t++;
        const char *w = t;
        while (*t && !is_space((unsigned char)*t))
            t++;
        size_t n = (size_t)(t - w);
        if (n == 0 || is_article(w, n)) continue;
        if ((out.len && rt_strbuf_append(&out, " ", 1) != RT_OK) ||
            rt_strbuf_append(&out, w, n) != RT_OK) {
            rt_strbuf_free(&out);
            goto fail;
        }
    }
    rt_strbuf_free(&low);
    return rt_strbuf_take(&out);
fail:
    rt_strbuf_free(&low);
    return NULL;
}

/* Splits normalized text (single spaces) into tokens pointing into it; returns the count. */
static size_t split_tokens(char *s, char ***out) {
    size_t n = 0;
    for (char *p = s; *p; p++)
        if (*p == ' ') n++;
    n = *s ? n + 1 : 0;
    char **t = n ? malloc(n * sizeof *t) : NULL;
    if (n && !t) {
        *out = NULL;
        return 0;
    }
    size_t i = 0;
    char *p = s;
    while (n && *p) {
        t[i++] = p;
        char *sp = strchr(p, ' ');
        if (!sp) break;
        *sp = 0;
        p = sp + 1;
    }
    *out = t;
    return i;
}

static double f1_one(const char *pred, const char *gold) {
    char *a = rt_squad_normalize(pred), *b = rt_squad_normalize(gold);
    double f1 = 0;
    char **ta = NULL, **tb = NULL;
    if (!a || !b) goto done;
    size_t na = split_tokens(a, &ta), nb = split_tokens(b, &tb);
    if (!na || !nb) goto done;
    bool *used = calloc(nb, 1);
    if (!used) goto done;
    size_t same = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (!used[j] && !strcmp(ta[i], tb[j])) {
                used[j] = true;
                same++;
                break;
            }
    free(used);
    if (same) {
        double pr = (double)same / (double)na, rc = (double)same / (double)nb;
        f1 = 2 * pr * rc / (pr + rc);
    }
done:
    free(ta);
    free(tb);
    free(a);
    free(b);
    return f1;
}

double rt_metric_exact_match(const char *pred, const char *const *gold, size_t n_gold) {
    char *a = rt_squad_normalize(pred);
    double best = 0;
    for (size_t i = 0; a && i < n_gold && best < 1; i++) {
        char *b = rt_squad_normalize(gold[i]);
        if (b && !strcmp(a, b)) best = 1;
        free(b);
    }
    free(a);
    return best;
}

double rt_metric_f1(const char *pred, const char *const *gold, size_t n_gold) {
    double best = 0;
    for (size_t i = 0; i < n_gold; i++) {
        double f = f1_one(pred, gold[i]);
        if (f > best) best = f;
    }
    return best;
}

double rt_metric_contains(const char *pred, const char *const *gold, size_t n_gold) {
    char *a = rt_squad_normalize(pred);
    double hit = 0;
    for (size_t i = 0; a && i < n_gold && !hit; i++) {
        char *b = rt_squad_normalize(gold[i]);
        size_t nb = b ? strlen(b) : 0;
        for (const char *p = a; nb && (p = strstr(p, b)) != NULL; p++) {
            bool left = p == a || p[-1] == ' ', right = p[nb] == 0 || p[nb] == ' ';
            if (left && right) {
                hit = 1;
                break;
            }
        }
        free(b);
    }
    free(a);
    return hit;
}

void rt_retrieval_score(const char *const *ranked, size_t n_ranked, const char *const *relevant,
                        size_t n_relevant, int k, rt_retrieval_scores *out) {
    memset(out, 0, sizeof *out);
    if (!n_relevant) return;
    size_t rank = 0, found_k = 0;
    double dcg = 0;
    for (size_t i = 0; i < n_ranked; i++) {
        bool dup = false;
        for (size_t j = 0; j < i && !dup; j++)
            dup = !strcmp(ranked[i], ranked[j]);
        if (dup) continue;
        rank++;
        bool rel = false;
        for (size_t j = 0; j < n_relevant && !rel; j++)
            rel = !strcmp(ranked[i], relevant[j]);
        if (!rel) continue;
        if (out->mrr == 0) out->mrr = 1.0 / (double)rank;
        if ((int)rank <= k) {
            found_k++;
            dcg += 1.0 / log2((double)rank + 1);
        }
    }
    double idcg = 0;
    for (size_t r = 1; r <= n_relevant && (int)r <= k; r++)
        idcg += 1.0 / log2((double)r + 1);
    out->hit = found_k ? 1 : 0;
    out->recall = (double)found_k / (double)n_relevant;
    out->ndcg = idcg > 0 ? dcg / idcg : 0;
}

double rt_mean(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    return n ? s / (double)n : 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Quantile of sorted values (linear interpolation). */
static double sorted_quantile(const double *s, size_t n, double q) {
    if (!n) return 0;
    double pos = q * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i + 1 >= n) return s[n - 1];
    double f = pos - (double)i;
    return s[i] + f * (s[i + 1] - s[i]);
}

double rt_quantile(const double *x, size_t n, double q) {
    if (!n) return 0;
    double *s = malloc(n * sizeof *s);
    if (!s) return NAN;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    double v = sorted_quantile(s, n, q);
    free(s);
    return v;
}

/* Resampled means of d[0..n) into means[0..r). */
static void resample_means(const double *d, size_t n, int r, uint64_t seed, double *means) {
    uint64_t st = seed;
    for (int b = 0; b < r; b++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += d[rt_rng_next(&st) % n];
        means[b] = s / (double)n;
    }
}

void rt_bootstrap_ci(const double *x, size_t n, int n_resamples, double level, uint64_t seed,
                     double *lo, double *hi) {
    *lo = *hi = 0;
    if (!n || n_resamples < 1) return;
    double *m = malloc((size_t)n_resamples * sizeof *m);
    if (!m) {
        *lo = *hi = NAN;
        return;
    }
    resample_means(x, n, n_resamples, seed, m);
    qsort(m, (size_t)n_resamples, sizeof *m, cmp_double);
    *lo = sorted_quantile(m, (size_t)n_resamples, (1 - level) / 2);
    *hi = sorted_quantile(m, (size_t)n_resamples, (1 + level) / 2);
    free(m);
}

double rt_sign_test_p(int wins, int losses) {
    int n = wins + losses;
    if (n <= 0) return 1;
    int k = wins < losses ? wins : losses;
    /* P(X <= k) for X ~ Binomial(n, 1/2), in logs to stay finite for large n. */
    double tail = 0;
    for (int i = 0; i <= k; i++)
        tail += exp(lgamma(n + 1.0) - lgamma(i + 1.0) - lgamma(n - i + 1.0) - n * log(2.0));
    double p = 2 * tail;
    return p > 1 ? 1 : p;
}

void rt_paired_compare(const double *a, const double *b, size_t n, int n_resamples, uint64_t seed,
                       rt_paired_test *out) {
    memset(out, 0, sizeof *out);
    out->p_bootstrap = 1;
    out->p_sign = 1;
    if (!n) return;
    double *d = malloc(n * sizeof *d);
    double *m = n_resamples > 0 ? malloc((size_t)n_resamples * sizeof *m) : NULL;
    if (!d || (n_resamples > 0 && !m)) {
        free(d);
        free(m);
        out->p_bootstrap = out->p_sign = NAN;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        d[i] = a[i] - b[i];
        if (d[i] > 0) out->wins++;
        if (d[i] < 0) out->losses++;
    }
    out->delta = rt_mean(d, n);
    if (m) {
        resample_means(d, n, n_resamples, seed, m);
        qsort(m, (size_t)n_resamples, sizeof *m, cmp_double);
        out->delta_lo = sorted_quantile(m, (size_t)n_resamples, 0.025);
        out->delta_hi = sorted_quantile(m, (size_t)n_resamples, 0.975);
        size_t le = 0, ge = 0;
        for (int i = 0; i < n_resamples; i++) {
            le += m[i] <= 0;
            ge += m[i] >= 0;
        }
        double p = 2.0 * (double)(le < ge ? le : ge) / (double)n_resamples;
        out->p_bootstrap = p > 1 ? 1 : p;
    }
    out->p_sign = rt_sign_test_p(out->wins, out->losses);
    free(d);
    free(m);
}

void rt_refusal_scores(const bool *abstained, const bool *unanswerable, size_t n, double *precision,
                       double *recall) {
    size_t abst = 0, unans = 0, both = 0;
    for (size_t i = 0; i < n; i++) {
        abst += abstained[i];
        unans += unanswerable[i];
        both += abstained[i] && unanswerable[i];
    }
    *precision = abst ? (double)both / (double)abst : NAN;
    *recall = unans ? (double)both / (double)unans : NAN;
}

double rt_hallucination_rate(const bool *abstained, const bool *correct, const double *support,
                             size_t n, double threshold) {
    if (!n) return 0;
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        bool unsupported = isnan(support[i]) || support[i] < threshold;
        h += !abstained[i] && !correct[i] && unsupported;
    }
    return (double)h / (double)n;
}
