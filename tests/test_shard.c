/*
 * test_shard.c — the pieces of sharded search and data-parallel training that run in one
 * process: BM25 corpus statistics (a shard searched with the statistics of the whole corpus,
 * summed over its shards, scores exactly as the unsharded index does, title keys included), and
 * the process group alone (rank 0 of 1: every collective leaves the data as it is). The multi-process behaviour is
 * tested under mpirun by tests/cli/mpi_train.sh and mpi_search.sh.
 */
#include "testutil.h"
#include "core/error.h"
#include "dist/comm.h"
#include "knowledge/bm25.h"

#include <stdlib.h>
#include <string.h>

static const char *docs[] = {
    "the quick brown fox jumps over the lazy dog",   "a quick brown dog outpaces a quick fox",
    "lazy dogs sleep all day in the sun",            "foxes and dogs are not friends",
    "brown bread is quick to bake and good to eat", "the end of the story of the fox",
};
#define N_DOCS 6

static rt_bm25 *index_of(const int *which, int n) {
    rt_bm25_config cfg = rt_bm25_default_config();
    rt_bm25 *b;
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    for (int i = 0; i < n; i++)
        assert_int_equal(rt_bm25_add(b, which[i] + 1, docs[which[i]], strlen(docs[which[i]])),
                         RT_OK);
    return b;
}

static float score_of(const rt_hit *h, int n, int64_t id) {
    for (int i = 0; i < n; i++)
        if (h[i].id == id) return h[i].score;
    return -1.0f;
}

/* The query's statistics summed over n shards (as knowledge/shard.c's all-reduce does); every
 * shard lists the same terms and title keys, known to it or not. Free with rt_bm25_stats_free. */
static void summed_stats(rt_bm25 **shard, int n, rt_bm25_scratch *s, const char *query,
                         rt_bm25_stats *sum) {
    assert_int_equal(rt_bm25_query_stats(shard[0], s, query, strlen(query), sum), RT_OK);
    for (int k = 1; k < n; k++) {
        rt_bm25_stats st;
        assert_int_equal(rt_bm25_query_stats(shard[k], s, query, strlen(query), &st), RT_OK);
        assert_int_equal(st.n_terms, sum->n_terms);
        sum->n_chunks += st.n_chunks;
        sum->total_len += st.total_len;
        for (size_t t = 0; t < sum->n_terms; t++) {
            assert_string_equal(st.terms[t], sum->terms[t]);
            sum->df[t] += st.df[t];
        }
        rt_bm25_stats_free(&st);
    }
}

/* The n shards searched with the summed statistics give the unsharded index's hits, scores bit
 * for bit; returns the number of hits. local_differs: a shard searched alone scores some hit
 * differently (so the statistics matter for this query: the test can fail). */
static int expect_sharded_equal(rt_bm25 *whole, rt_bm25 **shard, int n_shards, const char *query,
                                bool local_differs) {
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    enum { CAP = 16 };
    rt_hit want[CAP], got[CAP * 4];
    int n_want = rt_bm25_search_with(whole, s, query, strlen(query), CAP, NULL, want);
    assert_true(n_want >= 0);
    rt_bm25_stats sum;
    summed_stats(shard, n_shards, s, query, &sum);
    int n_got = 0;
    for (int k = 0; k < n_shards; k++) {
        rt_bm25_scratch_use_stats(s, &sum);
        int n = rt_bm25_search_with(shard[k], s, query, strlen(query), CAP, NULL, got + n_got);
        rt_bm25_scratch_use_stats(s, NULL);
        assert_true(n >= 0);
        n_got += n;
    }
    if (n_got != n_want) fail_msg("query \"%s\": %d hits over the shards, %d whole", query, n_got,
                                  n_want);
    for (int i = 0; i < n_want; i++) { /* the same float operations on the same numbers */
        if (score_of(got, n_got, want[i].id) != want[i].score)
            fail_msg("query \"%s\": chunk %lld scores %.9g over the shards, %.9g whole", query,
                     (long long)want[i].id, (double)score_of(got, n_got, want[i].id),
                     (double)want[i].score);
    }
    if (local_differs) {
        bool differs = false;
        for (int k = 0; k < n_shards; k++) {
            rt_hit local[CAP];
            int n = rt_bm25_search_with(shard[k], s, query, strlen(query), CAP, NULL, local);
            for (int i = 0; i < n; i++)
                differs |= score_of(want, n_want, local[i].id) != local[i].score;
        }
        if (!differs) fail_msg("query \"%s\": the shards alone score as the whole", query);
    }
    rt_bm25_stats_free(&sum);
    rt_bm25_scratch_free(s);
    return n_want;
}

/* Shards {0, 2, 4} and {1, 3, 5} with summed statistics score like the index of all six. */
static void test_bm25_corpus_stats(void **state) {
    (void)state;
    const int all[] = {0, 1, 2, 3, 4, 5}, even[] = {0, 2, 4}, odd[] = {1, 3, 5};
    rt_bm25 *whole = index_of(all, 6), *shard[2] = {index_of(even, 3), index_of(odd, 3)};
    const char *queries[] = {"quick brown fox", "lazy dogs", "the story", "unknown words only"};
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++)
        expect_sharded_equal(whole, shard, 2, queries[q], q < 3);
    rt_bm25_free(whole);
    rt_bm25_free(shard[0]);
    rt_bm25_free(shard[1]);
}

/* Titled documents (rt_bm25_add_titled): each chunk's title, and the shard of 3 it goes to. */
static const struct {
    const char *title, *text;
    int shard;
} titled[] = {
    {"Lisp", "a family of programming languages with fully parenthesized prefix notation", 0},
    {"Lisp machine", "a computer designed to run Lisp as its main software language", 1},
    {"Lisp machine", "symbolics and lmi built lisp machine workstations in the eighties", 2},
    {"machine", "an apparatus using mechanical power to perform a task", 2},
    {"programming language", "a formal language for writing computer programs", 0},
    {"language", "a system of communication used by a community", 1},
    {"fox", "the quick brown fox jumps over the lazy dog", 0},
    {"fox", "a small wild canine with a bushy tail", 1},
    {"brown dog", "a quick brown dog outpaces a quick fox", 2},
    {"", "lazy dogs sleep all day in the sun on a machine", 1},
    {"Common Lisp machine code", "native code that a lisp compiler emits for the machine", 0},
    {NULL, "foxes and dogs are not friends of any programming language", 2},
};
#define N_TITLED (sizeof titled / sizeof *titled)

/* The index of the titled documents on shard (-1: all), minus the document skip (-1: none). */
static rt_bm25 *titled_index(int shard, int skip) {
    rt_bm25_config cfg = rt_bm25_default_config();
    rt_bm25 *b;
    assert_int_equal(rt_bm25_new(&cfg, &b), RT_OK);
    for (size_t i = 0; i < N_TITLED; i++) {
        if ((shard >= 0 && titled[i].shard != shard) || (int)i == skip) continue;
        const char *t = titled[i].title;
        assert_int_equal(rt_bm25_add_titled(b, (int64_t)i + 1, titled[i].text,
                                            strlen(titled[i].text), t, t ? strlen(t) : 0),
                         RT_OK);
    }
    return b;
}

/* Title keys over shards: a title held by one shard only ("Lisp", "programming language"), and
 * overlapping titles of different lengths on different shards ("Lisp machine" on 1 and 2 hides
 * "Lisp" on 0 and "machine" on 2; "Common Lisp machine code" on 0 hides them all) score as the
 * unsharded index does, over 3 shards and over 2 (shards 1 and 2 merged). */
static void test_bm25_title_keys_sharded(void **state) {
    (void)state;
    rt_bm25 *whole = titled_index(-1, -1);
    rt_bm25 *three[3] = {titled_index(0, -1), titled_index(1, -1), titled_index(2, -1)};
    const char *queries[] = {
        "What is Lisp?",
        "What is a Lisp machine?",
        "lisp machine",
        "machine",
        "What is a programming language?",
        "language",
        "fox",
        "quick brown dog and a fox",
        "Common Lisp machine code generation",
        "lisp machine programming language",
        "nothing here matches",
    };
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++)
        expect_sharded_equal(whole, three, 3, queries[q], q < 10);
    /* the rule at work: in the whole corpus "Lisp machine" hides "Lisp", so chunk 1 (titled
     * "Lisp", no query word in its text) is no hit; shard 0 alone, which does not hold the
     * longer title, would return it */
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    rt_hit h[16];
    const char *q = "Lisp machine";
    int n = rt_bm25_search_with(whole, s, q, strlen(q), 16, NULL, h);
    assert_true(n > 0 && score_of(h, n, 1) < 0);
    n = rt_bm25_search_with(three[0], s, q, strlen(q), 16, NULL, h);
    assert_true(score_of(h, n, 1) > 0);
    rt_bm25_scratch_free(s);
    for (int k = 0; k < 3; k++)
        rt_bm25_free(three[k]);
    /* two shards: {0} and {1, 2} */
    rt_bm25 *two[2] = {titled_index(0, -1), NULL};
    rt_bm25_config cfg = rt_bm25_default_config();
    assert_int_equal(rt_bm25_new(&cfg, &two[1]), RT_OK);
    for (size_t i = 0; i < N_TITLED; i++) {
        if (titled[i].shard == 0) continue;
        const char *t = titled[i].title;
        assert_int_equal(rt_bm25_add_titled(two[1], (int64_t)i + 1, titled[i].text,
                                            strlen(titled[i].text), t, t ? strlen(t) : 0),
                         RT_OK);
    }
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++)
        expect_sharded_equal(whole, two, 2, queries[i], false);
    rt_bm25_free(two[0]);
    rt_bm25_free(two[1]);
    rt_bm25_free(whole);
}

/* A deleted document's title no longer matches: it does not hide the shorter titles inside it,
 * so scores equal those of an index built without the document (and with its title on another
 * shard, the summed statistics agree). */
static void test_bm25_deleted_title(void **state) {
    (void)state;
    rt_bm25 *removed = titled_index(-1, -1), *fresh = titled_index(-1, 10);
    assert_int_equal(rt_bm25_remove(removed, 11), RT_OK); /* "Common Lisp machine code" */
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    const char *q = "common lisp machine code";
    rt_hit a[16], b[16];
    int na = rt_bm25_search_with(removed, s, q, strlen(q), 16, NULL, a);
    int nb = rt_bm25_search_with(fresh, s, q, strlen(q), 16, NULL, b);
    assert_int_equal(na, nb);
    for (int i = 0; i < na; i++) {
        assert_int_equal(a[i].id, b[i].id);
        assert_true(a[i].score == b[i].score);
    }
    /* "Lisp machine" (chunks 2 and 3) matches again: its key scores */
    assert_true(rt_bm25_score(removed, q, strlen(q), 2) > rt_bm25_score(removed, "code", 4, 2));
    rt_bm25_scratch_free(s);
    rt_bm25_free(removed);
    rt_bm25_free(fresh);
}

/* One process: rank 0 of 1, and the collectives leave the data alone. */
static void test_group_of_one(void **state) {
    (void)state;
    assert_int_equal(rt_dist_init(), RT_OK); /* not under mpirun: MPI stays off */
    assert_int_equal(rt_dist_rank(), 0);
    assert_int_equal(rt_dist_size(), 1);
    assert_false(dist_active());
    float f[3] = {1.5f, -2.0f, 3.0f};
    assert_int_equal(dist_allreduce_f32(f, 3), RT_OK);
    assert_true(f[0] == 1.5f && f[1] == -2.0f && f[2] == 3.0f);
    int64_t v[2] = {7, -9};
    assert_int_equal(dist_allreduce_i64(v, 2), RT_OK);
    assert_int_equal(dist_allreduce_max_i64(v, 2), RT_OK);
    assert_true(v[0] == 7 && v[1] == -9);
    assert_int_equal(dist_bcast(v, sizeof v, 0), RT_OK);
    char *all;
    size_t len, offsets[2];
    assert_int_equal(dist_allgather_bytes("abc", 3, &all, &len, offsets), RT_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(all, "abc", 3);
    assert_true(offsets[0] == 0 && offsets[1] == 3);
    free(all);
    assert_int_equal(dist_agree(RT_OK), RT_OK);
    assert_int_equal(dist_agree(RT_ERR_IO), RT_ERR_IO);
    rt_dist_finalize();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bm25_corpus_stats),
        cmocka_unit_test(test_bm25_title_keys_sharded),
        cmocka_unit_test(test_bm25_deleted_title),
        cmocka_unit_test(test_group_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
