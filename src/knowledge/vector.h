/*
 * vector.h — dense-vector kernels and exact (brute-force) search.
 *
 * Kernels: squared L2 distance, dot product, and dot product of a float vector with an int8
 * vector, each in portable C with AVX2 and AVX-512 versions beside it (vector_avx2.c,
 * vector_avx512.c), registered with core/dispatch.h, which picks the level core/cpu chose once, at
 * first use. Exact search is the ground truth that HNSW recall is measured against.
 */
#ifndef RT_KNOWLEDGE_VECTOR_H
#define RT_KNOWLEDGE_VECTOR_H

#include "ragtune.h"
#include "core/cpu.h"
#include "knowledge/hits.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rt_vec_kernels {
    rt_cpu_level level; /* rt_cpu_level_name() gives "scalar", "avx2", ... */
    /* a (n), b (n) -> sum (a - b)^2 */
    float (*l2sq)(const float *a, const float *b, size_t n);
    /* a (n), b (n) -> sum a * b */
    float (*dot)(const float *a, const float *b, size_t n);
    /* a (n) float, b (n) int8 -> sum a * b */
    float (*dot_i8)(const float *a, const int8_t *b, size_t n);
} rt_vec_kernels;

/* The kernels for the CPU level in use (core/cpu.h: RT_CPU=scalar|avx2|avx512 lowers it). */
const rt_vec_kernels *rt_vec_kernels_get(void);
/* The kernels of one level, or NULL when this CPU lacks it (for tests and benchmarks). */
const rt_vec_kernels *rt_vec_kernels_for(rt_cpu_level level);
/* The tables of each level (vector.c, vector_avx2.c, vector_avx512.c). */
extern const rt_vec_kernels rt_vec_kernels_scalar, rt_vec_kernels_avx2, rt_vec_kernels_avx512;

/* Similarity score (higher is better) of a query and a vector under metric: -L2^2 for
 * RT_METRIC_L2, the dot product for RT_METRIC_IP and RT_METRIC_COSINE (vectors are expected
 * normalized for cosine). */
float rt_vec_score(rt_metric metric, const float *q, const float *x, size_t dim);

/* Scales v (dim) to unit length (a zero vector stays zero). */
void rt_vec_normalize(float *v, size_t dim);

/* Exact top-k over data (n, dim) row-major with ids[i] the id of row i (NULL: id = i), among
 * ids in allowed (NULL = all). Writes at most k hits, best first; returns the count. */
int rt_vec_exact_search(const float *data, const int64_t *ids, size_t n, size_t dim,
                        rt_metric metric, const float *q, int k, const rt_idset *allowed,
                        rt_hit *out);

#endif
