/*
 * tensor.h — a tensor view (dtype, shape, pointer); the dtype table is core/dtype.h.
 *
 * Shapes are row-major in PyTorch order: shape[n_dims-1] is the contiguous dimension. A weight
 * matrix of a linear layer y = x W^T has shape (n_out, n_in) and every row of n_in values is
 * stored contiguously (for q8_0/q4_0: as n_in/32 blocks). GGUF lists dimensions the other way
 * round (ne[0] fastest); its reader reverses them.
 *
 * A tensor does not own its data unless `owned` is set (then rt_tensor_free frees it); weights
 * read from files point into a read-only memory map.
 */
#ifndef RT_CORE_TENSOR_H
#define RT_CORE_TENSOR_H

#include "ragtune.h"
#include "core/dtype.h" /* rt_dtype_block_size, rt_dtype_traits_of, ... */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_DIMS 4
#define RT_QK 32 /* elements per q8_0 / q4_0 block */

typedef struct rt_block_q8_0 {
    uint16_t d;       /* f16 scale */
    int8_t qs[RT_QK]; /* values = qs * d */
} rt_block_q8_0;

typedef struct rt_block_q4_0 {
    uint16_t d;            /* f16 scale */
    uint8_t qs[RT_QK / 2]; /* low nibbles: elements 0..15, high nibbles: 16..31; value = (q-8)*d */
} rt_block_q4_0;

typedef struct rt_tensor {
    char *name; /* owned copy, may be NULL */
    rt_dtype dtype;
    int n_dims;
    int64_t shape[RT_MAX_DIMS]; /* row-major; unused dims are 1 */
    void *data;
    size_t nbytes;
    bool owned; /* data is malloc'd and freed with the tensor */
} rt_tensor;

/* Number of elements (product of shape). */
int64_t rt_tensor_nelements(const rt_tensor *t);
/* Bytes needed for n elements of dtype (n must be a multiple of the block size); returns
 * RT_ERR_RANGE / RT_ERR_FORMAT with a message naming `what` when it overflows or does not
 * divide. */
int rt_dtype_nbytes(rt_dtype dtype, int64_t n, size_t *out, const char *what);
/* Bytes of one row (the last dimension). */
size_t rt_tensor_row_bytes(const rt_tensor *t);

/* Allocates an owned, zeroed tensor. */
int rt_tensor_alloc(rt_tensor *t, const char *name, rt_dtype dtype, int n_dims,
                    const int64_t *shape);
/* Frees name and (if owned) data; leaves t zeroed. */
void rt_tensor_free(rt_tensor *t);
/* Makes t a non-owning, unnamed (rows, cols) f32 view of data. */
void rt_tensor_view_f32(rt_tensor *t, float *data, int64_t rows, int64_t cols);

/* Scalar conversions (the portable reference; vector versions live in core/kernels). */
static inline float rt_bf16_to_f32(uint16_t h) {
    union {
        uint32_t u;
        float f;
    } v = {.u = (uint32_t)h << 16};
    return v.f;
}
static inline uint16_t rt_f32_to_bf16(float f) {
    union {
        float f;
        uint32_t u;
    } v = {.f = f};
    if ((v.u & 0x7fffffff) > 0x7f800000) return (uint16_t)((v.u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((v.u + (0x7fff + ((v.u >> 16) & 1))) >> 16); /* round to nearest even */
}
float rt_f16_to_f32(uint16_t h);
uint16_t rt_f32_to_f16(float f);

#endif
