/*
 * test_metrics.c — evaluation metrics against hand-computed cases: SQuAD v1.1 normalization,
 * exact match and F1 on worked examples following the official evaluate script's rules,
 * answer-contains, retrieval metrics, bootstrap intervals, paired tests, refusal,
 * hallucination and quantiles.
 */
#include "testutil.h"
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void check_norm(const char *in, const char *expect) {
    char *n = rt_squad_normalize(in);
    assert_non_null(n);
    assert_string_equal(n, expect);
    free(n);
}

static void test_normalize(void **s) {
    (void)s;
    /* lower -> remove punctuation (no space left behind) -> remove a/an/the -> whitespace. */
    check_norm("The Cat, sat!", "cat sat");
    check_norm("  An apple a day\tkeeps\n", "apple day keeps");
    check_norm("Levi's Stadium", "levis stadium");
    check_norm("U.S.A.", "usa");
    check_norm("theatre another thee", "theatre another thee");
    check_norm("the", "");
    check_norm("", "");
    check_norm("ÉCOLE (Paris)", "école paris");
    check_norm("a-b", "ab"); /* the hyphen goes, the words join, as in the script */
}

static void test_em_f1(void **s) {
    (void)s;
    const char *g1[] = {"Denver Broncos"};
    assert_true(rt_metric_exact_match("the Denver Broncos.", g1, 1) == 1);
    assert_true(rt_metric_exact_match("Denver", g1, 1) == 0);
    /* pred {denver, broncos, won} vs gold {denver, broncos}: p = 2/3, r = 1, f1 = 0.8 */
    assert_true(fabs(rt_metric_f1("Denver Broncos won", g1, 1) - 0.8) < 1e-12);
    /* max over golds: "santa clara" vs "santa clara california": p = 1, r = 2/3 -> 0.8 */
    const char *g2[] = {"Levi's Stadium", "Santa Clara, California"};
    assert_true(fabs(rt_metric_f1("Santa Clara", g2, 2) - 0.8) < 1e-12);
    assert_true(rt_metric_exact_match("levis stadium", g2, 2) == 1);
    /* multiset intersection: pred "cat cat" vs gold "cat": common 1, p = 1/2, r = 1 -> 2/3 */
    const char *g3[] = {"cat"};
    assert_true(fabs(rt_metric_f1("the cat, the cat", g3, 1) - 2.0 / 3.0) < 1e-12);
    /* no tokens on one side: 0 (v1.1 has no special case for empty answers) */
    assert_true(rt_metric_f1("", g3, 1) == 0);
    assert_true(rt_metric_f1("the", g3, 1) == 0);
    assert_true(rt_metric_exact_match("x", NULL, 0) == 0);
}

static void test_contains(void **s) {
    (void)s;
    const char *g[] = {"IBM"};
    assert_true(rt_metric_contains("It was built in 1990 by IBM.", g, 1) == 1);
    assert_true(rt_metric_contains("It was built by IBMX.", g, 1) == 0); /* token boundary */
    const char *ga[] = {"the"}; /* normalizes to nothing: never matches */
    assert_true(rt_metric_contains("the answer", ga, 1) == 0);
    const char *gm[] = {"machine code", "object code"};
    assert_true(rt_metric_contains("A compiler emits object code [1]", gm, 2) == 1);
}

static void test_retrieval(void **s) {
    (void)s;
    /* unique ranks: d3 = 1, d1 = 2, d2 = 3 (the second d3 chunk is dropped) */
    const char *ranked[] = {"d3", "d1", "d3", "d2"};
    const char *rel[] = {"d1", "d2"};
    rt_retrieval_scores r;
    rt_retrieval_score(ranked, 4, rel, 2, 2, &r);
    assert_true(r.hit == 1);
    assert_true(fabs(r.recall - 0.5) < 1e-12);
    assert_true(fabs(r.mrr - 0.5) < 1e-12);
    /* DCG@2 = 1/log2(3); IDCG@2 = 1 + 1/log2(3) */
    double dcg = 1 / log2(3.0), idcg = 1 + 1 / log2(3.0);
    assert_true(fabs(r.ndcg - dcg / idcg) < 1e-12);
    rt_retrieval_score(ranked, 4, rel, 2, 3, &r);
    assert_true(r.recall == 1);
    assert_true(fabs(r.ndcg - (1 / log2(3.0) + 1 / log2(4.0)) / (1 + 1 / log2(3.0))) < 1e-12);
    const char *none[] = {"x"};
    rt_retrieval_score(ranked, 4, none, 1, 4, &r);
    assert_true(r.hit == 0 && r.mrr == 0 && r.ndcg == 0 && r.recall == 0);
}

static void test_bootstrap(void **s) {
    (void)s;
    double c[20];
    for (int i = 0; i < 20; i++)
        c[i] = 0.7;
    double lo, hi;
    rt_bootstrap_ci(c, 20, 1000, 0.95, 1, &lo, &hi);
    assert_true(fabs(lo - 0.7) < 1e-12 && fabs(hi - 0.7) < 1e-12);
    /* 100 Bernoulli outcomes with mean 0.5: the normal approximation gives
     * 0.5 +- 1.96 * sqrt(0.25 / 100) = [0.402, 0.598]; allow 0.03 of resampling noise. */
    double x[100];
    for (int i = 0; i < 100; i++)
        x[i] = i % 2;
    rt_bootstrap_ci(x, 100, 4000, 0.95, 42, &lo, &hi);
    assert_true(fabs(lo - 0.402) < 0.03);
    assert_true(fabs(hi - 0.598) < 0.03);
    double lo2, hi2;
    rt_bootstrap_ci(x, 100, 4000, 0.95, 42, &lo2, &hi2);
    assert_true(lo == lo2 && hi == hi2); /* seeded: the same interval again */
}

static void test_paired(void **s) {
    (void)s;
    /* 8 wins, 2 losses: P(X <= 2 | n = 10) = (1 + 10 + 45) / 1024; two-sided doubles it. */
    assert_true(fabs(rt_sign_test_p(8, 2) - 112.0 / 1024.0) < 1e-12);
    assert_true(rt_sign_test_p(0, 0) == 1);
    assert_true(fabs(rt_sign_test_p(5, 5) - 1.0) < 1e-12);
    double a[30], b[30];
    for (int i = 0; i < 30; i++) {
        a[i] = 1;
        b[i] = i < 5 ? 1 : 0; /* a wins 25 times, never loses */
    }
    rt_paired_test t;
    rt_paired_compare(a, b, 30, 2000, 7, &t);
    assert_int_equal(t.wins, 25);
    assert_int_equal(t.losses, 0);
    assert_true(fabs(t.delta - 25.0 / 30.0) < 1e-12);
    assert_true(t.p_bootstrap < 0.01);
    assert_true(t.p_sign < 1e-6);
    assert_true(t.delta_lo <= t.delta && t.delta <= t.delta_hi);
    rt_paired_compare(a, a, 30, 2000, 7, &t);
    assert_true(t.delta == 0 && t.p_bootstrap == 1 && t.p_sign == 1);
}

static void test_refusal_hallucination(void **s) {
    (void)s;
    bool abst[] = {true, true, false, false, false};
    bool unans[] = {true, false, true, false, false};
    double p, r;
    rt_refusal_scores(abst, unans, 5, &p, &r);
    assert_true(p == 0.5 && r == 0.5);
    bool none[] = {false, false};
    rt_refusal_scores(none, none, 2, &p, &r);
    assert_true(isnan(p) && isnan(r));
    /* q3: answered, wrong, support 0.2 < 0.5 -> hallucination; q4 wrong but supported;
     * q5 correct; q1, q2 abstained. */
    bool correct[] = {false, false, false, false, true};
    double support[] = {1, 1, 0.2, 0.9, 0.1};
    assert_true(fabs(rt_hallucination_rate(abst, correct, support, 5, 0.5) - 0.2) < 1e-12);
    double nosupport[] = {NAN, NAN, NAN, NAN, NAN}; /* closed-book: nothing supports */
    assert_true(fabs(rt_hallucination_rate(abst, correct, nosupport, 5, 0.5) - 0.4) < 1e-12);
}

static void test_quantile(void **s) {
    (void)s;
    double x[] = {4, 1, 3, 2};
    assert_true(fabs(rt_quantile(x, 4, 0.5) - 2.5) < 1e-12);
    assert_true(fabs(rt_quantile(x, 4, 0.95) - 3.85) < 1e-12);
    assert_true(rt_quantile(x, 4, 0) == 1 && rt_quantile(x, 4, 1) == 4);
    assert_true(x[0] == 4); /* not modified */
    assert_true(rt_quantile(x, 0, 0.5) == 0);
    assert_true(fabs(rt_mean(x, 4) - 2.5) < 1e-12);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_em_f1),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_retrieval),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_paired),
        cmocka_unit_test(test_refusal_hallucination),
        cmocka_unit_test(test_quantile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
