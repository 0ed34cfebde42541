/*
 * test_rag_grounding.c — support scores without a judge (formula in rag/grounding.h) on
 * hand-built cases: fully supported, partly supported, contradicted, empty, no-claim sentences;
 * an embedder's cosine entering the score; the chat follow-up rule (rag/condense.c).
 */
#include "testutil.h"
#include "rag/ask.h"
#include "rag/grounding.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char src[] = "FORTRAN is a programming language designed at IBM in 1957.";

static float support(rt_grounder *g, const char *claim, const char *evidence) {
    rt_evidence c, e;
    assert_int_equal(rt_evidence_build(g, claim, strlen(claim), true, &c), RT_OK);
    assert_int_equal(rt_evidence_build(g, evidence, strlen(evidence), true, &e), RT_OK);
    const rt_evidence *ev = &e;
    float s = rt_grounder_support(g, &c, &ev, 1);
    rt_evidence_clear(&c);
    rt_evidence_clear(&e);
    return s;
}

static void test_support_cases(void **s) {
    (void)s;
    rt_grounder *g;
    assert_int_equal(rt_grounder_new(NULL, &g), RT_OK);
    /* the source itself, and a reworded sentence with the same stems in order */
    assert_true(fabsf(support(g, src, src) - 1.0f) < 1e-6f);
    /* terms fortran design ibm 1957: all present; pairs design-ibm, ibm-1957 of 3 */
    float full = support(g, "FORTRAN was designed at IBM in 1957.", src);
    assert_true(fabsf(full - (1.0f + 2.0f / 3.0f) / 2.0f) < 1e-6f);
    /* contradicted: other company and year; 2 of 4 terms, no pair */
    float contra = support(g, "FORTRAN was designed at Microsoft in 1985.", src);
    assert_true(fabsf(contra - 0.25f) < 1e-6f);
    /* unrelated */
    assert_true(support(g, "Bananas grow on trees.", src) == 0.0f);
    /* no content words: not a claim */
    assert_int_equal(rt_grounder_n_terms(g, "Yes, it is.", 11), 0);
    assert_true(support(g, "It is.", src) == 0.0f);
    rt_grounder_free(g);
}

/* A toy embedder: a 3-d vector of counts of 'a', 'e', 'o'. */
static int toy_embed(void *user, const char *const *texts, const size_t *lens, int n, float *out) {
    (void)user;
    for (int i = 0; i < n; i++) {
        float v[3] = {0, 0, 0};
        for (size_t j = 0; j < lens[i]; j++) {
            v[0] += texts[i][j] == 'a';
            v[1] += texts[i][j] == 'e';
            v[2] += texts[i][j] == 'o';
        }
        memcpy(out + 3 * i, v, sizeof v);
    }
    return RT_OK;
}

static void test_embedding_term(void **s) {
    (void)s;
    rt_embedder emb = {"toy", 3, toy_embed, NULL};
    rt_grounder *g;
    assert_int_equal(rt_grounder_new(&emb, &g), RT_OK);
    /* identical text: cosine 1, lexical 1 */
    assert_true(fabsf(support(g, src, src) - 1.0f) < 1e-5f);
    /* contradicted: (0.25 + cos) / 2 with the toy cosine computed here */
    const char *c = "FORTRAN was designed at Microsoft in 1985.";
    float a[3] = {0}, b[3] = {0};
    for (const char *p = c; *p; p++)
        a[0] += *p == 'a', a[1] += *p == 'e', a[2] += *p == 'o';
    for (const char *p = src; *p; p++)
        b[0] += *p == 'a', b[1] += *p == 'e', b[2] += *p == 'o';
    float dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    float cosv = dot / sqrtf(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) /
                 sqrtf(b[0] * b[0] + b[1] * b[1] + b[2] * b[2]);
    assert_true(fabsf(support(g, c, src) - 0.5f * (0.25f + cosv)) < 1e-5f);
    rt_grounder_free(g);
}

static rt_ask_result *one_source(void) {
    rt_ask_result *r = calloc(1, sizeof *r);
    r->sources = calloc(1, sizeof *r->sources);
    r->n_sources = 1;
    r->sources[0] =
        (rt_ask_source){1, strdup("f"), NULL, strdup(""), 0, strlen(src), strdup(src), 1.0f, 0};
    return r;
}

static float groundedness(const char *answer, size_t *n_sentences) {
    rt_ask_result *r = one_source();
    assert_int_equal(rt_ask_finish(r, answer, strlen(answer), NULL, 0.5f, false), RT_OK);
    float gr = r->groundedness;
    *n_sentences = r->n_sentences;
    rt_ask_result_free(r);
    return gr;
}

static void test_answer_groundedness(void **s) {
    (void)s;
    size_t n;
    assert_true(groundedness("FORTRAN was designed at IBM in 1957 [1].", &n) == 1.0f);
    assert_int_equal(n, 1);
    /* partly: one supported sentence, one invented; "Yes." is no claim */
    assert_true(groundedness("Yes. FORTRAN was designed at IBM [1]. It runs on bananas.", &n) ==
                0.5f);
    assert_int_equal(n, 3);
    assert_true(groundedness("FORTRAN was designed at Microsoft in 1985 [1].", &n) == 0.0f);
    /* empty: no sentence, no claim, nothing grounded */
    assert_true(groundedness("", &n) == 0.0f);
    assert_int_equal(n, 0);
}

static void test_condense(void **s) {
    (void)s;
    char *q;
    /* a pronoun: the previous query's content words are appended */
    assert_int_equal(rt_rag_condense_question("What is FORTRAN?", "Who designed it?", &q), RT_OK);
    assert_string_equal(q, "Who designed it? FORTRAN");
    free(q);
    /* short (fewer than three content words), duplicates not repeated */
    assert_int_equal(
        rt_rag_condense_question("When was the Lisp language invented?", "And Lisp machines?", &q),
        RT_OK);
    assert_string_equal(q, "And Lisp machines? language invented");
    free(q);
    /* a standalone question stays as it is */
    assert_int_equal(rt_rag_condense_question("What is FORTRAN?",
                                              "Which company designed the Lisp machine?", &q),
                     RT_OK);
    assert_string_equal(q, "Which company designed the Lisp machine?");
    free(q);
    assert_int_equal(rt_rag_condense_question(NULL, "Why?", &q), RT_OK);
    assert_string_equal(q, "Why?");
    free(q);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_support_cases),
        cmocka_unit_test(test_embedding_term),
        cmocka_unit_test(test_answer_groundedness),
        cmocka_unit_test(test_condense),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
