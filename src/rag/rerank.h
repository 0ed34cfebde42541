/*
 * rerank.h — the rerank step of ask: a cross-encoder (rt_reranker, model layer) scores each
 * retrieved chunk against the query; the chunks are reordered by that score and cut to k.
 */
#ifndef RT_RAG_RERANK_H
#define RT_RAG_RERANK_H

#include "ragtune.h"

/* Scores res's items with reranker, reorders them best first (stable for equal scores) and
 * keeps the first k for use: *n_keep = min(k, res->n). *scores (malloc'd, res->n floats in the
 * new order) gets the rerank scores. The items stay owned by res. */
int rt_rag_rerank(rt_reranker *reranker, const char *query, rt_search_results *res, int k,
                  float **scores, size_t *n_keep);

/* Reorders res's items by scores (res->n floats; reordered with them), best first, stable. */
int rt_rag_order_by_scores(rt_search_results *res, float *scores);

#endif
