/*
 * ref_reranker.c — the cross-encoder reranker (rt_reranker_*) against transformers'
 * BertForSequenceClassification re-implemented in plain PyTorch (tests/reference/reranker_ref.py,
 * run on the fly, random weights, a WordPiece vocab.txt).
 *
 *   - pairs are encoded [CLS] query [SEP] passage [SEP] with token types 0 then 1;
 *   - for num_labels 1 (the logit) and 2 (logit[1] - logit[0], the label count read from
 *     id2label) the scores equal the reference's on the same ids and types: max-abs <= 1e-4;
 *   - with n_ctx 16 a long passage is truncated ("longest_first") to exactly 16 tokens ending in
 *     [SEP], and still matches the reference;
 * The C side encodes every pair set in setup and the script scores them all in one run.
 *   - the token types matter (scoring with all types 0 gives other numbers);
 *   - a BERT without classification head, 3 labels and a decoder are refused with messages.
 */
#include "testutil.h"

#include "core/error.h"
#include "core/file.h"
#include "ragtune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *g_dir;

static const char *const g_query = "how does the kernel scheduler work ?";
static const char *const g_passages[] = {
    "the scheduler is a queue of process and thread",
    "a cache is in memory and a disk is a file",
    "the network route table and packet queue",
    "virtual memory page to frame",
    "",
};
enum { N_PASSAGES = 5 };

static const char *const g_long_passage =
    "the kernel maps virtual memory page to frame and the scheduler is a queue of process and "
    "thread in the kernel";

/* The reference's inputs and outputs: model, passages, max_len, all token types 0. */
typedef struct ref_set {
    const char *model, *tag;
    const char *const *passages;
    int n;
    size_t max_len;
    bool zero_types;
    float *scores; /* filled in setup */
} ref_set;

static ref_set g_sets[] = {
    {"rerank1", "r1", g_passages, N_PASSAGES, 512, false, NULL},
    {"rerank1", "r1z", g_passages, N_PASSAGES, 512, true, NULL},
    {"rerank2", "r2", g_passages, N_PASSAGES, 512, false, NULL},
    {"rerank2", "r2z", g_passages, N_PASSAGES, 512, true, NULL},
    {"rerank1", "r1t", &g_long_passage, 1, 16, false, NULL},
};
enum { N_SETS = sizeof g_sets / sizeof g_sets[0] };

/* Encodes the pairs of set with the model's tokenizer into dir/<tag>.txt, checking the layout
 * [CLS] q [SEP] p [SEP] with types 0 up to the first [SEP], then 1. */
static int write_pairs(const ref_set *set) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, set->model);
    rt_tokenizer *tok;
    if (rt_tokenizer_load(path, &tok) != RT_OK) return -1;
    snprintf(path, sizeof path, "%s/%s.txt", g_dir, set->tag);
    FILE *fp = fopen(path, "w");
    if (!fp) return -1;
    int32_t cls = rt_tokenizer_token_to_id(tok, "[CLS]"),
            sep = rt_tokenizer_token_to_id(tok, "[SEP]");
    int bad = 0;
    for (int i = 0; i < set->n && !bad; i++) {
        int32_t *ids, *types;
        size_t n_ids;
        if (rt_tokenizer_encode_pair(tok, g_query, strlen(g_query), set->passages[i],
                                     strlen(set->passages[i]), set->max_len, &ids, &types,
                                     &n_ids) != RT_OK)
            return -1;
        size_t first_sep = 0;
        while (first_sep < n_ids && ids[first_sep] != sep)
            first_sep++;
        bad = ids[0] != cls || ids[n_ids - 1] != sep || n_ids > set->max_len;
        for (size_t k = 0; k < n_ids; k++)
            bad |= types[k] != (k <= first_sep ? 0 : 1);
        for (size_t k = 0; k < n_ids; k++)
            fprintf(fp, "%s%d", k ? "," : "", ids[k]);
        fputc(';', fp);
        for (size_t k = 0; k < n_ids; k++)
            fprintf(fp, "%s%d", k ? "," : "", set->zero_types ? 0 : types[k]);
        fputc('\n', fp);
        free(ids);
        free(types);
    }
    fclose(fp);
    rt_tokenizer_free(tok);
    if (bad)
        fprintf(stderr, "%s: pair layout is not [CLS] q [SEP] p [SEP] / 0..0 1..1\n", set->tag);
    return bad ? -1 : 0;
}

/* Makes the models, encodes every set, has the reference score them all in one run. */
static int setup(void **state) {
    (void)state;
    g_dir = tu_tmpdir("ref_reranker");
    if (!g_dir) return -1;
    if (tu_run_python("tests/reference/reranker_ref.py", "make '%s'", g_dir) != 0) return -1;
    char args[8192] = "score";
    for (int i = 0; i < N_SETS; i++) {
        if (write_pairs(&g_sets[i]) != 0) return -1;
        size_t used = strlen(args);
        snprintf(args + used, sizeof args - used, " '%s/%s' '%s/%s.txt' '%s/%s.f32'", g_dir,
                 g_sets[i].model, g_dir, g_sets[i].tag, g_dir, g_sets[i].tag);
    }
    if (tu_run_python("tests/reference/reranker_ref.py", "%s", args) != 0) return -1;
    for (int i = 0; i < N_SETS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.f32", g_dir, g_sets[i].tag);
        size_t len;
        g_sets[i].scores = tu_read_f32(path, &len);
        if (!g_sets[i].scores || len != (size_t)g_sets[i].n) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    (void)state;
    for (int i = 0; i < N_SETS; i++)
        free(g_sets[i].scores);
    tu_rmtree(g_dir);
    free(g_dir);
    return 0;
}

static const float *reference(const char *tag) {
    for (int i = 0; i < N_SETS; i++)
        if (!strcmp(g_sets[i].tag, tag)) return g_sets[i].scores;
    fail_msg("no reference set %s", tag);
    return NULL;
}

static void check_model(const char *name, const char *tag, const char *zero_tag) {
    char *model = rt_path_join(g_dir, name);
    rt_reranker *r;
    if (rt_reranker_open(model, 0, &r) != RT_OK) fail_msg("%s: %s", name, rt_last_error());
    assert_int_equal(rt_reranker_n_ctx(r), 64); /* 512 capped at the model's positions */
    float got[N_PASSAGES];
    assert_int_equal(rt_reranker_score(r, g_query, g_passages, N_PASSAGES, got), RT_OK);
    const float *ref = reference(tag), *zero = reference(zero_tag);
    double d = tu_max_abs_diff(got, ref, N_PASSAGES), dt = tu_max_abs_diff(zero, ref, N_PASSAGES);
    printf("  %s: scores vs PyTorch max-abs %.3g (bound 1e-4); token types move them by %.3g\n",
           name, d, dt);
    for (int i = 0; i < N_PASSAGES; i++)
        printf("    %+.5f %+.5f  %s\n", got[i], ref[i], g_passages[i]);
    assert_true(d <= 1e-4);
    assert_true(dt >= 1e-2);
    rt_reranker_close(r);
    free(model);
}

static void test_one_label(void **state) {
    (void)state;
    check_model("rerank1", "r1", "r1z");
}

static void test_two_labels(void **state) {
    (void)state;
    check_model("rerank2", "r2", "r2z");
}

static void test_truncation(void **state) {
    (void)state;
    char *model = rt_path_join(g_dir, "rerank1");
    rt_reranker *r;
    assert_int_equal(rt_reranker_open(model, 16, &r), RT_OK);
    assert_int_equal(rt_reranker_n_ctx(r), 16);
    float got;
    assert_int_equal(rt_reranker_score(r, g_query, &g_long_passage, 1, &got), RT_OK);
    const float *ref = reference("r1t");
    printf("  truncated to 16 tokens: %.6f vs %.6f\n", got, ref[0]);
    assert_true(fabs(got - ref[0]) <= 1e-4);
    /* the pair really is cut to 16 tokens */
    rt_tokenizer *tok;
    assert_int_equal(rt_tokenizer_load(model, &tok), RT_OK);
    int32_t *ids, *types;
    size_t n;
    assert_int_equal(rt_tokenizer_encode_pair(tok, g_query, strlen(g_query), g_long_passage,
                                              strlen(g_long_passage), 16, &ids, &types, &n),
                     RT_OK);
    assert_int_equal(n, 16);
    free(ids);
    free(types);
    rt_tokenizer_free(tok);
    rt_reranker_close(r);
    free(model);
}

static void expect_refused(const char *name, int code, const char *needle) {
    char *model = rt_path_join(g_dir, name);
    rt_reranker *r = (rt_reranker *)1;
    int st = rt_reranker_open(model, 0, &r);
    printf("  %s refused: %s\n", name, rt_last_error());
    assert_int_equal(st, code);
    assert_null(r);
    if (!strstr(rt_last_error(), needle)) fail_msg("'%s' lacks '%s'", rt_last_error(), needle);
    free(model);
}

static void test_refused(void **state) {
    (void)state;
    expect_refused("plain", RT_ERR_FORMAT, "classifier.weight");
    expect_refused("rerank3", RT_ERR_UNSUPPORTED, "num_labels 3");
    expect_refused("nowhere", RT_ERR_UNSUPPORTED, "BertForSequenceClassification");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_label),
        cmocka_unit_test(test_two_labels),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
