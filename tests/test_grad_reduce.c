/*
 * test_grad_reduce.c — the bucketed gradient all-reduce in one process: the buckets cut from the
 * layer bounds (whole layers, top down, at least the bucket size each), bad bounds refused, the
 * bucket size from RT_ALLREDUCE_BUCKET_MB, and the calls of a step (ready as backward goes,
 * finish) leaving one process's gradient as it is. The sums over processes, overlapped and not,
 * are tested under mpirun by tests/cli/mpi_train.sh.
 */
#include "testutil.h"
#include "core/error.h"
#include "dist/grad_reduce.h"

#include <stdlib.h>
#include <string.h>

/* 1000 floats: embeddings [0, 100), layers [100, 300), [300, 500), [500, 700), the final norm
 * and head [700, 1000). */
static const size_t bounds[] = {100, 300, 500, 700};
static float grad[1000];

static int buckets_of(size_t bucket_floats) {
    dist_grad_reduce *r;
    assert_int_equal(dist_grad_reduce_new(grad, 1000, bounds, 4, bucket_floats, &r), RT_OK);
    int n = dist_grad_reduce_buckets(r);
    dist_grad_reduce_free(r);
    return n;
}

static void test_buckets(void **state) {
    (void)state;
    assert_int_equal(buckets_of(0), 1);    /* one all-reduce after backward */
    assert_int_equal(buckets_of(1), 5);    /* every piece its own */
    assert_int_equal(buckets_of(200), 5);  /* every piece holds 200 or is the bottom one */
    assert_int_equal(buckets_of(250), 3);  /* [700,1000), [300,700), [0,300) */
    assert_int_equal(buckets_of(1000), 1); /* all, cut only at the bottom */
    assert_int_equal(buckets_of(5000), 1);
    dist_grad_reduce *r;
    assert_int_equal(dist_grad_reduce_new(grad, 1000, bounds, 0, 10, &r), RT_OK); /* no bounds */
    assert_int_equal(dist_grad_reduce_buckets(r), 1);
    dist_grad_reduce_free(r);
}

static void test_bad_bounds(void **state) {
    (void)state;
    dist_grad_reduce *r = (dist_grad_reduce *)grad;
    const size_t down[] = {300, 100}, beyond[] = {100, 1001};
    assert_int_equal(dist_grad_reduce_new(grad, 1000, down, 2, 10, &r), RT_ERR_INVALID);
    assert_null(r);
    assert_int_equal(dist_grad_reduce_new(grad, 1000, beyond, 2, 10, &r), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "1001"));
}

static void test_one_process_step(void **state) {
    (void)state;
    for (int i = 0; i < 1000; i++)
        grad[i] = (float)i * 0.5f;
    for (size_t bucket = 0; bucket <= 250; bucket += 250) {
        dist_grad_reduce *r;
        assert_int_equal(dist_grad_reduce_new(grad, 1000, bounds, 4, bucket, &r), RT_OK);
        for (int step = 0; step < 2; step++) { /* finish leaves it ready for the next step */
            for (int b = 4; b >= 0; b--)
                dist_grad_reduce_ready(r, b ? bounds[b - 1] : 0);
            assert_int_equal(dist_grad_reduce_finish(r), RT_OK);
            assert_int_equal(dist_grad_reduce_finish(r), RT_OK); /* nothing ready: all at once */
        }
        dist_grad_reduce_free(r);
        for (int i = 0; i < 1000; i++)
            assert_true(grad[i] == (float)i * 0.5f);
    }
}

static void test_bucket_env(void **state) {
    (void)state;
    size_t f = 7;
    unsetenv(DIST_BUCKET_ENV);
    assert_int_equal(dist_bucket_floats_from_env(&f), RT_OK);
    assert_int_equal(f, (size_t)1 << 20); /* 4 MiB */
    setenv(DIST_BUCKET_ENV, "0", 1);
    assert_int_equal(dist_bucket_floats_from_env(&f), RT_OK);
    assert_int_equal(f, 0);
    setenv(DIST_BUCKET_ENV, "0.5", 1);
    assert_int_equal(dist_bucket_floats_from_env(&f), RT_OK);
    assert_int_equal(f, 131072);
    setenv(DIST_BUCKET_ENV, "1e-9", 1); /* under one float: one float */
    assert_int_equal(dist_bucket_floats_from_env(&f), RT_OK);
    assert_int_equal(f, 1);
    const char *bad[] = {"abc", "-1", "2000", "1x", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        setenv(DIST_BUCKET_ENV, bad[i], 1);
        assert_int_equal(dist_bucket_floats_from_env(&f), RT_ERR_INVALID);
        assert_non_null(strstr(rt_last_error(), DIST_BUCKET_ENV));
    }
    unsetenv(DIST_BUCKET_ENV);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_bad_bounds),
        cmocka_unit_test(test_one_process_step),
        cmocka_unit_test(test_bucket_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
