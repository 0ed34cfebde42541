/*
 * grounding.c — support scores of claims against evidence (formula in grounding.h). The BM25
 * analyzer of an empty index does the word analysis, so grounding and retrieval agree on what
 * a term is.
 */
#include "rag/grounding.h"

#include "core/error.h"
#include "knowledge/bm25.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct rt_grounder {
    rt_bm25 *analyzer; /* an empty index: only its analysis chain is used */
    const rt_embedder *embedder;
};

int rt_grounder_new(const rt_embedder *embedder, rt_grounder **out) {
    *out = NULL;
    rt_grounder *g = rt_calloc(1, sizeof *g);
    if (!g) return RT_ERR_NOMEM;
    rt_bm25_config cfg = rt_bm25_default_config();
    cfg.language = "english";
    cfg.stopwords = true;
    int rc = rt_bm25_new(&cfg, &g->analyzer);
    if (rc != RT_OK) {
        free(g);
        return rc;
    }
    g->embedder = embedder;
    *out = g;
    return RT_OK;
}

void rt_grounder_free(rt_grounder *g) {
    if (!g) return;
    rt_bm25_free(g->analyzer);
    free(g);
}

typedef struct term_list {
    uint64_t *h;
    size_t n, cap;
    int status;
} term_list;

static uint64_t hash_term(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h;
}

/* Answer words that carry no claim (stems; BM25's stopwords are already gone). */
static bool is_filler(const char *term, size_t len) {
    static const char *const filler[] = {"yes", "ok", "okay", "sure"};
    for (size_t i = 0; i < sizeof filler / sizeof *filler; i++)
        if (strlen(filler[i]) == len && !memcmp(term, filler[i], len)) return true;
    return false;
}

static int on_term(void *user, const char *term, size_t len) {
    term_list *l = user;
    if (is_filler(term, len)) return 0;
    int st = RT_GROW(l->h, l->cap, l->n + 1);
    if (st < 0) {
        l->status = st;
        return 1;
    }
    l->h[l->n++] = hash_term(term, len);
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t sort_unique(uint64_t *v, size_t n) {
    if (!n) return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[m - 1]) v[m++] = v[i];
    return m;
}

void rt_evidence_clear(rt_evidence *ev) {
    free(ev->unigrams);
    free(ev->bigrams);
    free(ev->vector);
    memset(ev, 0, sizeof *ev);
}

size_t rt_grounder_n_terms(rt_grounder *g, const char *text, size_t len) {
    term_list l = {0};
    rt_bm25_analyze(g->analyzer, text, len, on_term, &l);
    free(l.h);
    return l.n;
}

int rt_evidence_build(rt_grounder *g, const char *text, size_t len, bool embed, rt_evidence *ev) {
    memset(ev, 0, sizeof *ev);
    term_list l = {0};
    rt_bm25_analyze(g->analyzer, text, len, on_term, &l);
    if (l.status != RT_OK) {
        free(l.h);
        return l.status;
    }
    if (l.n > 1) {
        ev->bigrams = rt_malloc((l.n - 1) * sizeof *ev->bigrams);
        if (!ev->bigrams) {
            free(l.h);
            return RT_ERR_NOMEM;
        }
        for (size_t i = 0; i + 1 < l.n; i++)
            ev->bigrams[i] = l.h[i] * 0x9E3779B97F4A7C15ull ^ (l.h[i + 1] + 0x632BE59BD9B4E019ull);
        ev->n_bigrams = sort_unique(ev->bigrams, l.n - 1);
    }
    ev->unigrams = l.h;
    ev->n_unigrams = sort_unique(l.h, l.n);
    if (embed && g->embedder && len) {
        int dim = g->embedder->dim;
        ev->vector = rt_malloc((size_t)dim * sizeof *ev->vector);
        if (!ev->vector) {
            rt_evidence_clear(ev);
            return RT_ERR_NOMEM;
        }
        const char *texts[1] = {text};
        size_t lens[1] = {len};
        int rc = g->embedder->embed(g->embedder->user, texts, lens, 1, ev->vector);
        if (rc != RT_OK) {
            rt_evidence_clear(ev);
            return rc;
        }
        double nn = 0;
        for (int i = 0; i < dim; i++)
            nn += (double)ev->vector[i] * ev->vector[i];
        if (nn > 0) {
            float inv = (float)(1.0 / sqrt(nn));
            for (int i = 0; i < dim; i++)
                ev->vector[i] *= inv;
        }
    }
    return RT_OK;
}

static bool contains(const uint64_t *v, size_t n, uint64_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

/* Share of set (n items) found in any of the evidence sets picked by `bigrams`. */
static float recall(const uint64_t *set, size_t n, const rt_evidence *const *ev, size_t m,
                    bool bigrams) {
    if (!n) return 0;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < m; j++) {
            const uint64_t *v = bigrams ? ev[j]->bigrams : ev[j]->unigrams;
            size_t vn = bigrams ? ev[j]->n_bigrams : ev[j]->n_unigrams;
            if (contains(v, vn, set[i])) {
                found++;
                break;
            }
        }
    }
    return (float)found / (float)n;
}

float rt_grounder_support(const rt_grounder *g, const rt_evidence *claim,
                          const rt_evidence *const *evidence, size_t n) {
    if (!n || !claim->n_unigrams) return 0;
    float uni = recall(claim->unigrams, claim->n_unigrams, evidence, n, false);
    float bi = claim->n_bigrams ? recall(claim->bigrams, claim->n_bigrams, evidence, n, true) : uni;
    float lexical = 0.5f * (uni + bi);
    if (!g->embedder || !claim->vector) return lexical;
    float best = 0;
    for (size_t j = 0; j < n; j++) {
        if (!evidence[j]->vector) continue;
        double dot = 0;
        for (int i = 0; i < g->embedder->dim; i++)
            dot += (double)claim->vector[i] * evidence[j]->vector[i];
        if (dot > best) best = (float)dot;
    }
    return 0.5f * (lexical + best);
}
