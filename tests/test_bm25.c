/*
 * test_bm25.c — BM25 scores against a direct computation of the formula on a small corpus
 * (before and after deletes), the analysis chain (folding, stopwords, Snowball stems, Unicode
 * words), title keys (idf of the title on top of the text's score), and the postings file:
 * round trip and corrupt files rejected.
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

/* Title keys: a chunk whose whole title appears in the query gets idf(title) = ln(1 + (N - df +
 * 0.5) / (df + 0.5)) on top of its text's BM25 (df: chunks with that title; all differ here, so
 * 1), and only then; the text's score is that of the same index built without titles. */
static void test_title_keys(void **s) {
    (void)s;
    static const struct {
        const char *title, *text;
    } docs[] = {
        {"Lisp", "A family of programming languages with prefix notation and lists."},
        {"LISP 1.5", "LISP 1.5, the second version of Lisp, after LISP 1."},
        {"LISP A", "LISP A, a Lisp-like system for incremental computing."},
        {"IS", "IS is an international standard."},
        {"programming language", "A formal language in which programs are written."},
        {"A Programming Language", "APL, a programming language with arrays."},
        {"language", "A language: see programming language."},
        {"", "Untitled text about Lisp."},
    };
    enum { ND = sizeof docs / sizeof *docs };
    static const struct {
        const char *query;
        const char *titles[3]; /* the titles that match */
    } cases[] = {
        {"What is Lisp?", {"Lisp"}},                 /* not "LISP 1.5" nor "LISP A" */
        {"lisp programming language", {"Lisp", "programming language"}},
        {"what is lisp a", {"LISP A", "Lisp"}},      /* a stopword is no longer: both */
        {"What is it?", {NULL}},                     /* stopword-only titles never match */
        {"What is a programming language?",          /* "a" adds no content word */
         {"programming language", "A Programming Language"}},
        {"languages", {"language"}},                 /* stemmed like text */
        {"Tell me about LISP 1.5 and Lisp", {"LISP 1.5", "Lisp"}},
    };
    rt_bm25_config cfg = rt_bm25_default_config();
    rt_bm25 *b, *plain;
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    assert_int_equal(rt_bm25_new(&cfg, &plain), RT_OK);
    for (int i = 0; i < ND; i++) {
        const char *t = docs[i].text;
        assert_int_equal(
            rt_bm25_add_titled(b, 1 + i, t, strlen(t), docs[i].title, strlen(docs[i].title)),
            RT_OK);
        assert_int_equal(rt_bm25_add(plain, 1 + i, t, strlen(t)), RT_OK);
    }
    const float title_idf = (float)log(1 + (ND - 1 + 0.5) / (1 + 0.5));
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        const char *q = cases[c].query;
        float want[ND];
        int n_want = 0;
        for (int d = 0; d < ND; d++) {
            bool match = false;
            for (int k = 0; k < 3 && cases[c].titles[k]; k++)
                match |= !strcmp(cases[c].titles[k], docs[d].title);
            want[d] = rt_bm25_score(plain, q, strlen(q), 1 + d) + (match ? title_idf : 0);
            n_want += want[d] > 0;
            /* tolerance: float sums, 1e-5 relative */
            float got = rt_bm25_score(b, q, strlen(q), 1 + d);
            if (fabsf(got - want[d]) > 1e-5f * (1 + want[d]))
                fail_msg("'%s' chunk %d: score %.6f, expected %.6f", q, 1 + d, got, want[d]);
        }
        rt_hit h[ND];
        int n = rt_bm25_search(b, q, strlen(q), ND, NULL, h);
        assert_int_equal(n, n_want);
        for (int i = 0; i < n; i++) {
            assert_true(fabsf(h[i].score - want[h[i].id - 1]) <= 1e-5f * (1 + h[i].score));
            if (i) assert_true(h[i - 1].score >= h[i].score);
        }
    }
    /* "What is Lisp?": the entry titled Lisp ranks first although "LISP 1.5" says Lisp more. */
    rt_hit h[1];
    assert_int_equal(rt_bm25_search(b, "What is Lisp?", 13, 1, NULL, h), 1);
    assert_int_equal(h[0].id, 1);
    /* Title keys survive a save and load (they are not in the chunk lengths it checks). */
    char *dir = tu_tmpdir("bm25t");
    char *path = rt_path_join(dir, "t.idx");
    assert_int_equal(rt_bm25_save(b, path), RT_OK);
    rt_bm25 *g;
    assert_int_equal(rt_bm25_load(path, &cfg, &g), RT_OK);
    for (int d = 0; d < ND; d++)
        assert_true(rt_bm25_score(g, "What is Lisp?", 13, 1 + d) ==
                    rt_bm25_score(b, "What is Lisp?", 13, 1 + d));
    rt_bm25_free(g);
    tu_rmtree(dir);
    free(dir);
    free(path);
    rt_bm25_free(b);
    rt_bm25_free(plain);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_match_reference),
        cmocka_unit_test(test_analysis),
        cmocka_unit_test(test_title_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
