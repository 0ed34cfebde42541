/*
 * metrics.h — the numbers of an evaluation: answer quality (SQuAD v1.1 exact match and token F1,
 * answer-contains), retrieval quality (hit@k, recall@k, MRR, nDCG@k over evidence document ids),
 * uncertainty (seeded percentile bootstrap of a mean; paired bootstrap and exact sign test
 * between two strategies), refusal and hallucination rates, and latency percentiles.
 *
 * Pure functions over strings and arrays; no I/O. Answer normalization follows the official
 * SQuAD v1.1 evaluate script exactly: lowercase, drop ASCII punctuation (Python's
 * string.punctuation), drop the words a/an/the, collapse whitespace. Lowercasing is per code
 * point (utf8proc), as Python's str.lower() does for almost all text.
 */
#ifndef RT_EVAL_METRICS_H
#define RT_EVAL_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SQuAD v1.1 normalization of s; malloc'd (NULL only on allocation failure). */
char *rt_squad_normalize(const char *s);

/* 1 if normalize(pred) equals normalize(gold) for some gold, else 0 (0 when n_gold is 0). */
double rt_metric_exact_match(const char *pred, const char *const *gold, size_t n_gold);
/* Token F1 of normalize(pred) against normalize(gold): the maximum over golds (SQuAD's
 * metric_max_over_ground_truths); 0 when either side has no tokens. */
double rt_metric_f1(const char *pred, const char *const *gold, size_t n_gold);
/* 1 if some normalized gold (non-empty) occurs in normalized pred on token boundaries (the
 * PopQA-style "answer contains" accuracy), else 0. */
double rt_metric_contains(const char *pred, const char *const *gold, size_t n_gold);

/* Retrieval quality of one ranked list of document ids (duplicates — several chunks of one
 * document — count once, at their first rank) against the relevant ids, binary relevance. */
typedef struct rt_retrieval_scores {
    double hit;    /* 1 if any relevant id is in the first k */
    double recall; /* relevant ids in the first k / relevant ids */
    double mrr;    /* 1 / rank of the first relevant id (0 when none in the list) */
    double ndcg;   /* DCG@k / ideal DCG@k with gains 1/log2(rank+1) */
} rt_retrieval_scores;
void rt_retrieval_score(const char *const *ranked, size_t n_ranked, const char *const *relevant,
                        size_t n_relevant, int k, rt_retrieval_scores *out);

/* Mean of x[0..n) (0 when n is 0). */
double rt_mean(const double *x, size_t n);
/* Percentile bootstrap interval of the mean: n_resamples resamples of size n drawn with
 * replacement by a splitmix64 stream from seed; lo/hi are the (1-level)/2 and (1+level)/2
 * quantiles of the resampled means (level 0.95 for a 95% interval). n = 0 gives 0, 0. */
void rt_bootstrap_ci(const double *x, size_t n, int n_resamples, double level, uint64_t seed,
                     double *lo, double *hi);

/* Paired comparison of strategies a and b on the same questions (a[i], b[i] per question). */
typedef struct rt_paired_test {
    double delta;    /* mean(a) - mean(b) */
    double delta_lo; /* 95% paired bootstrap interval of delta */
    double delta_hi;
    double p_bootstrap; /* two-sided: 2 * min(share of resampled deltas <= 0, >= 0), at most 1 */
    int wins, losses;   /* questions where a > b, a < b (ties dropped) */
    double p_sign;      /* exact two-sided binomial sign test on wins vs losses (1 with none) */
} rt_paired_test;
void rt_paired_compare(const double *a, const double *b, size_t n, int n_resamples, uint64_t seed,
                       rt_paired_test *out);
/* Exact two-sided sign-test p-value for w wins and l losses (p = 0.5 each). */
double rt_sign_test_p(int wins, int losses);

/* Refusal quality: precision = abstentions on unanswerable questions / all abstentions;
 * recall = abstentions on unanswerable questions / unanswerable questions. A value whose
 * denominator is 0 is NAN. */
void rt_refusal_scores(const bool *abstained, const bool *unanswerable, size_t n, double *precision,
                       double *recall);
/* Hallucination rate over n questions: the share that were answered (not abstained), wrong
 * (correct[i] false; any answer to an unanswerable question is wrong) and not supported by the
 * context (support[i] < threshold; NAN support, e.g. closed-book, counts as unsupported). */
double rt_hallucination_rate(const bool *abstained, const bool *correct, const double *support,
                             size_t n, double threshold);

/* The q-quantile (0..1) of x[0..n) by linear interpolation between order statistics (numpy's
 * default); x is not modified. 0 when n is 0. */
double rt_quantile(const double *x, size_t n, double q);

#endif
