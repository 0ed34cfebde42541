/*
 * error.c — thread-local last error and checked allocation.
 */
#include "core/error.h"

#include <string.h>

#define RT_ERROR_MAX 1024

static _Thread_local char error_message[RT_ERROR_MAX];
static _Thread_local int error_code;

const char *rt_version(void) {
    return "0.1.0";
}

const char *rt_last_error(void) {
    return error_message;
}

int rt_last_error_code(void) {
    return error_code;
}

const char *rt_strerror(int code) {
    switch (code) {
    case RT_OK:
        return "ok";
    case RT_ERR_IO:
        return "i/o error";
    case RT_ERR_FORMAT:
        return "format error";
    case RT_ERR_NOMEM:
        return "out of memory";
    case RT_ERR_INVALID:
        return "invalid argument";
    case RT_ERR_UNSUPPORTED:
        return "unsupported";
    case RT_ERR_RANGE:
        return "out of range";
    case RT_ERR_NOT_FOUND:
        return "not found";
    case RT_ERR_INTERNAL:
        return "internal error";
    case RT_ERR_CANCELLED:
        return "cancelled";
    default:
        return "unknown error";
    }
}

int rt_verror(int code, const char *fmt, va_list ap) {
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    error_code = code;
    return code;
}

int rt_error(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    rt_verror(code, fmt, ap);
    va_end(ap);
    return code;
}

int rt_error_wrap(const char *fmt, ...) {
    char prefix[RT_ERROR_MAX], old[RT_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t n = strlen(prefix);
    if (n > RT_ERROR_MAX - 3) n = RT_ERROR_MAX - 3;
    memcpy(error_message, prefix, n);
    memcpy(error_message + n, ": ", 2);
    size_t m = strlen(old);
    if (m > RT_ERROR_MAX - 3 - n) m = RT_ERROR_MAX - 3 - n;
    memcpy(error_message + n + 2, old, m);
    error_message[n + 2 + m] = '\0';
    return error_code;
}

void rt_error_clear(void) {
    error_message[0] = '\0';
    error_code = RT_OK;
}

void *rt_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) rt_error(RT_ERR_NOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *rt_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) rt_error(RT_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *rt_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) rt_error(RT_ERR_NOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

int rt_grow(void **ptr, size_t *cap, size_t need, size_t elem_size) {
    if (need <= *cap) return RT_OK;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : 2 * n;
    size_t bytes;
    if (!rt_mul_size(n, elem_size, &bytes))
        return rt_error(RT_ERR_RANGE, "array of %zu x %zu bytes: size overflow", need, elem_size);
    void *p = rt_realloc(*ptr, bytes);
    if (!p) return RT_ERR_NOMEM;
    *ptr = p;
    *cap = n;
    return RT_OK;
}

char *rt_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = rt_malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}
