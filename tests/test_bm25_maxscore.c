/*
 * test_bm25_maxscore.c — BM25's MaxScore search (dynamic pruning) against exhaustive scoring on
 * a randomized corpus with Zipf-distributed terms (long posting lists for the common terms, many
 * tied scores from duplicate and short chunks): the same chunk ids in the same order and the same
 * scores within 1e-6, for many queries and k in {1, 10, 100}; after deletes, with a filter, after
 * the average length drifts, after compaction, and on an index loaded from a version-1 file laid
 * out byte by byte as earlier ragtune versions wrote it.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/bm25.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB 1500
#define N_DOCS 2500
#define N_QUERIES 120

static uint64_t rng_state;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double zipf_cdf[VOCAB];

/* Rank r's word: letters only, so analysis (no stemmer, no stopwords) keeps it as one term. */
static void word_of(int r, char *out) {
    int n = 0;
    out[n++] = 'z';
    do {
        out[n++] = (char)('a' + r % 26);
        r /= 26;
    } while (r);
    out[n] = '\0';
}

/* A Zipf(1.1) rank. */
static int zipf_rank(void) {
    double u = (double)(rng_next() >> 11) / 9007199254740992.0 * zipf_cdf[VOCAB - 1];
    int lo = 0, hi = VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* A chunk of len Zipf words. */
static void random_text(char *buf, size_t cap, int len) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < len; i++) {
        char w[16];
        word_of(zipf_rank(), w);
        at += (size_t)snprintf(buf + at, cap - at, "%s%s", i ? " " : "", w);
    }
}

static char *queries[N_QUERIES];

static void make_queries(void) {
    for (int q = 0; q < N_QUERIES; q++) {
        char buf[64] = "";
        int n = 1 + (int)(rng_next() % 3); /* 1-3 words; a third of them uniform (rarer) */
        for (int i = 0; i < n; i++) {
            char w[16];
            word_of(q % 3 == 2 ? (int)(rng_next() % VOCAB) : zipf_rank(), w);
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? " " : "", w);
        }
        queries[q] = strdup(buf);
    }
}

/* Every query, k in {1, 10, 100}: MaxScore equals exhaustive. Returns the searches compared. */
static int check_same(const rt_bm25 *b, const rt_idset *allowed) {
    static const int ks[] = {1, 10, 100};
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    rt_hit want[100], got[100];
    int compared = 0;
    for (int q = 0; q < N_QUERIES; q++)
        for (int ki = 0; ki < 3; ki++) {
            int k = ks[ki];
            size_t len = strlen(queries[q]);
            int nw = rt_bm25_search_strategy(b, s, RT_BM25_EXHAUSTIVE, queries[q], len, k, allowed,
                                             want);
            int ng =
                rt_bm25_search_strategy(b, s, RT_BM25_MAXSCORE, queries[q], len, k, allowed, got);
            assert_true(nw >= 0);
            if (ng != nw)
                fail_msg("query '%s' k %d: %d hits, exhaustive %d", queries[q], k, ng, nw);
            for (int i = 0; i < nw; i++) {
                if (got[i].id != want[i].id || fabsf(got[i].score - want[i].score) > 1e-6f)
                    fail_msg("query '%s' k %d rank %d: id %lld score %.9g, exhaustive id %lld "
                             "score %.9g",
                             queries[q], k, i, (long long)got[i].id, (double)got[i].score,
                             (long long)want[i].id, (double)want[i].score);
            }
            /* AUTO is one of the two. */
            int na = rt_bm25_search_with(b, s, queries[q], len, k, allowed, got);
            assert_int_equal(na, nw);
            for (int i = 0; i < nw; i++)
                assert_int_equal(got[i].id, want[i].id);
            compared++;
        }
    rt_bm25_scratch_free(s);
    return compared;
}

static void test_maxscore_equals_exhaustive(void **state) {
    (void)state;
    rng_state = 0x9E3779B97F4A7C15ull;
    double c = 0;
    for (int r = 0; r < VOCAB; r++)
        zipf_cdf[r] = c += 1.0 / pow(r + 1, 1.1);
    make_queries();
    rt_bm25_config cfg = {1.2f, 0.75f, "none", false};
    rt_bm25 *b;
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    char text[4096];
    int64_t id = 0;
    for (int d = 0; d < N_DOCS; d++) {
        if (d % 50 == 49) {
            /* a duplicate of an earlier chunk's text: equal scores, ties broken by id */
            random_text(text, sizeof text, 3);
            assert_int_equal(rt_bm25_add(b, ++id, text, strlen(text)), RT_OK);
            assert_int_equal(rt_bm25_add(b, ++id, text, strlen(text)), RT_OK);
            continue;
        }
        random_text(text, sizeof text, 2 + (int)(rng_next() % 40));
        id += 1 + (int64_t)(rng_next() % 3); /* ids with gaps, as after deletes */
        assert_int_equal(rt_bm25_add(b, id, text, strlen(text)), RT_OK);
    }
    int compared = check_same(b, NULL);
    /* Deletes: df, N and avglen change; the stored bounds are for the old average length. */
    for (int64_t i = 1; i <= id; i++)
        if (rng_next() % 10 == 0) assert_int_equal(rt_bm25_remove(b, i), RT_OK);
    assert_true(rt_bm25_n_deleted(b) > 0);
    compared += check_same(b, NULL);
    /* A filter: every other id. */
    size_t words = (size_t)(id / 64 + 1);
    uint64_t *bits = calloc(words, sizeof *bits);
    for (int64_t i = 0; i <= id; i += 2)
        bits[i >> 6] |= 1ull << (i & 63);
    rt_idset even = {bits, id + 1};
    compared += check_same(b, &even);
    free(bits);
    /* Long chunks raise the average length above the one the bounds were computed at. */
    for (int d = 0; d < 200; d++) {
        random_text(text, sizeof text, 150);
        assert_int_equal(rt_bm25_add(b, ++id, text, strlen(text)), RT_OK);
    }
    compared += check_same(b, NULL);
    assert_int_equal(rt_bm25_compact(b), RT_OK);
    compared += check_same(b, NULL);
    assert_int_equal(compared, 5 * 3 * N_QUERIES);
    rt_bm25_free(b);
}

/* Appends n bytes to a growing buffer. */
static void put(char **buf, size_t *len, const void *p, size_t n) {
    *buf = realloc(*buf, *len + n);
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* A file built by hand from the layout documented in bm25.c (bounds are not stored: the layout
 * MaxScore found): the index loads, derives its bounds, and searches agree. Version 1 files
 * (written before title keys, same layout) are refused so that a collection rebuilds them. */
static void test_version1_file_loads(void **state) {
    (void)state;
    /* Terms: "alpha" in chunks 0,1,2 (tf 1,2,1); "beta" in chunk 1 (tf 1), "gamma" in 2 (tf 3). */
    const char *arena = "alphabetagamma";
    const int64_t ids[3] = {10, 20, 30};
    const uint32_t lens[3] = {1, 3, 4};
    const uint8_t del[3] = {0, 0, 0};
    char *buf = NULL;
    size_t len = 0;
    put(&buf, &len, "RTBM25\0\0", 8);
    uint32_t v[2] = {2, 0};
    put(&buf, &len, v, sizeof v);
    uint64_t h[4] = {42, 3, 3, 14}; /* applied_seq, n_chunks, n_terms, arena_len */
    put(&buf, &len, h, sizeof h);
    put(&buf, &len, ids, sizeof ids);
    put(&buf, &len, lens, sizeof lens);
    put(&buf, &len, del, sizeof del);
    put(&buf, &len, arena, 14);
    const uint32_t alpha[] = {0, 5, 3, 0, 1, 1, 2, 2, 1};
    const uint32_t beta[] = {5, 4, 1, 1, 1};
    const uint32_t gamma[] = {9, 5, 1, 2, 3};
    put(&buf, &len, alpha, sizeof alpha);
    put(&buf, &len, beta, sizeof beta);
    put(&buf, &len, gamma, sizeof gamma);
    rt_bm25_config cfg = {1.2f, 0.75f, "none", false};
    rt_bm25 *b;
    buf[8] = 1;
    assert_int_equal(rt_bm25_load_buffer(buf, len, "v1", &cfg, &b), RT_ERR_UNSUPPORTED);
    buf[8] = 2;
    assert_int_equal(rt_bm25_load_buffer(buf, len, "v2", &cfg, &b), RT_OK);
    assert_int_equal(rt_bm25_applied_seq(b), 42);
    assert_int_equal(rt_bm25_n_chunks(b), 3);
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    rt_hit want[3], got[3];
    const char *q = "alpha gamma";
    int nw = rt_bm25_search_strategy(b, s, RT_BM25_EXHAUSTIVE, q, strlen(q), 3, NULL, want);
    int ng = rt_bm25_search_strategy(b, s, RT_BM25_MAXSCORE, q, strlen(q), 3, NULL, got);
    assert_int_equal(nw, 3);
    assert_int_equal(ng, 3);
    assert_int_equal(want[0].id, 30); /* gamma x3 plus alpha */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(got[i].id, want[i].id);
        assert_true(fabsf(got[i].score - want[i].score) <= 1e-6f);
    }
    /* Adding to a loaded index keeps working (bounds extend), and saving writes version 2. */
    assert_int_equal(rt_bm25_add(b, 40, "alpha alpha beta", 16), RT_OK);
    ng = rt_bm25_search_strategy(b, s, RT_BM25_MAXSCORE, q, strlen(q), 1, NULL, got);
    assert_int_equal(ng, 1);
    nw = rt_bm25_search_strategy(b, s, RT_BM25_EXHAUSTIVE, q, strlen(q), 1, NULL, want);
    assert_int_equal(got[0].id, want[0].id);
    char *dir = tu_tmpdir("bm25v1");
    char *path = rt_path_join(dir, "b.idx");
    assert_int_equal(rt_bm25_save(b, path), RT_OK);
    char *file;
    size_t flen;
    assert_int_equal(rt_file_read_all(path, 1 << 20, &file, &flen), RT_OK);
    uint32_t version;
    memcpy(&version, file + 8, 4);
    assert_int_equal(version, 2);
    free(file);
    free(path);
    tu_rmtree(dir);
    free(dir);
    rt_bm25_scratch_free(s);
    rt_bm25_free(b);
    free(buf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxscore_equals_exhaustive),
        cmocka_unit_test(test_version1_file_loads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    for (int q = 0; q < N_QUERIES; q++)
        free(queries[q]);
    return rc;
}
