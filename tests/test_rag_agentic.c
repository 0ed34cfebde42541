/*
 * test_rag_agentic.c — the agentic chunker: parsing a model's "N: title" reply, the chunker
 * with a hand-made proposer (sections, long sections split further, titles per chunk, fallback
 * to recursive chunking on an unusable proposal), titles stored with the chunks and shown in
 * ask's source titles.
 */
#include "testutil.h"
#include "core/error.h"
#include "rag/agentic.h"
#include "rag/context.h"
#include "knowledge/chunker.h"
#include "knowledge/words.h"

#include <stdlib.h>
#include <string.h>

static const char doc[] = "Paging splits memory. Pages map to frames. "
                          "Disks store blocks. A block has 512 bytes.";

static void test_parse(void **s) {
    (void)s;
    rt_span sent[4] = {{0, 21}, {22, 43}, {44, 63}, {64, 88}};
    rt_chunk_proposal *p;
    size_t n;
    assert_int_equal(
        rt_rag_agentic_parse("Sections:\n1: Memory\n junk\n3) Disks  \n", sent, 4, &p, &n), RT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(p[0].start, 0);
    assert_string_equal(p[0].title, "Memory");
    assert_int_equal(p[1].start, 44);
    assert_string_equal(p[1].title, "Disks");
    for (size_t i = 0; i < n; i++)
        free(p[i].title);
    free(p);
    /* the first section starts at 0 whatever its number */
    assert_int_equal(rt_rag_agentic_parse("2: Late\n", sent, 4, &p, &n), RT_OK);
    assert_int_equal(p[0].start, 0);
    free(p[0].title);
    free(p);
    assert_int_equal(rt_rag_agentic_parse("1: A\n1: B\n", sent, 4, &p, &n), RT_ERR_FORMAT);
    assert_int_equal(rt_rag_agentic_parse("1: A\n9: B\n", sent, 4, &p, &n), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "line 2"));
    assert_int_equal(rt_rag_agentic_parse("no numbers here", sent, 4, &p, &n), RT_ERR_FORMAT);
    assert_int_equal(rt_rag_agentic_parse("", sent, 4, &p, &n), RT_ERR_FORMAT);
}

/* A proposer that splits at "Disks" (titles Memory, Disks), or fails when user is non-NULL. */
static int propose(void *user, const char *text, size_t len, rt_chunk_proposal **out, size_t *n) {
    (void)len;
    if (user) return rt_error(RT_ERR_FORMAT, "test: unusable");
    *out = calloc(2, sizeof **out);
    (*out)[0] = (rt_chunk_proposal){0, strdup("Memory")};
    (*out)[1] = (rt_chunk_proposal){(size_t)(strstr(text, "Disks") - text), strdup("Disks")};
    *n = 2;
    return RT_OK;
}

static void free_titles(char **t, size_t n) {
    for (size_t i = 0; t && i < n; i++)
        free(t[i]);
    free(t);
}

static void test_chunker(void **s) {
    (void)s;
    rt_chunker_params p = rt_chunker_default_params();
    p.kind = RT_CHUNKER_AGENTIC;
    p.propose = propose;
    rt_span *sp;
    char **titles;
    size_t n;
    assert_int_equal(rt_chunk_text_titled(&p, NULL, doc, strlen(doc), &sp, &titles, &n), RT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(sp[0].start, 0);
    assert_int_equal(sp[0].end, strstr(doc, " Disks") - doc);
    assert_int_equal(sp[1].start, strstr(doc, "Disks") - doc);
    assert_int_equal(sp[1].end, strlen(doc));
    assert_string_equal(titles[0], "Memory");
    assert_string_equal(titles[1], "Disks");
    free(sp);
    free_titles(titles, n);
    /* a section longer than chunk_tokens is split; every piece keeps its title */
    p.chunk_tokens = 5;
    assert_int_equal(rt_chunk_text_titled(&p, NULL, doc, strlen(doc), &sp, &titles, &n), RT_OK);
    assert_true(n >= 4);
    size_t disks = (size_t)(strstr(doc, "Disks") - doc);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(titles[i], sp[i].start < disks ? "Memory" : "Disks");
        assert_true(sp[i].end <= disks || sp[i].start >= disks);
    }
    free(sp);
    free_titles(titles, n);
    /* an unusable proposal: recursive chunking, no titles */
    p.chunk_tokens = 256;
    p.propose_user = (void *)1;
    assert_int_equal(rt_chunk_text_titled(&p, NULL, doc, strlen(doc), &sp, &titles, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_null(titles);
    free(sp);
    p.propose = NULL; /* no proposer at all */
    assert_int_equal(rt_chunk_text_titled(&p, NULL, doc, strlen(doc), &sp, &titles, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_null(titles);
    free(sp);
}

static int count_words(void *user, const char *text, size_t len) {
    return (int)rt_words_count_tokens(user, text, len);
}

static void test_titles_stored(void **s) {
    (void)s;
    char *root = tu_tmpdir("ragagentic");
    char path[4096];
    snprintf(path, sizeof path, "%s/c", root);
    rt_collection_params cp = rt_collection_default_params();
    cp.chunker.kind = RT_CHUNKER_AGENTIC;
    cp.chunker.propose = propose;
    rt_collection *c;
    assert_int_equal(rt_collection_open(path, &cp, &c), RT_OK);
    rt_document d = {"d", NULL, doc, strlen(doc), NULL};
    rt_ingest_stats st = {0};
    assert_int_equal(rt_collection_ingest_document(c, &d, &st), RT_OK);
    assert_int_equal(st.chunks_added, 2);
    rt_search_params sp = rt_search_default_params();
    rt_search_results *r;
    assert_int_equal(rt_collection_search(c, "blocks bytes", &sp, &r), RT_OK);
    assert_true(r->n >= 1);
    char *t;
    assert_int_equal(rt_collection_chunk_title(c, r->items[0].chunk_id, &t), RT_OK);
    assert_string_equal(t, "Disks");
    free(t);
    rt_ask_source *src;
    size_t n;
    assert_int_equal(
        rt_rag_context_assemble(c, r->items, NULL, 1, 1000, count_words, NULL, &src, &n), RT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(src[0].title, "Disks");
    rt_ask_source_clear(&src[0]);
    free(src);
    rt_search_results_free(r);
    assert_int_equal(rt_collection_chunk_title(c, 999999, &t), RT_OK);
    assert_null(t);
    rt_collection_close(c);
    tu_rmtree(root);
    free(root);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_chunker),
        cmocka_unit_test(test_titles_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
