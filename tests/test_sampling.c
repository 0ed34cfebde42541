/*
 * test_sampling.c — the sampler against hand-computed cases (greedy, HF repetition penalty,
 * top-k, top-p, min-p), its seeded determinism, empirical frequencies against the softmax
 * (tolerance 0.015 absolute on 20,000 draws, about 5 standard deviations), and the stop-string
 * matcher of the generation loop.
 */
#include "testutil.h"

#include "model/generate.h"
#include "model/sampling.h"
#include "ragtune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rt_sampler *make(rt_sampler_params p, int n_vocab) {
    rt_sampler *s = NULL;
    assert_int_equal(rt_sampler_new(&p, n_vocab, &s), RT_OK);
    return s;
}

/* rt_argmax_f32 against the plain loop `if (x[i] > x[best]) best = i`: random values with ties,
 * negatives, infinities and NaNs at the front, middle and end, lengths 1 to 70 and 32,000. */
static int32_t argmax_loop(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_argmax(void **state) {
    (void)state;
    enum { N = 32000 };
    float *x = malloc(N * sizeof *x);
    uint64_t rng = 42;
    for (int trial = 0; trial < 400; trial++) {
        int n = trial < 300 ? 1 + trial % 70 : N;
        for (int i = 0; i < n; i++) /* few distinct values: many ties */
            x[i] = (float)(int)(rt_rng_uniform(&rng) * 7.0f) - 3.0f;
        int kind = trial % 6, at = (int)(rt_rng_uniform(&rng) * (float)n);
        if (kind == 1) x[at] = INFINITY;
        if (kind == 2) x[at] = -INFINITY;
        if (kind == 3) x[at] = NAN;
        if (kind == 4) x[0] = NAN;
        if (kind == 5)
            for (int i = 0; i < n; i++)
                x[i] = -INFINITY;
        assert_int_equal(rt_argmax_f32(x, n), argmax_loop(x, n));
    }
    free(x);
}

static void test_greedy(void **state) {
    (void)state;
    float logits[5] = {0.1f, 3.0f, -1.0f, 2.9f, 0.0f};
    rt_sampler *s = make(rt_sampler_default_params(), 5);
    assert_int_equal(rt_sampler_sample(s, logits, NULL, 0), 1);
    assert_float_equal(logits[1], 3.0f, 0.0f); /* input untouched */
    rt_sampler_free(s);
}

static void test_repeat_penalty_hf_semantics(void **state) {
    (void)state;
    /* HF: positive logits divided, negative multiplied, each id once however often seen */
    float logits[3] = {2.0f, -2.0f, 1.5f};
    int32_t history[4] = {0, 1, 0, 0};
    rt_sampler_params p = rt_sampler_default_params();
    p.repeat_penalty = 2.0f; /* -> {1.0, -4.0, 1.5}: greedy picks 2 */
    rt_sampler *s = make(p, 3);
    assert_int_equal(rt_sampler_sample(s, logits, history, 4), 2);
    /* the window: only the last token (1) is penalized -> {2.0, -4.0, 1.5} picks 0 */
    rt_sampler_free(s);
    p.repeat_last_n = 1;
    int32_t h2[2] = {0, 1};
    s = make(p, 3);
    assert_int_equal(rt_sampler_sample(s, logits, h2, 2), 0);
    /* penalty 1.5 with 0 seen: 2.0/1.5 = 1.333 < 1.5 -> 2 */
    rt_sampler_free(s);
    p.repeat_penalty = 1.5f;
    p.repeat_last_n = -1;
    int32_t h3[1] = {0};
    s = make(p, 3);
    assert_int_equal(rt_sampler_sample(s, logits, h3, 1), 2);
    rt_sampler_free(s);
}

/* Frequencies of n draws. */
static void draw(rt_sampler *s, const float *logits, int n_vocab, int n, double *freq) {
    for (int i = 0; i < n_vocab; i++)
        freq[i] = 0;
    for (int i = 0; i < n; i++) {
        int32_t t = rt_sampler_sample(s, logits, NULL, 0);
        assert_true(t >= 0 && t < n_vocab);
        freq[t] += 1.0 / n;
    }
}

static void test_temperature_frequencies(void **state) {
    (void)state;
    /* probs 0.5, 0.3, 0.15, 0.05 as logits */
    float logits[4] = {logf(0.5f), logf(0.3f), logf(0.15f), logf(0.05f)};
    double freq[4], want[4] = {0.5, 0.3, 0.15, 0.05};
    rt_sampler_params p = rt_sampler_default_params();
    p.temperature = 1.0f;
    rt_sampler *s = make(p, 4);
    draw(s, logits, 4, 20000, freq);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(freq[i] - want[i]) < 0.015);
    rt_sampler_free(s);

    /* temperature 0.5 squares the probabilities: 0.25, 0.09, 0.0225, 0.0025 over 0.365 */
    p.temperature = 0.5f;
    s = make(p, 4);
    draw(s, logits, 4, 20000, freq);
    double z = 0.25 + 0.09 + 0.0225 + 0.0025;
    assert_true(fabs(freq[0] - 0.25 / z) < 0.015);
    assert_true(fabs(freq[1] - 0.09 / z) < 0.015);
    rt_sampler_free(s);
}

static void test_top_p_min_p_top_k(void **state) {
    (void)state;
    float logits[4] = {logf(0.3f), logf(0.5f), logf(0.05f), logf(0.15f)};
    double freq[4];
    rt_sampler_params p = rt_sampler_default_params();
    p.temperature = 1.0f;
    p.top_p = 0.7f; /* 0.5 + 0.3 >= 0.7: keep ids 1 and 0, renormalized 0.625 / 0.375 */
    rt_sampler *s = make(p, 4);
    draw(s, logits, 4, 20000, freq);
    assert_true(fabs(freq[1] - 0.625) < 0.015 && fabs(freq[0] - 0.375) < 0.015);
    assert_true(freq[2] == 0 && freq[3] == 0);
    rt_sampler_free(s);

    p.top_p = 1.0f;
    p.min_p = 0.35f; /* keep p >= 0.175: ids 1 and 0 */
    s = make(p, 4);
    draw(s, logits, 4, 5000, freq);
    assert_true(freq[2] == 0 && freq[3] == 0 && freq[0] > 0.3);
    rt_sampler_free(s);

    p.min_p = 0.0f;
    p.top_k = 3; /* drop id 2: 0.3, 0.5, 0.15 over 0.95 */
    s = make(p, 4);
    draw(s, logits, 4, 20000, freq);
    assert_true(freq[2] == 0 && fabs(freq[3] - 0.15 / 0.95) < 0.015);
    rt_sampler_free(s);

    p.top_k = 1; /* top-1 = greedy */
    s = make(p, 4);
    draw(s, logits, 4, 100, freq);
    assert_true(freq[1] > 0.999);
    rt_sampler_free(s);
}

static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

static void test_top_k_large_vocab(void **state) {
    (void)state;
    enum { V = 50000, K = 40 };
    float *logits = malloc(V * sizeof *logits), *sorted = malloc(V * sizeof *sorted);
    uint64_t rng = 7;
    for (int i = 0; i < V; i++)
        logits[i] = sorted[i] = 4.0f * rt_rng_uniform(&rng);
    qsort(sorted, V, sizeof *sorted, cmp_desc);
    rt_sampler_params p = rt_sampler_default_params();
    p.temperature = 5.0f;
    p.top_k = K;
    rt_sampler *s = make(p, V);
    for (int i = 0; i < 500; i++) {
        int32_t t = rt_sampler_sample(s, logits, NULL, 0);
        assert_true(logits[t] >= sorted[K - 1]);
    }
    rt_sampler_free(s);
    /* top-p over a large flat-ish vocabulary exercises the head pre-filter */
    p.top_k = 0;
    p.top_p = 0.5f;
    p.temperature = 1.0f;
    s = make(p, V);
    for (int i = 0; i < 200; i++) {
        int32_t t = rt_sampler_sample(s, logits, NULL, 0);
        assert_true(t >= 0 && t < V);
    }
    rt_sampler_free(s);
    free(logits);
    free(sorted);
}

static void test_seeded_determinism(void **state) {
    (void)state;
    enum { V = 1000 };
    float logits[V];
    uint64_t rng = 3;
    for (int i = 0; i < V; i++)
        logits[i] = 3.0f * rt_rng_uniform(&rng);
    rt_sampler_params p = rt_sampler_default_params();
    p.temperature = 0.8f;
    p.top_p = 0.9f;
    p.seed = 42;
    rt_sampler *a = make(p, V), *b = make(p, V);
    p.seed = 43;
    rt_sampler *c = make(p, V);
    int differ = 0;
    for (int i = 0; i < 50; i++) {
        int32_t ta = rt_sampler_sample(a, logits, NULL, 0);
        assert_int_equal(ta, rt_sampler_sample(b, logits, NULL, 0));
        differ += ta != rt_sampler_sample(c, logits, NULL, 0);
    }
    assert_true(differ > 0);
    rt_sampler_free(a);
    rt_sampler_free(b);
    rt_sampler_free(c);
}

static void test_bad_params(void **state) {
    (void)state;
    rt_sampler *s = NULL;
    rt_sampler_params p = rt_sampler_default_params();
    p.top_p = 0.0f;
    assert_int_equal(rt_sampler_new(&p, 10, &s), RT_ERR_INVALID);
    p = rt_sampler_default_params();
    p.repeat_penalty = 0.0f;
    assert_int_equal(rt_sampler_new(&p, 10, &s), RT_ERR_INVALID);
    p = rt_sampler_default_params();
    assert_int_equal(rt_sampler_new(&p, 0, &s), RT_ERR_INVALID);
    assert_null(s);
}

/* Pushes pieces and concatenates what is released; returns the index of the piece that hit a
 * stop string, or -1. */
static int run_matcher(const char *const *stops, int n_stops, const char *const *pieces,
                       int n_pieces, char *out) {
    rt_stop_matcher m;
    assert_int_equal(rt_stop_matcher_init(&m, stops, n_stops), RT_OK);
    out[0] = 0;
    int hit = -1;
    for (int i = 0; i < n_pieces && hit < 0; i++) {
        const char *r;
        size_t n;
        int st = rt_stop_matcher_push(&m, pieces[i], strlen(pieces[i]), &r, &n);
        assert_true(st >= 0);
        strncat(out, r, n);
        if (st == 1) hit = i;
    }
    if (hit < 0) strncat(out, m.pending, m.n_pending); /* the final flush */
    rt_stop_matcher_free(&m);
    return hit;
}

static void test_stop_strings(void **state) {
    (void)state;
    char out[256];
    const char *stops[] = {"###", "\nUser:"};
    const char *p1[] = {"Hello", " wor", "ld#", "#", "# more"};
    assert_int_equal(run_matcher(stops, 2, p1, 5, out), 4);
    assert_string_equal(out, "Hello world");
    const char *p2[] = {"a\nUs", "e", "r is", " here"}; /* a near miss is released in full */
    assert_int_equal(run_matcher(stops, 2, p2, 4, out), -1);
    assert_string_equal(out, "a\nUser is here");
    const char *p3[] = {"x##"}; /* held back, flushed at the end */
    assert_int_equal(run_matcher(stops, 2, p3, 1, out), -1);
    assert_string_equal(out, "x##");
    const char *p4[] = {"ab\nUser: hi ###"}; /* earliest stop wins */
    assert_int_equal(run_matcher(stops, 2, p4, 1, out), 0);
    assert_string_equal(out, "ab");
    rt_stop_matcher m;
    const char *empty[] = {""};
    assert_int_equal(rt_stop_matcher_init(&m, empty, 1), RT_ERR_INVALID);
    rt_stop_matcher_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_argmax),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_repeat_penalty_hf_semantics),
        cmocka_unit_test(test_temperature_frequencies),
        cmocka_unit_test(test_top_p_min_p_top_k),
        cmocka_unit_test(test_top_k_large_vocab),
        cmocka_unit_test(test_seeded_determinism),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_stop_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
