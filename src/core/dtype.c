/*
 * dtype.c — the dtype traits table (see dtype.h) and the name/parse functions of ragtune.h.
 * The row entries are one-line adapters from the traits' untyped rows to core/kernels' typed
 * kernels of the level in use.
 */
#include "core/dtype.h"
#include "core/error.h"
#include "core/kernels/kernels.h"

#include <string.h>

static void f32_copy_from(const void *x, float *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}
static void f32_copy_to(const float *x, void *y, int64_t n) {
    memcpy(y, x, (size_t)n * sizeof(float));
}
static void f16_to(const void *x, float *y, int64_t n) {
    rt_kernels_get()->f16_to_f32(x, y, n);
}
static void f16_from(const float *x, void *y, int64_t n) {
    rt_kernels_get()->f32_to_f16(x, y, n);
}
static void bf16_to(const void *x, float *y, int64_t n) {
    rt_kernels_get()->bf16_to_f32(x, y, n);
}
static void bf16_from(const float *x, void *y, int64_t n) {
    rt_kernels_get()->f32_to_bf16(x, y, n);
}
static void q8_0_to(const void *x, float *y, int64_t n) {
    rt_kernels_get()->q8_0_to_f32(x, y, n);
}
static void q8_0_from(const float *x, void *y, int64_t n) {
    rt_kernels_get()->quantize_row_q8_0(x, y, n);
}
static void q4_0_to(const void *x, float *y, int64_t n) {
    rt_kernels_get()->q4_0_to_f32(x, y, n);
}
static void q4_0_from(const float *x, void *y, int64_t n) {
    rt_kernels_get()->quantize_row_q4_0(x, y, n);
}
static void i32_to(const void *x, float *y, int64_t n) {
    const int32_t *s = x;
    for (int64_t i = 0; i < n; i++)
        y[i] = (float)s[i];
}

static void q8_0_dot(int64_t n, const void *w, const uint8_t *xq, const float *xd, int n_x,
                     float *out, size_t out_stride) {
    rt_kernels_get()->dot_q8_0_q8(n, w, xq, xd, n_x, out, out_stride);
}
static void q4_0_dot(int64_t n, const void *w, const uint8_t *xq, const float *xd, int n_x,
                     float *out, size_t out_stride) {
    rt_kernels_get()->dot_q4_0_q8(n, w, xq, xd, n_x, out, out_stride);
}
static void f16_dot(int64_t n, const void *w, const float *x, size_t x_stride, int n_x, float *out,
                    size_t out_stride) {
    rt_kernels_get()->dot_f16_f32(n, w, x, x_stride, n_x, out, out_stride);
}
static void bf16_dot(int64_t n, const void *w, const float *x, size_t x_stride, int n_x, float *out,
                     size_t out_stride) {
    rt_kernels_get()->dot_bf16_f32(n, w, x, x_stride, n_x, out, out_stride);
}

_Static_assert(sizeof(rt_block_q8_0) == 34, "q8_0 block is 34 bytes as in GGUF");
_Static_assert(sizeof(rt_block_q4_0) == 18, "q4_0 block is 18 bytes as in GGUF");

/* Indexed by rt_dtype (GGUF's type ids); entries without a name are not dtypes. */
static const rt_dtype_traits traits[RT_DTYPE_COUNT] = {
    [RT_DTYPE_F32] = {"f32", 1, 4, f32_copy_from, f32_copy_to, NULL, NULL},
    [RT_DTYPE_F16] = {"f16", 1, 2, f16_to, f16_from, NULL, f16_dot},
    [RT_DTYPE_BF16] = {"bf16", 1, 2, bf16_to, bf16_from, NULL, bf16_dot},
    [RT_DTYPE_Q8_0] = {"q8_0", RT_QK, sizeof(rt_block_q8_0), q8_0_to, q8_0_from, q8_0_dot, NULL},
    [RT_DTYPE_Q4_0] = {"q4_0", RT_QK, sizeof(rt_block_q4_0), q4_0_to, q4_0_from, q4_0_dot, NULL},
    [RT_DTYPE_I32] = {"i32", 1, 4, i32_to, NULL, NULL, NULL},
};

const rt_dtype_traits *rt_dtype_traits_of(rt_dtype dtype) {
    if ((int)dtype < 0 || dtype >= RT_DTYPE_COUNT || !traits[dtype].name) return NULL;
    return &traits[dtype];
}

bool rt_dtype_valid(int dtype) {
    return rt_dtype_traits_of((rt_dtype)dtype) != NULL;
}

const char *rt_dtype_name(rt_dtype dtype) {
    const rt_dtype_traits *t = rt_dtype_traits_of(dtype);
    return t ? t->name : NULL;
}

int rt_dtype_parse(const char *name, rt_dtype *out) {
    for (int d = 0; d < RT_DTYPE_COUNT; d++) {
        if (traits[d].name && strcmp(name, traits[d].name) == 0) {
            *out = (rt_dtype)d;
            return RT_OK;
        }
    }
    return rt_error(RT_ERR_INVALID, "unknown dtype '%s' (expected f32, f16, bf16, q8_0 or q4_0)",
                    name);
}

int rt_dtype_block_size(rt_dtype dtype) {
    const rt_dtype_traits *t = rt_dtype_traits_of(dtype);
    return t ? t->block_size : 0;
}

size_t rt_dtype_block_bytes(rt_dtype dtype) {
    const rt_dtype_traits *t = rt_dtype_traits_of(dtype);
    return t ? t->block_bytes : 0;
}
