/*
 * report.c — analysis (paired tests, recommendation) and rendering of a compare report: a
 * terminal table, Markdown, and one self-contained HTML page with inline SVG charts (accuracy
 * vs cost, latency per question, training loss curves, adaptability before/after) and a table
 * of the questions where strategies disagree. Every number comes from report.json.
 *
 * The recommendation scores each strategy that ran on four axes, each scaled to 0..1 against
 * the best strategy of the run: accuracy (answer-contains), freshness (accuracy on changed
 * facts after adapting, when the run measured it), latency (median per query) and cost
 * (training run + 1,000 queries); weights 0.4/0.3/0.2/0.1 in the order of --priority.
 */
#include "eval/report.h"

#include "core/error.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "eval/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading the report ---- */

static double getd(json_t *o, const char *path) {
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *v = o;
    for (char *t = strtok(buf, "."); t && v; t = strtok(NULL, "."))
        v = json_object_get(v, t);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *gets_(json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool ok_strategy(json_t *s) {
    return !strcmp(gets_(s, "status"), "ok");
}

static double accuracy(json_t *s) {
    return getd(s, "metrics.contains.mean");
}

static double total_cost(json_t *s) {
    double a = getd(s, "cost.per_1000_queries"), b = getd(s, "cost.per_training_run");
    return (isnan(a) ? 0 : a) + (isnan(b) ? 0 : b);
}

/* Freshness: accuracy on the changed facts after adapting (before, when it cannot adapt);
 * NAN when the run had no update split. */
static double freshness(json_t *s) {
    json_t *ad = json_object_get(s, "adaptability");
    if (!ad) return NAN;
    json_t *after = json_object_get(ad, "after");
    if (json_is_object(after)) return getd(after, "contains.mean");
    return getd(ad, "before.contains.mean");
}

/* ---- analysis ---- */

static json_t *question_values(json_t *s, const char *key, size_t *n) {
    (void)n;
    json_t *qs = json_object_get(json_object_get(s, "metrics"), "questions");
    json_t *a = json_array();
    size_t i;
    json_t *q;
    json_array_foreach(qs, i, q) {
        json_array_append_new(a, json_real(json_number_value(json_object_get(q, key))));
    }
    return a;
}

static int paired(json_t *report) {
    json_t *ss = json_object_get(report, "strategies"), *out = json_array();
    size_t n = json_array_size(ss);
    static const char *metrics[] = {"contains", "f1"};
    uint64_t seed = (uint64_t)getd(report, "config.seed");
    int resamples = (int)getd(report, "config.bootstrap_resamples");
    if (resamples < 1) resamples = 1000;
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(ss, i);
        if (!ok_strategy(a)) continue;
        for (size_t j = i + 1; j < n; j++) {
            json_t *b = json_array_get(ss, j);
            if (!ok_strategy(b)) continue;
            for (int m = 0; m < 2; m++) {
                size_t na = 0;
                json_t *va = question_values(a, metrics[m], &na),
                       *vb = question_values(b, metrics[m], &na);
                size_t k = json_array_size(va);
                if (k != json_array_size(vb) || k == 0) {
                    json_decref(va);
                    json_decref(vb);
                    continue;
                }
                double *x = malloc(k * sizeof *x), *y = malloc(k * sizeof *y);
                if (!x || !y) {
                    free(x);
                    free(y);
                    json_decref(va);
                    json_decref(vb);
                    json_decref(out);
                    return rt_error(RT_ERR_NOMEM, "out of memory");
                }
                for (size_t q = 0; q < k; q++) {
                    x[q] = json_number_value(json_array_get(va, q));
                    y[q] = json_number_value(json_array_get(vb, q));
                }
                rt_paired_test t;
                rt_paired_compare(x, y, k, resamples, seed + 17, &t);
                json_t *o = json_object();
                json_object_set_new(o, "a", json_string(gets_(a, "name")));
                json_object_set_new(o, "b", json_string(gets_(b, "name")));
                json_object_set_new(o, "metric", json_string(metrics[m]));
                json_object_set_new(o, "delta", json_real(t.delta));
                json_object_set_new(o, "delta_lo", json_real(t.delta_lo));
                json_object_set_new(o, "delta_hi", json_real(t.delta_hi));
                json_object_set_new(o, "p_bootstrap", json_real(t.p_bootstrap));
                json_object_set_new(o, "wins", json_integer(t.wins));
                json_object_set_new(o, "losses", json_integer(t.losses));
                json_object_set_new(o, "p_sign", json_real(t.p_sign));
                json_array_append_new(out, o);
                free(x);
                free(y);
                json_decref(va);
                json_decref(vb);
            }
        }
    }
    json_object_set_new(report, "paired", out);
    return RT_OK;
}

static json_t *find_pair(json_t *report, const char *a, const char *b) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(report, "paired"), i, p) {
        if (strcmp(gets_(p, "metric"), "contains")) continue;
        if ((!strcmp(gets_(p, "a"), a) && !strcmp(gets_(p, "b"), b)) ||
            (!strcmp(gets_(p, "a"), b) && !strcmp(gets_(p, "b"), a)))
            return p;
    }
    return NULL;
}

static const char *axis_names[4] = {"accuracy", "freshness", "latency", "cost"};

int rt_report_add_analysis(json_t *report, const char *priority) {
    RT_TRY(paired(report));
    /* weights from the priority order */
    double w[4] = {0, 0, 0, 0};
    static const double by_rank[4] = {0.4, 0.3, 0.2, 0.1};
    char buf[128];
    snprintf(buf, sizeof buf, "%s",
             priority && *priority ? priority : "accuracy,freshness,latency,cost");
    int rank = 0;
    for (char *t = strtok(buf, ", "); t && rank < 4; t = strtok(NULL, ", ")) {
        int a = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(t, axis_names[i])) a = i;
        if (a < 0)
            return rt_error(RT_ERR_INVALID,
                            "priority: unknown axis \"%s\" (accuracy, freshness, latency, cost)",
                            t);
        if (w[a] == 0) w[a] = by_rank[rank++];
    }
    json_t *ss = json_object_get(report, "strategies");
    size_t n = json_array_size(ss), i;
    json_t *s;
    double best[4] = {0, 0, INFINITY, INFINITY};
    bool have_fresh = false;
    json_array_foreach(ss, i, s) {
        if (!ok_strategy(s)) continue;
        double acc = accuracy(s), fr = freshness(s), lat = getd(s, "metrics.latency.total_p50_s");
        double cost = total_cost(s);
        if (acc > best[0]) best[0] = acc;
        if (!isnan(fr)) {
            have_fresh = true;
            if (fr > best[1]) best[1] = fr;
        }
        if (lat < best[2]) best[2] = lat;
        if (cost < best[3]) best[3] = cost;
    }
    json_t *scores = json_object();
    const char *win = NULL, *second = NULL;
    double win_score = -1, second_score = -1;
    json_array_foreach(ss, i, s) {
        if (!ok_strategy(s)) continue;
        double ax[4];
        double acc = accuracy(s), fr = freshness(s);
        double lat = getd(s, "metrics.latency.total_p50_s"), cost = total_cost(s);
        ax[0] = best[0] > 0 ? acc / best[0] : 0;
        if (have_fresh)
            ax[1] = best[1] > 0 && !isnan(fr) ? fr / best[1] : 0;
        else /* not measured: retrieval adapts by re-ingest, weights only by retraining */
            ax[1] = json_is_true(json_object_get(s, "rag")) ? 1 : 0;
        ax[2] = lat > 0 ? best[2] / lat : 1;
        ax[3] = cost > 0 ? best[3] / cost : 1;
        double sc = 0;
        json_t *o = json_object();
        for (int a = 0; a < 4; a++) {
            if (!isfinite(ax[a])) ax[a] = 0;
            sc += w[a] * ax[a];
            json_object_set_new(o, axis_names[a], json_real(ax[a]));
        }
        json_object_set_new(o, "score", json_real(sc));
        json_object_set_new(scores, gets_(s, "name"), o);
        if (sc > win_score) {
            second = win;
            second_score = win_score;
            win = gets_(s, "name");
            win_score = sc;
        } else if (sc > second_score) {
            second = gets_(s, "name");
            second_score = sc;
        }
    }
    json_t *rec = json_object();
    json_object_set_new(rec, "priority", json_string(priority ? priority : ""));
    json_t *wj = json_object();
    for (int a = 0; a < 4; a++)
        json_object_set_new(wj, axis_names[a], json_real(w[a]));
    json_object_set_new(rec, "weights", wj);
    json_object_set_new(rec, "scores", scores);
    json_object_set_new(rec, "freshness_measured", json_boolean(have_fresh));
    if (!win) {
        json_object_set_new(rec, "strategy", json_null());
        json_object_set_new(rec, "explanation",
                            json_string("No strategy completed; nothing to recommend."));
        json_object_set_new(report, "recommendation", rec);
        (void)n;
        return RT_OK;
    }
    if (!(best[0] > 0)) {
        /* Speed and cost cannot make up for answers that are all wrong: ranking the strategies
         * then would recommend whichever is cheapest at being useless. */
        json_object_set_new(rec, "strategy", json_null());
        json_object_set_new(
            rec, "explanation",
            json_string("No strategy answered any test question correctly (answer-contains 0 "
                        "for every strategy), so there is nothing to recommend: the model cannot "
                        "answer these questions with or without retrieval or training at these "
                        "settings. Try a stronger model (--model), more training steps, or check "
                        "the QA set against the documents."));
        json_object_set_new(report, "recommendation", rec);
        return RT_OK;
    }
    json_t *ws = NULL;
    json_array_foreach(ss, i, s) if (!strcmp(gets_(s, "name"), win)) ws = s;
    rt_strbuf b = {0};
    bool rag = json_is_true(json_object_get(ws, "rag"));
    const char *kind = gets_(ws, "kind");
    bool trained = json_is_object(json_object_get(ws, "training"));
    rt_strbuf_printf(&b, "Recommended: %s (score %.2f", win, win_score);
    if (second) rt_strbuf_printf(&b, "; next %s at %.2f", second, second_score);
    rt_strbuf_printf(&b, ").\n");
    rt_strbuf_printf(&b,
                     "- Performance: answer-contains %.3f [%.3f, %.3f], F1 %.3f, exact match "
                     "%.3f, hallucination rate %.3f on %d test questions.",
                     accuracy(ws), getd(ws, "metrics.contains.lo"), getd(ws, "metrics.contains.hi"),
                     getd(ws, "metrics.f1.mean"), getd(ws, "metrics.em.mean"),
                     getd(ws, "metrics.hallucination_rate"), (int)getd(ws, "metrics.n_questions"));
    if (second) {
        json_t *p = find_pair(report, win, second);
        if (p) {
            double pv = getd(p, "p_bootstrap");
            rt_strbuf_printf(&b,
                             " Against %s: %+.3f (paired bootstrap p = %.3f, sign test %d "
                             "wins / %d losses, p = %.3f)%s.",
                             second,
                             !strcmp(gets_(p, "a"), win) ? getd(p, "delta") : -getd(p, "delta"), pv,
                             (int)getd(p, "wins"), (int)getd(p, "losses"), getd(p, "p_sign"),
                             pv < 0.05 ? "" : " — not a significant difference at this size");
        }
    }
    rt_strbuf_puts(&b, "\n");
    rt_strbuf_printf(&b, "- Data dependency: %s\n",
                     rag ? (trained ? "needs both the collection at query time and a training "
                                      "run on QA examples from it."
                                    : "needs only the document collection at query time, no "
                                      "training data.")
                         : (trained ? "needs training data (QA pairs from the documents); the "
                                      "documents are not needed at query time."
                                    : "needs nothing: the model answers from what it already "
                                      "knows."));
    json_t *ad = json_object_get(ws, "adaptability");
    if (ad) {
        double before = getd(ad, "before.contains.mean"), after = getd(ad, "after.contains.mean");
        double t = getd(ad, "adapt_s");
        rt_strbuf_printf(&b, "- Adaptability: on changed facts %.3f before", before);
        if (!isnan(after))
            rt_strbuf_printf(&b, ", %.3f after %s (%.1f s); old answers given %.0f%% after.\n",
                             after, gets_(ad, "method"), t,
                             100 * getd(ad, "after.old_answer_rate"));
        else
            rt_strbuf_printf(&b, "; %s.\n", gets_(ad, "method"));
    } else {
        rt_strbuf_printf(&b, "- Adaptability: not measured in this run (no update split); %s\n",
                         rag       ? "changed documents take effect after a re-ingest."
                         : trained ? "changed facts need a new training run."
                                   : "the base model cannot learn changed facts.");
    }
    rt_strbuf_printf(&b,
                     "- Cost: %.4f per 1,000 queries, %.4f per training run (%.0f s of "
                     "training), median latency %.3f s per answer, p95 %.3f s.\n",
                     getd(ws, "cost.per_1000_queries"), getd(ws, "cost.per_training_run"),
                     trained ? getd(ws, "training.wall_s") : 0.0,
                     getd(ws, "metrics.latency.total_p50_s"),
                     getd(ws, "metrics.latency.total_p95_s"));
    rt_strbuf_printf(
        &b, "- Use case: %s\n",
        !strcmp(kind, "base")   ? "general questions the model already knows; nothing to maintain."
        : !strcmp(kind, "rag")  ? "documents that change or grow; answers cite their sources."
        : !strcmp(kind, "raft") ? "retrieval where distractor passages are common; the adapter "
                                  "teaches the model to pick the right source."
        : rag ? "a stable domain whose style and vocabulary the model should learn, with "
                "retrieval keeping facts current."
              : "offline or low-latency answering in a stable domain; retrain when facts change.");
    if (!have_fresh)
        rt_strbuf_puts(&b, "Freshness was not measured (no update split): retrieval strategies "
                           "were scored 1 and closed-book ones 0 on that axis.\n");
    json_object_set_new(rec, "strategy", json_string(win));
    json_object_set_new(rec, "explanation", json_string(b.data ? b.data : ""));
    rt_strbuf_free(&b);
    json_object_set_new(report, "recommendation", rec);
    return RT_OK;
}

/* ---- rendering ---- */

static int parse(const char *text, json_t **out) {
    json_error_t je;
    *out = json_loads(text, 0, &je);
    if (!*out || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return rt_error(RT_ERR_FORMAT, "report: line %d: %s", je.line, je.text);
    }
    return RT_OK;
}

static void fmt_num(char *buf, size_t cap, double v, const char *f) {
    if (isnan(v))
        snprintf(buf, cap, "-");
    else
        snprintf(buf, cap, f, v);
}

#define NCOL 13 /* columns of the results table */

typedef struct row {
    char c[NCOL][40];
} row;

static void make_row(json_t *s, row *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->c[0], 40, "%s", gets_(s, "name"));
    if (!ok_strategy(s)) {
        snprintf(r->c[1], 40, "FAILED");
        return;
    }
    char a[12], b[12], c[12];
    fmt_num(a, 12, getd(s, "metrics.contains.mean"), "%.3f");
    fmt_num(b, 12, getd(s, "metrics.contains.lo"), "%.2f");
    fmt_num(c, 12, getd(s, "metrics.contains.hi"), "%.2f");
    snprintf(r->c[1], 40, "%s [%s,%s]", a, b, c);
    fmt_num(r->c[2], 40, getd(s, "metrics.f1.mean"), "%.3f");
    fmt_num(r->c[3], 40, getd(s, "metrics.em.mean"), "%.3f");
    fmt_num(r->c[4], 40, getd(s, "metrics.judge.mean"), "%.3f"); /* "-" without a judge */
    fmt_num(r->c[5], 40, getd(s, "metrics.hallucination_rate"), "%.3f");
    fmt_num(r->c[6], 40, getd(s, "metrics.refusal_recall"), "%.2f");
    fmt_num(r->c[7], 40, getd(s, "metrics.retrieval.recall.mean"), "%.2f");
    fmt_num(r->c[8], 40, getd(s, "metrics.latency.total_p50_s"), "%.3f");
    fmt_num(r->c[9], 40, getd(s, "metrics.latency.total_p95_s"), "%.3f");
    fmt_num(r->c[10], 40, getd(s, "training.wall_s"), "%.1f");
    fmt_num(r->c[11], 40, getd(s, "cost.per_1000_queries"), "%.4f");
    json_t *ad = json_object_get(s, "adaptability");
    if (ad) {
        char x[16], y[16];
        fmt_num(x, 16, getd(ad, "before.contains.mean"), "%.2f");
        fmt_num(y, 16, getd(ad, "after.contains.mean"), "%.2f");
        snprintf(r->c[12], 40, "%s->%s", x, y);
    } else {
        snprintf(r->c[12], 40, "-");
    }
}

static const char *headers[NCOL] = {"strategy", "contains [95% CI]", "F1",      "EM",    "judge",
                                    "halluc",   "refusal R",         "ret R@k", "p50 s", "p95 s",
                                    "train s",  "cost/1k q",         "update"};

int rt_report_table(const char *report_json, char **out) {
    json_t *rep;
    RT_TRY(parse(report_json, &rep));
    json_t *ss = json_object_get(rep, "strategies");
    size_t n = json_array_size(ss);
    row *rows = calloc(n + 1, sizeof *rows);
    if (!rows) {
        json_decref(rep);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int wid[NCOL];
    for (int c = 0; c < NCOL; c++)
        wid[c] = (int)strlen(headers[c]);
    for (size_t i = 0; i < n; i++) {
        make_row(json_array_get(ss, i), &rows[i]);
        for (int c = 0; c < NCOL; c++)
            if ((int)strlen(rows[i].c[c]) > wid[c]) wid[c] = (int)strlen(rows[i].c[c]);
    }
    rt_strbuf b = {0};
    for (int c = 0; c < NCOL; c++)
        rt_strbuf_printf(&b, "%-*s%s", wid[c], headers[c], c < NCOL - 1 ? "  " : "\n");
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < NCOL; c++)
            rt_strbuf_printf(&b, "%-*s%s", wid[c], rows[i].c[c], c < NCOL - 1 ? "  " : "\n");
        json_t *s = json_array_get(ss, i);
        if (!ok_strategy(s)) rt_strbuf_printf(&b, "  error: %s\n", gets_(s, "error"));
    }
    json_t *qa = json_object_get(rep, "qa");
    rt_strbuf_printf(&b,
                     "\n%d test questions, %d train, %d update; %d malformed QA line(s) "
                     "skipped, %d question(s) with evidence missing from the collection.\n",
                     (int)getd(qa, "test"), (int)getd(qa, "train"), (int)getd(qa, "update"),
                     (int)getd(qa, "skipped_lines"), (int)getd(qa, "evidence_missing"));
    json_t *rec = json_object_get(rep, "recommendation");
    if (rec) rt_strbuf_printf(&b, "\n%s", gets_(rec, "explanation"));
    free(rows);
    json_decref(rep);
    *out = b.data ? rt_strbuf_take(&b) : rt_strdup("");
    rt_strbuf_free(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

static void md_escape(rt_strbuf *b, const char *s) {
    for (; *s; s++) {
        if (*s == '|')
            rt_strbuf_puts(b, "\\|");
        else if (*s == '\n')
            rt_strbuf_puts(b, " ");
        else
            rt_strbuf_append(b, s, 1);
    }
}

int rt_report_markdown(const char *report_json, char **out) {
    json_t *rep;
    RT_TRY(parse(report_json, &rep));
    json_t *ss = json_object_get(rep, "strategies");
    rt_strbuf b = {0};
    rt_strbuf_puts(&b, "# ragtune compare\n\n");
    json_t *rec = json_object_get(rep, "recommendation");
    if (rec) rt_strbuf_printf(&b, "## Recommendation\n\n%s\n", gets_(rec, "explanation"));
    rt_strbuf_puts(&b, "## Results\n\n|");
    for (int c = 0; c < NCOL; c++)
        rt_strbuf_printf(&b, " %s |", headers[c]);
    rt_strbuf_puts(&b, "\n|");
    for (int c = 0; c < NCOL; c++)
        rt_strbuf_puts(&b, " --- |");
    rt_strbuf_puts(&b, "\n");
    size_t i;
    json_t *s;
    json_array_foreach(ss, i, s) {
        row r;
        make_row(s, &r);
        rt_strbuf_puts(&b, "|");
        for (int c = 0; c < NCOL; c++) {
            rt_strbuf_puts(&b, " ");
            md_escape(&b, r.c[c]);
            rt_strbuf_puts(&b, " |");
        }
        rt_strbuf_puts(&b, "\n");
    }
    json_array_foreach(ss, i, s) {
        if (ok_strategy(s)) continue;
        rt_strbuf_printf(&b, "\n**%s failed**: ", gets_(s, "name"));
        md_escape(&b, gets_(s, "error"));
        rt_strbuf_puts(&b, "\n");
    }
    rt_strbuf_puts(&b, "\n## Training, memory, disk, forgetting\n\n| strategy | steps | tokens "
                       "trained | wall s | trainer memory MB | peak RSS MB | artifact MB | "
                       "index MB | held-out ppl before → after |\n| --- | --- | --- | --- | --- "
                       "| --- | --- | --- | --- |\n");
    json_array_foreach(ss, i, s) {
        if (!ok_strategy(s)) continue;
        char v[9][32];
        fmt_num(v[0], 32, getd(s, "training.steps"), "%.0f");
        fmt_num(v[1], 32, getd(s, "training.tokens_trained"), "%.0f");
        fmt_num(v[2], 32, getd(s, "training.wall_s"), "%.1f");
        fmt_num(v[3], 32, getd(s, "training.trainer_memory_bytes") / 1048576.0, "%.1f");
        fmt_num(v[4], 32, getd(s, "training.peak_rss_bytes") / 1048576.0, "%.0f");
        fmt_num(v[5], 32, getd(s, "disk.adapter_or_model_bytes") / 1048576.0, "%.2f");
        fmt_num(v[6], 32, getd(s, "disk.index_bytes") / 1048576.0, "%.2f");
        fmt_num(v[7], 32, getd(s, "forgetting.ppl_base"), "%.2f");
        fmt_num(v[8], 32, getd(s, "forgetting.ppl_after"), "%.2f");
        rt_strbuf_printf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s → %s |\n",
                         gets_(s, "name"), v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]);
    }
    rt_strbuf_puts(&b, "\n## Paired comparisons (answer-contains)\n\n| a | b | delta [95% CI] | "
                       "p (bootstrap) | wins/losses | p (sign) |\n| --- | --- | --- | --- | --- "
                       "| --- |\n");
    json_t *p;
    json_array_foreach(json_object_get(rep, "paired"), i, p) {
        if (strcmp(gets_(p, "metric"), "contains")) continue;
        rt_strbuf_printf(&b, "| %s | %s | %+.3f [%+.3f, %+.3f] | %.3f | %d/%d | %.3f |\n",
                         gets_(p, "a"), gets_(p, "b"), getd(p, "delta"), getd(p, "delta_lo"),
                         getd(p, "delta_hi"), getd(p, "p_bootstrap"), (int)getd(p, "wins"),
                         (int)getd(p, "losses"), getd(p, "p_sign"));
    }
    char *cfg = json_dumps(json_object_get(rep, "config"), JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    rt_strbuf_printf(&b, "\n## Configuration\n\n```json\n%s\n```\n", cfg ? cfg : "");
    free(cfg);
    json_decref(rep);
    *out = b.data ? rt_strbuf_take(&b) : rt_strdup("");
    rt_strbuf_free(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

/* ---- HTML ---- */

static void html_escape(rt_strbuf *b, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            rt_strbuf_puts(b, "&lt;");
            break;
        case '>':
            rt_strbuf_puts(b, "&gt;");
            break;
        case '&':
            rt_strbuf_puts(b, "&amp;");
            break;
        case '"':
            rt_strbuf_puts(b, "&quot;");
            break;
        default:
            rt_strbuf_append(b, s, 1);
        }
    }
}

static const char *palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};

#define W 560
#define H 300
#define M 50

static void svg_axes(rt_strbuf *b, const char *title, const char *xl, const char *yl, double x0,
                     double x1, double y0, double y1) {
    rt_strbuf_printf(&b[0], "<figure><figcaption>");
    html_escape(b, title);
    rt_strbuf_printf(b,
                     "</figcaption><svg width=\"%d\" height=\"%d\" "
                     "xmlns=\"http://www.w3.org/2000/svg\" font-size=\"11\">",
                     W, H);
    rt_strbuf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", M, H - M,
                     W - 10, H - M);
    rt_strbuf_printf(b, "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>", M, M,
                     H - M);
    rt_strbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", (W + M) / 2, H - 12);
    html_escape(b, xl);
    rt_strbuf_printf(b,
                     "</text><text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 %d)\" "
                     "text-anchor=\"middle\">",
                     H / 2, H / 2);
    html_escape(b, yl);
    rt_strbuf_puts(b, "</text>");
    for (int t = 0; t <= 4; t++) {
        double xv = x0 + (x1 - x0) * t / 4, yv = y0 + (y1 - y0) * t / 4;
        int px = M + (W - 10 - M) * t / 4, py = H - M - (H - M - 10) * t / 4;
        rt_strbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.3g</text>", px,
                         H - M + 14, xv);
        rt_strbuf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.3g</text>", M - 4,
                         py + 4, yv);
    }
}

static double sx(double v, double x0, double x1) {
    return M + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * (W - 10 - M);
}

static double sy(double v, double y0, double y1) {
    return H - M - (y1 > y0 ? (v - y0) / (y1 - y0) : 0.5) * (H - M - 10);
}

static void legend(rt_strbuf *b, json_t *ss) {
    size_t i;
    json_t *s;
    rt_strbuf_puts(b, "<p>");
    json_array_foreach(ss, i, s) {
        rt_strbuf_printf(b, "<span style=\"color:%s\">&#9632; ", palette[i % 8]);
        html_escape(b, gets_(s, "name"));
        rt_strbuf_puts(b, "</span> &nbsp;");
    }
    rt_strbuf_puts(b, "</p>");
}

int rt_report_html(const char *report_json, char **out) {
    json_t *rep;
    RT_TRY(parse(report_json, &rep));
    json_t *ss = json_object_get(rep, "strategies");
    rt_strbuf b = {0};
    rt_strbuf_puts(&b, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>ragtune "
                       "compare</title><style>body{font-family:sans-serif;max-width:1100px;"
                       "margin:auto;padding:1em}table{border-collapse:collapse;font-size:13px}"
                       "td,th{border:1px solid #ccc;padding:3px 6px}th{background:#eee}"
                       "figure{display:inline-block;margin:1em}pre{background:#f6f6f6;"
                       "padding:1em;white-space:pre-wrap}.ok{background:#dfd}.bad{background:"
                       "#fdd}</style></head><body><h1>ragtune compare</h1>");
    json_t *rec = json_object_get(rep, "recommendation");
    if (rec) {
        rt_strbuf_puts(&b, "<h2>Recommendation</h2><pre>");
        html_escape(&b, gets_(rec, "explanation"));
        rt_strbuf_puts(&b, "</pre>");
    }
    /* the table */
    rt_strbuf_puts(&b, "<h2>Results</h2><table><tr>");
    for (int c = 0; c < NCOL; c++) {
        rt_strbuf_puts(&b, "<th>");
        html_escape(&b, headers[c]);
        rt_strbuf_puts(&b, "</th>");
    }
    rt_strbuf_puts(&b, "</tr>");
    size_t i;
    json_t *s;
    json_array_foreach(ss, i, s) {
        row r;
        make_row(s, &r);
        rt_strbuf_puts(&b, "<tr>");
        for (int c = 0; c < NCOL; c++) {
            rt_strbuf_puts(&b, "<td>");
            html_escape(&b, r.c[c]);
            rt_strbuf_puts(&b, "</td>");
        }
        rt_strbuf_puts(&b, "</tr>");
        if (!ok_strategy(s)) {
            rt_strbuf_printf(&b, "<tr><td colspan=\"%d\" class=\"bad\">error: ", NCOL);
            html_escape(&b, gets_(s, "error"));
            rt_strbuf_puts(&b, "</td></tr>");
        }
    }
    rt_strbuf_puts(&b, "</table>");
    legend(&b, ss);
    /* accuracy vs cost */
    double cmax = 0;
    json_array_foreach(ss, i, s) if (ok_strategy(s) && total_cost(s) > cmax) cmax = total_cost(s);
    svg_axes(&b, "Accuracy vs cost (training run + 1,000 queries)", "cost", "answer-contains", 0,
             cmax > 0 ? cmax * 1.1 : 1, 0, 1);
    json_array_foreach(ss, i, s) {
        if (!ok_strategy(s)) continue;
        double x = sx(total_cost(s), 0, cmax > 0 ? cmax * 1.1 : 1), y = sy(accuracy(s), 0, 1);
        double lo = sy(getd(s, "metrics.contains.lo"), 0, 1),
               hi = sy(getd(s, "metrics.contains.hi"), 0, 1);
        rt_strbuf_printf(&b,
                         "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>", x,
                         lo, x, hi, palette[i % 8]);
        rt_strbuf_printf(&b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"><title>", x, y,
                         palette[i % 8]);
        html_escape(&b, gets_(s, "name"));
        rt_strbuf_printf(&b, "</title></circle><text x=\"%.1f\" y=\"%.1f\">", x + 7, y - 4);
        html_escape(&b, gets_(s, "name"));
        rt_strbuf_puts(&b, "</text>");
    }
    rt_strbuf_puts(&b, "</svg></figure>");
    /* latency per question */
    double lmax = 0;
    json_array_foreach(ss, i, s) {
        size_t q;
        json_t *qq;
        json_array_foreach(json_object_get(json_object_get(s, "metrics"), "questions"), q, qq) {
            double t = json_number_value(json_object_get(qq, "total_s"));
            if (t > lmax) lmax = t;
        }
    }
    size_t ns = json_array_size(ss);
    svg_axes(&b, "Latency per question (total seconds; bar = p50..p95)", "seconds", "strategy", 0,
             lmax > 0 ? lmax * 1.05 : 1, 0, (double)(ns ? ns : 1));
    json_array_foreach(ss, i, s) {
        double yb = sy((double)i + 0.5, 0, (double)(ns ? ns : 1));
        size_t q;
        json_t *qq;
        json_array_foreach(json_object_get(json_object_get(s, "metrics"), "questions"), q, qq) {
            double t = json_number_value(json_object_get(qq, "total_s"));
            rt_strbuf_printf(&b,
                             "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"%s\" "
                             "opacity=\"0.5\"/>",
                             sx(t, 0, lmax * 1.05), yb + (double)(q % 7) - 3, palette[i % 8]);
        }
        double p50 = getd(s, "metrics.latency.total_p50_s"),
               p95 = getd(s, "metrics.latency.total_p95_s");
        if (!isnan(p50))
            rt_strbuf_printf(&b,
                             "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                             "stroke=\"%s\" stroke-width=\"3\"/>",
                             sx(p50, 0, lmax * 1.05), yb + 8, sx(p95, 0, lmax * 1.05), yb + 8,
                             palette[i % 8]);
    }
    rt_strbuf_puts(&b, "</svg></figure>");
    /* loss curves */
    double smax = 1, lossmax = 0;
    json_array_foreach(ss, i, s) {
        size_t q;
        json_t *pt;
        json_array_foreach(json_object_get(json_object_get(s, "training"), "loss_curve"), q, pt) {
            double st = json_number_value(json_array_get(pt, 0)),
                   l = json_number_value(json_array_get(pt, 1));
            if (st > smax) smax = st;
            if (l > lossmax) lossmax = l;
        }
    }
    if (lossmax > 0) {
        svg_axes(&b, "Training loss", "step", "loss", 0, smax, 0, lossmax * 1.05);
        json_array_foreach(ss, i, s) {
            json_t *lc = json_object_get(json_object_get(s, "training"), "loss_curve");
            if (!json_array_size(lc)) continue;
            rt_strbuf_printf(&b, "<polyline fill=\"none\" stroke=\"%s\" points=\"", palette[i % 8]);
            size_t q;
            json_t *pt;
            json_array_foreach(lc, q, pt) {
                rt_strbuf_printf(&b, "%.1f,%.1f ",
                                 sx(json_number_value(json_array_get(pt, 0)), 0, smax),
                                 sy(json_number_value(json_array_get(pt, 1)), 0, lossmax * 1.05));
            }
            rt_strbuf_puts(&b, "\"/>");
        }
        rt_strbuf_puts(&b, "</svg></figure>");
    }
    /* adaptability */
    bool any_ad = false;
    json_array_foreach(ss, i, s) any_ad |= json_object_get(s, "adaptability") != NULL;
    if (any_ad) {
        svg_axes(&b,
                 "Adaptability: answer-contains on changed facts, before (light) and after "
                 "(dark) adapting",
                 "strategy", "answer-contains", 0, (double)ns, 0, 1);
        json_array_foreach(ss, i, s) {
            json_t *ad = json_object_get(s, "adaptability");
            if (!ad) continue;
            double bw = (W - 10 - M) / (double)(ns ? ns : 1) / 3;
            double x = sx((double)i + 0.2, 0, (double)ns);
            double bv = getd(ad, "before.contains.mean"), av = getd(ad, "after.contains.mean");
            if (!isnan(bv))
                rt_strbuf_printf(&b,
                                 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                 "fill=\"%s\" opacity=\"0.4\"/>",
                                 x, sy(bv, 0, 1), bw, sy(0, 0, 1) - sy(bv, 0, 1), palette[i % 8]);
            if (!isnan(av))
                rt_strbuf_printf(&b,
                                 "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                                 "fill=\"%s\"/>",
                                 x + bw, sy(av, 0, 1), bw, sy(0, 0, 1) - sy(av, 0, 1),
                                 palette[i % 8]);
            rt_strbuf_printf(&b, "<text x=\"%.1f\" y=\"%d\">", x, H - M - 2);
            html_escape(&b, gets_(s, "name"));
            rt_strbuf_puts(&b, "</text>");
        }
        rt_strbuf_puts(&b, "</svg></figure>");
    }
    /* questions where strategies disagree */
    rt_strbuf_puts(&b, "<h2>Questions where the strategies disagree</h2><table><tr><th>question"
                       "</th><th>gold</th>");
    json_array_foreach(ss, i, s) {
        if (!ok_strategy(s)) continue;
        rt_strbuf_puts(&b, "<th>");
        html_escape(&b, gets_(s, "name"));
        rt_strbuf_puts(&b, "</th>");
    }
    rt_strbuf_puts(&b, "</tr>");
    json_t *first = NULL;
    json_array_foreach(ss, i, s) if (!first && ok_strategy(s)) first = s;
    json_t *fq = first ? json_object_get(json_object_get(first, "metrics"), "questions") : NULL;
    size_t shown = 0;
    for (size_t q = 0; q < json_array_size(fq) && shown < 200; q++) {
        int n_ok = 0, n_run = 0;
        json_array_foreach(ss, i, s) {
            if (!ok_strategy(s)) continue;
            json_t *qq =
                json_array_get(json_object_get(json_object_get(s, "metrics"), "questions"), q);
            n_run++;
            n_ok += json_is_true(json_object_get(qq, "correct"));
        }
        if (n_ok == 0 || n_ok == n_run) continue;
        shown++;
        json_t *q0 = json_array_get(fq, q);
        rt_strbuf_puts(&b, "<tr><td>");
        html_escape(&b, gets_(q0, "question"));
        rt_strbuf_puts(&b, "</td><td>");
        html_escape(&b, gets_(q0, "gold"));
        rt_strbuf_puts(&b, "</td>");
        json_array_foreach(ss, i, s) {
            if (!ok_strategy(s)) continue;
            json_t *qq =
                json_array_get(json_object_get(json_object_get(s, "metrics"), "questions"), q);
            rt_strbuf_printf(&b, "<td class=\"%s\">",
                             json_is_true(json_object_get(qq, "correct")) ? "ok" : "bad");
            html_escape(&b, gets_(qq, "answer"));
            rt_strbuf_puts(&b, "</td>");
        }
        rt_strbuf_puts(&b, "</tr>");
    }
    rt_strbuf_printf(&b, "</table><p>%zu question(s) shown.</p>", shown);
    char *cfg = json_dumps(json_object_get(rep, "config"), JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    rt_strbuf_puts(&b, "<h2>Configuration and seeds</h2><pre>");
    html_escape(&b, cfg ? cfg : "");
    rt_strbuf_puts(&b, "</pre></body></html>\n");
    free(cfg);
    json_decref(rep);
    *out = b.data ? rt_strbuf_take(&b) : rt_strdup("");
    rt_strbuf_free(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

int rt_report_write(const char *out_dir) {
    char *jp = rt_path_join(out_dir, "report.json"), *mp = rt_path_join(out_dir, "report.md");
    char *hp = rt_path_join(out_dir, "report.html");
    char *json = NULL, *md = NULL, *html = NULL;
    size_t len;
    int st = jp && mp && hp ? RT_OK : RT_ERR_NOMEM;
    if (st == RT_OK) st = rt_file_read_all(jp, (size_t)1 << 30, &json, &len);
    if (st == RT_OK) st = rt_report_markdown(json, &md);
    if (st == RT_OK) st = rt_report_html(json, &html);
    if (st == RT_OK) st = rt_file_write_atomic(mp, md, strlen(md));
    if (st == RT_OK) st = rt_file_write_atomic(hp, html, strlen(html));
    free(jp), free(mp), free(hp), free(json), free(md), free(html);
    return st;
}
