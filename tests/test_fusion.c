/*
 * test_fusion.c — RRF, weighted fusion and MMR on hand-built lists with hand-computed answers.
 */
#include "testutil.h"
#include "knowledge/fusion.h"

#include <math.h>

static void test_rrf(void **s) {
    (void)s;
    rt_hit a[3] = {{1, 9}, {2, 8}, {3, 7}}, b[2] = {{3, 0.9f}, {4, 0.8f}};
    rt_hit out[5];
    int n = rt_fuse_rrf(a, 3, b, 2, 60, out);
    assert_int_equal(n, 4);
    /* id 3: 1/63 + 1/61; id 1: 1/61; id 2: 1/62; id 4: 1/62 (tie: smaller id first). */
    assert_int_equal(out[0].id, 3);
    assert_true(fabsf(out[0].score - (1.0f / 63 + 1.0f / 61)) < 1e-7f);
    assert_int_equal(out[1].id, 1);
    assert_int_equal(out[2].id, 2);
    assert_int_equal(out[3].id, 4);
    assert_true(fabsf(out[3].score - 1.0f / 62) < 1e-7f);
}

static void test_weighted(void **s) {
    (void)s;
    rt_hit dense[3] = {{1, 0.9f}, {2, 0.5f}, {3, 0.1f}}, sparse[2] = {{3, 20}, {4, 10}};
    rt_hit out[5];
    int n = rt_fuse_weighted(dense, 3, sparse, 2, 0.25f, out);
    assert_int_equal(n, 4);
    /* minmax: dense 1 -> 1, 2 -> 0.5, 3 -> 0; sparse 3 -> 1, 4 -> 0.
     * id 3: 0.75; id 1: 0.25; id 2: 0.125; id 4: 0. */
    int64_t ids[4] = {3, 1, 2, 4};
    float sc[4] = {0.75f, 0.25f, 0.125f, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(out[i].id, ids[i]);
        assert_true(fabsf(out[i].score - sc[i]) < 1e-6f);
    }
}

static void test_mmr(void **s) {
    (void)s;
    /* Two near-duplicates of the query direction and one different vector. */
    float v[3 * 2] = {1, 0, 0.99f, 0.141f, 0.6f, 0.8f};
    float q[2] = {1, 0.1f};
    rt_hit c[3] = {{10, 3}, {11, 2}, {12, 1}};
    rt_hit out[3];
    /* lambda 1: pure relevance order. */
    assert_int_equal(rt_mmr(c, 3, v, 2, q, 1.0f, 3, out), 3);
    assert_int_equal(out[0].id, 11);
    assert_int_equal(out[1].id, 10);
    /* lambda 0.3: after the first pick the near-duplicate is penalized (10: 0.3*0.995 - 0.7*0.990
     * = -0.394; 12: 0.3*0.677 - 0.7*0.707 = -0.292). */
    assert_int_equal(rt_mmr(c, 3, v, 2, q, 0.3f, 2, out), 2);
    assert_int_equal(out[0].id, 11);
    assert_int_equal(out[1].id, 12);
    assert_true(out[1].score == 1); /* original scores are kept */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rrf),
        cmocka_unit_test(test_weighted),
        cmocka_unit_test(test_mmr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
