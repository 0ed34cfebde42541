/*
 * test_server_batch_policy.c — the online batching decision (src/server/batch_policy.c), fed
 * made-up windows (no clock): a wrong start-up guess is corrected within a few windows either
 * way; rates within the margin never move home, whichever window is noisier; windows of one
 * sequence or too few steps say nothing (and end a sample); a new load is sampled again; the
 * other mode is re-sampled every SRV_POLICY_RECHECK windows and a change there is followed; a
 * single bad sample that moved home is undone once home measures slower.
 */
#include "testutil.h"

#include "server/batch_policy.h"

/* A machine where each mode decodes at a fixed tokens/s for a given load. */
typedef struct machine {
    double alone, batched; /* tokens/s */
    double load;           /* mean sequences decoding */
} machine;

static srv_batch_window window_on(const machine *m, bool batched) {
    double rate = batched ? m->batched : m->alone;
    return (srv_batch_window){
        .batched = batched, .seconds = 0.5, .tokens = rate * 0.5, .mean_active = m->load};
}

/* Runs n windows on m; returns how many of them ran batched. */
static int run(srv_batch_policy *p, const machine *m, int n) {
    int n_batched = 0;
    for (int i = 0; i < n; i++) {
        srv_batch_window w = window_on(m, p->batched);
        n_batched += w.batched;
        srv_batch_policy_update(p, &w);
    }
    return n_batched;
}

static void test_wrong_guess_batched_corrected(void **state) {
    (void)state;
    /* the shipped reader's case: batching is 0.75x of alone */
    machine m = {.alone = 4000, .batched = 3000, .load = 16};
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    run(&p, &m, 4); /* two windows at home, one sample, the decision */
    assert_false(p.home);
    assert_false(p.batched);
    assert_int_equal(p.n_switches, 1);
    /* then it stays, sampling batching once per SRV_POLICY_RECHECK windows */
    int n = 10 * SRV_POLICY_RECHECK;
    int n_batched = run(&p, &m, n);
    assert_false(p.home);
    assert_int_equal(p.n_switches, 1);
    assert_true(n_batched >= 1 && n_batched <= n / SRV_POLICY_RECHECK + 1);
}

static void test_wrong_guess_alone_corrected(void **state) {
    (void)state;
    /* a memory-bound model: batching 2.3x */
    machine m = {.alone = 400, .batched = 920, .load = 16};
    srv_batch_policy p;
    srv_batch_policy_init(&p, false);
    run(&p, &m, 4);
    assert_true(p.home);
    assert_int_equal(p.n_switches, 1);
}

static void test_right_guess_kept(void **state) {
    (void)state;
    machine m = {.alone = 400, .batched = 920, .load = 16};
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    int n = 5 * SRV_POLICY_RECHECK;
    int n_batched = run(&p, &m, n);
    assert_true(p.home);
    assert_int_equal(p.n_switches, 0);
    assert_true(n - n_batched <= n / SRV_POLICY_RECHECK + 1); /* only the samples ran alone */
}

static void test_within_margin_never_moves(void **state) {
    (void)state;
    /* alternating noise of +-4% around rates 5% apart: below the 10% margin */
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    for (int i = 0; i < 20 * SRV_POLICY_RECHECK; i++) {
        double noise = i % 2 ? 1.04 : 0.96;
        machine m = {.alone = 1050 * noise, .batched = 1000 / noise, .load = 8};
        run(&p, &m, 1);
    }
    assert_true(p.home);
    assert_int_equal(p.n_switches, 0);
}

static void test_uninformative_windows(void **state) {
    (void)state;
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    /* one sequence decoding: batching cannot matter; no sample, nothing measured */
    machine one = {.alone = 4000, .batched = 100, .load = 1};
    assert_int_equal(run(&p, &one, 3 * SRV_POLICY_RECHECK), 3 * SRV_POLICY_RECHECK);
    assert_true(p.batched);
    assert_true(p.rate[0] == 0 && p.rate[1] == 0);
    /* too few steps, or no time */
    srv_batch_window few = {.batched = true, .seconds = 0.5, .tokens = SRV_POLICY_MIN_TOKENS - 1,
                            .mean_active = 8};
    srv_batch_window none = {.batched = true, .seconds = 0, .tokens = 100, .mean_active = 8};
    for (int i = 0; i < 3 * SRV_POLICY_RECHECK; i++) {
        assert_true(srv_batch_policy_update(&p, &few));
        assert_true(srv_batch_policy_update(&p, &none));
    }
    assert_int_equal(p.kept, 0);
    /* a sample of the other mode that says nothing ends it: back home */
    machine m = {.alone = 1000, .batched = 1000, .load = 8};
    run(&p, &m, 2);
    assert_false(p.batched); /* sampling alone now */
    srv_batch_window idle = {.batched = false, .seconds = 0.5, .tokens = 100, .mean_active = 1};
    assert_true(srv_batch_policy_update(&p, &idle));
    assert_int_equal(p.n_switches, 0);
}

static void test_new_load_sampled_again(void **state) {
    (void)state;
    /* at 2 sequences alone wins; at 16 batching wins */
    machine low = {.alone = 1000, .batched = 800, .load = 2};
    machine high = {.alone = 1500, .batched = 3000, .load = 16};
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    run(&p, &low, 4);
    assert_false(p.home);
    /* the load grows: the batched rate at 2 sequences says nothing about 16, so it is sampled
     * after two windows, not after SRV_POLICY_RECHECK */
    run(&p, &high, 4);
    assert_true(p.home);
    assert_int_equal(p.n_switches, 2);
    assert_true(p.load[1] > 10 && p.load[0] > 10);
}

static void test_recheck_follows_change(void **state) {
    (void)state;
    machine before = {.alone = 1000, .batched = 2000, .load = 8};
    machine after = {.alone = 3000, .batched = 2000, .load = 8}; /* e.g. other work left the cores */
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    run(&p, &before, 4);
    assert_true(p.home);
    /* alone is only sampled at the next recheck; the smoothed rate needs at most two samples */
    run(&p, &after, 2 * SRV_POLICY_RECHECK + 2);
    assert_false(p.home);
    assert_int_equal(p.n_switches, 1);
}

static void test_bad_sample_undone(void **state) {
    (void)state;
    srv_batch_policy p;
    srv_batch_policy_init(&p, true);
    machine m = {.alone = 1000, .batched = 2000, .load = 8};
    run(&p, &m, 2); /* two batched windows; the next one samples alone */
    assert_false(p.batched);
    /* the sample runs while something else left the cores: a fluke 3x */
    srv_batch_window fluke = {.batched = false, .seconds = 0.5, .tokens = 3000 * 0.5,
                              .mean_active = 8};
    srv_batch_policy_update(&p, &fluke);
    assert_false(p.home);
    /* home (alone) now measures its real rate, below the batched one: batched is sampled again
     * and moves home back */
    run(&p, &m, 6);
    assert_true(p.home);
    assert_int_equal(p.n_switches, 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_guess_batched_corrected),
        cmocka_unit_test(test_wrong_guess_alone_corrected),
        cmocka_unit_test(test_right_guess_kept),
        cmocka_unit_test(test_within_margin_never_moves),
        cmocka_unit_test(test_uninformative_windows),
        cmocka_unit_test(test_new_load_sampled_again),
        cmocka_unit_test(test_recheck_follows_change),
        cmocka_unit_test(test_bad_sample_undone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
