/*
 * dtype.h — one description per storage dtype (ggml's type_traits): name, block size, bytes per
 * block, and the row kernels that convert it to and from f32 and take its dot products. Code
 * that handles "any dtype" looks it up here instead of switching on the dtype.
 *
 * The function entries go through core/kernels' table for the CPU level in use (so the same
 * traits serve every level); NULL means the dtype has no such operation (i32 is not converted
 * back from f32, f32 weights take BLAS rather than a dot kernel, ...).
 */
#ifndef RT_CORE_DTYPE_H
#define RT_CORE_DTYPE_H

#include "ragtune.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_dtype_traits {
    const char *name; /* "f32", "q8_0", ... (rt_dtype_name) */
    int block_size;   /* elements per block: 1, or 32 for q8_0 / q4_0 */
    size_t block_bytes;
    /* y (n) f32 from a row x of n elements (n a multiple of block_size) */
    void (*to_f32)(const void *x, float *y, int64_t n);
    /* a row y of n elements from x (n) f32, rounded as core/quant.h says */
    void (*from_f32)(const float *x, void *y, int64_t n);
    /* q8_0 / q4_0: one weight row w (n) against n_x activation rows in core/kernels' q8_act
     * layout (quants xq (n_x, n), scales xd (n_x, n/32)): out[t * out_stride] = w . x_t */
    void (*dot_q8)(int64_t n, const void *w, const uint8_t *xq, const float *xd, int n_x,
                   float *out, size_t out_stride);
    /* f16 / bf16: one weight row w (n) against n_x f32 rows x (n_x, x_stride) */
    void (*dot_f32)(int64_t n, const void *w, const float *x, size_t x_stride, int n_x, float *out,
                    size_t out_stride);
} rt_dtype_traits;

/* The traits of a dtype, or NULL for a value that is no dtype ragtune knows. */
const rt_dtype_traits *rt_dtype_traits_of(rt_dtype dtype);

/* Elements per block (1 for plain types, 32 for q8_0/q4_0) and bytes per block; 0 for an
 * unknown dtype. */
int rt_dtype_block_size(rt_dtype dtype);
size_t rt_dtype_block_bytes(rt_dtype dtype);
bool rt_dtype_valid(int dtype);

#endif
