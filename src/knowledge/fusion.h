/*
 * fusion.h — combining and re-ranking ranked lists of hits:
 *   RRF       score(id) = sum over lists of 1 / (k + rank), rank counted from 1;
 *   weighted  score(id) = alpha * minmax(a) + (1 - alpha) * minmax(b), where minmax maps a
 *             list's scores to [0, 1] (a list whose scores are all equal maps to 1) and an id
 *             absent from a list contributes 0 from it;
 *   MMR       greedy: next = argmax lambda * cos(q, d) - (1 - lambda) * max cos(d, chosen).
 * Ties are broken by the smaller id. Metadata filters are not here: they become an rt_idset
 * (hits.h) tested inside BM25 and HNSW while they search.
 */
#ifndef RT_KNOWLEDGE_FUSION_H
#define RT_KNOWLEDGE_FUSION_H

#include "knowledge/hits.h"

/* Fuses a (na) and b (nb), each best first, into out (capacity na + nb), best first; returns
 * the count of distinct ids. */
int rt_fuse_rrf(const rt_hit *a, int na, const rt_hit *b, int nb, float k, rt_hit *out);
int rt_fuse_weighted(const rt_hit *a, int na, const rt_hit *b, int nb, float alpha, rt_hit *out);

/* Re-ranks cands (n) with vectors vecs (n x dim, row i for cands[i]) against q (dim) and
 * writes the first k picks to out, keeping their original scores. Returns the count. */
int rt_mmr(const rt_hit *cands, int n, const float *vecs, int dim, const float *q, float lambda,
           int k, rt_hit *out);

#endif
