/*
 * test_team.c — core/team.h's fork/join team and core/steal.h's ranges: every item of a loop is
 * run exactly once, by a thread whose index is in range, for item counts around the thread
 * count and the grain, 1-4 threads (the team grows; fewer threads than it has go to OpenMP);
 * a run's writes are seen by the caller; runs nested in a run, inside an OpenMP region, from
 * four application threads at once (all but one find the team busy), and after the helpers went
 * to sleep (the futex path), and in a child of fork() (which has none of the parent's helpers).
 * Also runs under ThreadSanitizer (label concurrency).
 */
#include "testutil.h"

#include "ragtune.h"
#include "core/steal.h"
#include "core/team.h"

#include <omp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct cover {
    _Atomic int *count; /* (n) times each item was run */
    _Atomic int bad_thread;
    int n_threads;      /* the run's thread bound */
    bool nested;        /* each range also runs a nested loop */
} cover;

static void count_range(void *arg, int thread, int lo, int hi) {
    cover *c = arg;
    if (thread < 0 || thread >= c->n_threads) atomic_fetch_add(&c->bad_thread, 1);
    for (int i = lo; i < hi; i++)
        atomic_fetch_add_explicit(&c->count[i], 1, memory_order_relaxed);
    if (c->nested) {
        /* a run inside a run: on this thread alone, all of it */
        _Atomic int inner[7] = {0};
        cover in = {inner, 0, 1, false};
        rt_team_for(7, 1, 4, count_range, &in);
        for (int i = 0; i < 7; i++)
            if (atomic_load(&inner[i]) != 1) atomic_fetch_add(&c->bad_thread, 1000);
        if (atomic_load(&in.bad_thread)) atomic_fetch_add(&c->bad_thread, 1000);
    }
}

/* rt_team_for over n items; asserts each ran exactly once. */
static void check_for(int n, int grain, int n_threads, bool nested) {
    _Atomic int *count = calloc((size_t)n + 1, sizeof *count);
    assert_non_null(count);
    cover c = {count, 0, n_threads, nested};
    rt_team_for(n, grain, n_threads, count_range, &c);
    for (int i = 0; i < n; i++)
        if (atomic_load(&count[i]) != 1) fail_msg("n %d grain %d threads %d: item %d ran %d times",
                                                  n, grain, n_threads, i, atomic_load(&count[i]));
    assert_int_equal(atomic_load(&c.bad_thread), 0);
    free(count);
}

static void test_steal_ranges(void **state) {
    (void)state;
    /* one thread drains all three ranges: its own from the front, then the others' backs */
    rt_steal st;
    rt_steal_init(&st, 100, 3, 2);
    int seen[100] = {0}, lo, hi, first = 1, claims = 0;
    while (rt_steal_next(&st, 1, &lo, &hi)) {
        assert_true(lo >= 0 && lo < hi && hi <= 100);
        assert_true(hi - lo >= 1);
        if (first) assert_int_equal(lo, 33); /* thread 1 owns [33, 66) */
        first = 0;
        for (int i = lo; i < hi; i++)
            seen[i]++;
        claims++;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(claims < 40); /* guided: claims shrink geometrically, not one item each */
    assert_false(rt_steal_next(&st, 0, &lo, &hi));
    assert_false(rt_steal_next(&st, 5, &lo, &hi)); /* a thread beyond the team gets nothing */
}

static void test_team_for_cover(void **state) {
    (void)state;
    const int ns[] = {0, 1, 2, 3, 5, 16, 63, 64, 65, 1000, 100003};
    const int grains[] = {1, 3, 16};
    for (int threads = 1; threads <= 4; threads++) {
        rt_set_threads(threads);
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t g = 0; g < sizeof grains / sizeof *grains; g++) {
                check_for(ns[a], grains[g], threads, false);
                check_for(ns[a], grains[g], 64, false); /* asks more than there are */
            }
    }
    /* fewer threads than the team has started (4): OpenMP runs it, the same coverage */
    rt_set_threads(2);
    check_for(1000, 1, 2, false);
    rt_set_threads(0);
}

typedef struct slots {
    _Atomic int hits[8];
    int data[8];
} slots;

static void mark_thread(void *arg, int thread, int n_threads) {
    slots *s = arg;
    if (thread >= 0 && thread < 8 && n_threads <= 8) {
        atomic_fetch_add(&s->hits[thread], 1);
        s->data[thread] = 100 + thread; /* plain writes, read by the caller after the run */
    }
}

static void test_team_run_threads(void **state) {
    (void)state;
    rt_set_threads(2);
    for (int want = 1; want <= 3; want++) {
        slots s;
        memset(&s, 0, sizeof s);
        rt_team_run(want, mark_thread, &s);
        int n = want < 2 ? want : 2;
        for (int t = 0; t < 8; t++) {
            assert_int_equal(atomic_load(&s.hits[t]), t < n ? 1 : 0);
            if (t < n) assert_int_equal(s.data[t], 100 + t);
        }
    }
    rt_set_threads(0);
}

static void test_nested_and_openmp(void **state) {
    (void)state;
    rt_set_threads(2);
    check_for(50, 1, 2, true);
    /* inside an OpenMP region each thread's loop runs on itself */
    _Atomic int fails = 0;
#pragma omp parallel num_threads(2)
    {
        _Atomic int count[300] = {0};
        cover c = {count, 0, 2, false};
        rt_team_for(300, 1, 2, count_range, &c);
        for (int i = 0; i < 300; i++)
            if (atomic_load(&count[i]) != 1) atomic_fetch_add(&fails, 1);
    }
    assert_int_equal(atomic_load(&fails), 0);
    rt_set_threads(0);
}

static void *many_runs(void *arg) {
    _Atomic int *fails = arg;
    for (int r = 0; r < 200; r++) {
        _Atomic int count[257] = {0};
        cover c = {count, 0, 2, false};
        rt_team_for(257, 1, 2, count_range, &c);
        for (int i = 0; i < 257; i++)
            if (atomic_load(&count[i]) != 1) atomic_fetch_add(fails, 1);
    }
    return NULL;
}

static void test_concurrent_callers(void **state) {
    (void)state;
    rt_set_threads(2);
    _Atomic int fails = 0;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, many_runs, &fails), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&fails), 0);
    rt_set_threads(0);
}

static void test_sleep_and_wake(void **state) {
    (void)state;
    rt_set_threads(2);
    for (int r = 0; r < 5; r++) {
        check_for(500, 1, 2, false);
        /* well past the helpers' ~50 us of spinning: they sleep, the next run wakes them */
        struct timespec ts = {0, 3 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    rt_set_threads(0);
}

static void test_fork_child(void **state) {
    (void)state;
#if defined(__SANITIZE_THREAD__)
    skip(); /* ThreadSanitizer cannot start threads in a child of a multi-threaded fork */
#endif
    rt_set_threads(2);
    check_for(300, 1, 2, false); /* the parent's team has its helper */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* the child runs its own team; a wait for the parent's helper would hang */
        _Atomic int count[300] = {0};
        cover c = {count, 0, 2, false};
        for (int r = 0; r < 3; r++)
            rt_team_for(300, 1, 2, count_range, &c);
        for (int i = 0; i < 300; i++)
            if (atomic_load(&count[i]) != 3) _exit(1);
        _exit(atomic_load(&c.bad_thread) ? 1 : 0);
    }
    int status = 0;
    for (int waited = 0; waited < 1000; waited++) { /* up to 10 s */
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (waited == 999) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("the forked child's team run did not finish");
        }
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    check_for(300, 1, 2, false); /* and the parent's still works */
    rt_set_threads(0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        /* two threads first: the team starts one helper; the last test grows it to three */
        cmocka_unit_test(test_steal_ranges),       cmocka_unit_test(test_team_run_threads),
        cmocka_unit_test(test_nested_and_openmp),  cmocka_unit_test(test_concurrent_callers),
        cmocka_unit_test(test_sleep_and_wake),     cmocka_unit_test(test_fork_child),
        cmocka_unit_test(test_team_for_cover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
