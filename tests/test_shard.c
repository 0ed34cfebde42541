/*
 * test_shard.c — the pieces of sharded search and data-parallel training that run in one
 * process: BM25 corpus statistics (a shard searched with the statistics of the whole corpus,
 * summed over its shards, scores exactly as the unsharded index does), and the process group
 * alone (rank 0 of 1: every collective leaves the data as it is). The multi-process behaviour is
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

/* Shards {0, 2, 4} and {1, 3, 5} with summed statistics score like the index of all six. */
static void test_bm25_corpus_stats(void **state) {
    (void)state;
    const int all[] = {0, 1, 2, 3, 4, 5}, even[] = {0, 2, 4}, odd[] = {1, 3, 5};
    rt_bm25 *whole = index_of(all, 6), *shard[2] = {index_of(even, 3), index_of(odd, 3)};
    rt_bm25_scratch *s;
    assert_int_equal(rt_bm25_scratch_new(&s), RT_OK);
    const char *queries[] = {"quick brown fox", "lazy dogs", "the story", "unknown words only"};
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        const char *query = queries[q];
        rt_hit want[N_DOCS], got[N_DOCS];
        int n_want = rt_bm25_search_with(whole, s, query, strlen(query), N_DOCS, NULL, want);
        assert_true(n_want >= 0);
        rt_bm25_stats st[2];
        for (int k = 0; k < 2; k++)
            assert_int_equal(rt_bm25_query_stats(shard[k], s, query, strlen(query), &st[k]),
                             RT_OK);
        /* every shard lists the same terms, known to it or not */
        assert_int_equal(st[0].n_terms, st[1].n_terms);
        rt_bm25_stats sum = st[0];
        sum.n_chunks += st[1].n_chunks;
        sum.total_len += st[1].total_len;
        for (size_t t = 0; t < sum.n_terms; t++) {
            assert_string_equal(st[0].terms[t], st[1].terms[t]);
            sum.df[t] += st[1].df[t];
        }
        assert_int_equal(sum.n_chunks, N_DOCS);
        int n_got = 0;
        for (int k = 0; k < 2; k++) {
            rt_bm25_scratch_use_stats(s, &sum);
            int n = rt_bm25_search_with(shard[k], s, query, strlen(query), N_DOCS, NULL,
                                        got + n_got);
            rt_bm25_scratch_use_stats(s, NULL);
            assert_true(n >= 0);
            n_got += n;
        }
        assert_int_equal(n_got, n_want);
        for (int i = 0; i < n_want; i++) /* the same float operations on the same numbers */
            assert_true(score_of(got, n_got, want[i].id) == want[i].score);
        /* without the corpus's statistics a shard scores differently (the test can fail) */
        if (n_want > 0) {
            rt_hit local[N_DOCS];
            int n0 = rt_bm25_search_with(shard[0], s, query, strlen(query), N_DOCS, NULL, local);
            bool differs = false;
            for (int i = 0; i < n0; i++)
                differs |= score_of(want, n_want, local[i].id) != local[i].score;
            assert_true(n0 == 0 || differs);
        }
        rt_bm25_stats_free(&st[0]);
        rt_bm25_stats_free(&st[1]);
    }
    rt_bm25_scratch_free(s);
    rt_bm25_free(whole);
    rt_bm25_free(shard[0]);
    rt_bm25_free(shard[1]);
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
        cmocka_unit_test(test_group_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
