/*
 * error.h — errors as values: a thread-local message and code behind rt_last_error().
 * Library code reports a failure with `return rt_error(RT_ERR_FORMAT, "%s: offset %zu: ...")`;
 * it never exits or aborts on bad input. Asserts (RT_ASSERT) are for internal invariants only.
 */
#ifndef RT_CORE_ERROR_H
#define RT_CORE_ERROR_H

#include "ragtune.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* Records code and a printf-style message for rt_last_error(); returns code. */
int rt_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rt_verror(int code, const char *fmt, va_list ap);
/* Prepends "prefix: " to the current message (adds context on the way up); returns the code. */
int rt_error_wrap(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Clears the last error of this thread. */
void rt_error_clear(void);

/* Internal invariant; compiled in always (cheap), never used to validate input. */
#define RT_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "ragtune: internal error: %s:%d: %s\n", __FILE__, __LINE__, #cond);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Propagates a negative status. */
#define RT_TRY(expr)                                                                               \
    do {                                                                                           \
        int rt_try_status_ = (expr);                                                               \
        if (rt_try_status_ < 0) return rt_try_status_;                                             \
    } while (0)

/* Overflow-checked size arithmetic: return false on overflow. */
static inline int rt_mul_size(size_t a, size_t b, size_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline int rt_add_size(size_t a, size_t b, size_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* malloc/calloc/realloc that record RT_ERR_NOMEM on failure (return NULL). */
void *rt_malloc(size_t n);
void *rt_calloc(size_t count, size_t size);
void *rt_realloc(void *p, size_t n);
char *rt_strdup(const char *s);

/* The one growth policy for arrays: makes *ptr (elements of elem_size bytes, capacity *cap)
 * hold at least `need` elements, doubling (from 16) so appends are amortized O(1). On failure
 * (RT_ERR_NOMEM, or RT_ERR_RANGE on size overflow) *ptr and *cap are unchanged. Use it through
 * RT_GROW(ptr, cap, need) with a typed pointer and a size_t capacity. */
int rt_grow(void **ptr, size_t *cap, size_t need, size_t elem_size);
#define RT_GROW(ptr, cap, need) rt_grow((void **)&(ptr), &(cap), (need), sizeof *(ptr))

#endif
