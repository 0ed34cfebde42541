/*
 * test_chunker.c — the four chunkers: sizes within the limit, overlaps, byte ranges inside the
 * text and trimmed, headings respected by the recursive chunker, sentences kept whole, the
 * semantic chunker splitting where the topic changes, and a custom token counter.
 */
#define _GNU_SOURCE
#include "testutil.h"
#include "knowledge/chunker.h"
#include "knowledge/words.h"

#include <stdlib.h>
#include <string.h>

static size_t words(const char *t, size_t s, size_t e) {
    return rt_words_count_tokens(NULL, t + s, e - s);
}

static void check_spans(const char *t, const rt_span *sp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        assert_true(sp[i].start < sp[i].end);
        assert_true(sp[i].end <= strlen(t));
        assert_true(t[sp[i].start] != ' ' && t[sp[i].end - 1] != ' ');
        if (i) assert_true(sp[i].start >= sp[i - 1].start);
    }
}

static void test_fixed(void **s) {
    (void)s;
    char text[2000] = "";
    for (int i = 0; i < 100; i++) {
        char w[16];
        snprintf(w, sizeof w, "w%d ", i);
        strcat(text, w);
    }
    rt_chunker_params p = rt_chunker_default_params();
    p.kind = RT_CHUNKER_FIXED;
    p.chunk_tokens = 10;
    p.overlap_tokens = 3;
    rt_span *sp;
    size_t n;
    assert_int_equal(rt_chunk_text(&p, NULL, text, strlen(text), &sp, &n), RT_OK);
    check_spans(text, sp, n);
    /* 100 words, windows of 10 advancing by 7: ceil((100 - 10) / 7) + 1 = 14 windows. */
    assert_int_equal(n, 14);
    for (size_t i = 0; i < n; i++)
        assert_true(words(text, sp[i].start, sp[i].end) <= 10);
    assert_true(strncmp(text + sp[1].start, "w7 ", 3) == 0); /* 3 words shared */
    free(sp);
}

static size_t count_chars(void *user, const char *t, size_t n) {
    (*(int *)user)++;
    (void)t;
    return n;
}

static void test_recursive_and_counter(void **s) {
    (void)s;
    const char *t = "# Alpha\n\nAlpha one. Alpha two.\n\n# Beta\n\nBeta one is here. Beta two.";
    rt_chunker_params p = rt_chunker_default_params();
    p.chunk_tokens = 12;
    rt_span *sp;
    size_t n;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_OK);
    check_spans(t, sp, n);
    assert_int_equal(n, 2); /* one chunk per heading section */
    assert_true(strncmp(t + sp[0].start, "# Alpha", 7) == 0);
    assert_true(strncmp(t + sp[1].start, "# Beta", 6) == 0);
    free(sp);
    /* A character counter with limit 20 forces sentence-level pieces. */
    int calls = 0;
    p.count_tokens = count_chars;
    p.count_tokens_user = &calls;
    p.chunk_tokens = 20;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_OK);
    check_spans(t, sp, n);
    assert_true(calls > 0);
    for (size_t i = 0; i < n; i++)
        assert_true(sp[i].end - sp[i].start <= 20);
    free(sp);
}

static void test_sentence(void **s) {
    (void)s;
    const char *t = "One two three. Four five six! Seven eight nine? Ten.";
    rt_chunker_params p = rt_chunker_default_params();
    p.kind = RT_CHUNKER_SENTENCE;
    p.chunk_tokens = 8;
    rt_span *sp;
    size_t n;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_OK);
    check_spans(t, sp, n);
    assert_int_equal(n, 2);
    assert_int_equal(sp[0].end - sp[0].start, strlen("One two three. Four five six!"));
    free(sp);
}

/* A heading too small to be a chunk (at most chunk_tokens/16 tokens) joins the chunk after it;
 * a small last piece joins the one before. */
static void test_tiny_pieces_merge(void **s) {
    (void)s;
    char t[4000] = "Lisp\n\n";
    for (int i = 0; i < 40; i++)
        strcat(t, "word ");
    strcat(t, "\n\n");
    for (int i = 0; i < 40; i++)
        strcat(t, "more ");
    strcat(t, "\n\nFin");
    rt_chunker_params p = rt_chunker_default_params();
    p.chunk_tokens = 40; /* a paragraph fits, "Lisp" + one does not; tiny = 40 / 16 = 2 */
    rt_span *sp;
    size_t n;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_OK);
    check_spans(t, sp, n);
    assert_int_equal(n, 2);
    assert_int_equal(sp[0].start, 0); /* "Lisp" is in the first paragraph's chunk */
    assert_int_equal(words(t, sp[0].start, sp[0].end), 41);
    assert_true(strncmp(t + sp[1].start, "more", 4) == 0);
    assert_int_equal(sp[1].end, strlen(t)); /* "Fin" is in the last paragraph's chunk */
    assert_int_equal(words(t, sp[1].start, sp[1].end), 41);
    free(sp);
    /* FIXED windows are exact: no merging there (82 words, 40 each: 3 windows). */
    p.kind = RT_CHUNKER_FIXED;
    p.overlap_tokens = 0;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_OK);
    assert_int_equal(n, 3);
    free(sp);
}

/* Sentences mentioning "cat" point one way, "car" the other. */
static int topic_embed(void *user, const char *const *texts, const size_t *lens, int n,
                       float *out) {
    (void)user;
    for (int i = 0; i < n; i++) {
        bool cat = memmem(texts[i], lens[i], "cat", 3) != NULL;
        out[2 * i] = cat ? 1.0f : 0.1f;
        out[2 * i + 1] = cat ? 0.1f : 1.0f;
    }
    return 0;
}

static void test_semantic(void **s) {
    (void)s;
    const char *t = "The cat sleeps. A cat purrs. Cats cat nap. The car drives. A car honks.";
    rt_chunker_params p = rt_chunker_default_params();
    p.kind = RT_CHUNKER_SEMANTIC;
    p.semantic_percentile = 50;
    rt_embedder e = {"topic", 2, topic_embed, NULL};
    rt_span *sp;
    size_t n;
    assert_int_equal(rt_chunk_text(&p, NULL, t, strlen(t), &sp, &n), RT_ERR_INVALID);
    assert_int_equal(rt_chunk_text(&p, &e, t, strlen(t), &sp, &n), RT_OK);
    check_spans(t, sp, n);
    assert_int_equal(n, 2);
    assert_int_equal(sp[0].end, strlen("The cat sleeps. A cat purrs. Cats cat nap."));
    free(sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_recursive_and_counter),
        cmocka_unit_test(test_sentence),
        cmocka_unit_test(test_tiny_pieces_merge),
        cmocka_unit_test(test_semantic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
