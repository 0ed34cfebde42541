/*
 * test_spec.c — the compare spec file (src/eval/spec.c): global settings by field name and by
 * short name, "decoding", the "strategy" list with each strategy's overrides and how they apply
 * (unset fields keep the spec's value), the spec left unchanged by a bad file, a TOML file
 * refused; and the judge's prompt and verdict parsing (src/eval/compare.c).
 */
#include "testutil.h"
#include "eval/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *write_tmp(const char *dir, const char *name, const char *text) {
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_load_and_apply(void **s) {
    (void)s;
    char *dir = tu_tmpdir("spec");
    char *path =
        write_tmp(dir, "compare.json",
                  "{\"model\": \"m.gguf\", \"collection\": \"c\", \"qa_path\": \"qa.jsonl\","
                  " \"seed\": 7, \"cpu_hour_price\": 0.25, \"rank\": 16,"
                  " \"decoding\": {\"max_tokens\": 12},"
                  " \"strategy\": ["
                  "  {\"name\": \"rag-dense\", \"kind\": \"rag\", \"search\": \"dense\","
                  "   \"k\": 4, \"min_score\": null, \"rerank\": false},"
                  "  {\"name\": \"lora\", \"rank\": 8, \"steps\": 50},"
                  "  {\"name\": \"raft-p5\", \"kind\": \"raft\", \"oracle_p\": 0.5,"
                  "   \"distractors\": 2}]}");
    rt_compare_spec spec = rt_compare_default_spec();
    spec.rerank_model = "ce";
    void *root;
    assert_int_equal(rt_compare_spec_load(path, &spec, &root), RT_OK);
    assert_string_equal(spec.model_path, "m.gguf");
    assert_string_equal(spec.collection_path, "c");
    assert_string_equal(spec.qa_path, "qa.jsonl");
    assert_int_equal(spec.seed, 7);
    assert_true(spec.cpu_hour_price == 0.25);
    assert_int_equal(spec.lora_rank, 16);
    assert_int_equal(spec.max_tokens, 12);
    assert_int_equal(spec.n_ctx, rt_compare_default_spec().n_ctx); /* not given: kept */
    assert_null(spec.strategies); /* a strategy list without "strategies": all of them */
    assert_int_equal(spec.n_strategy_list, 3);
    const rt_compare_strategy *o = spec.strategy_list;
    assert_string_equal(o[0].name, "rag-dense");
    assert_int_equal(o[0].kind, RT_STRATEGY_RAG);
    assert_int_equal(o[1].kind, RT_STRATEGY_LORA); /* the name is the kind */
    rt_compare_spec eff;
    rt_compare_strategy_apply(&spec, &o[0], &eff);
    assert_int_equal(eff.search_mode, RT_SEARCH_DENSE);
    assert_int_equal(eff.k, 4);
    assert_true(isnan(eff.min_score));
    assert_null(eff.rerank_model);       /* "rerank": false */
    assert_int_equal(eff.lora_rank, 16); /* not overridden */
    rt_compare_strategy_apply(&spec, &o[1], &eff);
    assert_int_equal(eff.lora_rank, 8);
    assert_int_equal(eff.steps, 50);
    assert_int_equal(eff.k, spec.k);
    assert_string_equal(eff.rerank_model, "ce");
    rt_compare_strategy_apply(&spec, &o[2], &eff);
    assert_true(eff.raft_oracle_fraction == 0.5f);
    assert_int_equal(eff.raft_distractors, 2);
    /* the overrides as JSON, with the file's field names */
    json_t *j = rt_compare_strategy_json(&o[0]);
    char *t = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(t, "{\"k\":4,\"min_score\":null,\"rerank\":false,\"search\":\"dense\"}");
    free(t);
    json_decref(j);
    rt_compare_spec_free_root(root);
    free(path);

    /* a bad file leaves the spec as it was */
    rt_compare_spec before = rt_compare_default_spec();
    spec = before;
    path = write_tmp(dir, "bad.json",
                     "{\"k\": 5, \"strategy\": [{\"name\": \"b\", \"kind\": "
                     "\"base\", \"k\": 3}]}");
    assert_int_equal(rt_compare_spec_load(path, &spec, &root), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "strategy 1 (\"b\"): field \"k\" does not apply"));
    assert_int_equal(spec.k, before.k);
    assert_null(root);
    free(path);
    path = write_tmp(dir, "compare.toml", "k = 3\n");
    assert_int_equal(rt_compare_spec_load(path, &spec, &root), RT_ERR_UNSUPPORTED);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_judge(void **s) {
    (void)s;
    const char *gold[] = {"machine code", "object code"};
    char *p = rt_eval_judge_prompt("What does a compiler produce?", gold, 2, "binaries");
    assert_non_null(p);
    assert_non_null(strstr(p, "Question: What does a compiler produce?\n"
                              "Reference answer: machine code | object code\n"
                              "Proposed answer: binaries\n"));
    assert_non_null(strstr(p, "yes or no"));
    free(p);
    assert_int_equal(rt_eval_judge_parse(" Yes."), 1);
    assert_int_equal(rt_eval_judge_parse("correct, it says so"), 1);
    assert_int_equal(rt_eval_judge_parse("No"), 0);
    assert_int_equal(rt_eval_judge_parse("**Incorrect**"), 0);
    assert_int_equal(rt_eval_judge_parse("yesterday"), -1); /* a whole word, not a prefix */
    assert_int_equal(rt_eval_judge_parse(""), -1);
    assert_int_equal(rt_eval_judge_parse("maybe"), -1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_and_apply),
        cmocka_unit_test(test_judge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
