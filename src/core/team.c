/*
 * team.c — see team.h. One process-wide team: helper threads 1 .. n_helpers wait on a run
 * generation (`gen`, also their futex word); a run writes its function, then bumps gen, works as
 * thread 0 and waits until every helper has counted itself done. Helpers see every generation
 * exactly once, since the next run starts only after all of them finished the last.
 */
#include "core/team.h"
#include "ragtune.h"
#include "core/steal.h"

#include <limits.h>
#include <linux/futex.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { TEAM_MAX_HELPERS = 255 };
/* How long a waiting thread spins before it sleeps (helpers) or yields (the caller). */
#define TEAM_SPIN_NS 50000

typedef struct team {
    pthread_mutex_t run_lock; /* held by the thread whose run the team is doing */
    int n_helpers;            /* started; under run_lock */
    /* the run: written before gen is bumped, read by helpers after they see it */
    rt_team_fn fn;
    void *arg;
    int n;
    alignas(64) _Atomic uint32_t gen;
    alignas(64) _Atomic int sleepers;
    alignas(64) _Atomic int done;
} team;

static team the_team = {.run_lock = PTHREAD_MUTEX_INITIALIZER};
static _Thread_local bool in_run; /* this thread is inside a team run's fn */

typedef struct helper_start {
    int index;
    uint32_t gen; /* the generation current when it was started */
} helper_start;
static helper_start starts[TEAM_MAX_HELPERS + 1];

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The next generation after `seen`: spins TEAM_SPIN_NS, then sleeps on the futex. */
static uint32_t wait_run(team *tm, uint32_t seen) {
    int64_t t0 = 0;
    for (unsigned i = 1;; i++) {
        uint32_t g = atomic_load_explicit(&tm->gen, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((i & 255) == 0) {
            int64_t t = now_ns();
            if (!t0)
                t0 = t;
            else if (t - t0 > TEAM_SPIN_NS)
                break;
        }
    }
    for (;;) {
        /* sleepers first, then gen: a run bumps gen first, then reads sleepers (both
         * sequentially consistent), so either it wakes us or we see its generation */
        atomic_fetch_add(&tm->sleepers, 1);
        if (atomic_load(&tm->gen) == seen)
            syscall(SYS_futex, (uint32_t *)&tm->gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        atomic_fetch_sub(&tm->sleepers, 1);
        uint32_t g = atomic_load_explicit(&tm->gen, memory_order_acquire);
        if (g != seen) return g;
    }
}

static void *helper_main(void *p) {
    const helper_start *s = p;
    team *tm = &the_team;
    uint32_t seen = s->gen;
    in_run = true; /* a run's fn calling rt_team_run again runs it on this thread alone */
    for (;;) {
        seen = wait_run(tm, seen);
        tm->fn(tm->arg, s->index, tm->n);
        atomic_fetch_add_explicit(&tm->done, 1, memory_order_release);
    }
    return NULL;
}

/* A child of fork() has none of the parent's helpers: it starts its own at its first run. */
static void forget_helpers(void) {
    team *tm = &the_team;
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    tm->run_lock = fresh;
    tm->n_helpers = 0;
    atomic_store(&tm->sleepers, 0);
    atomic_store(&tm->done, 0);
    in_run = false;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) {
    pthread_atfork(NULL, NULL, forget_helpers);
}

/* Starts helpers up to n (under run_lock, no run in flight); false if a thread cannot start. */
static bool grow(team *tm, int n) {
    pthread_once(&atfork_once, register_atfork);
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0) return false;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = true;
    while (ok && tm->n_helpers < n) {
        helper_start *s = &starts[tm->n_helpers + 1];
        s->index = tm->n_helpers + 1;
        s->gen = atomic_load_explicit(&tm->gen, memory_order_relaxed);
        pthread_t th;
        ok = pthread_create(&th, &attr, helper_main, s) == 0;
        if (ok) tm->n_helpers++;
    }
    pthread_attr_destroy(&attr);
    return ok;
}

static void run_openmp(int n, rt_team_fn fn, void *arg) {
#pragma omp parallel num_threads(n)
    fn(arg, omp_get_thread_num(), omp_get_num_threads());
}

void rt_team_run(int n_threads, rt_team_fn fn, void *arg) {
    int max = rt_get_threads();
    int n = n_threads < max ? n_threads : max;
    if (n > TEAM_MAX_HELPERS + 1) n = TEAM_MAX_HELPERS + 1;
    if (n <= 1 || in_run) {
        fn(arg, 0, 1);
        return;
    }
    team *tm = &the_team;
    if (omp_in_parallel() || pthread_mutex_trylock(&tm->run_lock) != 0) {
        run_openmp(n, fn, arg);
        return;
    }
    /* every helper takes part in every run (see the file comment), so a run with fewer
     * threads than the team has, after the thread count was lowered, goes to OpenMP */
    if ((tm->n_helpers < n - 1 && !grow(tm, n - 1)) || tm->n_helpers != n - 1) {
        pthread_mutex_unlock(&tm->run_lock);
        run_openmp(n, fn, arg);
        return;
    }
    tm->fn = fn;
    tm->arg = arg;
    tm->n = n;
    atomic_store_explicit(&tm->done, 0, memory_order_relaxed);
    atomic_store(&tm->gen, atomic_load_explicit(&tm->gen, memory_order_relaxed) + 1);
    if (atomic_load(&tm->sleepers) > 0)
        syscall(SYS_futex, (uint32_t *)&tm->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    in_run = true;
    fn(arg, 0, n);
    in_run = false;
    int64_t t0 = 0;
    for (unsigned i = 1; atomic_load_explicit(&tm->done, memory_order_acquire) < n - 1; i++) {
        if ((i & 255) == 0) {
            int64_t t = now_ns();
            if (!t0) t0 = t;
            if (t - t0 > TEAM_SPIN_NS) { /* a helper was descheduled: give it the core */
                sched_yield();
                continue;
            }
        }
        cpu_relax();
    }
    pthread_mutex_unlock(&tm->run_lock);
}

typedef struct team_for {
    rt_steal st;
    rt_team_range_fn fn;
    void *arg;
} team_for;

static void team_for_thread(void *p, int thread, int n_threads) {
    (void)n_threads;
    team_for *f = p;
    for (int lo, hi; rt_steal_next(&f->st, thread, &lo, &hi);)
        f->fn(f->arg, thread, lo, hi);
}

void rt_team_for(int n, int grain, int n_threads, rt_team_range_fn fn, void *arg) {
    if (n <= 0) return;
    int max = rt_get_threads();
    if (n_threads > max) n_threads = max;
    if (n_threads > n) n_threads = n;
    if (n_threads <= 1 || n <= grain || in_run || omp_in_parallel()) {
        fn(arg, 0, 0, n);
        return;
    }
    team_for f = {.fn = fn, .arg = arg};
    rt_steal_init(&f.st, n, n_threads, grain);
    rt_team_run(n_threads, team_for_thread, &f);
}
