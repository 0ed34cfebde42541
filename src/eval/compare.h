/*
 * compare.h — the head-to-head runner (declared in ragtune.h: rt_compare_run and the spec).
 * Internal pieces shared with report.c, spec.c and the tests: the prompts, the answer scoring
 * and a named strategy's settings.
 */
#ifndef RT_EVAL_COMPARE_H
#define RT_EVAL_COMPARE_H

#include "ragtune.h"

#include <jansson.h>

/* The closed-book prompt ("Question: Q\nAnswer:"), the format fine-tuning data is written in.
 * malloc'd. */
char *rt_eval_closed_prompt(const char *question);
/* The answer with citation markers ("[2]") removed and whitespace trimmed; malloc'd. */
char *rt_eval_strip_citations(const char *answer);
/* True if the answer is the reader's abstention. */
bool rt_eval_is_abstention(const char *answer);

/* The judge's prompt: the question, the reference answers (" | " between them), the proposed
 * answer, asking for "yes" or "no"; malloc'd. */
char *rt_eval_judge_prompt(const char *question, const char *const *gold, size_t n_gold,
                           const char *answer);
/* The judge's verdict from its reply's first word: 1 (yes/correct/true), 0 (no/incorrect/
 * wrong/false), -1 (neither). */
int rt_eval_judge_parse(const char *reply);

/* The settings strategy o runs under: g with o's overrides (o NULL: g). (spec.c) */
void rt_compare_strategy_apply(const rt_compare_spec *g, const rt_compare_strategy *o,
                               rt_compare_spec *eff);
/* o's overrides as a JSON object with the spec file's field names ({} for NULL); new
 * reference. */
json_t *rt_compare_strategy_json(const rt_compare_strategy *o);
#endif
