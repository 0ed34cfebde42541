/*
 * test_qa.c — QA sets: JSONL loading with malformed lines named by line number and skipped,
 * round trip through rt_qa_save, definition extraction from FOLDOC-style entries, evidence
 * checks, and template generation (splits by document, paraphrases only in train, unanswerable
 * words absent from the collection, the update split and its documents file).
 */
#include "testutil.h"
#include "eval/qa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_load_malformed(void **s) {
    (void)s;
    char *dir = tu_tmpdir("qa");
    char path[512], path2[512];
    snprintf(path, sizeof path, "%s/qa.jsonl", dir);
    write_file(path, "{\"id\":\"a\",\"question\":\"What is Lisp?\",\"answer\":\"A language.\","
                     "\"doc\":\"foldoc:Lisp\",\"split\":\"test\"}\n"
                     "this is not json\n"
                     "\n"
                     "{\"question\":\"Q2?\",\"answer\":[\"x\",\"y\"],\"doc\":[\"d1\",\"d2\"]}\n"
                     "{\"id\":3,\"question\":\"Q3?\"}\n"
                     "{\"id\":4,\"question\":\"Q4?\",\"answer\":null,\"split\":\"test\"}\n"
                     "{\"id\":5,\"question\":\"Q5?\",\"answer\":\"z\",\"split\":\"dev\"}\n");
    rt_qa_set *set;
    assert_int_equal(rt_qa_load(path, &set), RT_OK);
    assert_int_equal(set->n, 3);
    assert_int_equal(set->n_skipped, 3);
    assert_non_null(strstr(set->skipped, "qa.jsonl:2: not JSON"));
    assert_non_null(strstr(set->skipped, "qa.jsonl:5: no \"answer\""));
    assert_non_null(strstr(set->skipped, "qa.jsonl:7: \"split\""));
    assert_string_equal(set->items[0].id, "a");
    assert_string_equal(set->items[0].split, "test");
    assert_string_equal(set->items[1].id, "line4");
    assert_int_equal(set->items[1].n_answers, 2);
    assert_int_equal(set->items[1].n_docs, 2);
    assert_string_equal(set->items[2].id, "4");
    assert_true(set->items[2].unanswerable);
    snprintf(path2, sizeof path2, "%s/qa2.jsonl", dir);
    assert_int_equal(rt_qa_save(set, path2), RT_OK);
    rt_qa_set *again;
    assert_int_equal(rt_qa_load(path2, &again), RT_OK);
    assert_int_equal(again->n, 3);
    assert_int_equal(again->n_skipped, 0);
    assert_string_equal(again->items[1].answers[1], "y");
    assert_true(again->items[2].unanswerable);
    rt_qa_free(again);
    rt_qa_free(set);
    write_file(path, "garbage\n");
    assert_int_equal(rt_qa_load(path, &set), RT_ERR_FORMAT);
    tu_rmtree(dir);
    free(dir);
}

static void test_definition(void **s) {
    (void)s;
    char *t, *d, *c;
    assert_true(rt_qa_definition(
        "*MOD StarMOD\n\n<language> (\"StarMOD\") A {concurrent} language combining the {modules} "
        "of {Modula} and the communications of {Distributed Processes}.\n[ref]\n(1994-10-21)",
        &t, &d, &c));
    assert_string_equal(t, "*MOD StarMOD");
    assert_string_equal(d, "A concurrent language combining the modules of Modula and the "
                           "communications of Distributed Processes.");
    assert_null(c);
    free(t), free(d), free(c);
    assert_true(rt_qa_definition("Lisp\n\n<language> A list processing language, designed by "
                                 "J. McCarthy in 1958. It has many dialects.",
                                 &t, &d, &c));
    assert_string_equal(d, "A list processing language, designed by J. McCarthy in 1958.");
    assert_string_equal(c, "A list processing language");
    free(t), free(d), free(c);
    assert_false(rt_qa_definition("dash\n\n{dash}", &t, &d, &c)); /* a cross-reference only */
    assert_false(rt_qa_definition("no title line", &t, &d, &c));
}

static const char *const docs[][2] = {
    {"d:compiler", "compiler\n\n<programming> A program that translates source code into "
                   "machine code.\n(1999-01-01)"},
    {"d:interpreter", "interpreter\n\n<programming> A program that executes source code "
                      "directly, statement by statement."},
    {"d:linker", "linker\n\n<programming> A program that combines object files into one "
                 "executable file."},
    {"d:kernel", "kernel\n\n<operating system> The essential part of an operating system that "
                 "manages memory and processes."},
    {"d:shell", "shell\n\n<operating system> A command interpreter that reads commands typed "
                "by a user."},
    {"d:xref", "see\n\n{compiler}"},
};

static void test_generate(void **s) {
    (void)s;
    char *dir = tu_tmpdir("qagen");
    char cpath[512], words[512], upd[512];
    snprintf(cpath, sizeof cpath, "%s/coll", dir);
    snprintf(words, sizeof words, "%s/words.txt", dir);
    snprintf(upd, sizeof upd, "%s/update.jsonl", dir);
    write_file(words, "compiler\nzygomorphic\tx\nquixotically\nAbc\nshort\n");
    rt_collection_params cp = rt_collection_default_params();
    rt_collection *c;
    assert_int_equal(rt_collection_open(cpath, &cp, &c), RT_OK);
    rt_ingest_stats st = {0};
    for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
        rt_document d = {.id = docs[i][0], .text = docs[i][1], .len = strlen(docs[i][1])};
        assert_int_equal(rt_collection_ingest_document(c, &d, &st), RT_OK);
    }
    rt_qa_generate_params gp = rt_qa_generate_default_params();
    gp.test_fraction = 0.4; /* 2 of 5 definition documents */
    gp.wordlist_path = words;
    gp.n_unanswerable = 2;
    gp.update_fraction = 0.5;
    gp.update_docs_path = upd;
    gp.seed = 3;
    rt_qa_set *set;
    assert_int_equal(rt_qa_generate(c, &gp, &set), RT_OK);
    size_t n_train = 0, n_test = 0, n_update = 0, n_unans = 0;
    for (size_t i = 0; i < set->n; i++) {
        rt_qa_item *it = &set->items[i];
        if (!strcmp(it->split, "train")) n_train++;
        if (!strcmp(it->split, "test") && !it->unanswerable) {
            n_test++;
            assert_non_null(strstr(it->question, "What is "));
            /* no training question about a test document */
            for (size_t j = 0; j < set->n; j++)
                if (!strcmp(set->items[j].split, "train"))
                    assert_string_not_equal(set->items[j].docs[0], it->docs[0]);
        }
        if (it->unanswerable) {
            n_unans++;
            assert_int_equal(it->n_answers, 0);
            /* "compiler" occurs in the collection and "short"/"Abc" are not eligible */
            assert_true(strstr(it->question, "zygomorphic") ||
                        strstr(it->question, "quixotically"));
        }
        if (!strcmp(it->split, "update")) {
            n_update++;
            assert_non_null(it->old_answer);
            assert_non_null(strstr(it->answers[0], "proprietary"));
        }
    }
    assert_int_equal(n_test, 2);
    assert_int_equal(n_train, 3 * RT_QA_N_PHRASINGS);
    assert_int_equal(n_unans, 2);
    assert_int_equal(n_update, 1);
    char *text;
    size_t len;
    FILE *f = fopen(upd, "r");
    assert_non_null(f);
    char line[2048];
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_non_null(strstr(line, "proprietary"));
    (void)text, (void)len;
    /* evidence checks: every generated question's document exists; a made-up one does not */
    assert_int_equal(rt_qa_check_docs(set, c), RT_OK);
    assert_int_equal(set->n_doc_missing, 0);
    free(set->items[0].docs[0]);
    set->items[0].docs[0] = strdup("d:nowhere");
    assert_int_equal(rt_qa_check_docs(set, c), RT_OK);
    assert_int_equal(set->n_doc_missing, 1);
    assert_true(set->items[0].doc_missing);
    rt_qa_free(set);
    rt_collection_close(c);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_malformed),
        cmocka_unit_test(test_definition),
        cmocka_unit_test(test_generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
