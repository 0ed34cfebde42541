/*
 * grounding.h — groundedness without a judge model: how well a claim (an answer sentence) is
 * supported by evidence (source passages), from word overlap and, when an embedder is given,
 * embedding similarity.
 *
 * Text is analyzed as BM25 analyzes it (knowledge/bm25: Unicode words, lower case, English
 * stopwords dropped, Snowball English stem; also the fillers yes/ok/okay/sure), so "compilers
 * translate" and "a compiler translated" share both terms. For a claim c against evidence E =
 * e_1..e_m:
 *
 *     U(x)    = set of analyzed terms of x;  B(x) = set of pairs of consecutive terms of x
 *     unigram = |U(c) ∩ (U(e_1) ∪ ... ∪ U(e_m))| / |U(c)|
 *     bigram  = |B(c) ∩ (B(e_1) ∪ ... ∪ B(e_m))| / |B(c)|      (= unigram when |B(c)| = 0)
 *     lexical = (unigram + bigram) / 2
 *     support = lexical                                        without an embedder
 *     support = (lexical + max(0, max_i cos(emb(c), emb(e_i)))) / 2     with one
 *
 * A claim is supported when support >= the threshold (rt_ask_params.support_threshold, default
 * 0.5: without an embedder, e.g. all content words present but only a few word pairs, or three
 * quarters of the words and a quarter of the pairs). A sentence with no content terms (e.g.
 * "Yes.") is not a claim. Known limits: a paraphrase with other words scores low; a negation
 * ("is not") is invisible, since "not" is a stopword; a contradiction that reuses the same words
 * in another order is caught only through the pairs.
 */
#ifndef RT_RAG_GROUNDING_H
#define RT_RAG_GROUNDING_H

#include "ragtune.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rt_grounder rt_grounder;

/* A text analyzed for support scoring. */
typedef struct rt_evidence {
    uint64_t *unigrams; /* sorted, unique term hashes */
    size_t n_unigrams;
    uint64_t *bigrams; /* sorted, unique hashes of consecutive term pairs */
    size_t n_bigrams;
    float *vector; /* embedding (dim floats, L2-normalized) or NULL */
} rt_evidence;

/* embedder may be NULL (lexical only); it must outlive the grounder. */
int rt_grounder_new(const rt_embedder *embedder, rt_grounder **out);
void rt_grounder_free(rt_grounder *g);

/* Analyzes text[0, len) into *ev (and embeds it when the grounder has an embedder and embed is
 * true). Free with rt_evidence_clear. */
int rt_evidence_build(rt_grounder *g, const char *text, size_t len, bool embed, rt_evidence *ev);
void rt_evidence_clear(rt_evidence *ev);

/* Support of claim by the evidence items (see the formula above); 0 when n == 0 or the claim
 * has no terms. */
float rt_grounder_support(const rt_grounder *g, const rt_evidence *claim,
                          const rt_evidence *const *evidence, size_t n);

/* Number of analyzed (content) terms in text[0, len); 0 means "not a claim". */
size_t rt_grounder_n_terms(rt_grounder *g, const char *text, size_t len);

#endif
