/*
 * hnsw.h — a hierarchical navigable small world graph (Malkov & Yashunin) for approximate
 * nearest-neighbour search over dense vectors.
 *
 * Layout for speed: level 0 is one contiguous array of fixed-size blocks, one per node:
 *     [u32 n_links][u32 links[M0]][vector: dim floats, or dim int8 + f32 scale + f32 |x|^2]
 *     [i64 label]
 * so a hop touches one block. Upper levels live in a separate pool. The visited set is an
 * epoch-stamped u16 array; a hop prefetches its neighbours several ahead and the next hop's links,
 * and the large arrays ask for huge pages (hnsw.c says why); distances use the SIMD kernels
 * of vector.h. Neighbour selection is the paper's heuristic (algorithm 4, no extension).
 *
 * Labels (chunk ids) must be added in increasing order; deletes are tombstones: deleted nodes
 * are still traversed but never returned. Files: magic "RTHNSW\0\0", version, header with sizes,
 * then the level-0 blocks (mapped copy-on-write on load, copied out when the index grows), then
 * levels, upper-level offsets, tombstones and the upper pool; every count, link and offset is
 * checked on load. Searches through rt_hnsw_search_with read the index only (what they write
 * lives in a scratch the caller owns), so any number of threads may search one index at once,
 * each with its own scratch, while nothing modifies it; every other call is one at a time.
 */
#ifndef RT_KNOWLEDGE_HNSW_H
#define RT_KNOWLEDGE_HNSW_H

#include "ragtune.h"
#include "knowledge/hits.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_hnsw rt_hnsw;

typedef struct rt_hnsw_config {
    int dim;
    rt_metric metric;
    int m;               /* links per node on levels >= 1 (level 0 has 2m); default 16 */
    int ef_construction; /* default 200 */
    bool int8;           /* per-vector scalar quantization of stored vectors */
    uint64_t seed;       /* level generator seed */
} rt_hnsw_config;

rt_hnsw_config rt_hnsw_default_config(int dim);

int rt_hnsw_new(const rt_hnsw_config *cfg, rt_hnsw **out);
void rt_hnsw_free(rt_hnsw *h);
/* Reserves room for n nodes (optional; inserts grow the arrays geometrically). */
int rt_hnsw_reserve(rt_hnsw *h, size_t n);

/* Inserts vector v (dim floats; normalized first for cosine) with label > every earlier one. */
int rt_hnsw_add(rt_hnsw *h, int64_t label, const float *v);
/* Tombstones label (RT_OK if unknown). */
int rt_hnsw_remove(rt_hnsw *h, int64_t label);

/* The k nearest live nodes among labels in allowed (NULL = all), best first (score as in
 * rt_vec_score). ef is the beam width (raised to k). Returns the count or an error. Uses the
 * index's own scratch: one search at a time (rt_hnsw_search_with for concurrent ones). */
int rt_hnsw_search(rt_hnsw *h, const float *q, int k, int ef, const rt_idset *allowed, rt_hit *out);
/* Exact top-k over the stored vectors (dequantized when int8). */
int rt_hnsw_search_exact(rt_hnsw *h, const float *q, int k, const rt_idset *allowed, rt_hit *out);

/* What one search writes (visited stamps, heaps, the query buffer); grown on demand to the
 * index searched. One per thread; reusable across searches and indexes. */
typedef struct rt_hnsw_scratch rt_hnsw_scratch;
int rt_hnsw_scratch_new(rt_hnsw_scratch **out);
void rt_hnsw_scratch_free(rt_hnsw_scratch *s);
/* rt_hnsw_search and rt_hnsw_search_exact on a const index with the caller's scratch
 * (concurrent searches of one index, see the top of this file). */
int rt_hnsw_search_with(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, int k, int ef,
                        const rt_idset *allowed, rt_hit *out);
int rt_hnsw_search_exact_with(const rt_hnsw *h, rt_hnsw_scratch *s, const float *q, int k,
                              const rt_idset *allowed, rt_hit *out);
/* The work of the beam searches made with s so far (level 0 and, during inserts, upper levels;
 * not the greedy descent): nodes expanded (hops) and distances computed. Unlike times, these
 * do not depend on the machine or its load. */
void rt_hnsw_scratch_counts(const rt_hnsw_scratch *s, uint64_t *hops, uint64_t *dists);

/* Copies the stored (possibly dequantized) vector of label into out (dim); RT_ERR_NOT_FOUND. */
int rt_hnsw_get(const rt_hnsw *h, int64_t label, float *out);

/* Rebuilds the graph from the live nodes when there are tombstones (*h is replaced; labels,
 * settings and the replay position are kept; int8 vectors are re-quantized from their
 * dequantized values). */
int rt_hnsw_compact(rt_hnsw **h);

size_t rt_hnsw_size(const rt_hnsw *h);      /* live nodes */
size_t rt_hnsw_n_deleted(const rt_hnsw *h); /* tombstones */
int rt_hnsw_dim(const rt_hnsw *h);
size_t rt_hnsw_memory(const rt_hnsw *h); /* bytes held (arrays and scratch) */
uint64_t rt_hnsw_applied_seq(const rt_hnsw *h);
void rt_hnsw_set_applied_seq(rt_hnsw *h, uint64_t seq);

/* Writes the index atomically. */
int rt_hnsw_save(const rt_hnsw *h, const char *path);
/* Maps an index file (level 0 stays mapped until the index grows). */
int rt_hnsw_load(const char *path, rt_hnsw **out);
/* Loads from a buffer (copied); name is used in error messages. */
int rt_hnsw_load_buffer(const void *data, size_t size, const char *name, rt_hnsw **out);

#endif
