/*
 * test_report.c — the compare report: the recommendation follows the priority order (accuracy
 * first picks the accurate strategy, latency first the fast one), paired tests are added, a
 * failed strategy is shown with its error, and the table, Markdown and HTML renderings carry
 * the run's numbers. Also the answer helpers the runner scores with.
 */
#include "testutil.h"
#include "eval/compare.h"
#include "eval/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Two strategies on four questions: rag right on 3 (1 s each), lora right on 1 (0.1 s each),
 * and one that failed. */
static const char *report_text =
    "{\"config\":{\"seed\":1,\"bootstrap_resamples\":200},\"qa\":{\"test\":4,\"train\":8,"
    "\"update\":0,\"skipped_lines\":1,\"evidence_missing\":0},\"strategies\":["
    "{\"name\":\"rag\",\"kind\":\"rag\",\"rag\":true,\"status\":\"ok\",\"training\":null,"
    "\"metrics\":{\"n_questions\":4,\"contains\":{\"mean\":0.75,\"lo\":0.25,\"hi\":1},"
    "\"f1\":{\"mean\":0.7,\"lo\":0.2,\"hi\":1},\"em\":{\"mean\":0.5,\"lo\":0,\"hi\":1},"
    "\"hallucination_rate\":0.25,\"latency\":{\"total_p50_s\":1.0,\"total_p95_s\":1.2},"
    "\"questions\":[{\"question\":\"What is "
    "a?\",\"gold\":\"A1\",\"answer\":\"A1\",\"correct\":true,"
    "\"contains\":1,\"f1\":1,\"total_s\":1},{\"question\":\"What is "
    "b?\",\"gold\":\"B1\",\"answer\":"
    "\"B1\",\"correct\":true,\"contains\":1,\"f1\":1,\"total_s\":1},{\"question\":\"What is c?\","
    "\"gold\":\"C1\",\"answer\":\"C1\",\"correct\":true,\"contains\":1,\"f1\":0.8,\"total_s\":1},"
    "{\"question\":\"What is "
    "d?\",\"gold\":\"D1\",\"answer\":\"x\",\"correct\":false,\"contains\":0,"
    "\"f1\":0,\"total_s\":1}]},\"cost\":{\"per_1000_queries\":0.02,\"per_training_run\":0}},"
    "{\"name\":\"lora\",\"kind\":\"lora\",\"rag\":false,\"status\":\"ok\",\"training\":{\"wall_s\":"
    "10,\"steps\":5,\"loss_curve\":[[1,3.0],[5,2.0]]},\"metrics\":{\"n_questions\":4,\"contains\":"
    "{\"mean\":0.25,\"lo\":0,\"hi\":0.75},\"f1\":{\"mean\":0.3,\"lo\":0,\"hi\":0.8},\"em\":{"
    "\"mean\":"
    "0.25,\"lo\":0,\"hi\":0.75},\"hallucination_rate\":0.75,\"latency\":{\"total_p50_s\":0.1,"
    "\"total_p95_s\":0.1},\"questions\":[{\"question\":\"What is "
    "a?\",\"answer\":\"A1\",\"correct\":"
    "true,\"contains\":1,\"f1\":1,\"total_s\":0.1},{\"question\":\"What is b?\",\"answer\":\"<b>\","
    "\"correct\":false,\"contains\":0,\"f1\":0,\"total_s\":0.1},{\"question\":\"What is c?\","
    "\"answer\":\"n\",\"correct\":false,\"contains\":0,\"f1\":0,\"total_s\":0.1},{\"question\":"
    "\"What is d?\",\"answer\":\"n\",\"correct\":false,\"contains\":0,\"f1\":0,\"total_s\":0.1}]},"
    "\"cost\":{\"per_1000_queries\":0.002,\"per_training_run\":0.001}},"
    "{\"name\":\"raft\",\"status\":\"failed\",\"error\":\"training raft: disk full\"}]}";

static char *analysed(const char *priority) {
    json_t *r = json_loads(report_text, 0, NULL);
    assert_non_null(r);
    assert_int_equal(rt_report_add_analysis(r, priority), RT_OK);
    char *s = json_dumps(r, 0);
    json_decref(r);
    return s;
}

static void test_recommendation(void **s) {
    (void)s;
    json_t *r = json_loads(report_text, 0, NULL);
    assert_int_equal(rt_report_add_analysis(r, "accuracy,freshness,latency,cost"), RT_OK);
    json_t *rec = json_object_get(r, "recommendation");
    assert_string_equal(json_string_value(json_object_get(rec, "strategy")), "rag");
    const char *ex = json_string_value(json_object_get(rec, "explanation"));
    assert_non_null(strstr(ex, "answer-contains 0.750 [0.250, 1.000]"));
    assert_non_null(strstr(ex, "Data dependency"));
    assert_non_null(strstr(ex, "Adaptability"));
    assert_non_null(strstr(ex, "Use case"));
    /* one pair of ok strategies, two metrics; rag wins questions b and c */
    json_t *p = json_array_get(json_object_get(r, "paired"), 0);
    assert_int_equal(json_array_size(json_object_get(r, "paired")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "wins")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "losses")), 0);
    assert_true(fabs(json_real_value(json_object_get(p, "delta")) - 0.5) < 1e-12);
    json_decref(r);
    r = json_loads(report_text, 0, NULL);
    assert_int_equal(rt_report_add_analysis(r, "latency,cost"), RT_OK);
    rec = json_object_get(r, "recommendation");
    assert_string_equal(json_string_value(json_object_get(rec, "strategy")), "lora");
    assert_int_equal(rt_report_add_analysis(r, "speed"), RT_ERR_INVALID);
    json_decref(r);
}

/* Every strategy wrong on every question: no recommendation, however cheap one of them is. */
static void test_no_recommendation_when_all_wrong(void **s) {
    (void)s;
    json_t *r = json_loads(
        "{\"strategies\":[{\"name\":\"base\",\"kind\":\"base\",\"rag\":false,\"status\":"
        "\"ok\",\"metrics\":{\"n_questions\":2,\"contains\":{\"mean\":0,\"lo\":0,\"hi\":0},"
        "\"latency\":{\"total_p50_s\":0.1}},\"cost\":{\"per_1000_queries\":0.001}},"
        "{\"name\":\"rag\",\"kind\":\"rag\",\"rag\":true,\"status\":\"ok\",\"metrics\":"
        "{\"n_questions\":2,\"contains\":{\"mean\":0,\"lo\":0,\"hi\":0},\"latency\":"
        "{\"total_p50_s\":1}},\"cost\":{\"per_1000_queries\":0.01}}]}",
        0, NULL);
    assert_non_null(r);
    assert_int_equal(rt_report_add_analysis(r, "cost,latency"), RT_OK);
    json_t *rec = json_object_get(r, "recommendation");
    assert_true(json_is_null(json_object_get(rec, "strategy")));
    assert_non_null(strstr(json_string_value(json_object_get(rec, "explanation")),
                           "No strategy answered any test question correctly"));
    json_decref(r);
}

static void test_render(void **s) {
    (void)s;
    char *text = analysed(NULL), *out;
    assert_int_equal(rt_report_table(text, &out), RT_OK);
    assert_non_null(strstr(out, "0.750 [0.25,1.00]"));
    assert_non_null(strstr(out, "FAILED"));
    assert_non_null(strstr(out, "error: training raft: disk full"));
    assert_non_null(strstr(out, "1 malformed QA line"));
    free(out);
    assert_int_equal(rt_report_markdown(text, &out), RT_OK);
    assert_non_null(strstr(out, "## Recommendation"));
    assert_non_null(strstr(out, "| rag | lora | +0.500"));
    assert_non_null(strstr(out, "**raft failed**"));
    free(out);
    assert_int_equal(rt_report_html(text, &out), RT_OK);
    assert_non_null(strstr(out, "<svg"));
    assert_non_null(strstr(out, "<polyline")); /* lora's loss curve */
    assert_non_null(strstr(out, "&lt;b&gt;")); /* answers are escaped */
    assert_null(strstr(out, "<b>"));
    assert_non_null(strstr(out, "2 question(s) shown")); /* b and c; a and d agree */
    free(out);
    free(text);
    assert_int_equal(rt_report_table("not json", &out), RT_ERR_FORMAT);
}

static void test_answer_helpers(void **s) {
    (void)s;
    char *a = rt_eval_strip_citations(" A language [1]. See [2, 3]; x[y] ");
    assert_string_equal(a, "A language . See ; x[y]");
    free(a);
    assert_true(rt_eval_is_abstention(" " RT_RAG_ABSTAIN_TEXT));
    assert_false(rt_eval_is_abstention("The documents contain it."));
    char *p = rt_eval_closed_prompt("What is Lisp?");
    assert_string_equal(p, "Question: What is Lisp?\nAnswer:");
    free(p);
    rt_strategy_kind k;
    assert_int_equal(rt_strategy_parse("lora+rag", &k), RT_OK);
    assert_int_equal(k, RT_STRATEGY_LORA_RAG);
    assert_string_equal(rt_strategy_name(RT_STRATEGY_RAFT), "raft");
    assert_int_equal(rt_strategy_parse("dpo", &k), RT_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommendation),
        cmocka_unit_test(test_no_recommendation_when_all_wrong),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_answer_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
