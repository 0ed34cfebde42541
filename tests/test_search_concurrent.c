/*
 * test_search_concurrent.c — many threads searching one collection at once (knowledge/
 * search.c): 8 threads run the same 30 queries in BM25, dense, hybrid, filtered and MMR modes,
 * half through rt_collection_search (the handle's scratch pool) and half through
 * rt_collection_search_with on a const handle with their own scratch, and every result list is
 * identical (ids, chunks, scores bit for bit) to the serial one. Then readers keep searching
 * while a writer ingests through the same handle (no crash, no torn result; the new documents
 * become searchable), and a long-lived read-only handle finds documents another handle stored
 * after it was opened. Meant to run under the sanitizer build too.
 */
#include "testutil.h"

#include "ragtune.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_DOCS = 120, N_QUERIES = 30, N_THREADS = 8, N_MODES = 5, K = 5 };

static const char *const words[] = {"kernel", "memory", "page", "frame", "queue", "thread",
                                    "process", "cache", "disk", "file", "network", "packet",
                                    "route", "table", "lock", "signal", "socket", "buffer"};
#define N_WORDS (sizeof words / sizeof *words)

static rt_embedder toy = {"toy-hash-16", 16, tu_toy_embed, NULL};

/* A document of 12 words picked from `words` by a seeded generator. */
static void make_text(unsigned seed, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (int w = 0; w < 12; w++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", w ? " " : "",
                                words[(unsigned)(tu_frand(&seed, 0, 1) * N_WORDS) % N_WORDS]);
}

static void ingest(rt_collection *c, const char *id_prefix, int i0, int n) {
    for (int i = i0; i < i0 + n; i++) {
        char id[64], text[256], meta[64];
        snprintf(id, sizeof id, "%s%d", id_prefix, i);
        make_text(1000u + (unsigned)i, text, sizeof text);
        snprintf(meta, sizeof meta, "{\"n\": %d}", i);
        rt_document d = {.id = id, .text = text, .len = strlen(text), .metadata_json = meta};
        if (rt_collection_ingest_document(c, &d, NULL) != RT_OK)
            fail_msg("ingest %s: %s", id, rt_last_error());
    }
}

static rt_search_params mode_params(int mode, rt_filter *f) {
    rt_search_params p = rt_search_default_params();
    p.k = K;
    p.mode = mode == 0 ? RT_SEARCH_BM25 : mode == 1 ? RT_SEARCH_DENSE : RT_SEARCH_HYBRID;
    if (mode == 3) {
        f->key = "n";
        f->op = RT_FILTER_LT;
        f->is_number = true;
        f->number = 60;
        p.filters = f;
        p.n_filters = 1;
    }
    if (mode == 4) p.mmr = true;
    return p;
}

static void query_text(int q, char *buf, size_t cap) {
    make_text(77u + (unsigned)q, buf, cap);
    buf[strlen(buf) / 3] = 0; /* about four words */
}

/* Query q in mode m: through the handle's pool, or with scratch s when not NULL. */
static int run_query(rt_collection *c, rt_search_scratch *s, int q, int m,
                     rt_search_results **out) {
    char text[256];
    query_text(q, text, sizeof text);
    rt_filter f;
    rt_search_params p = mode_params(m, &f);
    return s ? rt_collection_search_with(c, s, text, &p, out)
             : rt_collection_search(c, text, &p, out);
}

typedef struct answer {
    int n;
    int64_t chunk[K];
    float score[K];
    char doc[K][16];
} answer;

static void record(const rt_search_results *r, answer *a) {
    memset(a, 0, sizeof *a);
    a->n = (int)r->n;
    for (size_t i = 0; i < r->n && i < K; i++) {
        a->chunk[i] = r->items[i].chunk_id;
        a->score[i] = r->items[i].score;
        snprintf(a->doc[i], sizeof a->doc[i], "%s", r->items[i].doc_id);
    }
}

typedef struct worker {
    rt_collection *c;
    bool own_scratch;
    const answer (*want)[N_MODES];
    int mismatches, errors;
} worker;

static void *search_all(void *arg) {
    worker *w = arg;
    rt_search_scratch *s = NULL;
    if (w->own_scratch && rt_search_scratch_new(&s) != RT_OK) w->errors++;
    for (int round = 0; round < 3; round++)
        for (int q = 0; q < N_QUERIES; q++)
            for (int m = 0; m < N_MODES; m++) {
                rt_search_results *r;
                if (run_query(w->c, s, q, m, &r) != RT_OK) {
                    w->errors++;
                    continue;
                }
                answer a;
                record(r, &a);
                rt_search_results_free(r);
                if (memcmp(&a, &w->want[q][m], sizeof a) != 0) w->mismatches++;
            }
    rt_search_scratch_free(s);
    return NULL;
}

static rt_collection *open_coll(const char *dir, bool read_only) {
    rt_collection_params cp = rt_collection_default_params();
    cp.embedder = &toy;
    cp.read_only = read_only;
    rt_collection *c;
    if (rt_collection_open(dir, &cp, &c) != RT_OK) fail_msg("open: %s", rt_last_error());
    return c;
}

static void test_concurrent_equals_serial(void **state) {
    (void)state;
    char *dir = tu_tmpdir("search-conc");
    rt_collection *c = open_coll(dir, false);
    ingest(c, "d", 0, N_DOCS);
    static answer want[N_QUERIES][N_MODES];
    for (int q = 0; q < N_QUERIES; q++)
        for (int m = 0; m < N_MODES; m++) {
            rt_search_results *r;
            if (run_query(c, NULL, q, m, &r) != RT_OK)
                fail_msg("serial search: %s", rt_last_error());
            assert_true(r->n > 0);
            record(r, &want[q][m]);
            rt_search_results_free(r);
        }
    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){.c = c, .own_scratch = i % 2 == 1, .want = want};
        assert_int_equal(pthread_create(&th[i], NULL, search_all, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].errors, 0);
        if (w[i].mismatches)
            fail_msg("thread %d: %d of %d result lists differ from the serial ones", i,
                     w[i].mismatches, 3 * N_QUERIES * N_MODES);
    }
    assert_int_equal(rt_collection_close(c), RT_OK);
    tu_rmtree(dir);
    free(dir);
}

typedef struct reader {
    rt_collection *c;
    atomic_int *stop; /* set when the writer is done (volatile would not synchronize) */
    int searches, errors, bad;
} reader;

static void *read_while_writing(void *arg) {
    reader *r = arg;
    while (!atomic_load(r->stop) || r->searches < 10) {
        rt_search_results *res;
        if (run_query(r->c, NULL, r->searches % N_QUERIES, r->searches % N_MODES, &res) != RT_OK) {
            r->errors++;
        } else {
            if (res->n > K) r->bad++;
            for (size_t i = 0; i < res->n; i++)
                if (!res->items[i].doc_id || !res->items[i].text) r->bad++;
            rt_search_results_free(res);
        }
        r->searches++;
    }
    return NULL;
}

static void test_search_while_ingesting(void **state) {
    (void)state;
    char *dir = tu_tmpdir("search-write");
    rt_collection *c = open_coll(dir, false);
    ingest(c, "d", 0, 40);
    atomic_int stop = 0;
    pthread_t th[4];
    reader r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reader){.c = c, .stop = &stop};
        assert_int_equal(pthread_create(&th[i], NULL, read_while_writing, &r[i]), 0);
    }
    ingest(c, "w", 0, 40);
    const char *fresh = "zymurgy xylophone";
    rt_document d = {.id = "fresh", .text = fresh, .len = strlen(fresh)};
    assert_int_equal(rt_collection_ingest_document(c, &d, NULL), RT_OK);
    atomic_store(&stop, 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(r[i].errors, 0);
        assert_int_equal(r[i].bad, 0);
    }
    rt_search_params p = rt_search_default_params();
    rt_search_results *res;
    assert_int_equal(rt_collection_search(c, "zymurgy", &p, &res), RT_OK);
    assert_int_equal(res->n, 1);
    assert_string_equal(res->items[0].doc_id, "fresh");
    rt_search_results_free(res);
    assert_int_equal(rt_collection_close(c), RT_OK);
    tu_rmtree(dir);
    free(dir);
}

static void test_long_lived_handle_sees_new_documents(void **state) {
    (void)state;
    char *dir = tu_tmpdir("search-live");
    rt_collection *w = open_coll(dir, false);
    ingest(w, "d", 0, 20);
    rt_collection *reader_handle = open_coll(dir, true);
    rt_search_params p = rt_search_default_params();
    rt_search_results *res;
    assert_int_equal(rt_collection_search(reader_handle, "zymurgy", &p, &res), RT_OK);
    assert_int_equal(res->n, 0);
    rt_search_results_free(res);
    /* another handle stores a document (and deletes one) after the reader opened */
    const char *fresh = "zymurgy is the chemistry of fermentation";
    rt_document d = {.id = "fresh", .text = fresh, .len = strlen(fresh)};
    assert_int_equal(rt_collection_ingest_document(w, &d, NULL), RT_OK);
    assert_int_equal(rt_collection_delete(w, "d3", NULL), RT_OK);
    for (int m = 0; m < 3; m++) {
        p.mode = m == 0 ? RT_SEARCH_BM25 : m == 1 ? RT_SEARCH_DENSE : RT_SEARCH_HYBRID;
        p.k = m == 0 ? 10 : 40;
        assert_int_equal(rt_collection_search(reader_handle, fresh, &p, &res), RT_OK);
        bool found = false;
        for (size_t i = 0; i < res->n; i++) {
            found |= strcmp(res->items[i].doc_id, "fresh") == 0;
            assert_string_not_equal(res->items[i].doc_id, "d3");
        }
        if (!found) fail_msg("mode %d: the long-lived handle does not see the new document", m);
        rt_search_results_free(res);
    }
    assert_int_equal(rt_collection_close(reader_handle), RT_OK);
    assert_int_equal(rt_collection_close(w), RT_OK);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_equals_serial),
        cmocka_unit_test(test_search_while_ingesting),
        cmocka_unit_test(test_long_lived_handle_sees_new_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
