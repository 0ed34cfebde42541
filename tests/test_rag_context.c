/*
 * test_rag_context.c — context assembly for ask on a hand-built collection: heading paths
 * (metadata title, first-line title, Markdown headings), merging of overlapping and adjacent
 * chunks of one document, heading-only chunks extended over their body or dropped, the token
 * budget (sources skipped, the best one cut), numbering by score.
 */
#include "testutil.h"
#include "rag/context.h"
#include "rag/rerank.h"
#include "knowledge/words.h"

#include <stdlib.h>
#include <string.h>

static const char md[] = "# Guide\n\n## Install\n\nRun make to build it. Then run make install.\n\n"
                         "## Usage\n\nCall ragtune ask with a collection.\n\n## Empty\n";
static const char fol[] = "FORTRAN\n\nA programming language designed at IBM.\n\nSecond part.";
static const char meta[] = "Body of the meta document. Another sentence.";
/* one line and a newline, as a .txt file often is: all body, no title line */
static const char one[] = "Kumquats are small citrus fruits eaten whole\n\n";

static char *root;
static rt_collection *coll;

static int setup(void **s) {
    (void)s;
    root = tu_tmpdir("ragctx");
    char path[4096];
    snprintf(path, sizeof path, "%s/c", root);
    rt_collection_params cp = rt_collection_default_params();
    if (rt_collection_open(path, &cp, &coll) != RT_OK) return -1;
    rt_document d[4] = {{"md", "guide.md", md, strlen(md), NULL},
                        {"fol", NULL, fol, strlen(fol), NULL},
                        {"meta", NULL, meta, strlen(meta), "{\"title\":\"Meta Title\"}"},
                        {"one", "one.txt", one, strlen(one), NULL}};
    rt_ingest_stats st = {0};
    for (int i = 0; i < 4; i++)
        if (rt_collection_ingest_document(coll, &d[i], &st) != RT_OK) return -1;
    return 0;
}

static int teardown(void **s) {
    (void)s;
    rt_collection_close(coll);
    tu_rmtree(root);
    free(root);
    return 0;
}

static int count_words(void *user, const char *text, size_t len) {
    return (int)rt_words_count_tokens(user, text, len);
}

static rt_search_result hit(const char *doc, const char *text, const char *from, const char *to,
                            float score) {
    rt_search_result r = {0};
    r.doc_id = (char *)doc;
    r.start = (uint64_t)(strstr(text, from) - text);
    r.end = to ? (uint64_t)(strstr(text, to) - text + strlen(to)) : strlen(text);
    r.score = score;
    return r;
}

static void free_sources(rt_ask_source *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        rt_ask_source_clear(&s[i]);
    free(s);
}

static void test_heading_path(void **s) {
    (void)s;
    rt_stored_document *d;
    char *t;
    assert_int_equal(rt_collection_get_document(coll, "md", &d), RT_OK);
    assert_string_equal(d->path, "guide.md");
    assert_int_equal(d->len, strlen(md));
    assert_int_equal(rt_rag_heading_path(d, (uint64_t)(strstr(md, "Run make") - md), &t), RT_OK);
    assert_string_equal(t, "Guide > Install");
    free(t);
    /* a source that opens with its own heading: the path stops above it */
    assert_int_equal(rt_rag_heading_path(d, (uint64_t)(strstr(md, "## Usage") - md), &t), RT_OK);
    assert_string_equal(t, "Guide");
    free(t);
    rt_stored_document_free(d);
    assert_int_equal(rt_collection_get_document(coll, "fol", &d), RT_OK);
    assert_int_equal(rt_rag_heading_path(d, 20, &t), RT_OK);
    assert_string_equal(t, "FORTRAN");
    free(t);
    rt_stored_document_free(d);
    assert_int_equal(rt_collection_get_document(coll, "meta", &d), RT_OK);
    assert_int_equal(rt_rag_heading_path(d, 5, &t), RT_OK);
    assert_string_equal(t, "Meta Title");
    free(t);
    rt_stored_document_free(d);
    assert_int_equal(rt_collection_get_document(coll, "nope", &d), RT_ERR_NOT_FOUND);
}

static void test_merge_and_order(void **s) {
    (void)s;
    rt_search_result h[5] = {
        hit("md", md, "Run make", "build it.", 2.0f),       /* adjacent to the next */
        hit("fol", fol, "A programming", "designed", 5.0f), /* best: source [1] */
        hit("md", md, "Then run", "install.", 3.0f),        /* adjacent: merged */
        hit("fol", fol, "language designed", "IBM.", 1.0f), /* overlaps fol's first */
        hit("meta", meta, "Body", "document.", 4.0f),
    };
    rt_ask_source *src;
    size_t n;
    assert_int_equal(rt_rag_context_assemble(coll, h, NULL, 5, 1000, count_words, NULL, &src, &n),
                     RT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(src[0].number, 1);
    assert_string_equal(src[0].doc_id, "fol");
    assert_string_equal(src[0].title, "FORTRAN");
    assert_string_equal(src[0].text, "A programming language designed at IBM.");
    assert_true(src[0].score == 5.0f);
    assert_string_equal(src[1].doc_id, "meta");
    assert_string_equal(src[1].title, "Meta Title");
    assert_string_equal(src[2].doc_id, "md");
    assert_string_equal(src[2].title, "Guide > Install");
    assert_string_equal(src[2].text, "Run make to build it. Then run make install.");
    assert_int_equal(src[2].start, strstr(md, "Run make") - md);
    assert_int_equal(src[2].end, strstr(md, "install.") - md + 8);
    assert_true(src[2].score == 3.0f);
    assert_string_equal(src[2].path, "guide.md");
    free_sources(src, n);
}

static void test_heading_only(void **s) {
    (void)s;
    /* "## Usage" alone is extended over its body; "## Empty" has none and is dropped; the
     * FOLDOC title line alone is extended over the paragraph after it. */
    rt_search_result h[3] = {
        hit("md", md, "## Usage", "## Usage", 3.0f),
        hit("md", md, "## Empty", NULL, 2.0f),
        hit("fol", fol, "FORTRAN", "FORTRAN", 1.0f),
    };
    rt_ask_source *src;
    size_t n;
    assert_int_equal(rt_rag_context_assemble(coll, h, NULL, 3, 1000, count_words, NULL, &src, &n),
                     RT_OK);
    assert_int_equal(n, 2);
    /* the heading moves into the title: the source is the body */
    assert_string_equal(src[0].text, "Call ragtune ask with a collection.");
    assert_string_equal(src[0].title, "Guide > Usage");
    assert_int_equal(src[0].start, strstr(md, "Call") - md);
    assert_string_equal(src[1].doc_id, "fol");
    assert_string_equal(src[1].title, "FORTRAN");
    assert_true(strstr(src[1].text, "A programming language designed at IBM.") == src[1].text);
    free_sources(src, n);
    /* a one-line document is a source (its line is body, not a title without a body) */
    rt_search_result o = hit("one", one, "Kumquats", "whole", 1.0f);
    assert_int_equal(rt_rag_context_assemble(coll, &o, NULL, 1, 1000, count_words, NULL, &src, &n),
                     RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(src[0].text, "Kumquats are small citrus fruits eaten whole");
    free_sources(src, n);
}

static void test_budget(void **s) {
    (void)s;
    rt_search_result h[2] = {
        hit("md", md, "Run make", "install.", 3.0f), /* 11 words + title 2 + overhead */
        hit("meta", meta, "Body", "sentence.", 2.0f),
    };
    int title = count_words(NULL, "Guide > Install", 15) + RT_CONTEXT_SOURCE_OVERHEAD;
    int body = count_words(NULL, "Run make to build it. Then run make install.", 44);
    rt_ask_source *src;
    size_t n;
    /* exactly room for the first: the second is skipped */
    assert_int_equal(
        rt_rag_context_assemble(coll, h, NULL, 2, title + body, count_words, NULL, &src, &n),
        RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(src[0].doc_id, "md");
    free_sources(src, n);
    /* less than the first needs: it is cut at a word end to fit */
    assert_int_equal(
        rt_rag_context_assemble(coll, h, NULL, 2, title + 5, count_words, NULL, &src, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(src[0].text, "Run make to build");
    assert_true(count_words(NULL, src[0].text, strlen(src[0].text)) <= 5);
    assert_int_equal(src[0].end - src[0].start, strlen("Run make to build"));
    free_sources(src, n);
    /* no room at all: no source */
    assert_int_equal(rt_rag_context_assemble(coll, h, NULL, 2, 3, count_words, NULL, &src, &n),
                     RT_OK);
    assert_int_equal(n, 0);
    assert_null(src);
}

static void test_rerank_order(void **s) {
    (void)s;
    /* reordering keeps items and scores together, stable for ties */
    rt_search_result items[3] = {{.doc_id = "a"}, {.doc_id = "b"}, {.doc_id = "c"}};
    rt_search_results res = {3, items};
    float sc[3] = {0.5f, 2.0f, 0.5f};
    assert_int_equal(rt_rag_order_by_scores(&res, sc), RT_OK);
    assert_string_equal(items[0].doc_id, "b");
    assert_string_equal(items[1].doc_id, "a");
    assert_string_equal(items[2].doc_id, "c");
    assert_true(sc[0] == 2.0f && sc[1] == 0.5f && sc[2] == 0.5f);
    /* with rerank scores the sources follow them, not the retrieval scores */
    rt_search_result h[2] = {
        hit("md", md, "Run make", "install.", 3.0f),
        hit("meta", meta, "Body", "sentence.", 4.0f),
    };
    float rr[2] = {1.5f, -2.0f};
    rt_ask_source *src;
    size_t n;
    assert_int_equal(rt_rag_context_assemble(coll, h, rr, 2, 1000, count_words, NULL, &src, &n),
                     RT_OK);
    assert_int_equal(n, 2);
    assert_string_equal(src[0].doc_id, "md");
    assert_true(src[0].rerank_score == 1.5f && src[0].score == 3.0f);
    assert_string_equal(src[1].doc_id, "meta");
    assert_true(src[1].rerank_score == -2.0f);
    free_sources(src, n);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heading_path),
        cmocka_unit_test(test_merge_and_order),
        cmocka_unit_test(test_heading_only),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_rerank_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
