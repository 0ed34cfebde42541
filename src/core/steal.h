/*
 * steal.h — a loop over n units shared by the threads of an OpenMP team, each thread taking its
 * own contiguous range from the front and, once that is done, stealing from the back of the
 * others'. Each thread's memory stream stays sequential (a decode product's weight rows: the
 * hardware and software prefetchers run ahead of it), as with schedule(static), but a thread
 * that starts late or runs slower (a descheduled vCPU, a neighbour on its memory channel) no
 * longer holds the rest at the closing barrier: with ~30 products a decode token, the faster
 * thread waited a quarter of its time there with static shares (perf, 23M q8_0 model).
 * Claims are guided (a quarter of what is left, at least `grain` units), so a range costs a few
 * atomic operations, and the last claims, the ones that decide who waits, are small.
 *
 *   rt_steal st;
 *   rt_steal_init(&st, n_units, n_threads, grain);
 *   #pragma omp parallel num_threads(n_threads)
 *   for (int lo, hi; rt_steal_next(&st, omp_get_thread_num(), &lo, &hi);)
 *       work(lo, hi);
 */
#ifndef RT_CORE_STEAL_H
#define RT_CORE_STEAL_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

enum { RT_STEAL_MAX_THREADS = 64 };

/* One thread's range [front, back): front in the low 32 bits, back in the high 32 bits. */
typedef struct rt_steal_slot {
    alignas(64) _Atomic uint64_t span;
} rt_steal_slot;

typedef struct rt_steal {
    rt_steal_slot slot[RT_STEAL_MAX_THREADS];
    int n_threads;
    int grain;
} rt_steal;

static inline uint64_t rt_steal_pack(uint32_t front, uint32_t back) {
    return (uint64_t)front | (uint64_t)back << 32;
}

/* Units [0, n) in n_threads (1 .. RT_STEAL_MAX_THREADS) equal contiguous ranges; claims of at
 * least grain (>= 1) units. Call before the parallel region. */
static inline void rt_steal_init(rt_steal *st, int n, int n_threads, int grain) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > RT_STEAL_MAX_THREADS) n_threads = RT_STEAL_MAX_THREADS;
    st->n_threads = n_threads;
    st->grain = grain < 1 ? 1 : grain;
    for (int t = 0; t < n_threads; t++) {
        uint32_t lo = (uint32_t)((int64_t)n * t / n_threads);
        uint32_t hi = (uint32_t)((int64_t)n * (t + 1) / n_threads);
        atomic_init(&st->slot[t].span, rt_steal_pack(lo, hi));
    }
}

/* Claims [*lo, *hi) from the front (own range) or the back (another's) of slot s. */
static inline bool rt_steal_claim(rt_steal *st, rt_steal_slot *s, bool front, int *lo, int *hi) {
    uint64_t cur = atomic_load_explicit(&s->span, memory_order_relaxed);
    for (;;) {
        uint32_t f = (uint32_t)cur, b = (uint32_t)(cur >> 32);
        if (f >= b) return false;
        uint32_t take = (b - f) / 4;
        if (take < (uint32_t)st->grain) take = (uint32_t)st->grain;
        if (take > b - f) take = b - f;
        uint64_t next = front ? rt_steal_pack(f + take, b) : rt_steal_pack(f, b - take);
        if (atomic_compare_exchange_weak_explicit(&s->span, &cur, next, memory_order_relaxed,
                                                  memory_order_relaxed)) {
            *lo = (int)(front ? f : b - take);
            *hi = (int)(front ? f + take : b);
            return true;
        }
    }
}

/* The next units [*lo, *hi) for thread t (0 .. n_threads - 1) of the team; false when all are
 * claimed. Units are disjoint and together cover [0, n) exactly once. */
static inline bool rt_steal_next(rt_steal *st, int t, int *lo, int *hi) {
    if (t >= st->n_threads) return false;
    if (rt_steal_claim(st, &st->slot[t], true, lo, hi)) return true;
    for (int i = 1; i < st->n_threads; i++)
        if (rt_steal_claim(st, &st->slot[(t + i) % st->n_threads], false, lo, hi)) return true;
    return false;
}

#endif
