/*
 * test_title_rebuild.c — the rule "a chunk's title is its document's metadata.title when that is
 * a string" is written twice: in C at ingest (ingest.c, jansson) and in SQL when a collection
 * rebuilds its BM25 index from the database (collection.c's CHUNK_ROW_SQL, SQLite's JSON
 * functions). This test ingests documents whose metadata covers the cases (a string title, a
 * number, an empty string, an object, an escaped string, a missing key, no metadata), searches,
 * then deletes the index file so that reopening rebuilds it from the database, and requires the
 * same results: same chunks in the same order and bit-equal scores.
 */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *queries[] = {
    "What is a kumquat?", "What is a loquat?",     "tell me about the quince",
    "What is 42?",        "what is caf\xc3\xa9 au lait?", "nested title fruit",
    "fruit",              "orange citrus",
};

typedef struct snapshot {
    size_t n[8];
    int64_t chunk[8][10];
    float score[8][10];
    int kumquat_first; /* "What is a kumquat?" ranks the document titled kumquat first */
} snapshot;

static void take(rt_collection *c, snapshot *s) {
    rt_search_params sp = rt_search_default_params();
    sp.k = 10;
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        rt_search_results *r = NULL;
        assert_int_equal(rt_collection_search(c, queries[q], &sp, &r), RT_OK);
        s->n[q] = r->n;
        if (q == 0) s->kumquat_first = r->n && !strcmp(r->items[0].doc_id, "a");
        for (size_t i = 0; i < r->n && i < 10; i++) {
            s->chunk[q][i] = r->items[i].chunk_id;
            s->score[q][i] = r->items[i].score;
        }
        rt_search_results_free(r);
    }
}

static void test_rebuild_keeps_titles(void **state) {
    (void)state;
    char *root = tu_tmpdir("titlerb");
    char path[4096], idx[4200];
    snprintf(path, sizeof path, "%s/c", root);
    snprintf(idx, sizeof idx, "%s/bm25.idx", path);
    rt_collection_params cp = rt_collection_default_params();
    rt_collection *c = NULL;
    assert_int_equal(rt_collection_open(path, &cp, &c), RT_OK);
    rt_document d[] = {
        {"a", NULL, "A small orange citrus fruit eaten whole.", 0, "{\"title\":\"kumquat\"}"},
        {"b", NULL, "A yellow fruit of an evergreen tree.", 0, "{\"title\":\"loquat\",\"n\":1}"},
        {"c", NULL, "A hard fruit that is cooked; the quince.", 0, "{\"title\":42}"},
        {"d", NULL, "Forty-two is a number; fruit of thought.", 0, "{\"title\":\"\"}"},
        {"e", NULL, "Coffee with hot milk, a drink, not a fruit.", 0,
         "{\"title\":\"caf\\u00e9 au lait\"}"},
        {"f", NULL, "An object title is no title: fruit salad.", 0,
         "{\"title\":{\"text\":\"nested title fruit\"}}"},
        {"g", NULL, "No title key here, kumquat jam and fruit.", 0, "{\"source\":\"x\"}"},
        {"h", NULL, "No metadata at all, a loquat tree and its fruit.", 0, NULL},
    };
    rt_ingest_stats st = {0};
    for (size_t i = 0; i < sizeof d / sizeof *d; i++) {
        d[i].len = strlen(d[i].text);
        assert_int_equal(rt_collection_ingest_document(c, &d[i], &st), RT_OK);
    }
    /* duplicate keys would make the two rules disagree (jansson keeps the last, SQLite the
     * first): they are refused, with the document named */
    rt_document dup = {"dup", NULL, "Which title wins?", 17, "{\"title\":\"a\",\"title\":\"b\"}"};
    assert_int_equal(rt_collection_ingest_document(c, &dup, &st), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "dup"));
    assert_non_null(strstr(rt_last_error(), "duplicate"));
    snapshot before, after;
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    take(c, &before);
    /* the titles matter: both kumquat documents match, the titled one ranks first */
    assert_true(before.n[0] >= 2);
    assert_true(before.kumquat_first);
    rt_collection_close(c);
    assert_int_equal(unlink(idx), 0);
    assert_int_equal(rt_collection_open(path, &cp, &c), RT_OK);
    take(c, &after);
    assert_true(after.kumquat_first);
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        assert_int_equal(before.n[q], after.n[q]);
        for (size_t i = 0; i < before.n[q] && i < 10; i++) {
            assert_int_equal(before.chunk[q][i], after.chunk[q][i]);
            assert_memory_equal(&before.score[q][i], &after.score[q][i], sizeof(float));
        }
    }
    rt_collection_close(c);
    tu_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rebuild_keeps_titles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
