/*
 * rerank.c — reorders retrieved chunks by a cross-encoder's scores (see rerank.h).
 */
#include "rag/rerank.h"

#include "core/error.h"

#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    rt_search_result item;
    float score;
    size_t pos;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int rt_rag_order_by_scores(rt_search_results *res, float *scores) {
    if (!res->n) return RT_OK;
    ranked *r = rt_malloc(res->n * sizeof *r);
    if (!r) return RT_ERR_NOMEM;
    for (size_t i = 0; i < res->n; i++)
        r[i] = (ranked){res->items[i], scores[i], i};
    qsort(r, res->n, sizeof *r, cmp_ranked);
    for (size_t i = 0; i < res->n; i++) {
        res->items[i] = r[i].item;
        scores[i] = r[i].score;
    }
    free(r);
    return RT_OK;
}

int rt_rag_rerank(rt_reranker *reranker, const char *query, rt_search_results *res, int k,
                  float **scores, size_t *n_keep) {
    *scores = NULL;
    *n_keep = 0;
    if (!res->n) return RT_OK;
    const char **texts = rt_malloc(res->n * sizeof *texts);
    float *s = rt_malloc(res->n * sizeof *s);
    int rc = texts && s ? RT_OK : RT_ERR_NOMEM;
    for (size_t i = 0; rc == RT_OK && i < res->n; i++)
        texts[i] = res->items[i].text;
    if (rc == RT_OK) rc = rt_reranker_score(reranker, query, texts, (int)res->n, s);
    if (rc == RT_OK) rc = rt_rag_order_by_scores(res, s);
    free(texts);
    if (rc != RT_OK) {
        free(s);
        return rc;
    }
    *scores = s;
    *n_keep = k > 0 && (size_t)k < res->n ? (size_t)k : res->n;
    return RT_OK;
}
