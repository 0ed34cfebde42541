/*
 * report.h — the report of a head-to-head (declared in ragtune.h: rt_report_table,
 * rt_report_markdown, rt_report_html, rt_report_write) and the analysis the runner adds to it
 * before writing report.json: paired tests between strategies and the recommendation.
 */
#ifndef RT_EVAL_REPORT_H
#define RT_EVAL_REPORT_H

#include "ragtune.h"

#include <jansson.h>

/* Adds "paired" (paired bootstrap and sign tests of answer-contains and F1 between every two
 * strategies that ran) and "recommendation" (weighted by priority, e.g.
 * "accuracy,freshness,latency,cost") to report. */
int rt_report_add_analysis(json_t *report, const char *priority);

#endif
