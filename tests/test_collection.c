/*
 * test_collection.c — a collection end to end: ingest of txt/md/html/jsonl files and
 * directories, unchanged/replaced/duplicate documents, byte ranges that slice the stored text,
 * deletes by id and by directory, metadata filters (equality and ranges) applied during BM25
 * and dense search, hybrid fusion, the embedder check, indexes replayed after a reopen with
 * stale or missing index files, and an ingest cancelled by its should_cancel callback.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/collection.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_file(const char *dir, const char *name, const char *text) {
    char *p = rt_path_join(dir, name);
    assert_int_equal(rt_file_write_atomic(p, text, strlen(text)), RT_OK);
    free(p);
}

static rt_collection *open_coll(const char *dir, const rt_embedder *e) {
    rt_collection_params cp = rt_collection_default_params();
    cp.embedder = e;
    cp.chunker.chunk_tokens = 40;
    rt_collection *c;
    int st = rt_collection_open(dir, &cp, &c);
    if (st) print_error("%s\n", rt_last_error());
    assert_int_equal(st, RT_OK);
    return c;
}

static rt_search_results *search(rt_collection *c, const char *q, rt_search_mode mode,
                                 const rt_filter *f, int nf) {
    rt_search_params sp = rt_search_default_params();
    sp.mode = mode;
    sp.filters = f;
    sp.n_filters = nf;
    rt_search_results *r;
    int st = rt_collection_search(c, q, &sp, &r);
    if (st) print_error("%s\n", rt_last_error());
    assert_int_equal(st, RT_OK);
    return r;
}

static void test_ingest_search(void **s) {
    (void)s;
    char *root = tu_tmpdir("coll");
    char *docs = rt_path_join(root, "docs"), *cdir = rt_path_join(root, "c");
    assert_int_equal(rt_mkdir_p(docs), RT_OK);
    char *sub = rt_path_join(docs, "sub");
    assert_int_equal(rt_mkdir_p(sub), RT_OK);
    write_file(docs, "a.txt", "Paging moves memory pages between RAM and disk.");
    write_file(docs, "b.md",
               "# Compilers\n\nA compiler translates source code.\n\n"
               "## Parsers\n\nA parser builds a syntax tree.");
    write_file(docs, "c.html",
               "<html><head><style>x{}</style></head><body><h1>Kernel</h1>"
               "<p>The kernel schedules &amp; manages processes.</p>"
               "<script>var paging=1;</script></body></html>");
    write_file(sub, "d.jsonl",
               "{\"id\":\"q1\",\"text\":\"Quicksort sorts in place.\",\"metadata\":"
               "{\"year\":1961,\"lang\":\"en\"}}\n\n"
               "{\"id\":\"q2\",\"text\":\"Mergesort is stable.\",\"metadata\":{\"year\":1945,"
               "\"lang\":\"en\"}}\n"
               "{\"text\": 5}\n"
               "{\"id\":\"q3\",\"text\":\"Heapsort uses a heap.\",\"metadata\":{\"year\":1964,"
               "\"lang\":\"de\"}}\n");
    write_file(sub, "skip.bin", "binary");
    rt_embedder e = {"toy-hash-16", 16, tu_toy_embed, NULL};
    rt_collection *c = open_coll(cdir, &e);
    rt_ingest_stats st = {0};
    assert_int_equal(rt_collection_ingest_path(c, docs, NULL, &st), RT_OK);
    assert_int_equal(st.docs_added, 6);
    assert_int_equal(st.docs_failed, 1); /* the {"text": 5} line */
    /* BM25: stemming finds "paging" from "pages"; the script text was stripped. */
    rt_search_results *r = search(c, "page", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 1);
    assert_true(strstr(r->items[0].doc_id, "a.txt") != NULL);
    assert_string_equal(r->items[0].text, "Paging moves memory pages between RAM and disk.");
    rt_search_results_free(r);
    r = search(c, "kernel processes", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 1);
    assert_non_null(strstr(r->items[0].text, "schedules & manages"));
    rt_search_results_free(r);
    /* Byte ranges slice the stored text. */
    r = search(c, "parser syntax tree", RT_SEARCH_BM25, NULL, 0);
    assert_true(r->n >= 1);
    assert_int_equal(r->items[0].end - r->items[0].start, strlen(r->items[0].text));
    rt_search_results_free(r);
    /* Filters: range and equality, in BM25 and dense. */
    rt_filter f[2] = {{"year", RT_FILTER_GE, true, 1960, NULL},
                      {"lang", RT_FILTER_EQ, false, 0, "en"}};
    r = search(c, "sort sorts stable heap", RT_SEARCH_BM25, f, 2);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->items[0].doc_id, "q1");
    rt_search_results_free(r);
    r = search(c, "sort sorts stable heap", RT_SEARCH_DENSE, f, 1);
    assert_int_equal(r->n, 2); /* q1 and q3 */
    for (size_t i = 0; i < r->n; i++)
        assert_true(strcmp(r->items[i].doc_id, "q2") != 0);
    rt_search_results_free(r);
    r = search(c, "mergesort stable", RT_SEARCH_HYBRID, NULL, 0);
    assert_true(r->n >= 1);
    assert_string_equal(r->items[0].doc_id, "q2");
    assert_true(r->items[0].bm25_score > 0);
    rt_search_results_free(r);
    /* Unchanged, replaced, duplicate. */
    memset(&st, 0, sizeof st);
    assert_int_equal(rt_collection_ingest_path(c, docs, NULL, &st), RT_OK);
    assert_int_equal(st.docs_unchanged, 6);
    write_file(docs, "a.txt", "Segmentation divides memory into segments.");
    rt_document dup = {"copy", NULL, "Mergesort is stable.", 20, "{\"lang\":\"en\",\"year\":1945}"};
    memset(&st, 0, sizeof st);
    assert_int_equal(rt_collection_ingest_path(c, docs, NULL, &st), RT_OK);
    assert_int_equal(st.docs_replaced, 1);
    assert_int_equal(rt_collection_ingest_document(c, &dup, &st), RT_OK);
    assert_int_equal(st.docs_duplicate, 1);
    r = search(c, "paging", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 0);
    rt_search_results_free(r);
    /* Delete by id and by directory. */
    uint64_t nd;
    assert_int_equal(rt_collection_delete(c, "q1", &nd), RT_OK);
    assert_int_equal(nd, 1);
    assert_int_equal(rt_collection_delete(c, "nope", &nd), RT_ERR_NOT_FOUND);
    rt_collection_stats cs;
    assert_int_equal(rt_collection_stats_get(c, &cs), RT_OK);
    assert_int_equal(cs.documents, 5);
    assert_int_equal(cs.dim, 16);
    assert_int_equal(rt_collection_close(c), RT_OK);
    /* Reopened with the saved vector index mapped and copied into memory (resident): the same
     * dense results. */
    rt_search_results *mapped[2];
    for (int resident = 0; resident < 2; resident++) {
        rt_collection_params rp = rt_collection_default_params();
        rp.embedder = &e;
        rp.resident = resident;
        assert_int_equal(rt_collection_open(cdir, &rp, &c), RT_OK);
        mapped[resident] = search(c, "sort sorts stable heap", RT_SEARCH_DENSE, NULL, 0);
        assert_int_equal(rt_collection_close(c), RT_OK);
    }
    assert_true(mapped[0]->n >= 2);
    assert_int_equal(mapped[0]->n, mapped[1]->n);
    for (size_t i = 0; i < mapped[0]->n; i++) {
        assert_string_equal(mapped[0]->items[i].doc_id, mapped[1]->items[i].doc_id);
        assert_true(mapped[0]->items[i].score == mapped[1]->items[i].score);
    }
    rt_search_results_free(mapped[0]);
    rt_search_results_free(mapped[1]);
    /* Reopen with another embedder: refused. */
    rt_embedder other = {"other", 16, tu_toy_embed, NULL};
    rt_collection_params cp = rt_collection_default_params();
    cp.embedder = &other;
    assert_int_equal(rt_collection_open(cdir, &cp, &c), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "toy-hash-16"));
    /* Reopen with the index files removed: rebuilt from the database. */
    char *bp = rt_path_join(cdir, "bm25.idx"), *hp = rt_path_join(cdir, "hnsw.idx");
    unlink(bp);
    write_file(cdir, "hnsw.idx", "garbage");
    c = open_coll(cdir, &e);
    r = search(c, "heapsort", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->items[0].doc_id, "q3");
    rt_search_results_free(r);
    r = search(c, "heapsort heap", RT_SEARCH_DENSE, NULL, 0);
    assert_string_equal(r->items[0].doc_id, "q3");
    rt_search_results_free(r);
    assert_int_equal(rt_collection_delete(c, sub, &nd), RT_OK);
    assert_int_equal(nd, 2); /* q2, q3 (q1 already gone) */
    assert_int_equal(rt_collection_close(c), RT_OK);
    c = open_coll(cdir, &e);
    r = search(c, "heapsort mergesort", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 0);
    rt_search_results_free(r);
    rt_collection_close(c);
    free(bp);
    free(hp);
    free(sub);
    free(docs);
    free(cdir);
    tu_rmtree(root);
    free(root);
}

static void test_bm25_only_and_stream(void **s) {
    (void)s;
    char *root = tu_tmpdir("coll2");
    rt_collection *c = open_coll(root, NULL);
    FILE *fp = tmpfile();
    fputs("{\"text\":\"alpha beta\"}\n{\"id\":7,\"text\":\"gamma delta\"}\n", fp);
    rewind(fp);
    rt_ingest_stats st = {0};
    assert_int_equal(rt_collection_ingest_stream(c, fp, "jsonl", "in", NULL, &st), RT_OK);
    fclose(fp);
    assert_int_equal(st.docs_added, 2);
    rt_search_results *r = search(c, "gamma", RT_SEARCH_BM25, NULL, 0);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->items[0].doc_id, "7");
    rt_search_results_free(r);
    rt_search_params sp = rt_search_default_params();
    sp.mode = RT_SEARCH_DENSE;
    assert_int_equal(rt_collection_search(c, "gamma", &sp, &r), RT_ERR_INVALID);
    rt_collection_close(c);
    tu_rmtree(root);
    free(root);
}

/* Index files older than the database (as a killed writer leaves them) are brought up to date
 * from the change log: adds, replacements and deletes made after the files were saved. */
static void test_stale_index_replay(void **s) {
    (void)s;
    char *root = tu_tmpdir("coll3");
    rt_embedder e = {"toy-hash-16", 16, tu_toy_embed, NULL};
    rt_collection *c = open_coll(root, &e);
    rt_document d1 = {"a", NULL, "apples grow on trees", 20, NULL};
    rt_document d2 = {"b", NULL, "bananas are yellow", 18, NULL};
    assert_int_equal(rt_collection_ingest_document(c, &d1, NULL), RT_OK);
    assert_int_equal(rt_collection_ingest_document(c, &d2, NULL), RT_OK);
    assert_int_equal(rt_collection_close(c), RT_OK);
    char *bp = rt_path_join(root, "bm25.idx"), *hp = rt_path_join(root, "hnsw.idx");
    tu_system("cp '%s' '%s.old' && cp '%s' '%s.old'", bp, bp, hp, hp);
    c = open_coll(root, &e);
    rt_document d3 = {"c", NULL, "cherries are red", 16, NULL};
    rt_document d1b = {"a", NULL, "apricots are orange", 19, NULL};
    assert_int_equal(rt_collection_ingest_document(c, &d3, NULL), RT_OK);
    assert_int_equal(rt_collection_ingest_document(c, &d1b, NULL), RT_OK);
    assert_int_equal(rt_collection_delete(c, "b", NULL), RT_OK);
    assert_int_equal(rt_collection_close(c), RT_OK);
    /* Put the stale files back. */
    tu_system("cp '%s.old' '%s' && cp '%s.old' '%s'", bp, bp, hp, hp);
    c = open_coll(root, &e);
    const char *q[] = {"cherries", "apricots", "apples", "bananas"};
    size_t want[] = {1, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        rt_search_results *r = search(c, q[i], RT_SEARCH_BM25, NULL, 0);
        assert_int_equal(r->n, want[i]);
        rt_search_results_free(r);
    }
    rt_search_results *r = search(c, "cherries are red", RT_SEARCH_DENSE, NULL, 0);
    assert_int_equal(r->n, 2); /* a (new version) and c; b is gone */
    assert_string_equal(r->items[0].doc_id, "c");
    rt_search_results_free(r);
    rt_collection_stats cs;
    assert_int_equal(rt_collection_stats_get(c, &cs), RT_OK);
    assert_int_equal(cs.vectors, 2);
    /* Weighted fusion and MMR through the API; a query vector instead of the embedder. */
    rt_search_params sp = rt_search_default_params();
    sp.mode = RT_SEARCH_HYBRID;
    sp.fusion = RT_FUSION_WEIGHTED;
    sp.alpha = 0.0f; /* BM25 only: the cherries document has the sole match */
    sp.mmr = true;
    sp.k = 1;
    float qv[16];
    const char *qt = "cherries are red";
    size_t ql = strlen(qt);
    tu_toy_embed(NULL, &qt, &ql, 1, qv);
    sp.query_vector = qv;
    assert_int_equal(rt_collection_search(c, "cherries", &sp, &r), RT_OK);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->items[0].doc_id, "c");
    assert_true(r->items[0].dense_score > 0.99f); /* same text as the query vector */
    rt_search_results_free(r);
    rt_collection_close(c);
    free(bp);
    free(hp);
    tu_rmtree(root);
    free(root);
}

/* The per-call callbacks of an ingest: should_cancel is polled before each document and stops
 * the walk after k of them; progress counts documents and never goes back. */
typedef struct ingest_watch {
    int polls, cancel_at; /* should_cancel returns true on poll number cancel_at + 1 */
    uint64_t done[64];
    int n_done;
    bool final;
} ingest_watch;

static bool watch_cancel(void *user) {
    ingest_watch *w = user;
    return w->polls++ >= w->cancel_at;
}

static void watch_progress(const rt_progress_info *info, void *user) {
    ingest_watch *w = user;
    assert_string_equal(info->task, "ingest");
    assert_string_equal(info->unit, "docs");
    assert_false(w->final); /* nothing after the final call */
    if (w->n_done < 64) w->done[w->n_done++] = info->done;
    w->final = info->final;
}

/* Streams the 5 JSONL lines of fp cancelled before line k + 1: k documents added. */
static void stream_cancelled(rt_collection *c, FILE *fp, int k, rt_ingest_stats *st) {
    rewind(fp);
    ingest_watch w = {.cancel_at = k};
    rt_run_callbacks cb = {NULL, NULL, watch_cancel, &w};
    memset(st, 0, sizeof *st);
    assert_int_equal(rt_collection_ingest_stream(c, fp, "jsonl", "s", &cb, st), RT_ERR_CANCELLED);
    assert_int_equal(st->docs_added, k);
}

/* The same stream again without callbacks: the k committed lines unchanged, the rest added. */
static void stream_rest(rt_collection *c, FILE *fp, int k) {
    rt_ingest_stats st = {0};
    rewind(fp);
    assert_int_equal(rt_collection_ingest_stream(c, fp, "jsonl", "s", NULL, &st), RT_OK);
    assert_int_equal(st.docs_added, 5 - k);
    assert_int_equal(st.docs_unchanged, k);
}

static void test_ingest_cancel(void **s) {
    (void)s;
    char *root = tu_tmpdir("coll4");
    char *docs = rt_path_join(root, "docs"), *cdir = rt_path_join(root, "c");
    assert_int_equal(rt_mkdir_p(docs), RT_OK);
    static const char *const words[] = {"anchovy",  "barnacle", "cuttlefish", "dolphin",
                                        "eelgrass", "flounder", "grouper",    "halibut"};
    char name[32], text[512];
    for (int i = 0; i < 8; i++) { /* several chunks each: a half-written one would show */
        snprintf(name, sizeof name, "d%d.txt", i);
        snprintf(text, sizeof text,
                 "The %s lives in the sea. Its habits are studied by many people.\n\n"
                 "A second paragraph about the %s and its long migrations along the coast, "
                 "with more words so that the chunker makes another chunk of it.\n\n"
                 "A third paragraph: the %s eats small fish.",
                 words[i], words[i], words[i]);
        write_file(docs, name, text);
    }
    const int k = 3;
    ingest_watch w = {.cancel_at = k};
    rt_run_callbacks cb = {watch_progress, &w, watch_cancel, &w};
    rt_collection *c = open_coll(cdir, NULL);
    rt_ingest_stats st = {0};
    assert_int_equal(rt_collection_ingest_path(c, docs, &cb, &st), RT_ERR_CANCELLED);
    assert_int_equal(w.polls, k + 1);
    assert_int_equal(st.docs_added, k);
    assert_int_equal(st.docs_failed, 0);
    /* progress: monotonic, through the call's callback, ending with a final call at k */
    assert_true(w.n_done >= 1);
    for (int i = 1; i < w.n_done; i++)
        assert_true(w.done[i] >= w.done[i - 1]);
    assert_true(w.final);
    assert_int_equal(w.done[w.n_done - 1], k);
    assert_int_equal(rt_collection_close(c), RT_OK);
    /* reopened: exactly the first k documents (the walk is in name order), each whole */
    c = open_coll(cdir, NULL);
    rt_collection_stats cs;
    assert_int_equal(rt_collection_stats_get(c, &cs), RT_OK);
    assert_int_equal(cs.documents, k);
    assert_int_equal(cs.chunks, st.chunks_added);
    assert_true(cs.chunks > (uint64_t)k); /* documents of several chunks */
    for (int i = 0; i < 8; i++) {
        rt_search_results *r = search(c, words[i], RT_SEARCH_BM25, NULL, 0);
        if (i < k) {
            /* every chunk of the document is indexed: the word is in each paragraph */
            assert_true(r->n >= 2);
            rt_stored_document *d;
            char *p = NULL;
            snprintf(name, sizeof name, "d%d.txt", i);
            p = rt_path_join(docs, name);
            char *want;
            size_t want_len;
            assert_int_equal(rt_file_read_all(p, 1 << 20, &want, &want_len), RT_OK);
            assert_int_equal(rt_collection_get_document(c, r->items[0].doc_id, &d), RT_OK);
            assert_int_equal(d->len, want_len);
            assert_memory_equal(d->text, want, want_len);
            rt_stored_document_free(d);
            free(want);
            free(p);
        } else {
            assert_int_equal(r->n, 0);
        }
        rt_search_results_free(r);
    }
    /* a stream stops the same way, between JSONL lines; NULL callbacks run to the end */
    FILE *fp = tmpfile();
    for (int i = 0; i < 5; i++)
        fprintf(fp, "{\"id\":\"s%d\",\"text\":\"stream line %d\"}\n", i, i);
    stream_cancelled(c, fp, 2, &st);
    stream_rest(c, fp, 2);
    assert_int_equal(rt_collection_close(c), RT_OK);
    /* with an embedder, JSONL chunks are embedded ahead in batches: a cancel still keeps
     * exactly the documents committed before it, each with its vectors, and nothing after */
    char *edir = rt_path_join(root, "e");
    rt_embedder e = {"toy-hash-16", 16, tu_toy_embed, NULL};
    c = open_coll(edir, &e);
    stream_cancelled(c, fp, 3, &st);
    assert_int_equal(rt_collection_close(c), RT_OK);
    c = open_coll(edir, &e);
    assert_int_equal(rt_collection_stats_get(c, &cs), RT_OK);
    assert_int_equal(cs.documents, 3);
    assert_int_equal(cs.chunks, st.chunks_added);
    rt_search_results *r = search(c, "stream line 2", RT_SEARCH_DENSE, NULL, 0);
    assert_true(r->n >= 1);
    for (size_t i = 0; i < r->n; i++) /* only committed documents have vectors */
        assert_true(strcmp(r->items[i].doc_id, "s3") && strcmp(r->items[i].doc_id, "s4"));
    rt_search_results_free(r);
    stream_rest(c, fp, 3);
    assert_int_equal(rt_collection_close(c), RT_OK);
    free(edir);
    fclose(fp);
    tu_rmtree(root);
    free(root);
    free(docs);
    free(cdir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ingest_search),
        cmocka_unit_test(test_bm25_only_and_stream),
        cmocka_unit_test(test_stale_index_replay),
        cmocka_unit_test(test_ingest_cancel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
