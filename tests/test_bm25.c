/*
 * test_bm25.c — BM25 scores against a direct computation of the formula on a small corpus
 * (before and after deletes), the analysis chain (folding, stopwords, Snowball stems, Unicode
 * words), and the postings file: round trip and corrupt files rejected.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/bm25.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *corpus[] = {
    "the quick brown fox jumps over the lazy dog",
    "a quick brown dog outpaces a quick fox",
    "lazy dogs sleep all day",
    "foxes and dogs are not friends",
    "brown bread is quick to bake",
    "the end",
};
#define N_DOCS 6

/* Reference: whitespace words, no stemming, no stopwords; live[i] selects the documents. */
static double ref_score(const char *query, int doc, const bool *live, double k1, double b) {
    int n = 0;
    double total = 0;
    int len[N_DOCS];
    for (int i = 0; i < N_DOCS; i++) {
        len[i] = 1;
        for (const char *p = corpus[i]; *p; p++)
            len[i] += *p == ' ';
        if (live[i]) {
            n++;
            total += len[i];
        }
    }
    double avg = total / n, score = 0;
    char q[256];
    snprintf(q, sizeof q, "%s", query);
    char *save = NULL;
    const char *seen[16];
    int n_seen = 0;
    for (char *t = strtok_r(q, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        bool dup = false;
        for (int i = 0; i < n_seen; i++)
            dup |= !strcmp(seen[i], t);
        if (dup) continue;
        seen[n_seen++] = t;
        int df = 0, tf = 0;
        for (int i = 0; i < N_DOCS; i++) {
            if (!live[i]) continue;
            char d[256];
            snprintf(d, sizeof d, "%s", corpus[i]);
            char *s2 = NULL;
            int c = 0;
            for (char *w = strtok_r(d, " ", &s2); w; w = strtok_r(NULL, " ", &s2))
                c += !strcmp(w, t);
            df += c > 0;
            if (i == doc) tf = c;
        }
        if (!tf) continue;
        double idf = log(1 + (n - df + 0.5) / (df + 0.5));
        score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len[doc] / avg));
    }
    return score;
}

static void check_all(rt_bm25 *b, const bool *live, double k1, double bb) {
    const char *queries[] = {"quick fox", "lazy dog dog",  "brown",
                             "the end",   "missing words", "dogs foxes quick brown"};
    for (size_t qi = 0; qi < sizeof queries / sizeof *queries; qi++) {
        rt_hit hits[N_DOCS];
        int n = rt_bm25_search(b, queries[qi], strlen(queries[qi]), N_DOCS, NULL, hits);
        assert_true(n >= 0);
        int expected = 0;
        for (int d = 0; d < N_DOCS; d++) {
            double ref = live[d] ? ref_score(queries[qi], d, live, k1, bb) : 0;
            expected += ref > 0;
            float got = 0;
            for (int i = 0; i < n; i++)
                if (hits[i].id == 100 + d) got = hits[i].score;
            /* Tolerance: float accumulation vs double reference, 1e-5 relative. */
            if (fabs(got - ref) > 1e-5 * (1 + ref))
                fail_msg("query '%s' doc %d: got %.7f, reference %.7f", queries[qi], d, got, ref);
            if (live[d])
                assert_true(fabsf(rt_bm25_score(b, queries[qi], strlen(queries[qi]), 100 + d) -
                                  (float)ref) < 1e-4f);
        }
        assert_int_equal(n, expected);
        for (int i = 1; i < n; i++)
            assert_true(hits[i - 1].score >= hits[i].score);
    }
}

static void test_scores_match_reference(void **s) {
    (void)s;
    rt_bm25_config cfg = {1.5f, 0.6f, "none", false};
    rt_bm25 *b;
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    for (int i = 0; i < N_DOCS; i++)
        assert_int_equal(rt_bm25_add(b, 100 + i, corpus[i], strlen(corpus[i])), RT_OK);
    assert_int_equal(rt_bm25_add(b, 50, "x", 1), RT_ERR_INVALID);
    bool live[N_DOCS] = {1, 1, 1, 1, 1, 1};
    check_all(b, live, 1.5, 0.6);
    assert_int_equal(rt_bm25_remove(b, 101), RT_OK);
    assert_int_equal(rt_bm25_remove(b, 104), RT_OK);
    live[1] = live[4] = false;
    check_all(b, live, 1.5, 0.6);
    assert_int_equal(rt_bm25_n_deleted(b), 2);
    assert_int_equal(rt_bm25_compact(b), RT_OK);
    assert_int_equal(rt_bm25_n_deleted(b), 0);
    check_all(b, live, 1.5, 0.6);
    /* Persist, reload, same scores; then corrupt copies are rejected. */
    char *dir = tu_tmpdir("bm25");
    char *path = rt_path_join(dir, "b.idx");
    rt_bm25_set_applied_seq(b, 7);
    assert_int_equal(rt_bm25_save(b, path), RT_OK);
    rt_bm25 *g;
    assert_int_equal(rt_bm25_load(path, &cfg, &g), RT_OK);
    assert_int_equal(rt_bm25_applied_seq(g), 7);
    check_all(g, live, 1.5, 0.6);
    rt_bm25_free(g);
    char *buf;
    size_t len;
    assert_int_equal(rt_file_read_all(path, 1 << 20, &buf, &len), RT_OK);
    for (size_t cut = 0; cut < len; cut += 7)
        assert_int_equal(rt_bm25_load_buffer(buf, cut, "t", &cfg, &g), RT_ERR_FORMAT);
    buf[0] = 'X';
    assert_int_equal(rt_bm25_load_buffer(buf, len, "t", &cfg, &g), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "magic"));
    free(buf);
    free(path);
    tu_rmtree(dir);
    free(dir);
    rt_bm25_free(b);
}

static int collect(void *user, const char *t, size_t n) {
    char *out = user;
    strncat(out, t, n);
    strcat(out, "|");
    return 0;
}

static void test_analysis(void **s) {
    (void)s;
    rt_bm25 *b;
    rt_bm25_config cfg = rt_bm25_default_config();
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    char out[256] = "";
    const char *text = "The Running DOGS, and Ünïcode café-au-lait!";
    rt_bm25_analyze(b, text, strlen(text), collect, out);
    assert_string_equal(out, "run|dog|ünïcode|café|au|lait|");
    /* Search finds inflected forms; filters apply during the search. */
    assert_int_equal(rt_bm25_add(b, 1, "dogs running", 12), RT_OK);
    assert_int_equal(rt_bm25_add(b, 2, "a dog ran", 9), RT_OK);
    rt_hit h[2];
    assert_int_equal(rt_bm25_search(b, "dog", 3, 2, NULL, h), 2);
    uint64_t bits = 1u << 2;
    rt_idset only2 = {&bits, 64};
    assert_int_equal(rt_bm25_search(b, "dog", 3, 2, &only2, h), 1);
    assert_int_equal(h[0].id, 2);
    rt_bm25_free(b);
    cfg.language = "klingon";
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_ERR_INVALID);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_reference),
        cmocka_unit_test(test_analysis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
