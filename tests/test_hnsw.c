/*
 * test_hnsw.c — HNSW recall@10 against exact search (f32 and int8, L2 and cosine), deletes,
 * filters, save/load round trip through the mapped file, and corrupt files rejected; the SIMD
 * kernels against the scalar ones; arrays past 2 MiB (huge-page allocation) and work counters.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "knowledge/hnsw.h"
#include "knowledge/vector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 88172645463325252ull;
static float frand(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 11) * (1.0 / 9007199254740992.0));
}
static float gauss(void) {
    float u = frand() + 1e-7f, v = frand();
    return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

/* n clustered vectors (dim): 20 centres, unit spread. */
static float *clustered(size_t n, size_t dim) {
    float *c = malloc(20 * dim * sizeof *c), *x = malloc(n * dim * sizeof *x);
    for (size_t i = 0; i < 20 * dim; i++)
        c[i] = 4 * gauss();
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)(frand() * 20) % 20;
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = c[k * dim + j] + gauss();
    }
    free(c);
    return x;
}

static double recall(rt_hnsw *h, const float *base, size_t n, const float *q, size_t nq, size_t dim,
                     rt_metric metric, int ef) {
    rt_hit a[10], b[10];
    size_t hit = 0;
    float *norm = NULL;
    if (metric == RT_METRIC_COSINE) {
        norm = malloc(n * dim * sizeof *norm);
        memcpy(norm, base, n * dim * sizeof *norm);
        for (size_t i = 0; i < n; i++)
            rt_vec_normalize(norm + i * dim, dim);
        base = norm;
    }
    for (size_t i = 0; i < nq; i++) {
        float qq[256];
        memcpy(qq, q + i * dim, dim * sizeof *qq);
        if (metric == RT_METRIC_COSINE) rt_vec_normalize(qq, dim);
        int ne = rt_vec_exact_search(base, NULL, n, dim, metric, qq, 10, NULL, a);
        int nh = rt_hnsw_search(h, q + i * dim, 10, ef, NULL, b);
        assert_int_equal(ne, 10);
        assert_int_equal(nh, 10);
        for (int x = 0; x < 10; x++)
            for (int y = 0; y < 10; y++)
                if (a[x].id == b[y].id) hit++;
    }
    free(norm);
    return (double)hit / (double)(nq * 10);
}

static void run_recall(rt_metric metric, bool int8, double min_recall) {
    size_t n = 5000, dim = 32, nq = 100;
    float *base = clustered(n + nq, dim), *q = base + n * dim; /* queries from the same mix */
    rt_hnsw_config cfg = rt_hnsw_default_config((int)dim);
    cfg.metric = metric;
    cfg.int8 = int8;
    cfg.ef_construction = 100;
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_new(&cfg, &h), RT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rt_hnsw_add(h, (int64_t)i, base + i * dim), 0);
    double r = recall(h, base, n, q, nq, dim, metric, 64);
    print_message("recall@10 metric %d int8 %d: %.3f\n", (int)metric, (int)int8, r);
    /* Tolerance: HNSW with ef 64 on 5k clustered points reaches > 0.95 (int8 loses a little). */
    assert_true(r >= min_recall);
    rt_hnsw_free(h);
    free(base);
}

static void test_recall_l2(void **s) {
    (void)s;
    run_recall(RT_METRIC_L2, false, 0.95);
}
static void test_recall_cosine(void **s) {
    (void)s;
    run_recall(RT_METRIC_COSINE, false, 0.95);
}
static void test_recall_int8(void **s) {
    (void)s;
    run_recall(RT_METRIC_L2, true, 0.90);
}

static void test_kernels(void **s) {
    (void)s;
    const rt_vec_kernels *ks[] = {rt_vec_kernels_for(RT_CPU_SCALAR), rt_vec_kernels_get()};
    float a[77], b[77];
    int8_t c[77];
    for (int i = 0; i < 77; i++) {
        a[i] = gauss();
        b[i] = gauss();
        c[i] = (int8_t)(i * 7 % 255 - 127);
    }
    for (size_t n = 0; n <= 77; n++) {
        /* Tolerance: float sums in a different order, relative 1e-5. */
        float l = ks[0]->l2sq(a, b, n), d = ks[0]->dot(a, b, n), e = ks[0]->dot_i8(a, c, n);
        assert_true(fabsf(ks[1]->l2sq(a, b, n) - l) <= 1e-5f * (1 + fabsf(l)));
        assert_true(fabsf(ks[1]->dot(a, b, n) - d) <= 1e-5f * (1 + fabsf(d)));
        assert_true(fabsf(ks[1]->dot_i8(a, c, n) - e) <= 1e-4f * (1 + fabsf(e)));
    }
}

static void test_delete_filter_persist(void **s) {
    (void)s;
    size_t n = 2000, dim = 16;
    float *base = clustered(n, dim);
    rt_hnsw_config cfg = rt_hnsw_default_config((int)dim);
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_new(&cfg, &h), RT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rt_hnsw_add(h, (int64_t)(10 + 2 * i), base + i * dim), 0);
    assert_int_equal(rt_hnsw_add(h, 5, base), RT_ERR_INVALID); /* out of order */
    rt_hit r[10];
    /* The query equal to node 7 finds it first; after a delete it is gone. */
    assert_true(rt_hnsw_search(h, base + 7 * dim, 10, 50, NULL, r) > 0);
    assert_int_equal(r[0].id, 10 + 2 * 7);
    assert_int_equal(rt_hnsw_remove(h, 10 + 2 * 7), RT_OK);
    int nr = rt_hnsw_search(h, base + 7 * dim, 10, 50, NULL, r);
    for (int i = 0; i < nr; i++)
        assert_true(r[i].id != 10 + 2 * 7);
    assert_int_equal(rt_hnsw_size(h), n - 1);
    /* Filter: only labels divisible by 4 (i even) are allowed. */
    int64_t nbits = 10 + 2 * (int64_t)n;
    uint64_t *bits = calloc((size_t)(nbits + 63) / 64, 8);
    for (int64_t l = 0; l < nbits; l += 4)
        bits[l >> 6] |= 1ull << (l & 63);
    rt_idset allowed = {bits, nbits};
    nr = rt_hnsw_search(h, base + 9 * dim, 10, 100, &allowed, r);
    assert_int_equal(nr, 10);
    for (int i = 0; i < nr; i++)
        assert_int_equal(r[i].id % 4, 0);
    rt_hit ex[10];
    assert_int_equal(rt_hnsw_search_exact(h, base + 9 * dim, 10, &allowed, ex), 10);
    assert_int_equal(ex[0].id, r[0].id);
    /* Save, load (mapped), same answers; then grow the loaded index. */
    char *dir = tu_tmpdir("hnsw");
    char *path = rt_path_join(dir, "h.idx");
    rt_hnsw_set_applied_seq(h, 42);
    assert_int_equal(rt_hnsw_save(h, path), RT_OK);
    rt_hnsw *g;
    assert_int_equal(rt_hnsw_load(path, &g), RT_OK);
    assert_int_equal(rt_hnsw_applied_seq(g), 42);
    assert_int_equal(rt_hnsw_size(g), n - 1);
    rt_hit r2[10];
    nr = rt_hnsw_search(h, base + 3 * dim, 10, 50, NULL, r);
    assert_int_equal(rt_hnsw_search(g, base + 3 * dim, 10, 50, NULL, r2), nr);
    for (int i = 0; i < nr; i++)
        assert_int_equal(r[i].id, r2[i].id);
    assert_int_equal(rt_hnsw_add(g, 100000, base + 3 * dim), RT_OK);
    assert_int_equal(rt_hnsw_search(g, base + 3 * dim, 1, 50, NULL, r2), 1);
    assert_true(r2[0].id == 100000 || r2[0].id == 10 + 2 * 3);
    float v[16];
    assert_int_equal(rt_hnsw_get(g, 10, v), RT_OK);
    assert_true(tu_max_abs_diff(v, base, dim) == 0);
    rt_hnsw_free(g);
    /* Corrupt files: truncated, bad magic, link out of range. */
    char *buf;
    size_t len;
    assert_int_equal(rt_file_read_all(path, 1 << 30, &buf, &len), RT_OK);
    assert_int_equal(rt_hnsw_load_buffer(buf, len - 1, "t", &g), RT_ERR_FORMAT);
    assert_int_equal(rt_hnsw_load_buffer(buf, 100, "t", &g), RT_ERR_FORMAT);
    buf[0] ^= 1;
    assert_int_equal(rt_hnsw_load_buffer(buf, len, "t", &g), RT_ERR_FORMAT);
    buf[0] ^= 1;
    uint32_t bad = 0xffffff;
    memcpy(buf + 128 + 4, &bad, 4); /* first link of node 0 */
    uint32_t one = 1;
    memcpy(buf + 128, &one, 4);
    assert_int_equal(rt_hnsw_load_buffer(buf, len, "t", &g), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "bad link"));
    free(buf);
    /* Compaction: delete every other node, rebuild, same answers as exact search. */
    for (size_t i = 0; i < n; i += 2)
        assert_int_equal(rt_hnsw_remove(h, 10 + 2 * (int64_t)i), 0);
    assert_int_equal(rt_hnsw_compact(&h), RT_OK);
    assert_int_equal(rt_hnsw_n_deleted(h), 0);
    assert_int_equal(rt_hnsw_size(h), n / 2 - 1); /* node 7 was deleted above */
    assert_int_equal(rt_hnsw_search(h, base + 5 * dim, 10, 100, NULL, r), 10);
    assert_int_equal(rt_hnsw_search_exact(h, base + 5 * dim, 10, NULL, ex), 10);
    assert_int_equal(r[0].id, 10 + 2 * 5);
    assert_int_equal(ex[0].id, 10 + 2 * 5);
    free(bits);
    free(path);
    tu_rmtree(dir);
    free(dir);
    rt_hnsw_free(h);
    free(base);
}

/* An index whose level-0 array and visited stamps pass 2 MiB (the huge-page allocation path),
 * grown by copying across it: vectors intact, recall, a fresh scratch answering as the index's
 * own, and the work counters (deterministic, and bounded by the links a hop can read). */
static void test_large_arrays_counts(void **s) {
    (void)s;
    size_t n = 3000, dim = 192, nq = 30; /* blocks of 912 bytes: 2.1 MB at the third growth */
    float *base = clustered(n + nq, dim), *q = base + n * dim;
    rt_hnsw_config cfg = rt_hnsw_default_config((int)dim);
    cfg.ef_construction = 60;
    rt_hnsw *h;
    assert_int_equal(rt_hnsw_new(&cfg, &h), RT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(rt_hnsw_add(h, (int64_t)i, base + i * dim), 0);
    assert_true(rt_hnsw_memory(h) > (size_t)2 << 20);
    float *v = malloc(dim * sizeof *v);
    for (size_t i = 0; i < n; i += 7) {
        assert_int_equal(rt_hnsw_get(h, (int64_t)i, v), RT_OK);
        assert_true(tu_max_abs_diff(v, base + i * dim, dim) == 0);
    }
    double r = recall(h, base, n, q, nq, dim, RT_METRIC_L2, 100);
    print_message("recall@10 dim %zu: %.3f\n", dim, r);
    assert_true(r >= 0.9); /* Tolerance: ef 100 on 3k clustered points, measured 1.000 */
    rt_hnsw_scratch *sc;
    assert_int_equal(rt_hnsw_scratch_new(&sc), RT_OK);
    uint64_t hops, dists, hops2, dists2;
    rt_hnsw_scratch_counts(sc, &hops, &dists);
    assert_true(hops == 0 && dists == 0);
    rt_hit a[10], b[10];
    for (size_t i = 0; i < nq; i++) {
        int na = rt_hnsw_search(h, q + i * dim, 10, 40, NULL, a);
        assert_int_equal(rt_hnsw_search_with(h, sc, q + i * dim, 10, 40, NULL, b), na);
        for (int j = 0; j < na; j++) {
            assert_int_equal(a[j].id, b[j].id);
            assert_true(a[j].score == b[j].score);
        }
    }
    rt_hnsw_scratch_counts(sc, &hops, &dists);
    assert_true(hops >= nq && dists >= hops);
    assert_true(dists <= hops * 2 * (uint64_t)cfg.m);
    /* The same searches again do the same work. */
    for (size_t i = 0; i < nq; i++)
        assert_int_equal(rt_hnsw_search_with(h, sc, q + i * dim, 10, 40, NULL, b), 10);
    rt_hnsw_scratch_counts(sc, &hops2, &dists2);
    assert_true(hops2 == 2 * hops && dists2 == 2 * dists);
    rt_hnsw_scratch_free(sc);
    free(v);
    rt_hnsw_free(h);
    free(base);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernels),
        cmocka_unit_test(test_recall_l2),
        cmocka_unit_test(test_recall_cosine),
        cmocka_unit_test(test_recall_int8),
        cmocka_unit_test(test_delete_filter_persist),
        cmocka_unit_test(test_large_arrays_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
