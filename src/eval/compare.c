/*
 * compare.c — the head-to-head: every strategy answers the same test questions with the same
 * decoding settings and seeds, and is measured the same way.
 *
 *   base       closed-book base model           "Question: Q\nAnswer:"
 *   rag        base model + retrieval           the shared reader prompt (rt_rag_prompt_render)
 *   ft, lora   fine-tuned, closed-book          trained on the QA train split (all phrasings)
 *                                               plus, optionally, the documents as plain text
 *   ft+rag, lora+rag                            the same weights with the reader prompt
 *   raft       LoRA on reader prompts: the oracle passage among retrieved distractors in P% of
 *              examples (answer quoted from it and cited), distractors only otherwise (abstain);
 *              the examples come from rt_raft_build (src/rag/raft.c), the one RAFT builder
 *
 * A strategy is a kind with settings: the spec's, or a spec file's named entry overriding some
 * of them (spec.c; e.g. two rag strategies with different k). While a strategy runs, run.s
 * holds its settings. base and rag may answer with a remote (OpenAI-compatible) model; a judge
 * model (local or remote) may grade every answer against the reference (judge accuracy).
 *
 * Training runs are shared (ft and ft+rag use one run; strategies whose training settings differ
 * from the spec's get their own, out_dir/train-<recipe>-<hash>/) and kept in
 * out_dir/train-<recipe>/;
 * each strategy's result is cached in out_dir/strategies/<name>.json with the configuration it
 * ran under, so a rerun with the same configuration resumes. The test split is never trained
 * on: every training prompt is checked against every test question before training starts.
 *
 * Adaptability: the update documents go into a copy of the collection (timed re-ingest); RAG
 * strategies answer the update questions before and after; closed-book fine-tunes keep their
 * weights unless adapt_retrain, which retrains with the changed documents (timed).
 * Forgetting: perplexity of a held-out general text, base vs. each trained model.
 */
#define _GNU_SOURCE
#include "eval/compare.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "dist/comm.h"
#include "dist/share.h"
#include "eval/engine.h"
#include "eval/metrics.h"
#include "eval/qa.h"
#include "eval/report.h"
#include "knowledge/collection.h"
#include "rag/context.h"

#include <ctype.h>
#include <stddef.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

static const char *const kind_names[] = {"base", "rag", "ft", "lora", "ft+rag", "lora+rag", "raft"};
#define N_KINDS 7

const char *rt_strategy_name(rt_strategy_kind kind) {
    return (unsigned)kind < N_KINDS ? kind_names[kind] : NULL;
}

int rt_strategy_parse(const char *name, rt_strategy_kind *out) {
    for (int i = 0; i < N_KINDS; i++)
        if (!strcmp(name, kind_names[i])) {
            *out = (rt_strategy_kind)i;
            return RT_OK;
        }
    return rt_error(RT_ERR_INVALID,
                    "unknown strategy \"%s\" (base, rag, ft, lora, ft+rag, lora+rag, raft)", name);
}

static bool kind_rag(rt_strategy_kind k) {
    return k == RT_STRATEGY_RAG || k == RT_STRATEGY_FT_RAG || k == RT_STRATEGY_LORA_RAG ||
           k == RT_STRATEGY_RAFT;
}

/* The training run a strategy answers with ("" for none). */
static const char *kind_recipe(rt_strategy_kind k) {
    switch (k) {
    case RT_STRATEGY_FT:
    case RT_STRATEGY_FT_RAG:
        return "ft";
    case RT_STRATEGY_LORA:
    case RT_STRATEGY_LORA_RAG:
        return "lora";
    case RT_STRATEGY_RAFT:
        return "raft";
    default:
        return "";
    }
}

rt_compare_spec rt_compare_default_spec(void) {
    rt_compare_spec s;
    memset(&s, 0, sizeof s);
    s.strategies = "base,rag,lora,lora+rag,raft";
    s.search_mode = RT_SEARCH_BM25;
    s.k = 3;
    s.max_tokens = 48;
    s.n_ctx = 0; /* the model's own context (at most 4096): a longer one runs positions the model
                  * never saw, and a small reader (512) then answers with noise */
    s.steps = 100;
    s.lr = 0; /* 0: 1e-4 for LoRA, 1e-5 for full */
    s.lora_rank = 8;
    s.lora_alpha = 16;
    s.seq_len = 256;
    s.batch_size = 4;
    s.pretrain_chunks = true;
    s.raft_oracle_fraction = 0.8f;
    s.raft_distractors = 3;
    s.bootstrap_resamples = 1000;
    s.support_threshold = 0.5f;
    s.cpu_hour_price = 0.05;
    s.seed = 1;
    s.resume = true;
    s.priority = "accuracy,freshness,latency,cost";
    s.min_score = rt_ask_default_params().min_score;
    return s;
}

/* ---- prompts and scoring ---- */

char *rt_eval_closed_prompt(const char *question) {
    rt_strbuf b = {0};
    if (rt_strbuf_printf(&b, "Question: %s\nAnswer:", question)) return NULL;
    return rt_strbuf_take(&b);
}

char *rt_eval_strip_citations(const char *a) {
    rt_strbuf b = {0};
    for (const char *p = a; *p;) {
        if (*p == '[') {
            const char *q = p + 1;
            while (isdigit((unsigned char)*q) || *q == ',' || *q == ' ')
                q++;
            if (*q == ']' && q > p + 1) {
                p = q + 1;
                continue;
            }
        }
        if (rt_strbuf_append(&b, p, 1)) {
            rt_strbuf_free(&b);
            return NULL;
        }
        p++;
    }
    char *s = b.data ? rt_strbuf_take(&b) : rt_strdup("");
    rt_strbuf_free(&b);
    if (!s) return NULL;
    size_t n = strlen(s), i = 0;
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    while (isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, n - i + 1);
    return s;
}

bool rt_eval_is_abstention(const char *answer) {
    const char *g[] = {RT_RAG_ABSTAIN_TEXT};
    return rt_metric_contains(answer, g, 1) > 0;
}

/* ---- the run ---- */

typedef struct strategy {
    rt_strategy_kind kind;
    char name[32];
    const rt_compare_strategy *params; /* the spec file's entry, or NULL: the spec's settings */
    rt_compare_spec s;                 /* the settings it runs under */
    char *cache_key;                   /* what its cached result must have run under */
} strategy;

typedef struct run {
    rt_compare_spec s; /* the settings of the strategy being run (global: between them) */
    rt_compare_spec global;
    rt_qa_set *qa;
    size_t *test, n_test, *train, n_train, *update, n_update;
    rt_collection *coll, *coll_updated;
    rt_embedder emb;
    bool has_emb;
    rt_reranker *reranker;
    rt_eval_engine *judge; /* NULL: no judge */
    double reingest_seconds;
    char *heldout;
    double base_ppl;
    int threads;
    json_t *config;
    char *config_text; /* compact: what a cached result must match */
    uint64_t index_bytes;
} run;

/* progress through the call's callbacks (or the default bar) */
typedef struct prog {
    rt_progress p;
    char task[96];
    bool quiet; /* a rank other than 0 */
} prog;

static void prog_begin(prog *g, const run *r, const char *task, const char *unit, uint64_t total) {
    memset(g, 0, sizeof *g);
    g->quiet = rt_dist_rank() != 0; /* under mpirun, rank 0 reports */
    if (g->quiet) return;
    snprintf(g->task, sizeof g->task, "%s", task);
    rt_progress_begin_with(&g->p, &r->s.callbacks, g->task, unit, total);
}

static void prog_update(prog *g, uint64_t done, const char *detail, bool final) {
    if (g->quiet) return;
    if (final) {
        g->p.done = done;
        rt_progress_end(&g->p, detail);
    } else {
        rt_progress_update(&g->p, done, detail);
    }
}

static bool cancelled(const run *r) {
    const rt_run_callbacks *cb = &r->s.callbacks;
    return cb->should_cancel && cb->should_cancel(cb->cancel_user);
}

static double now(void) {
    return rt_time_now();
}

static uint64_t dir_bytes(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0) return 0;
    if (!S_ISDIR(sb.st_mode)) return (uint64_t)sb.st_size;
    DIR *d = opendir(path);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p = rt_path_join(path, e->d_name);
        if (p) total += dir_bytes(p);
        free(p);
    }
    closedir(d);
    return total;
}

static double peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return NAN;
    return (double)ru.ru_maxrss * 1024.0;
}

static json_t *num(double v) {
    return isfinite(v) ? json_real(v) : json_null();
}

/* ---- answering ---- */

typedef struct answer_rec {
    double em, f1, contains, support, ttft, total;
    double judge; /* 1 / 0 the judge's verdict; NAN: no judge, unanswerable or no verdict */
    int n_prompt, n_generated;
    bool abstained, correct, unanswerable;
    rt_retrieval_scores ret;
    bool has_ret;
} answer_rec;

/* ---- the judge ---- */

char *rt_eval_judge_prompt(const char *question, const char *const *gold, size_t n_gold,
                           const char *answer) {
    rt_strbuf b = {0};
    int st = rt_strbuf_printf(&b,
                              "You grade answers to questions. Say whether the proposed answer "
                              "is correct: it must agree with the reference answer (other "
                              "wording is fine; missing or contradicting the key fact is not).\n"
                              "Question: %s\nReference answer: ",
                              question);
    for (size_t i = 0; i < n_gold && st == RT_OK; i++)
        st = rt_strbuf_printf(&b, "%s%s", i ? " | " : "", gold[i]);
    if (st == RT_OK)
        st = rt_strbuf_printf(&b,
                              "\nProposed answer: %s\nIs the proposed answer correct? Reply "
                              "with one word, yes or no.\nVerdict:",
                              answer);
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        return NULL;
    }
    return rt_strbuf_take(&b);
}

int rt_eval_judge_parse(const char *reply) {
    const char *p = reply;
    while (*p && !isalpha((unsigned char)*p))
        p++;
    char w[16];
    size_t n = 0;
    while (isalpha((unsigned char)p[n]) && n + 1 < sizeof w) {
        w[n] = (char)tolower((unsigned char)p[n]);
        n++;
    }
    w[n] = 0;
    if (!strcmp(w, "yes") || !strcmp(w, "correct") || !strcmp(w, "true")) return 1;
    if (!strcmp(w, "no") || !strcmp(w, "incorrect") || !strcmp(w, "wrong") || !strcmp(w, "false"))
        return 0;
    return -1;
}

/* The judge's verdict on answer (1 correct, 0 wrong, NAN when the reply says neither or the
 * prompt does not fit the judge's context). */
static int judge_one(run *r, const rt_qa_item *it, const char *answer, double *verdict,
                     char **reply) {
    *verdict = NAN;
    *reply = NULL;
    char *prompt =
        rt_eval_judge_prompt(it->question, (const char *const *)it->answers, it->n_answers, answer);
    if (!prompt) return rt_error(RT_ERR_NOMEM, "out of memory");
    rt_sampler_params sp = rt_sampler_default_params();
    sp.temperature = 0;
    sp.seed = r->s.seed;
    static const char *const stop[] = {"\n", NULL};
    rt_eval_generation g = {0};
    int st = rt_eval_engine_generate(r->judge, prompt, 4, &sp, stop, &g);
    free(prompt);
    if (st == RT_ERR_RANGE) { /* too long for the judge's context: no verdict */
        rt_log_warn("judge: question %s: %s", it->id, rt_last_error());
        return RT_OK;
    }
    if (st != RT_OK) return rt_error_wrap("judge");
    int v = rt_eval_judge_parse(g.text);
    if (v >= 0) *verdict = v;
    *reply = g.text;
    return RT_OK;
}

/* The retrieval-augmented answer through rt_ask: retrieval (and rerank), the shared reader
 * prompt, generation, citations and groundedness. */
static int ask_one(run *r, rt_eval_engine *e, rt_collection *c, const char *question,
                   rt_eval_generation *g, double *support, bool *abstained, json_t *retrieved) {
    rt_ask_params ap = rt_ask_default_params();
    ap.search.k = r->s.k;
    ap.search.mode = r->s.search_mode;
    ap.reranker = r->s.rerank_model ? r->reranker : NULL; /* a strategy may turn it off */
    ap.answer_tokens = r->s.max_tokens;
    ap.style = RT_RAG_PROMPT_BASE;
    ap.style_set = !rt_eval_engine_is_remote(e); /* remote: chat messages (ask's choice) */
    ap.min_score = r->s.min_score;
    ap.support_threshold = r->s.support_threshold;
    ap.embedder = r->has_emb ? &r->emb : NULL;
    ap.sampler.temperature = 0;
    ap.sampler.seed = r->s.seed;
    rt_ask_result *res;
    RT_TRY(rt_ask(rt_eval_engine_session(e), c, question, &ap, &res));
    g->text = rt_strdup(res->raw_answer ? res->raw_answer : "");
    g->n_prompt = res->gen.n_prompt;
    g->n_generated = res->gen.n_generated;
    double pre = (res->retrieval_ms + res->rerank_ms) / 1000.0;
    g->ttft_seconds = pre + res->gen.ttft_seconds;
    g->total_seconds = res->total_ms / 1000.0;
    *support = res->groundedness;
    *abstained = res->abstained;
    for (size_t i = 0; i < res->n_sources; i++)
        json_array_append_new(retrieved, json_string(res->sources[i].doc_id));
    rt_ask_result_free(res);
    return g->text ? RT_OK : RT_ERR_NOMEM;
}

/* Answers one question; *rec_json gets its record. gold/ngold: accepted answers. */
static int answer_one(run *r, rt_eval_engine *e, rt_collection *c, const rt_qa_item *it,
                      char *const *gold, size_t n_gold, answer_rec *rec, json_t **rec_json) {
    memset(rec, 0, sizeof *rec);
    json_t *retrieved = c ? json_array() : NULL;
    rt_eval_generation g = {0};
    double support = NAN;
    bool abstained = false;
    int st;
    if (c) {
        st = ask_one(r, e, c, it->question, &g, &support, &abstained, retrieved);
    } else {
        char *prompt = rt_eval_closed_prompt(it->question);
        rt_sampler_params sp = rt_sampler_default_params();
        sp.temperature = 0;
        sp.seed = r->s.seed;
        st = prompt ? rt_eval_engine_generate(e, prompt, r->s.max_tokens, &sp,
                                              rt_rag_stop_strings(), &g)
                    : RT_ERR_NOMEM;
        free(prompt);
    }
    char *clean = st == RT_OK ? rt_eval_strip_citations(g.text) : NULL;
    if (st == RT_OK && !clean) st = RT_ERR_NOMEM;
    if (st != RT_OK) {
        free(g.text);
        json_decref(retrieved);
        return st;
    }
    const char *const *gd = (const char *const *)gold;
    rec->unanswerable = it->unanswerable;
    rec->abstained = abstained || rt_eval_is_abstention(clean);
    if (it->unanswerable) {
        rec->em = rec->f1 = rec->contains = rec->abstained ? 1 : 0;
        rec->correct = rec->abstained;
    } else {
        rec->em = rt_metric_exact_match(clean, gd, n_gold);
        rec->f1 = rt_metric_f1(clean, gd, n_gold);
        rec->contains = rt_metric_contains(clean, gd, n_gold);
        rec->correct = rec->contains > 0 || rec->f1 >= 0.5;
    }
    rec->judge = NAN;
    char *judge_reply = NULL;
    if (r->judge && !it->unanswerable) {
        if (rec->abstained) { /* no answer given: wrong without asking */
            rec->judge = 0;
        } else if ((st = judge_one(r, it, clean, &rec->judge, &judge_reply)) != RT_OK) {
            free(g.text);
            free(clean);
            json_decref(retrieved);
            return st;
        }
    }
    rec->support = support;
    rec->ttft = g.ttft_seconds;
    rec->total = g.total_seconds;
    rec->n_prompt = g.n_prompt;
    rec->n_generated = g.n_generated;
    if (c && it->n_docs && !it->unanswerable) {
        size_t nr = json_array_size(retrieved);
        const char **ranked = calloc(nr ? nr : 1, sizeof *ranked);
        for (size_t i = 0; ranked && i < nr; i++)
            ranked[i] = json_string_value(json_array_get(retrieved, i));
        if (ranked) {
            rt_retrieval_score(ranked, nr, (const char *const *)it->docs, it->n_docs, r->s.k,
                               &rec->ret);
            rec->has_ret = true;
        }
        free(ranked);
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(it->id));
    json_object_set_new(o, "question", json_string(it->question));
    json_object_set_new(o, "answer", json_string(clean));
    json_object_set_new(o, "raw_answer", json_string(g.text));
    json_object_set_new(o, "gold", json_string(n_gold ? gold[0] : ""));
    json_object_set_new(o, "unanswerable", json_boolean(it->unanswerable));
    json_object_set_new(o, "abstained", json_boolean(rec->abstained));
    json_object_set_new(o, "correct", json_boolean(rec->correct));
    json_object_set_new(o, "em", json_real(rec->em));
    json_object_set_new(o, "f1", json_real(rec->f1));
    json_object_set_new(o, "contains", json_real(rec->contains));
    if (r->judge) {
        json_object_set_new(o, "judge",
                            isfinite(rec->judge) ? json_boolean(rec->judge > 0) : json_null());
        if (judge_reply) json_object_set_new(o, "judge_reply", json_string(judge_reply));
    }
    free(judge_reply);
    json_object_set_new(o, "support", num(rec->support));
    json_object_set_new(o, "ttft_s", json_real(rec->ttft));
    json_object_set_new(o, "total_s", json_real(rec->total));
    json_object_set_new(o, "prompt_tokens", json_integer(rec->n_prompt));
    json_object_set_new(o, "generated_tokens", json_integer(rec->n_generated));
    if (retrieved) json_object_set_new(o, "retrieved", retrieved);
    *rec_json = o;
    free(g.text);
    free(clean);
    return RT_OK;
}

static json_t *ci_json(const run *r, const double *x, size_t n, uint64_t salt) {
    double lo, hi;
    rt_bootstrap_ci(x, n, r->s.bootstrap_resamples, 0.95, r->s.seed * 1000003u + salt, &lo, &hi);
    json_t *o = json_object();
    json_object_set_new(o, "mean", json_real(rt_mean(x, n)));
    json_object_set_new(o, "lo", json_real(lo));
    json_object_set_new(o, "hi", json_real(hi));
    json_object_set_new(o, "n", json_integer((json_int_t)n));
    return o;
}

/* Answers the questions idx[0..n): under mpirun each process answers its share (dist_mine)
 * and every process gets every answer, in order. *recs_out (n, malloc'd) and *json_out (array
 * of n records) on RT_OK. A process that fails stops the others at the gathering with its
 * error. */
static int answer_shared(run *r, rt_eval_engine *e, rt_collection *c, const size_t *idx, size_t n,
                         const char *task, answer_rec **recs_out, json_t **json_out) {
    *recs_out = NULL;
    *json_out = NULL;
    char **packed = calloc(n ? n : 1, sizeof *packed);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    int st = packed && lens ? RT_OK : rt_error(RT_ERR_NOMEM, "out of memory");
    prog g;
    prog_begin(&g, r, task, "questions", n);
    double contains = 0;
    size_t na = 0;
    char detail[96] = "";
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        if (!dist_mine(i)) continue;
        if (cancelled(r)) {
            st = rt_error(RT_ERR_CANCELLED, "compare: cancelled");
            break;
        }
        const rt_qa_item *it = &r->qa->items[idx[i]];
        answer_rec rec;
        json_t *rj;
        st = answer_one(r, e, c, it, it->answers, it->n_answers, &rec, &rj);
        if (st != RT_OK) {
            rt_error_wrap("question %s", it->id);
            break;
        }
        /* the record as bytes: the struct (same binary everywhere), then its JSON */
        char *text = json_dumps(rj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(rj);
        size_t tl = text ? strlen(text) : 0;
        packed[i] = text ? malloc(sizeof rec + tl) : NULL;
        if (!packed[i]) {
            free(text);
            st = rt_error(RT_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(packed[i], &rec, sizeof rec);
        memcpy(packed[i] + sizeof rec, text, tl);
        lens[i] = sizeof rec + tl;
        free(text);
        if (!rec.unanswerable) {
            contains += rec.contains;
            na++;
        }
        snprintf(detail, sizeof detail, "contains %.2f", na ? contains / (double)na : 0.0);
        prog_update(&g, i + 1, detail, false);
    }
    st = packed && lens ? dist_gather_items(n, packed, lens, st) : dist_agree(st);
    answer_rec *recs = st == RT_OK ? calloc(n ? n : 1, sizeof *recs) : NULL;
    json_t *arr = st == RT_OK ? json_array() : NULL;
    if (st == RT_OK && (!recs || !arr)) st = rt_error(RT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        json_t *rj = lens[i] >= sizeof *recs
                         ? json_loadb(packed[i] + sizeof *recs, lens[i] - sizeof *recs, 0, NULL)
                         : NULL;
        if (!rj) {
            st = rt_error(RT_ERR_INTERNAL, "question %zu: a malformed answer record", i);
            break;
        }
        memcpy(&recs[i], packed[i], sizeof *recs);
        json_array_append_new(arr, rj);
    }
    prog_update(&g, n, detail, true);
    for (size_t i = 0; packed && i < n; i++)
        free(packed[i]);
    free(packed);
    free(lens);
    if (st != RT_OK) {
        free(recs);
        json_decref(arr);
        return st;
    }
    *recs_out = recs;
    *json_out = arr;
    return RT_OK;
}

/* Answers the questions idx[0..n) and returns the metrics object (with "questions"). */
static int answer_set(run *r, rt_eval_engine *e, rt_collection *c, const size_t *idx, size_t n,
                      const char *task, json_t **out) {
    *out = NULL;
    answer_rec *recs = NULL;
    json_t *qs = NULL;
    RT_TRY(answer_shared(r, e, c, idx, n, task, &recs, &qs));
    double *em = calloc(n ? n : 1, sizeof(double)), *f1 = calloc(n ? n : 1, sizeof(double));
    double *co = calloc(n ? n : 1, sizeof(double)), *ttft = calloc(n ? n : 1, sizeof(double));
    double *tot = calloc(n ? n : 1, sizeof(double)), *sup = calloc(n ? n : 1, sizeof(double));
    double *rh = calloc(n ? n : 1, sizeof(double)), *rr = calloc(n ? n : 1, sizeof(double));
    double *rm = calloc(n ? n : 1, sizeof(double)), *rn = calloc(n ? n : 1, sizeof(double));
    bool *abst = calloc(n ? n : 1, sizeof(bool)), *unans = calloc(n ? n : 1, sizeof(bool));
    bool *corr = calloc(n ? n : 1, sizeof(bool));
    double *jd = calloc(n ? n : 1, sizeof(double));
    size_t nj = 0, n_unparsed = 0;
    int st = RT_OK;
    if (!em || !f1 || !co || !ttft || !tot || !sup || !rh || !rr || !rm || !rn || !abst ||
        !unans || !corr || !jd)
        st = rt_error(RT_ERR_NOMEM, "out of memory");
    size_t na = 0, nret = 0;
    double gen_tokens = 0, gen_seconds = 0, prompt_tokens = 0;
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        answer_rec *a = &recs[i];
        if (!a->unanswerable && r->judge) {
            if (isfinite(a->judge))
                jd[nj++] = a->judge;
            else
                n_unparsed++;
        }
        if (!a->unanswerable) {
            em[na] = a->em;
            f1[na] = a->f1;
            co[na] = a->contains;
            na++;
        }
        if (a->has_ret) {
            rh[nret] = a->ret.hit;
            rr[nret] = a->ret.recall;
            rm[nret] = a->ret.mrr;
            rn[nret] = a->ret.ndcg;
            nret++;
        }
        ttft[i] = a->ttft;
        tot[i] = a->total;
        sup[i] = a->support;
        abst[i] = a->abstained;
        unans[i] = a->unanswerable;
        corr[i] = a->correct;
        gen_tokens += a->n_generated;
        gen_seconds += a->total - a->ttft;
        prompt_tokens += a->n_prompt;
    }
    if (st == RT_OK) {
        json_t *m = json_object();
        json_object_set_new(m, "n_questions", json_integer((json_int_t)n));
        json_object_set_new(m, "n_answerable", json_integer((json_int_t)na));
        json_object_set_new(m, "n_unanswerable", json_integer((json_int_t)(n - na)));
        json_object_set_new(m, "em", ci_json(r, em, na, 1));
        json_object_set_new(m, "f1", ci_json(r, f1, na, 2));
        json_object_set_new(m, "contains", ci_json(r, co, na, 3));
        if (r->judge) {
            json_object_set_new(m, "judge", ci_json(r, jd, nj, 8));
            json_object_set_new(m, "judge_no_verdict", json_integer((json_int_t)n_unparsed));
        }
        double rp, rc;
        rt_refusal_scores(abst, unans, n, &rp, &rc);
        json_object_set_new(m, "refusal_precision", num(rp));
        json_object_set_new(m, "refusal_recall", num(rc));
        size_t n_abst = 0;
        for (size_t i = 0; i < n; i++)
            n_abst += abst[i];
        json_object_set_new(m, "abstention_rate", num(n ? (double)n_abst / (double)n : NAN));
        json_object_set_new(m, "hallucination_rate",
                            num(rt_hallucination_rate(abst, corr, sup, n, r->s.support_threshold)));
        if (nret) {
            json_t *ret = json_object();
            json_object_set_new(ret, "k", json_integer(r->s.k));
            json_object_set_new(ret, "hit", ci_json(r, rh, nret, 4));
            json_object_set_new(ret, "recall", ci_json(r, rr, nret, 5));
            json_object_set_new(ret, "mrr", ci_json(r, rm, nret, 6));
            json_object_set_new(ret, "ndcg", ci_json(r, rn, nret, 7));
            json_object_set_new(m, "retrieval", ret);
        }
        json_t *lat = json_object();
        json_object_set_new(lat, "ttft_p50_s", json_real(rt_quantile(ttft, n, 0.5)));
        json_object_set_new(lat, "ttft_p95_s", json_real(rt_quantile(ttft, n, 0.95)));
        json_object_set_new(lat, "total_p50_s", json_real(rt_quantile(tot, n, 0.5)));
        json_object_set_new(lat, "total_p95_s", json_real(rt_quantile(tot, n, 0.95)));
        json_object_set_new(lat, "total_mean_s", json_real(rt_mean(tot, n)));
        json_object_set_new(lat, "prompt_tokens_mean", json_real(n ? prompt_tokens / n : 0));
        json_object_set_new(lat, "tokens_per_s",
                            num(gen_seconds > 0 ? gen_tokens / gen_seconds : NAN));
        json_object_set_new(m, "latency", lat);
        json_object_set_new(m, "questions", qs);
        qs = NULL;
        *out = m;
    }
    json_decref(qs);
    free(recs), free(em), free(f1), free(co), free(ttft), free(tot), free(sup);
    free(rh), free(rr), free(rm), free(rn), free(abst), free(unans), free(corr), free(jd);
    return st;
}

/* ---- training data and training ---- */

/* "What is X?" -> X (malloc'd), else NULL. */
static char *term_of(const char *q) {
    size_t n = strlen(q);
    if (n > 9 && !strncmp(q, "What is ", 8) && q[n - 1] == '?') return strndup(q + 8, n - 9);
    return NULL;
}

static bool is_test_question(const run *r, const char *prompt) {
    for (size_t i = 0; i < r->n_test; i++) {
        const char *q = r->qa->items[r->test[i]].question;
        const char *p = strstr(prompt, q);
        if (p && (p == prompt || p[-1] == ' ') && (p[strlen(q)] == '\n' || !p[strlen(q)]))
            return true;
    }
    return false;
}

static int emit(rt_strbuf *b, json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    int st = s ? rt_strbuf_printf(b, "%s\n", s) : RT_ERR_NOMEM;
    free(s);
    return st;
}

static int emit_pc(const run *r, rt_strbuf *b, const char *prompt, const char *completion,
                   size_t *n_lines) {
    if (is_test_question(r, prompt))
        return rt_error(RT_ERR_INTERNAL, "training data would contain a test question: %.80s",
                        prompt);
    json_t *o = json_object();
    json_object_set_new(o, "prompt", json_string(prompt));
    json_object_set_new(o, "completion", json_string(completion));
    (*n_lines)++;
    return emit(b, o);
}

/* The text of a document: from the updated collection when given and it holds the id. */
static char *doc_text(rt_collection *c, const char *id) {
    sqlite3_stmt *st;
    if (rt_coll_prepare(c, "SELECT text FROM documents WHERE doc_id = ?", &st) != RT_OK)
        return NULL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    char *t = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) t = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return t;
}

/* A passage of RAFT training data is at most this long (cut at a word end), as a retrieved
 * chunk would be. */
#define RAFT_PASSAGE_BYTES 800

/* The collection's documents as RAFT passages: title = the heading path ask shows for the
 * document's start (its title line, metadata title or none), text = the document without that
 * title line, cut to RAFT_PASSAGE_BYTES. Strings malloc'd; free with raft_docs_free. */
static void raft_docs_free(rt_raft_doc *d, size_t n) {
    for (size_t i = 0; d && i < n; i++) {
        free((char *)d[i].id);
        free((char *)d[i].title);
        free((char *)d[i].text);
    }
    free(d);
}

static int raft_docs(rt_collection *c, rt_raft_doc **out, size_t *n_out) {
    *out = NULL;
    *n_out = 0;
    rt_qa_doc *docs;
    size_t n;
    RT_TRY(rt_qa_collection_docs(c, &docs, &n));
    rt_raft_doc *rd = calloc(n ? n : 1, sizeof *rd);
    int st = rd ? RT_OK : rt_error(RT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        rt_stored_document *sd = NULL;
        char *title = NULL;
        st = rt_collection_get_document(c, docs[i].id, &sd);
        if (st == RT_OK) st = rt_rag_heading_path(sd, 0, &title);
        rt_stored_document_free(sd);
        if (st != RT_OK) break;
        const char *t = docs[i].text;
        size_t tl = strlen(title);
        if (tl && !strncmp(t, title, tl) && (t[tl] == '\n' || t[tl] == '\r')) {
            t += tl;
            while (isspace((unsigned char)*t))
                t++;
        }
        size_t len = strlen(t);
        if (len > RAFT_PASSAGE_BYTES) {
            len = RAFT_PASSAGE_BYTES;
            while (len > 0 && t[len] != ' ')
                len--;
            if (len == 0) { /* one long word: cut at a UTF-8 character start */
                len = RAFT_PASSAGE_BYTES;
                while (len > 0 && ((unsigned char)t[len] & 0xC0) == 0x80)
                    len--;
            }
        }
        rd[i].id = docs[i].id;
        docs[i].id = NULL;
        rd[i].title = title;
        rd[i].text = strndup(t, len);
        *n_out = i + 1;
        if (!rd[i].text) st = rt_error(RT_ERR_NOMEM, "out of memory");
    }
    rt_qa_docs_free(docs, n);
    if (st != RT_OK) {
        raft_docs_free(rd, *n_out);
        *n_out = 0;
        return st;
    }
    *out = rd;
    return RT_OK;
}

/* The RAFT examples of the train split, made by rt_raft_build (src/rag/raft.c, the one builder
 * `ragtune raft-data` also uses): the oracle document among distractors (hits for the question
 * in the strategy's search mode first, then random documents) in P% of examples, answer quoted and cited; only
 * distractors otherwise, with the abstain completion. */
static int raft_examples(run *r, rt_collection *c, rt_strbuf *b, size_t *n_lines, size_t *dropped) {
    rt_raft_doc *docs = NULL;
    size_t n_docs = 0, n_items = 0;
    RT_TRY(raft_docs(c, &docs, &n_docs));
    rt_raft_item *items = calloc(r->n_train + 1, sizeof *items);
    int st = items ? RT_OK : rt_error(RT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n_train && st == RT_OK; i++) {
        const rt_qa_item *it = &r->qa->items[r->train[i]];
        if (it->unanswerable || !it->n_answers || !it->n_docs || it->doc_missing) continue;
        if (is_test_question(r, it->question)) { /* the same question in both splits */
            (*dropped)++;
            continue;
        }
        items[n_items++] = (rt_raft_item){
            .id = it->id, .question = it->question, .answer = it->answers[0], .doc = it->docs[0]};
    }
    rt_raft_params rp = rt_raft_default_params();
    rp.n_distractors = r->s.raft_distractors;
    rp.oracle_p = r->s.raft_oracle_fraction;
    rp.collection = c;
    rp.search_mode = r->s.search_mode; /* distractors as this strategy retrieves */
    rp.seed = r->s.seed;
    rp.style = RT_RAG_PROMPT_BASE;
    rt_raft_example *ex = NULL;
    if (st == RT_OK && n_items) st = rt_raft_build(docs, n_docs, items, n_items, &rp, &ex);
    for (size_t i = 0; i < n_items && st == RT_OK && ex; i++)
        st = emit_pc(r, b, ex[i].prompt, ex[i].completion, n_lines);
    rt_raft_examples_free(ex, n_items);
    free(items);
    raft_docs_free(docs, n_docs);
    return st;
}

/* Writes the training data of recipe to path. updated: the documents' second versions (and
 * their paraphrased questions) replace the first. */
static int write_train_data(run *r, const char *recipe, bool updated, const char *path,
                            json_t *stats) {
    rt_strbuf b = {0};
    size_t n_lines = 0, n_docs = 0, dropped = 0;
    int st = RT_OK;
    bool raft = !strcmp(recipe, "raft");
    rt_collection *c = updated && r->coll_updated ? r->coll_updated : r->coll;
    /* answers of updated documents come from the update split */
    if (raft) st = raft_examples(r, c, &b, &n_lines, &dropped);
    for (size_t i = 0; i < r->n_train && st == RT_OK && !raft; i++) {
        const rt_qa_item *it = &r->qa->items[r->train[i]];
        if (it->unanswerable || !it->n_answers) continue;
        if (is_test_question(r, it->question)) { /* the same question in both splits */
            dropped++;
            continue;
        }
        {
            char *p = rt_eval_closed_prompt(it->question), *comp = NULL;
            rt_strbuf cb = {0};
            if (!p || rt_strbuf_printf(&cb, " %s", it->answers[0])) st = RT_ERR_NOMEM;
            comp = rt_strbuf_take(&cb);
            if (st == RT_OK) st = emit_pc(r, &b, p, comp, &n_lines);
            free(p);
            free(comp);
        }
    }
    /* after an update: the paraphrases (never the test phrasing) of the changed facts */
    for (size_t i = 0; updated && i < r->n_update && st == RT_OK; i++) {
        const rt_qa_item *it = &r->qa->items[r->update[i]];
        char *term = term_of(it->question);
        for (int ph = 1; term && ph < RT_QA_N_PHRASINGS && st == RT_OK; ph++) {
            char *q = rt_qa_phrase(ph, term), *p = q ? rt_eval_closed_prompt(q) : NULL;
            rt_strbuf cb = {0};
            if (!p || rt_strbuf_printf(&cb, " %s", it->answers[0])) st = RT_ERR_NOMEM;
            char *comp = rt_strbuf_take(&cb);
            if (st == RT_OK) st = emit_pc(r, &b, p, comp, &n_lines);
            free(q);
            free(p);
            free(comp);
        }
        free(term);
    }
    /* the documents the questions are about, as plain text (knowledge for closed-book) */
    if (st == RT_OK && r->s.pretrain_chunks && !raft) {
        size_t n_all = r->n_train + r->n_test;
        char **seen = calloc(n_all + 1, sizeof *seen);
        size_t n_seen = 0;
        for (size_t i = 0; seen && i < n_all && st == RT_OK; i++) {
            const rt_qa_item *it =
                &r->qa->items[i < r->n_train ? r->train[i] : r->test[i - r->n_train]];
            if (!it->n_docs) continue;
            bool dup = false;
            for (size_t j = 0; j < n_seen && !dup; j++)
                dup = !strcmp(seen[j], it->docs[0]);
            if (dup) continue;
            seen[n_seen++] = it->docs[0];
            char *t = doc_text(c, it->docs[0]);
            if (!t) continue;
            json_t *o = json_object();
            json_object_set_new(o, "text", json_string(t));
            free(t);
            st = emit(&b, o);
            n_docs++;
            n_lines++;
        }
        free(seen);
    }
    if (st == RT_OK && n_lines == 0)
        st = rt_error(RT_ERR_INVALID,
                      "no training data: the QA set has no train split with "
                      "answers%s",
                      raft ? " and evidence documents" : "");
    if (st == RT_OK) st = rt_file_write_atomic(path, b.data, b.len);
    rt_strbuf_free(&b);
    json_object_set_new(stats, "train_examples", json_integer((json_int_t)n_lines));
    json_object_set_new(stats, "train_documents", json_integer((json_int_t)n_docs));
    json_object_set_new(stats, "dropped_test_overlap", json_integer((json_int_t)dropped));
    json_object_set_new(stats, "test_questions_in_training", json_integer(0));
    return st;
}

static json_t *loss_curve(const char *dir) {
    char *p = rt_path_join(dir, "train_log.jsonl");
    char *data = NULL;
    size_t len;
    json_t *a = json_array();
    if (p && rt_file_read_all(p, (size_t)1 << 26, &data, &len) == RT_OK) {
        for (char *l = strtok(data, "\n"); l; l = strtok(NULL, "\n")) {
            json_t *o = json_loads(l, 0, NULL);
            json_t *s = json_object_get(o, "step"), *v = json_object_get(o, "loss");
            if (json_is_integer(s) && json_is_number(v)) {
                json_t *pt = json_array();
                json_array_append_new(pt, json_integer(json_integer_value(s)));
                json_array_append_new(pt, json_real(json_number_value(v)));
                json_array_append_new(a, pt);
            }
            json_decref(o);
        }
    }
    free(data);
    free(p);
    return a;
}

/* The settings a training run of recipe depends on (beyond the run's configuration). */
static json_t *train_settings(const rt_compare_spec *s, const char *recipe) {
    json_t *o = json_pack("{s:s,s:I,s:f,s:i,s:f,s:i,s:i,s:b}", "recipe", recipe, "steps",
                          (json_int_t)s->steps, "lr", (double)s->lr, "rank", s->lora_rank, "alpha",
                          (double)s->lora_alpha, "seq_len", s->seq_len, "batch", s->batch_size,
                          "pretrain_chunks", s->pretrain_chunks);
    if (o && !strcmp(recipe, "raft")) {
        json_object_set_new(o, "oracle_p", json_real(s->raft_oracle_fraction));
        json_object_set_new(o, "distractors", json_integer(s->raft_distractors));
    }
    return o;
}

static uint64_t fnv1a(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Trains recipe under the current strategy's settings, once: runs are shared between
 * strategies with the same training settings and kept in out_dir/train-<recipe>[-<hash of the
 * settings, when a strategy's differ from the spec's>][-updated]. *model_path gets the model
 * to answer with (malloc'd) and *stats the training numbers (new reference). */
static int train_recipe(run *r, const char *recipe, bool updated, char **model_path,
                        char **adapter_path, json_t **stats) {
    *model_path = NULL;
    *adapter_path = NULL;
    *stats = NULL;
    json_t *mine = train_settings(&r->s, recipe), *spec = train_settings(&r->global, recipe);
    char *mine_text = json_dumps(mine, JSON_COMPACT | JSON_SORT_KEYS);
    char *spec_text = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(mine);
    json_decref(spec);
    char name[48], suffix[24] = "";
    if (mine_text && spec_text && strcmp(mine_text, spec_text))
        snprintf(suffix, sizeof suffix, "-%08llx", (unsigned long long)(fnv1a(mine_text) >> 32));
    snprintf(name, sizeof name, "train-%s%s%s", recipe, suffix, updated ? "-updated" : "");
    rt_strbuf kb = {0};
    int kst = mine_text ? rt_strbuf_printf(&kb, "%s|%s", r->config_text, mine_text) : RT_ERR_NOMEM;
    free(mine_text);
    free(spec_text);
    if (kst != RT_OK) {
        rt_strbuf_free(&kb);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    char *key = rt_strbuf_take(&kb);
    char *dir = rt_path_join(r->s.out_dir, name);
    char *done = dir ? rt_path_join(dir, "done.json") : NULL;
    char *data = dir ? rt_path_join(dir, "train.jsonl") : NULL;
    char *adapter = dir ? rt_path_join(dir, "adapter") : NULL;
    char *model = dir ? rt_path_join(dir, "model") : NULL;
    bool lora = strcmp(recipe, "ft") != 0;
    int st = dir && done && data && adapter && model ? RT_OK : RT_ERR_NOMEM;
    json_t *s = NULL;
    /* under mpirun rank 0 decides (it alone reads and writes out_dir), the processes train
     * data-parallel on the data it wrote, and it saves the result */
    if (st == RT_OK && r->s.resume && rt_dist_rank() == 0 && rt_is_file(done)) {
        s = json_load_file(done, 0, NULL);
        const char *cfg = json_string_value(json_object_get(s, "config"));
        if (!cfg || strcmp(cfg, key)) {
            json_decref(s);
            s = NULL;
        }
    }
    if (dist_active()) {
        int32_t trained = s != NULL;
        if (dist_bcast(&trained, sizeof trained, 0) != RT_OK) st = RT_ERR_INTERNAL;
        if (trained && !s) s = json_object(); /* the others: rank 0 holds the numbers */
        st = dist_agree(st);
    }
    if (st == RT_OK && !s) {
        s = json_object();
        if (rt_dist_rank() == 0) {
            st = rt_mkdir_p(dir);
            if (st == RT_OK) st = write_train_data(r, recipe, updated, data, s);
        }
        st = dist_agree(st);
        rt_train_params tp = rt_train_default_params();
        tp.model_path = r->s.model_path;
        tp.lora_rank = lora ? r->s.lora_rank : 0;
        tp.lora_alpha = r->s.lora_alpha;
        tp.train_path = data;
        tp.val_fraction = 0;
        tp.out_dir = dir;
        tp.max_steps = r->s.steps;
        tp.lr = r->s.lr > 0 ? r->s.lr : (lora ? 1e-4f : 1e-5f);
        tp.seq_len = r->s.seq_len;
        tp.batch_size = r->s.batch_size;
        tp.seed = r->s.seed;
        tp.schedule = "cosine";
        rt_trainer *t = NULL;
        double t0 = now();
        if (st == RT_OK) st = rt_trainer_init(&tp, &t);
        rt_train_step_info info = {0};
        prog g;
        char task[96], detail[96] = "";
        snprintf(task, sizeof task, "%s: train", name);
        if (st == RT_OK) prog_begin(&g, r, task, "steps", (uint64_t)tp.max_steps);
        while (st == RT_OK) {
            int c = cancelled(r) ? rt_error(RT_ERR_CANCELLED, "compare: cancelled") : RT_OK;
            if ((c = dist_agree(c)) != RT_OK) { /* all processes stop at the same step */
                st = c;
                break;
            }
            st = rt_trainer_step(t, &info);
            if (st != RT_OK) break;
            snprintf(detail, sizeof detail, "loss %.4f", info.loss);
            prog_update(&g, (uint64_t)info.step, detail, false);
            if (info.done) break;
        }
        if (t && st == RT_OK) prog_update(&g, (uint64_t)info.step, detail, true);
        if (st == RT_OK) /* st agreed by the step: every process is here, or none */
            st = dist_agree(rt_dist_rank() == 0 ? rt_trainer_save(t, lora ? adapter : model)
                                                      : RT_OK);
        double wall = now() - t0;
        size_t mem = t ? rt_trainer_memory_bytes(t) : 0;
        rt_trainer_free(t);
        bool saved = st == RT_OK; /* the same on every process */
        if (st == RT_OK && rt_dist_rank() == 0) {
            json_object_set_new(s, "config", json_string(key));
            json_object_set_new(s, "recipe", json_string(recipe));
            json_object_set_new(s, "dir", json_string(name));
            json_object_set_new(s, "steps", json_integer(info.step));
            json_object_set_new(s, "tokens_trained", json_integer(info.tokens));
            json_object_set_new(s, "final_loss", num(info.loss));
            json_object_set_new(s, "wall_s", json_real(wall));
            json_object_set_new(s, "trainer_memory_bytes", json_integer((json_int_t)mem));
            json_object_set_new(s, "peak_rss_bytes", num(peak_rss_bytes()));
            json_object_set_new(s, "lr", json_real(tp.lr));
            json_object_set_new(s, "lora_rank", json_integer(tp.lora_rank));
            json_object_set_new(s, "artifact_bytes",
                                json_integer((json_int_t)dir_bytes(lora ? adapter : model)));
            json_object_set_new(s, "data", json_string(data));
            json_object_set_new(s, "loss_curve", loss_curve(dir));
            char *text = json_dumps(s, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
            st = text ? rt_file_write_atomic(done, text, strlen(text)) : RT_ERR_NOMEM;
            free(text);
        }
        if (saved) st = dist_agree(st); /* rank 0 wrote done.json */
    }
    if (st == RT_OK) {
        json_object_del(s, "config");
        *model_path = strdup(lora ? r->s.model_path : model);
        *adapter_path = lora ? strdup(adapter) : NULL;
        if (lora && !*adapter_path) st = RT_ERR_NOMEM;
        *stats = s;
        s = NULL;
        if (!*model_path) st = RT_ERR_NOMEM;
    }
    json_decref(s);
    free(dir), free(done), free(data), free(adapter), free(model), free(key);
    return st;
}

/* ---- adaptability ---- */

static int make_updated(run *r);

/* The updated collection: a copy of the collection (VACUUM INTO) with the update documents
 * ingested; the ingest is timed (the cost of adapting a RAG system). Made once, by rank 0
 * under mpirun; the other processes then open it read-only (out_dir on a shared file system). */
static int ensure_updated(run *r) {
    if (r->coll_updated || !r->s.update_docs_path) return RT_OK;
    if (!dist_active()) return make_updated(r);
    int st = dist_agree(rt_dist_rank() == 0 ? make_updated(r) : RT_OK);
    if (st == RT_OK && rt_dist_rank() != 0) {
        char *dir = rt_path_join(r->s.out_dir, "collection-updated");
        rt_collection_params cp = rt_collection_default_params();
        cp.create = false;
        cp.read_only = true;
        if (r->has_emb) cp.embedder = &r->emb;
        st = dir ? rt_collection_open(dir, &cp, &r->coll_updated) : RT_ERR_NOMEM;
        free(dir);
    }
    st = dist_agree(st);
    if (st != RT_OK && r->coll_updated) { /* all ranks try again, or none */
        rt_collection_close(r->coll_updated);
        r->coll_updated = NULL;
    }
    return st;
}

static int make_updated(run *r) {
    char *dir = rt_path_join(r->s.out_dir, "collection-updated");
    char *db = dir ? rt_path_join(dir, "collection.db") : NULL;
    if (!db) {
        free(dir);
        return RT_ERR_NOMEM;
    }
    int st = rt_mkdir_p(dir);
    /* a fresh copy every run: remove what a previous run left */
    if (st == RT_OK) {
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            char *p = rt_path_join(dir, e->d_name);
            if (p) remove(p);
            free(p);
        }
        if (d) closedir(d);
    }
    if (st == RT_OK) { /* SQLite's online backup: works from a read-only connection */
        sqlite3 *dst = NULL;
        int rc = sqlite3_open(db, &dst);
        sqlite3_backup *bk =
            rc == SQLITE_OK ? sqlite3_backup_init(dst, "main", r->coll->db, "main") : NULL;
        if (bk) {
            sqlite3_backup_step(bk, -1);
            rc = sqlite3_backup_finish(bk);
        } else {
            rc = SQLITE_ERROR;
        }
        if (rc != SQLITE_OK)
            st = rt_error(RT_ERR_IO, "%s: copying the collection: %s", db,
                          dst ? sqlite3_errmsg(dst) : "cannot open");
        sqlite3_close(dst);
    }
    rt_collection_params cp = rt_collection_default_params();
    cp.create = false;
    if (r->has_emb) cp.embedder = &r->emb;
    if (st == RT_OK) st = rt_collection_open(dir, &cp, &r->coll_updated);
    rt_ingest_stats is = {0};
    double t0 = now();
    if (st == RT_OK)
        st = rt_collection_ingest_path(r->coll_updated, r->s.update_docs_path, &r->s.callbacks,
                                       &is);
    r->reingest_seconds = now() - t0;
    if (st == RT_OK && is.docs_added + is.docs_replaced == 0)
        rt_log_warn("%s: no document changed the collection", r->s.update_docs_path);
    free(db);
    free(dir);
    if (st != RT_OK) rt_error_wrap("applying the update documents");
    return st;
}

/* Accuracy on the update questions (new answers) and the rate of old answers. */
static int update_scores(run *r, rt_eval_engine *e, rt_collection *c, const char *task,
                         json_t **out) {
    *out = NULL;
    double *co = calloc(r->n_update + 1, sizeof *co), *f1 = calloc(r->n_update + 1, sizeof *f1);
    double *old = calloc(r->n_update + 1, sizeof *old);
    answer_rec *recs = NULL;
    json_t *answers = NULL;
    int st = co && f1 && old ? RT_OK : RT_ERR_NOMEM;
    if (st == RT_OK) st = answer_shared(r, e, c, r->update, r->n_update, task, &recs, &answers);
    for (size_t i = 0; i < r->n_update && st == RT_OK; i++) {
        const rt_qa_item *it = &r->qa->items[r->update[i]];
        answer_rec rec = recs[i];
        json_t *rj = json_array_get(answers, i);
        co[i] = rec.contains;
        f1[i] = rec.f1;
        if (it->old_answer) {
            const char *a = json_string_value(json_object_get(rj, "answer"));
            const char *og[] = {it->old_answer};
            double fo = rt_metric_f1(a, og, 1);
            old[i] = fo >= 0.5 && fo > rec.f1 ? 1 : 0;
        }
        json_object_set_new(rj, "gives_old_answer", json_boolean(old[i] > 0));
    }
    free(recs);
    if (st == RT_OK) {
        json_t *o = json_object();
        json_object_set_new(o, "contains", ci_json(r, co, r->n_update, 11));
        json_object_set_new(o, "f1", ci_json(r, f1, r->n_update, 12));
        json_object_set_new(o, "old_answer_rate", json_real(rt_mean(old, r->n_update)));
        json_object_set_new(o, "questions", answers);
        answers = NULL;
        *out = o;
    }
    json_decref(answers);
    free(co), free(f1), free(old);
    return st;
}

/* ---- one strategy ---- */

static int run_strategy(run *r, const strategy *sg, json_t *res) {
    rt_strategy_kind k = sg->kind;
    const char *recipe = kind_recipe(k);
    bool rag = kind_rag(k);
    char *model_path = NULL, *adapter_path = NULL;
    json_t *train = NULL;
    int st = RT_OK;
    if (*recipe) {
        if (r->s.adapter_path && (k == RT_STRATEGY_LORA || k == RT_STRATEGY_LORA_RAG)) {
            /* a given adapter (ragtune eval --adapter): applied, not trained */
            model_path = strdup(r->s.model_path);
            adapter_path = strdup(r->s.adapter_path);
            train = json_object();
            json_object_set_new(train, "given_adapter", json_string(r->s.adapter_path));
            json_object_set_new(train, "artifact_bytes",
                                json_integer((json_int_t)dir_bytes(r->s.adapter_path)));
            if (!model_path || !adapter_path) st = RT_ERR_NOMEM;
        } else {
            st = train_recipe(r, recipe, false, &model_path, &adapter_path, &train);
            if (st != RT_OK) rt_error_wrap("training %s", recipe);
        }
        if (st != RT_OK) {
            json_decref(train);
            free(model_path);
            free(adapter_path);
            return st;
        }
    }
    rt_eval_engine *e = NULL;
    if (!model_path && r->s.api_base)
        st = rt_eval_engine_open_remote(r->s.api_base, r->s.api_model, &e);
    else
        st = rt_eval_engine_open(model_path ? model_path : r->s.model_path, adapter_path,
                                 r->s.n_ctx, &e);
    st = dist_agree(st); /* every process answers with it, or none */
    json_t *m = NULL;
    char task[64];
    snprintf(task, sizeof task, "%s: answer", sg->name);
    if (st == RT_OK) st = answer_set(r, e, rag ? r->coll : NULL, r->test, r->n_test, task, &m);
    if (st == RT_OK) {
        json_object_set_new(res, "metrics", m);
        json_object_set_new(res, "training", train ? json_incref(train) : json_null());
        /* cost: CPU seconds (wall x threads) at the CPU-hour price */
        json_t *lat = json_object_get(m, "latency");
        double q = json_number_value(json_object_get(lat, "total_mean_s"));
        double tw = train ? json_number_value(json_object_get(train, "wall_s")) : 0;
        json_t *cost = json_object();
        double per_cpu_s = r->s.cpu_hour_price / 3600.0 * r->threads;
        json_object_set_new(cost, "per_1000_queries", json_real(q * 1000 * per_cpu_s));
        json_object_set_new(cost, "per_training_run", json_real(tw * per_cpu_s));
        json_object_set_new(cost, "cpu_hour_price", json_real(r->s.cpu_hour_price));
        json_object_set_new(cost, "threads", json_integer(r->threads));
        json_object_set_new(res, "cost", cost);
        json_t *disk = json_object();
        json_object_set_new(disk, "index_bytes",
                            json_integer(rag ? (json_int_t)r->index_bytes : 0));
        json_object_set_new(
            disk, "adapter_or_model_bytes",
            json_integer(train ? json_integer_value(json_object_get(train, "artifact_bytes")) : 0));
        json_object_set_new(res, "disk", disk);
    }
    /* forgetting */
    if (st == RT_OK && model_path && r->heldout) {
        double ppl;
        int nt;
        json_t *f = json_object();
        json_object_set_new(f, "ppl_base", num(r->base_ppl));
        if (rt_eval_engine_perplexity(e, r->heldout, 1024, &ppl, &nt) == RT_OK) {
            json_object_set_new(f, "ppl_after", num(ppl));
            json_object_set_new(f, "ppl_ratio", num(ppl / r->base_ppl));
            json_object_set_new(f, "tokens", json_integer(nt));
        }
        json_object_set_new(res, "forgetting", f);
    }
    /* adaptability */
    if (st == RT_OK && r->n_update) {
        json_t *ad = json_object(), *before = NULL, *after = NULL;
        snprintf(task, sizeof task, "%s: update (before)", sg->name);
        st = update_scores(r, e, rag ? r->coll : NULL, task, &before);
        if (st == RT_OK && rag) {
            st = ensure_updated(r);
            snprintf(task, sizeof task, "%s: update (after)", sg->name);
            if (st == RT_OK) st = update_scores(r, e, r->coll_updated, task, &after);
            json_object_set_new(ad, "method", json_string("re-ingest the changed documents"));
            json_object_set_new(ad, "adapt_s", json_real(r->reingest_seconds));
        } else if (st == RT_OK && *recipe && r->s.adapt_retrain && !r->s.adapter_path) {
            char *mp2 = NULL, *ap2 = NULL;
            json_t *t2 = NULL;
            st = ensure_updated(r);
            if (st == RT_OK) st = train_recipe(r, recipe, true, &mp2, &ap2, &t2);
            rt_eval_engine *e2 = NULL;
            if (st == RT_OK) st = dist_agree(rt_eval_engine_open(mp2, ap2, r->s.n_ctx, &e2));
            snprintf(task, sizeof task, "%s: update (after)", sg->name);
            if (st == RT_OK) st = update_scores(r, e2, NULL, task, &after);
            rt_eval_engine_close(e2);
            json_object_set_new(ad, "method", json_string("retrain with the changed documents"));
            json_object_set_new(ad, "adapt_s",
                                t2 ? json_incref(json_object_get(t2, "wall_s")) : json_null());
            json_decref(t2);
            free(mp2);
            free(ap2);
        } else {
            json_object_set_new(ad, "method",
                                json_string(*recipe ? "none (retraining not requested)"
                                                    : "none (the weights cannot change)"));
            json_object_set_new(ad, "adapt_s", json_null());
        }
        if (st == RT_OK) {
            json_object_set_new(ad, "before", before);
            json_object_set_new(ad, "after", after ? after : json_null());
            json_object_set_new(res, "adaptability", ad);
        } else {
            json_decref(before);
            json_decref(after);
            json_decref(ad);
        }
    }
    rt_eval_engine_close(e);
    json_decref(train);
    free(model_path);
    free(adapter_path);
    return st;
}

/* ---- setup ---- */

static void strategies_free(strategy *v, size_t n) {
    for (size_t i = 0; v && i < n; i++)
        free(v[i].cache_key);
    free(v);
}

/* The strategies to run: spec.strategies names kinds or entries of spec.strategy_list (NULL:
 * every entry), each with the settings it runs under. */
static int parse_strategies(const rt_compare_spec *g, strategy **out, size_t *n) {
    *out = NULL;
    *n = 0;
    const char *list = g->strategies;
    if (!list && !g->n_strategy_list) list = rt_compare_default_spec().strategies;
    size_t cap = g->n_strategy_list + 1;
    for (const char *p = list ? list : ""; *p; p++)
        cap += *p == ',' || *p == ' ';
    char *copy = strdup(list ? list : "");
    strategy *v = calloc(cap, sizeof *v);
    if (!copy || !v) {
        free(copy);
        free(v);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    int st = RT_OK;
    if (!list) /* every strategy of the spec file */
        for (size_t i = 0; i < g->n_strategy_list; i++) {
            v[*n].params = &g->strategy_list[i];
            snprintf(v[*n].name, sizeof v[*n].name, "%s", g->strategy_list[i].name);
            (*n)++;
        }
    for (char *t = strtok(copy, ", "); t && st == RT_OK; t = strtok(NULL, ", ")) {
        const rt_compare_strategy *o = NULL;
        for (size_t i = 0; i < g->n_strategy_list && !o; i++)
            if (!strcmp(g->strategy_list[i].name, t)) o = &g->strategy_list[i];
        rt_strategy_kind k = RT_STRATEGY_BASE;
        if (!o && (st = rt_strategy_parse(t, &k)) != RT_OK) {
            if (g->n_strategy_list)
                rt_error_wrap("\"%s\" is neither a strategy of the spec nor a kind", t);
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < *n; i++)
            dup |= !strcmp(v[i].name, t);
        if (dup) continue;
        v[*n].params = o;
        snprintf(v[*n].name, sizeof v[*n].name, "%s", t);
        (*n)++;
    }
    free(copy);
    for (size_t i = 0; i < *n && st == RT_OK; i++) {
        strategy *sg = &v[i];
        if (sg->params)
            sg->kind = sg->params->kind;
        else
            rt_strategy_parse(sg->name, &sg->kind);
        rt_compare_strategy_apply(g, sg->params, &sg->s);
        const char *recipe = kind_recipe(sg->kind);
        if (sg->params && sg->params->rerank == 1 && !g->rerank_model)
            st = rt_error(RT_ERR_INVALID,
                          "strategy %s: \"rerank\": true needs a cross-encoder (rerank_model, "
                          "--rerank)",
                          sg->name);
        else if (*recipe && g->api_base)
            st = rt_error(RT_ERR_INVALID,
                          "strategy %s (%s) needs a local model: fine-tuning and adapters cannot "
                          "run on a remote model (--api-base); run it with --model, or use base "
                          "and rag with the remote one",
                          sg->name, rt_strategy_name(sg->kind));
        else if (sg->s.k < 1 || sg->s.steps < 1 || sg->s.raft_distractors < 0 ||
                 sg->s.raft_distractors > 16)
            st = rt_error(RT_ERR_INVALID,
                          "strategy %s: k and steps must be positive, "
                          "raft_distractors 0..16",
                          sg->name);
    }
    if (st == RT_OK && *n == 0) st = rt_error(RT_ERR_INVALID, "no strategies given");
    if (st != RT_OK) {
        strategies_free(v, *n);
        *n = 0;
        return st;
    }
    *out = v;
    return RT_OK;
}

static json_t *config_json(const run *r, const strategy *sv, size_t ns) {
    const rt_compare_spec *s = &r->s;
    json_t *c = json_object();
    json_object_set_new(c, "model", s->model_path ? json_string(s->model_path) : json_null());
    json_object_set_new(c, "collection", json_string(s->collection_path));
    json_object_set_new(c, "qa", json_string(s->qa_path));
    json_object_set_new(c, "update_docs",
                        s->update_docs_path ? json_string(s->update_docs_path) : json_null());
    json_object_set_new(c, "heldout", s->heldout_path ? json_string(s->heldout_path) : json_null());
    json_object_set_new(c, "adapter", s->adapter_path ? json_string(s->adapter_path) : json_null());
    static const char *modes[] = {"bm25", "dense", "hybrid"};
    json_object_set_new(c, "search_mode", json_string(modes[s->search_mode]));
    json_object_set_new(c, "k", json_integer(s->k));
    json_object_set_new(c, "rerank_model",
                        s->rerank_model ? json_string(s->rerank_model) : json_null());
    json_object_set_new(c, "min_score", num(s->min_score));
    json_object_set_new(c, "embedder",
                        s->embedder_path ? json_string(s->embedder_path) : json_null());
    json_object_set_new(c, "decoding",
                        json_pack("{s:s,s:i,s:i,s:[s,s]}", "sampler", "greedy", "max_tokens",
                                  s->max_tokens, "n_ctx", s->n_ctx, "stop", "\n", "Question:"));
    json_object_set_new(c, "steps", json_integer(s->steps));
    json_object_set_new(c, "lr", json_real(s->lr));
    json_object_set_new(c, "lora_rank", json_integer(s->lora_rank));
    json_object_set_new(c, "lora_alpha", json_real(s->lora_alpha));
    json_object_set_new(c, "seq_len", json_integer(s->seq_len));
    json_object_set_new(c, "batch_size", json_integer(s->batch_size));
    json_object_set_new(c, "pretrain_chunks", json_boolean(s->pretrain_chunks));
    json_object_set_new(c, "raft_oracle_fraction", json_real(s->raft_oracle_fraction));
    json_object_set_new(c, "raft_distractors", json_integer(s->raft_distractors));
    json_object_set_new(c, "adapt_retrain", json_boolean(s->adapt_retrain));
    json_object_set_new(c, "bootstrap_resamples", json_integer(s->bootstrap_resamples));
    json_object_set_new(c, "support_threshold", json_real(s->support_threshold));
    json_object_set_new(c, "max_questions", json_integer((json_int_t)s->max_questions));
    json_object_set_new(c, "seed", json_integer((json_int_t)s->seed));
    json_object_set_new(c, "threads", json_integer(r->threads));
    json_object_set_new(c, "api_base", s->api_base ? json_string(s->api_base) : json_null());
    json_object_set_new(c, "api_model", s->api_model ? json_string(s->api_model) : json_null());
    const char *judge = s->judge_api_base ? s->judge_api_model : s->judge_model_path;
    json_object_set_new(c, "judge", judge ? json_string(judge) : json_null());
    json_object_set_new(c, "judge_api_base",
                        s->judge_api_base ? json_string(s->judge_api_base) : json_null());
    json_t *a = json_array(), *params = json_object();
    for (size_t i = 0; i < ns; i++) {
        json_array_append_new(a, json_string(sv[i].name));
        if (!sv[i].params) continue;
        json_t *o = rt_compare_strategy_json(sv[i].params);
        json_object_set_new(o, "kind", json_string(rt_strategy_name(sv[i].kind)));
        json_object_set_new(params, sv[i].name, o);
    }
    json_object_set_new(c, "strategies", a);
    if (json_object_size(params))
        json_object_set_new(c, "strategy_params", params);
    else
        json_decref(params);
    return c;
}

/* What a cached result must have been run under: everything but the list of strategies and
 * the price (costs are recomputed from the stored times). */
static char *cache_key(json_t *config) {
    json_t *c = json_deep_copy(config);
    json_object_del(c, "strategies");
    json_object_del(c, "strategy_params");
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(c);
    return s;
}

static void run_free(run *r) {
    if (r->coll_updated) rt_collection_close(r->coll_updated);
    if (r->coll) rt_collection_close(r->coll);
    if (r->has_emb) rt_embedder_close_model(&r->emb);
    rt_reranker_close(r->reranker);
    rt_eval_engine_close(r->judge);
    rt_qa_free(r->qa);
    free(r->test);
    free(r->train);
    free(r->update);
    free(r->heldout);
    json_decref(r->config);
    free(r->config_text);
}

static int split_questions(run *r) {
    size_t n = r->qa->n;
    r->test = calloc(n + 1, sizeof *r->test);
    r->train = calloc(n + 1, sizeof *r->train);
    r->update = calloc(n + 1, sizeof *r->update);
    if (!r->test || !r->train || !r->update) return rt_error(RT_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const rt_qa_item *it = &r->qa->items[i];
        if (!strcmp(it->split, "train"))
            r->train[r->n_train++] = i;
        else if (!strcmp(it->split, "update"))
            r->update[r->n_update++] = i;
        else
            r->test[r->n_test++] = i; /* "test" and unsplit questions */
    }
    if (r->s.max_questions && r->n_test > r->s.max_questions) {
        /* evenly spaced, so that every kind of question (unanswerable ones come last in a
         * generated set) keeps its share */
        for (size_t j = 0; j < r->s.max_questions; j++)
            r->test[j] = r->test[j * r->n_test / r->s.max_questions];
        r->n_test = r->s.max_questions;
    }
    if (!r->n_test)
        return rt_error(RT_ERR_INVALID, "%s: no test questions (split \"test\" or none)",
                        r->s.qa_path);
    if (r->n_update && !r->s.update_docs_path) {
        rt_log_warn("%s: %zu update questions but no update documents: adaptability skipped",
                    r->s.qa_path, r->n_update);
        r->n_update = 0;
    }
    return RT_OK;
}

int rt_compare_run(const rt_compare_spec *spec, char **report_json) {
    if (report_json) *report_json = NULL;
    if (!spec || !spec->collection_path || !spec->qa_path ||
        !(spec->model_path || (spec->api_base && spec->api_model)) || !spec->out_dir)
        return rt_error(RT_ERR_INVALID, "compare: collection, QA set, model (or api_base and "
                                        "api_model) and output directory are required");
    if (spec->judge_api_base && !spec->judge_api_model)
        return rt_error(RT_ERR_INVALID, "compare: judge_api_base needs judge_api_model");
    run r;
    memset(&r, 0, sizeof r);
    r.s = *spec;
    if (r.s.k < 1 || r.s.max_tokens < 1 || r.s.steps < 1 || r.s.bootstrap_resamples < 1 ||
        r.s.raft_distractors < 0 || r.s.raft_distractors > 16)
        return rt_error(RT_ERR_INVALID, "compare: k, max_tokens, steps and bootstrap_resamples "
                                        "must be positive, raft_distractors 0..16");
    r.threads = rt_get_threads();
    strategy *sv = NULL;
    size_t ns = 0;
    json_t *report = NULL, *results = json_array();
    json_t *failed = json_array(); /* names of the strategies that failed */
    int failed_status = RT_OK;     /* the first failure's, with its message in failed_msg */
    char *failed_msg = NULL;
    r.global = r.s;
    int st = parse_strategies(&r.s, &sv, &ns);
    if (st == RT_OK) st = rt_qa_load(r.s.qa_path, &r.qa);
    if (st == RT_OK) st = split_questions(&r);
    if (st == RT_OK && r.s.embedder_path) {
        st = rt_embedder_open_model(r.s.embedder_path, 0, &r.emb);
        r.has_emb = st == RT_OK;
    }
    if (st == RT_OK && r.s.rerank_model) st = rt_reranker_open(r.s.rerank_model, 0, &r.reranker);
    if (st == RT_OK && r.s.judge_api_base)
        st = rt_eval_engine_open_remote(r.s.judge_api_base, r.s.judge_api_model, &r.judge);
    else if (st == RT_OK && r.s.judge_model_path)
        st = rt_eval_engine_open(r.s.judge_model_path, NULL, r.s.n_ctx, &r.judge);
    if (st != RT_OK && (r.s.judge_api_base || r.s.judge_model_path) && !r.judge)
        rt_error_wrap("opening the judge");
    if (st == RT_OK) {
        rt_collection_params cp = rt_collection_default_params();
        cp.create = false;
        cp.read_only = true;
        if (r.has_emb) cp.embedder = &r.emb;
        st = rt_collection_open(r.s.collection_path, &cp, &r.coll);
    }
    if (st == RT_OK) st = rt_qa_check_docs(r.qa, r.coll);
    if (st == RT_OK) {
        rt_collection_stats cs;
        if (rt_collection_stats_get(r.coll, &cs) == RT_OK) r.index_bytes = cs.disk_bytes;
    }
    bool root = rt_dist_rank() == 0; /* under mpirun: rank 0 reads and writes out_dir */
    if (st == RT_OK && r.s.heldout_path && root) { /* perplexities are rank 0's */
        size_t len;
        st = rt_file_read_all(r.s.heldout_path, (size_t)1 << 24, &r.heldout, &len);
    }
    if (st == RT_OK && root) st = rt_mkdir_p(r.s.out_dir);
    char *sdir = st == RT_OK ? rt_path_join(r.s.out_dir, "strategies") : NULL;
    if (st == RT_OK) st = !sdir ? RT_ERR_NOMEM : root ? rt_mkdir_p(sdir) : RT_OK;
    if (st == RT_OK) {
        r.config = config_json(&r, sv, ns);
        r.config_text = cache_key(r.config);
        if (!r.config_text) st = RT_ERR_NOMEM;
    }
    for (size_t i = 0; i < ns && st == RT_OK; i++) { /* each strategy's cache key */
        json_t *o = rt_compare_strategy_json(sv[i].params);
        json_object_set_new(o, "kind", json_string(rt_strategy_name(sv[i].kind)));
        char *t = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(o);
        rt_strbuf kb = {0};
        if (!t || rt_strbuf_printf(&kb, "%s|%s", r.config_text, t)) st = RT_ERR_NOMEM;
        sv[i].cache_key = rt_strbuf_take(&kb);
        free(t);
        if (!sv[i].cache_key) st = rt_error(RT_ERR_NOMEM, "out of memory");
    }
    st = dist_agree(st); /* from here on the processes go in step */
    /* forgetting baseline: the base model's perplexity of the held-out text */
    r.base_ppl = NAN;
    if (st == RT_OK && r.heldout) {
        bool trains = false;
        for (size_t i = 0; i < ns; i++)
            trains |= *kind_recipe(sv[i].kind) != 0;
        rt_eval_engine *e;
        int nt;
        if (trains && rt_eval_engine_open(r.s.model_path, NULL, r.s.n_ctx, &e) == RT_OK) {
            if (rt_eval_engine_perplexity(e, r.heldout, 1024, &r.base_ppl, &nt) != RT_OK)
                rt_log_warn("forgetting: %s", rt_last_error());
            rt_eval_engine_close(e);
        }
    }
    for (size_t i = 0; i < ns && st == RT_OK; i++) {
        char file[64];
        snprintf(file, sizeof file, "%s.json", sv[i].name);
        char *cache = rt_path_join(sdir, file);
        if (!cache) {
            st = RT_ERR_NOMEM;
            break;
        }
        json_t *res = NULL;
        if (r.s.resume && root && rt_is_file(cache)) {
            res = json_load_file(cache, 0, NULL);
            const char *cfg = json_string_value(json_object_get(res, "config"));
            if (!cfg || strcmp(cfg, sv[i].cache_key) ||
                strcmp(json_string_value(json_object_get(res, "status")) ?: "", "ok")) {
                json_decref(res);
                res = NULL;
            } else {
                rt_log_info("compare: %s: cached result reused (%s)", sv[i].name, cache);
                json_object_set_new(res, "cached", json_true());
            }
        }
        if (dist_active()) { /* rank 0 found it cached: nobody runs it */
            int32_t cached = res != NULL;
            if ((st = dist_bcast(&cached, sizeof cached, 0)) != RT_OK) {
                json_decref(res);
                free(cache);
                break;
            }
            if (cached && !res) res = json_object();
        }
        if (!res) {
            res = json_object();
            json_object_set_new(res, "name", json_string(sv[i].name));
            json_object_set_new(res, "kind", json_string(rt_strategy_name(sv[i].kind)));
            json_object_set_new(res, "rag", json_boolean(kind_rag(sv[i].kind)));
            json_object_set_new(res, "config", json_string(sv[i].cache_key));
            if (sv[i].params)
                json_object_set_new(res, "params", rt_compare_strategy_json(sv[i].params));
            double t0 = now();
            r.s = sv[i].s; /* its settings while it runs */
            int s2 = dist_agree(run_strategy(&r, &sv[i], res));
            r.s = r.global;
            json_object_set_new(res, "wall_s", json_real(now() - t0));
            if (s2 == RT_ERR_CANCELLED) {
                json_decref(res);
                free(cache);
                st = s2;
                break;
            }
            if (s2 != RT_OK) {
                rt_log_warn("compare: %s failed: %s", sv[i].name, rt_last_error());
                json_object_set_new(res, "status", json_string("failed"));
                json_object_set_new(res, "error", json_string(rt_last_error()));
                json_array_append_new(failed, json_string(sv[i].name));
                if (failed_status == RT_OK) {
                    failed_status = s2;
                    rt_strbuf fb = {0};
                    rt_strbuf_printf(&fb, "strategy %s failed: %s", sv[i].name, rt_last_error());
                    failed_msg = rt_strbuf_take(&fb);
                }
            } else {
                json_object_set_new(res, "status", json_string("ok"));
                char *text = root ? json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                if (root && (!text || rt_file_write_atomic(cache, text, strlen(text)) != RT_OK))
                    rt_log_warn("compare: could not cache %s", cache);
                free(text);
            }
        }
        json_object_del(res, "config");
        json_array_append_new(results, res);
        free(cache);
    }
    free(sdir);
    if (st == RT_OK && root) { /* the other processes have no report */
        report = json_object();
        json_object_set_new(report, "ragtune", json_string(rt_version()));
        json_object_set_new(report, "config", json_incref(r.config));
        if (r.s.spec_json) json_object_set_new(report, "spec", json_string(r.s.spec_json));
        json_t *qa = json_object();
        json_object_set_new(qa, "questions", json_integer((json_int_t)r.qa->n));
        json_object_set_new(qa, "train", json_integer((json_int_t)r.n_train));
        json_object_set_new(qa, "test", json_integer((json_int_t)r.n_test));
        json_object_set_new(qa, "update", json_integer((json_int_t)r.n_update));
        json_object_set_new(qa, "skipped_lines", json_integer((json_int_t)r.qa->n_skipped));
        json_object_set_new(qa, "skipped",
                            r.qa->skipped ? json_string(r.qa->skipped) : json_null());
        json_object_set_new(qa, "evidence_missing", json_integer((json_int_t)r.qa->n_doc_missing));
        json_object_set_new(report, "qa", qa);
        json_object_set_new(report, "strategies", results);
        results = NULL;
        json_object_set_new(report, "failed_strategies", json_incref(failed));
        if (r.n_update) json_object_set_new(report, "reingest_s", json_real(r.reingest_seconds));
        json_object_set_new(report, "base_heldout_ppl", num(r.base_ppl));
        st = rt_report_add_analysis(report, r.s.priority);
    }
    if (st == RT_OK && root) {
        char *text = json_dumps(report, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
        char *path = rt_path_join(r.s.out_dir, "report.json");
        st = text && path ? rt_file_write_atomic(path, text, strlen(text)) : RT_ERR_NOMEM;
        if (st == RT_OK && report_json) {
            *report_json = text;
            text = NULL;
        }
        free(text);
        free(path);
    }
    if (st == RT_OK && failed_status != RT_OK && !r.global.keep_going)
        st = rt_error(failed_status,
                      "compare: %s (%zu of %zu strategies failed; the report has "
                      "every result)",
                      failed_msg ? failed_msg : "a strategy failed", json_array_size(failed), ns);
    free(failed_msg);
    json_decref(failed);
    json_decref(report);
    json_decref(results);
    strategies_free(sv, ns);
    run_free(&r);
    return st;
}
