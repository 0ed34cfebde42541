/*
 * test_cloze.c — cloze questions (src/eval/cloze.c): the span chosen in hand-made sentences
 * (an entity over a number over a noun phrase; a span that occurs twice is not used), a whole
 * hand-made document (title prefix, FOLDOC tag and date line dropped, the per-document limit),
 * and `rt_qa_generate` with cloze questions only: each with its evidence document and split.
 */
#include "testutil.h"
#include "eval/cloze.h"
#include "eval/qa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void expect(const char *sentence, const char *question, const char *answer) {
    char *q = NULL, *a = NULL;
    bool ok = rt_cloze_sentence(sentence, strlen(sentence), &q, &a);
    if (!question) {
        assert_false(ok);
        return;
    }
    assert_true(ok);
    assert_string_equal(q, question);
    assert_string_equal(a, answer);
    free(q);
    free(a);
}

static void test_sentence(void **s) {
    (void)s;
    /* an entity wins over a number */
    expect("The transistor was invented by William Shockley in 1947.",
           "The transistor was invented by ___ in 1947.", "William Shockley");
    /* a number when there is no entity (an opening capital alone is not one) */
    expect("A byte holds 8 bits of data in most machines.",
           "A byte holds ___ bits of data in most machines.", "8");
    /* the longest noun phrase after a determiner or preposition */
    expect("A program that translates source code into machine code.",
           "A program that translates source code into ___.", "machine code");
    /* a trailing participle is not part of the phrase */
    expect("A small value computed from data to detect errors in it.",
           "A ___ computed from data to detect errors in it.", "small value");
    /* an opening entity of two words counts; "The" is not part of it */
    expect("The Unix Kernel manages memory for every process.",
           "The ___ manages memory for every process.", "Unix Kernel");
    /* too short, and a sentence whose only entity occurs twice */
    expect("It works.", NULL, NULL);
    expect("He saw Paris, then Paris saw him again today.", NULL, NULL);
}

typedef struct got {
    char q[8][256], a[8][64];
    int n;
} got;

static int collect(void *user, const char *question, const char *answer) {
    got *g = user;
    snprintf(g->q[g->n], sizeof g->q[0], "%s", question);
    snprintf(g->a[g->n], sizeof g->a[0], "%s", answer);
    g->n++;
    return 0;
}

static const char *transistor =
    "transistor\n\n<electronics> A semiconductor device that amplifies or switches electronic "
    "signals. The first {transistor} was built at Bell Labs in 1947.\n\n(2001-05-02)\n";

static void test_document(void **s) {
    (void)s;
    got g = {0};
    assert_int_equal(rt_cloze_document(transistor, 5, collect, &g), RT_OK);
    assert_int_equal(g.n, 2);
    /* the first sentence does not name the title: it is prefixed */
    assert_string_equal(g.q[0], "transistor: A ___ that amplifies or switches electronic signals.");
    assert_string_equal(g.a[0], "semiconductor device");
    assert_string_equal(g.q[1], "The first transistor was built at ___ in 1947.");
    assert_string_equal(g.a[1], "Bell Labs");
    got one = {0};
    assert_int_equal(rt_cloze_document(transistor, 1, collect, &one), RT_OK);
    assert_int_equal(one.n, 1);
    /* a Markdown document: the heading is the title */
    got md = {0};
    assert_int_equal(rt_cloze_document("# Paging\n\nThe kernel splits memory into fixed-size "
                                       "pages of 4096 bytes.\n",
                                       5, collect, &md),
                     RT_OK);
    assert_int_equal(md.n, 1);
    assert_string_equal(md.q[0],
                        "Paging: The kernel splits memory into fixed-size pages of ___ bytes.");
    assert_string_equal(md.a[0], "4096");
}

static void test_generate_cloze(void **s) {
    (void)s;
    char *dir = tu_tmpdir("cloze");
    char cpath[512];
    snprintf(cpath, sizeof cpath, "%s/coll", dir);
    rt_collection_params cp = rt_collection_default_params();
    rt_collection *c;
    assert_int_equal(rt_collection_open(cpath, &cp, &c), RT_OK);
    rt_ingest_stats st = {0};
    const char *ids[] = {"d:transistor", "d:paging"};
    const char *texts[] = {transistor, "# Paging\n\nThe kernel splits memory into fixed-size "
                                       "pages of 4096 bytes.\n"};
    for (int i = 0; i < 2; i++) {
        rt_document d = {.id = ids[i], .text = texts[i], .len = strlen(texts[i])};
        assert_int_equal(rt_collection_ingest_document(c, &d, &st), RT_OK);
    }
    rt_qa_generate_params gp = rt_qa_generate_default_params();
    gp.templates = false;
    gp.cloze_per_doc = 3;
    gp.n_unanswerable = 0;
    rt_qa_set *set;
    assert_int_equal(rt_qa_generate(c, &gp, &set), RT_OK);
    assert_int_equal(set->n, 3);
    int found = 0;
    for (size_t i = 0; i < set->n; i++) {
        rt_qa_item *it = &set->items[i];
        assert_string_equal(it->kind, "cloze");
        assert_int_equal(it->n_docs, 1);
        assert_true(!strcmp(it->split, "train") || !strcmp(it->split, "test"));
        if (!strcmp(it->answers[0], "Bell Labs")) {
            found++;
            assert_string_equal(it->docs[0], "d:transistor");
            assert_string_equal(it->question, "The first transistor was built at ___ in 1947.");
        }
        if (!strcmp(it->answers[0], "4096")) {
            found++;
            assert_string_equal(it->docs[0], "d:paging");
        }
    }
    assert_int_equal(found, 2);
    /* one document's questions are all in one split */
    assert_string_equal(set->items[0].split, set->items[1].split);
    /* the kind survives a save and load */
    char qpath[512];
    snprintf(qpath, sizeof qpath, "%s/qa.jsonl", dir);
    assert_int_equal(rt_qa_save(set, qpath), RT_OK);
    rt_qa_set *back;
    assert_int_equal(rt_qa_load(qpath, &back), RT_OK);
    assert_string_equal(back->items[2].kind, "cloze");
    rt_qa_free(back);
    rt_qa_free(set);
    /* nothing asked for */
    gp.cloze_per_doc = 0;
    assert_int_equal(rt_qa_generate(c, &gp, &set), RT_ERR_INVALID);
    rt_collection_close(c);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_document),
        cmocka_unit_test(test_generate_cloze),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
