/*
 * dispatch.c — merges a module's per-level kernel table parts once and hands out the table of a
 * level. See dispatch.h.
 */
#include "core/dispatch.h"
#include "core/error.h"

#include <pthread.h>
#include <string.h>

typedef void (*kernel_fn)(void);

/* Where a table's function pointers start: right after its rt_cpu_level. */
typedef struct table_head {
    rt_cpu_level level;
    kernel_fn first;
} table_head;

static pthread_mutex_t merge_lock = PTHREAD_MUTEX_INITIALIZER;

static void merge(rt_dispatch *d) {
    const size_t first = offsetof(table_head, first), size = d->table_size;
    RT_ASSERT(d->parts[RT_CPU_SCALAR] && size >= first && (size - first) % sizeof(kernel_fn) == 0);
    unsigned char *tables = d->merged;
    for (int l = 0; l < RT_CPU_LEVEL_COUNT; l++) {
        unsigned char *dst = tables + (size_t)l * size;
        const unsigned char *part = d->parts[l];
        memcpy(dst, l == 0 ? part : dst - size, size);
        for (size_t off = first; l > 0 && part && off < size; off += sizeof(kernel_fn)) {
            kernel_fn fn;
            memcpy(&fn, part + off, sizeof fn);
            if (fn) memcpy(dst + off, &fn, sizeof fn);
        }
        rt_cpu_level level = (rt_cpu_level)l;
        memcpy(dst, &level, sizeof level);
    }
}

const void *rt_dispatch_for(rt_dispatch *d, rt_cpu_level level) {
    if (level < RT_CPU_SCALAR || level > rt_cpu_max_level()) return NULL;
    if (!atomic_load_explicit(&d->ready, memory_order_acquire)) {
        pthread_mutex_lock(&merge_lock);
        if (!atomic_load_explicit(&d->ready, memory_order_relaxed)) {
            merge(d);
            atomic_store_explicit(&d->ready, 1, memory_order_release);
        }
        pthread_mutex_unlock(&merge_lock);
    }
    return (const unsigned char *)d->merged + (size_t)level * d->table_size;
}

const void *rt_dispatch_get(rt_dispatch *d) {
    /* one load on the hot path: callers fetch the table once per kernel call */
    const void *t = atomic_load_explicit(&d->active, memory_order_acquire);
    if (t) return t;
    t = rt_dispatch_for(d, rt_cpu_level_get());
    if (!t) t = rt_dispatch_for(d, RT_CPU_SCALAR);
    atomic_store_explicit(&d->active, t, memory_order_release);
    return t;
}
