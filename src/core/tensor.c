/*
 * tensor.c — tensor sizes and allocation, scalar f16 conversion (the dtype table is core/dtype.c).
 */
#include "core/tensor.h"
#include "core/error.h"

#include <string.h>

int64_t rt_tensor_nelements(const rt_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->n_dims; i++)
        n *= t->shape[i];
    return n;
}

int rt_dtype_nbytes(rt_dtype dtype, int64_t n, size_t *out, const char *what) {
    const rt_dtype_traits *i = rt_dtype_traits_of(dtype);
    if (!i) return rt_error(RT_ERR_UNSUPPORTED, "%s: unsupported dtype %d", what, (int)dtype);
    if (n < 0) return rt_error(RT_ERR_FORMAT, "%s: negative element count", what);
    if (n % i->block_size != 0)
        return rt_error(RT_ERR_FORMAT,
                        "%s: %lld elements is not a multiple of the %s block size %d", what,
                        (long long)n, i->name, i->block_size);
    if (!rt_mul_size((size_t)(n / i->block_size), i->block_bytes, out))
        return rt_error(RT_ERR_RANGE, "%s: size overflows", what);
    return RT_OK;
}

size_t rt_tensor_row_bytes(const rt_tensor *t) {
    size_t n = 0;
    if (t->n_dims < 1) return 0;
    if (rt_dtype_nbytes(t->dtype, t->shape[t->n_dims - 1], &n, "row") != RT_OK) return 0;
    return n;
}

int rt_tensor_alloc(rt_tensor *t, const char *name, rt_dtype dtype, int n_dims,
                    const int64_t *shape) {
    memset(t, 0, sizeof *t);
    if (n_dims < 1 || n_dims > RT_MAX_DIMS)
        return rt_error(RT_ERR_INVALID, "tensor %s: %d dimensions", name ? name : "?", n_dims);
    t->dtype = dtype;
    t->n_dims = n_dims;
    int64_t n = 1;
    for (int i = 0; i < RT_MAX_DIMS; i++)
        t->shape[i] = 1;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] < 0 || (shape[i] && n > INT64_MAX / shape[i]))
            return rt_error(RT_ERR_RANGE, "tensor %s: shape overflows", name ? name : "?");
        t->shape[i] = shape[i];
        n *= shape[i];
    }
    RT_TRY(rt_dtype_nbytes(dtype, n, &t->nbytes, name ? name : "tensor"));
    t->data = rt_calloc(1, t->nbytes);
    if (!t->data) return RT_ERR_NOMEM;
    t->owned = true;
    if (name && !(t->name = rt_strdup(name))) {
        free(t->data);
        memset(t, 0, sizeof *t);
        return RT_ERR_NOMEM;
    }
    return RT_OK;
}

void rt_tensor_free(rt_tensor *t) {
    if (t->owned) free(t->data);
    free(t->name);
    memset(t, 0, sizeof *t);
}

float rt_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: normalize */
            exp = 127 - 15 + 1;
            while (!(mant & 0x400)) {
                mant <<= 1;
                exp--;
            }
            mant &= 0x3ff;
            bits = sign | (exp << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    union {
        uint32_t u;
        float f;
    } v = {.u = bits};
    return v.f;
}

uint16_t rt_f32_to_f16(float f) {
    union {
        float f;
        uint32_t u;
    } v = {.f = f};
    uint32_t x = v.u;
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffff;
    if (absx > 0x7f800000) return sign | 0x7e00;  /* NaN */
    if (absx >= 0x477ff000) return sign | 0x7c00; /* overflow (rounds to) inf */
    if (absx < 0x38800000) {                      /* subnormal or zero in f16 */
        if (absx < 0x33000000) return sign;       /* rounds to zero */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14 - (e-127) + 13 - 1 ... */
        uint32_t half = 1u << (shift - 1);
        uint32_t r = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        if (rem > half || (rem == half && (r & 1))) r++;
        return sign | (uint16_t)r;
    }
    uint32_t r = absx - 0x38000000; /* rebias exponent 127 -> 15 */
    uint32_t mant_round = r + 0xfff + ((r >> 13) & 1);
    return sign | (uint16_t)(mant_round >> 13);
}

void rt_tensor_view_f32(rt_tensor *t, float *data, int64_t rows, int64_t cols) {
    memset(t, 0, sizeof *t);
    t->dtype = RT_DTYPE_F32;
    t->n_dims = 2;
    t->shape[0] = rows;
    t->shape[1] = cols;
    t->shape[2] = t->shape[3] = 1;
    t->data = data;
    t->nbytes = (size_t)rows * (size_t)cols * sizeof(float);
}
