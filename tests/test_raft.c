/*
 * test_raft.c — reader / RAFT examples: the prompt is the shared reader prompt with the oracle at
 * the cited position, distractors never share the oracle's title, the oracle rate follows
 * oracle_p, abstain examples, determinism by seed, neighbour distractors, the JSONL writer and
 * its errors on bad input.
 */
#include "testutil.h"
#include "rag/prompt.h"
#include "rag/raft.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_DOCS 40
static rt_raft_doc docs[N_DOCS];
static rt_raft_item items[N_DOCS];
static char titles[N_DOCS][32], texts[N_DOCS][64], ids[N_DOCS][16], qs[N_DOCS][64],
    answers[N_DOCS][64];

static void make_docs(void) {
    for (int i = 0; i < N_DOCS; i++) {
        snprintf(ids[i], sizeof ids[i], "d%d", i);
        /* documents 0 and 1 share a title (two senses): never distractors of each other */
        snprintf(titles[i], sizeof titles[i], "term%d", i == 1 ? 0 : i);
        snprintf(texts[i], sizeof texts[i], "Definition number %d of a term.", i);
        snprintf(qs[i], sizeof qs[i], "What is term%d?", i == 1 ? 0 : i);
        snprintf(answers[i], sizeof answers[i], "Definition number %d", i);
        docs[i] = (rt_raft_doc){ids[i], titles[i], texts[i]};
        items[i] = (rt_raft_item){ids[i], qs[i], answers[i], ids[i], NULL, 0};
    }
}

/* The text of passage n (1-based) in a BASE prompt, as a pointer into the prompt. */
static const char *passage(const char *prompt, int n) {
    char mark[16];
    snprintf(mark, sizeof mark, "\n[%d] ", n);
    return strstr(prompt, mark);
}

static void test_oracle_cited(void **s) {
    (void)s;
    make_docs();
    rt_raft_params p = rt_raft_default_params();
    p.oracle_p = 1.0f;
    rt_raft_example *ex = NULL;
    assert_int_equal(rt_raft_build(docs, N_DOCS, items, N_DOCS, &p, &ex), RT_OK);
    int seen_pos[5] = {0};
    for (int i = 0; i < N_DOCS; i++) {
        assert_int_equal(ex[i].n_passages, 4);
        assert_in_range(ex[i].citation, 1, 4);
        seen_pos[ex[i].citation]++;
        assert_non_null(passage(ex[i].prompt, 4));
        assert_null(passage(ex[i].prompt, 5));
        /* the cited passage is the oracle: "[n] title\ntext" */
        char expect[4096];
        snprintf(expect, sizeof expect, "\n[%d] %s\n%s", ex[i].citation, titles[i], texts[i]);
        assert_non_null(strstr(ex[i].prompt, expect));
        /* the oracle's title appears once: no distractor shares it (docs 0 and 1 share one) */
        char t[2048];
        snprintf(t, sizeof t, "] %s\n", titles[i]);
        const char *first = strstr(ex[i].prompt, t);
        assert_non_null(first);
        assert_null(strstr(first + 1, t));
        /* the prompt is exactly the shared reader prompt; the completion " answer [n]" */
        assert_non_null(strstr(ex[i].prompt, rt_rag_instructions));
        char q[2048];
        snprintf(q, sizeof q, "\n\nQuestion: %s\nAnswer:", qs[i]);
        assert_non_null(strstr(ex[i].prompt, q));
        char c[2048];
        snprintf(c, sizeof c, " %s [%d]", answers[i], ex[i].citation);
        assert_string_equal(ex[i].completion, c);
        assert_string_equal(ex[i].id, ids[i]);
    }
    /* every position is used (40 draws over 4 positions) */
    for (int k = 1; k <= 4; k++) assert_true(seen_pos[k] > 0);
    rt_raft_examples_free(ex, N_DOCS);
}

static void test_abstain_rate_and_seed(void **s) {
    (void)s;
    make_docs();
    rt_raft_params p = rt_raft_default_params();
    p.oracle_p = 0.0f;
    p.n_distractors = 1;
    rt_raft_example *ex = NULL;
    assert_int_equal(rt_raft_build(docs, N_DOCS, items, N_DOCS, &p, &ex), RT_OK);
    for (int i = 0; i < N_DOCS; i++) {
        assert_int_equal(ex[i].citation, 0);
        assert_int_equal(ex[i].n_passages, 2); /* n_distractors + 1 passages without the oracle */
        assert_string_equal(ex[i].completion, " " RT_RAG_ABSTAIN_TEXT);
        assert_null(strstr(ex[i].prompt, texts[i]));
    }
    rt_raft_examples_free(ex, N_DOCS);

    /* oracle_p 0.5 over 400 items: between 150 and 250 with the oracle (binomial, > 6 sigma) */
    rt_raft_item many[400];
    for (int i = 0; i < 400; i++) many[i] = items[i % N_DOCS];
    p.oracle_p = 0.5f;
    assert_int_equal(rt_raft_build(docs, N_DOCS, many, 400, &p, &ex), RT_OK);
    int with = 0;
    for (int i = 0; i < 400; i++) with += ex[i].citation > 0;
    assert_in_range(with, 150, 250);
    /* the same seed gives the same examples, another seed others */
    rt_raft_example *again = NULL, *other = NULL;
    assert_int_equal(rt_raft_build(docs, N_DOCS, many, 400, &p, &again), RT_OK);
    p.seed = 7;
    assert_int_equal(rt_raft_build(docs, N_DOCS, many, 400, &p, &other), RT_OK);
    int differ = 0;
    for (int i = 0; i < 400; i++) {
        assert_string_equal(ex[i].prompt, again[i].prompt);
        assert_string_equal(ex[i].completion, again[i].completion);
        differ += strcmp(ex[i].prompt, other[i].prompt) != 0;
    }
    assert_true(differ > 100);
    rt_raft_examples_free(ex, 400);
    rt_raft_examples_free(again, 400);
    rt_raft_examples_free(other, 400);
}

static void test_near_and_chat(void **s) {
    (void)s;
    make_docs();
    rt_raft_params p = rt_raft_default_params();
    p.oracle_p = 1.0f;
    p.near = 3;
    p.n_distractors = 2;
    rt_raft_example *ex = NULL;
    assert_int_equal(rt_raft_build(docs, N_DOCS, &items[20], 1, &p, &ex), RT_OK);
    /* with a window of +-3 around document 20, the distractors are documents 17..23 */
    for (int n = 1; n <= 3; n++) {
        const char *ps = passage(ex[0].prompt, n);
        assert_non_null(ps);
        int k = -1;
        assert_int_equal(sscanf(ps + 1, "[%*d] term%d", &k), 1);
        assert_in_range(k, 17, 23);
    }
    rt_raft_examples_free(ex, 1);
    p.style = RT_RAG_PROMPT_CHAT;
    assert_int_equal(rt_raft_build(docs, N_DOCS, items, 2, &p, &ex), RT_OK);
    assert_null(ex[0].prompt);
    assert_string_equal(ex[0].system, rt_rag_instructions);
    assert_non_null(strstr(ex[0].user, "Question: What is term0?"));
    rt_raft_examples_free(ex, 2);
}

static void test_errors(void **s) {
    (void)s;
    make_docs();
    rt_raft_example *ex = NULL;
    rt_raft_item bad = {"x", "What?", "A", "no-such-doc", NULL, 0};
    assert_int_equal(rt_raft_build(docs, N_DOCS, &bad, 1, NULL, &ex), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_last_error(), "no-such-doc"));
    assert_null(ex);
    /* two documents with one title cannot give a distractor beside either */
    assert_int_equal(rt_raft_build(docs, 2, items, 1, NULL, &ex), RT_ERR_INVALID);
    rt_raft_params p = rt_raft_default_params();
    p.oracle_p = 1.5f;
    assert_int_equal(rt_raft_build(docs, N_DOCS, items, 1, &p, &ex), RT_ERR_INVALID);
    rt_raft_doc dup[2] = {{"a", "A", "x"}, {"a", "B", "y"}};
    assert_int_equal(rt_raft_build(dup, 2, items, 0, NULL, &ex), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "twice"));
}

static void test_fixed_context(void **s) {
    (void)s;
    make_docs();
    const char *ctx[] = {"d5", "d3", "d7"};
    rt_raft_item it[3] = {
        {"a", "What is term3?", "Definition number 3", "d3", ctx, 3},  /* oracle at [2] */
        {"b", "What is term9?", "Definition number 9", "d9", ctx, 3},  /* not there: abstain */
        {"c", "What is term9?", "Definition number 9", "d9", ctx, 0},  /* closed-book */
    };
    rt_raft_example *ex = NULL;
    assert_int_equal(rt_raft_build(docs, N_DOCS, it, 3, NULL, &ex), RT_OK);
    assert_string_equal(ex[0].completion, " Definition number 3 [2]");
    const char *p1 = passage(ex[0].prompt, 1), *p3 = passage(ex[0].prompt, 3);
    assert_true(p1 && p3 && !strncmp(p1, "\n[1] term5\n", 10) && !strncmp(p3, "\n[3] term7\n", 10));
    assert_int_equal(ex[1].citation, 0);
    assert_string_equal(ex[1].completion, " " RT_RAG_ABSTAIN_TEXT);
    assert_int_equal(ex[2].n_passages, 0);
    assert_null(passage(ex[2].prompt, 1));
    assert_non_null(strstr(ex[2].prompt, "Question: What is term9?"));
    rt_raft_examples_free(ex, 3);
    const char *missing[] = {"nope"};
    it[0].context = missing;
    it[0].n_context = 1;
    assert_int_equal(rt_raft_build(docs, N_DOCS, it, 1, NULL, &ex), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_last_error(), "nope"));
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_jsonl(void **s) {
    (void)s;
    char *dir = tu_tmpdir("raft");
    char qa[512], dc[512], out[512];
    snprintf(qa, sizeof qa, "%s/qa.jsonl", dir);
    snprintf(dc, sizeof dc, "%s/docs.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    write_text(dc, "{\"id\":\"a\",\"title\":\"Lisp\",\"text\":\"A list language.\"}\n"
                   "\n"
                   "{\"id\":\"b\",\"title\":\"Perl\",\"text\":\"A \\\"glue\\\" language.\"}\n"
                   "{\"id\":\"c\",\"text\":\"Untitled.\"}\n");
    write_text(qa, "{\"id\":\"q1\",\"question\":\"What is Lisp?\",\"answer\":\"A list "
                   "language.\",\"doc\":\"a\"}\n");
    rt_raft_params p = rt_raft_default_params();
    p.oracle_p = 1.0f;
    p.n_distractors = 2;
    size_t n = 0;
    assert_int_equal(rt_raft_data_write(qa, dc, out, &p, &n), RT_OK);
    assert_int_equal(n, 1);
    json_error_t err;
    json_t *o = json_load_file(out, JSON_DISABLE_EOF_CHECK, &err);
    assert_non_null(o);
    const char *prompt = json_string_value(json_object_get(o, "prompt"));
    const char *completion = json_string_value(json_object_get(o, "completion"));
    assert_non_null(prompt);
    assert_non_null(strstr(prompt, "A \"glue\" language."));
    assert_non_null(strstr(prompt, "Untitled."));
    assert_true(!strcmp(completion, " A list language. [1]") ||
                !strcmp(completion, " A list language. [2]") ||
                !strcmp(completion, " A list language. [3]"));
    json_decref(o);
    /* an explicit context from the file: exactly b then a, the oracle cited as [2] */
    write_text(qa, "{\"id\":\"q1\",\"question\":\"What is Lisp?\",\"answer\":\"A list "
                   "language.\",\"doc\":\"a\",\"context\":[\"b\",\"a\"]}\n");
    assert_int_equal(rt_raft_data_write(qa, dc, out, &p, &n), RT_OK);
    o = json_load_file(out, JSON_DISABLE_EOF_CHECK, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "completion")), " A list language. [2]");
    assert_null(strstr(json_string_value(json_object_get(o, "prompt")), "Untitled."));
    json_decref(o);
    write_text(qa, "{\"id\":\"q1\",\"question\":\"Q\",\"answer\":\"A\",\"doc\":\"a\",\"context\":\"b\"}\n");
    assert_int_equal(rt_raft_data_write(qa, dc, out, &p, &n), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "context"));
    /* a record without its question, and a line that is not JSON, name the file and record */
    write_text(qa, "{\"id\":\"q1\",\"answer\":\"A\",\"doc\":\"a\"}\n");
    assert_int_equal(rt_raft_data_write(qa, dc, out, &p, &n), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "question"));
    write_text(qa, "{\"id\":\"q1\",\n");
    assert_int_equal(rt_raft_data_write(qa, dc, out, &p, &n), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "line 1"));
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_cited),
        cmocka_unit_test(test_abstain_rate_and_seed),
        cmocka_unit_test(test_near_and_chat),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_fixed_context),
        cmocka_unit_test(test_jsonl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
