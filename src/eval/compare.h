/*
 * compare.h — the head-to-head runner (declared in ragtune.h: rt_compare_run and the spec).
 * Internal pieces shared with report.c and the tests: the prompts and the answer scoring.
 */
#ifndef RT_EVAL_COMPARE_H
#define RT_EVAL_COMPARE_H

#include "ragtune.h"

/* The closed-book prompt ("Question: Q\nAnswer:"), the format fine-tuning data is written in.
 * malloc'd. */
char *rt_eval_closed_prompt(const char *question);
/* The answer with citation markers ("[2]") removed and whitespace trimmed; malloc'd. */
char *rt_eval_strip_citations(const char *answer);
/* True if the answer is the reader's abstention. */
bool rt_eval_is_abstention(const char *answer);
#endif
