/*
 * ask.c — rt_ask: retrieve → (refuse) → assemble the context → reader prompt → generate
 * (streamed) → clean and map citations → score groundedness; and the JSON record.
 *
 * Refusal: without generating, when the best retrieval score is below min_score (BM25 score in
 * bm25 and hybrid mode — the best bm25_score of the fused list —, cosine in dense mode); and
 * after generating, when the model abstains: its answer contains RT_RAG_ABSTAIN_TEXT or starts
 * with a close variant ("The documents do not contain ...", "I don't know", ...).
 * Reranking: rerank_candidates chunks are retrieved, scored by the cross-encoder
 * (rag/rerank.c) and the best search.k kept; the sources are then ordered by rerank score.
 * Not here: chat history in the prompt (the reader prompt has one question; chat condenses the
 * retrieval query instead, rag/condense.c).
 */
#include "rag/ask.h"
#include "rag/attribution.h"
#include "rag/citations.h"
#include "rag/context.h"
#include "rag/grounding.h"
#include "rag/prompt.h"
#include "rag/rerank.h"
#include "rag/sentences.h"

#include "core/error.h"
#include "core/log.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Measured by scripts/calibrate-refusal.sh; see rt_ask_default_params in ragtune.h. */
#define RT_ASK_DEFAULT_MIN_SCORE 11.9f

rt_ask_params rt_ask_default_params(void) {
    rt_ask_params p;
    memset(&p, 0, sizeof p);
    p.search = rt_search_default_params();
    p.search.k = 4;
    p.rerank_candidates = 20;
    p.answer_tokens = 192;
    p.style = RT_RAG_PROMPT_BASE;
    p.min_score = RT_ASK_DEFAULT_MIN_SCORE;
    p.support_threshold = 0.5f;
    p.sampler = rt_sampler_default_params();
    p.sampler.temperature = 0;
    p.attribute = true;
    return p;
}

void rt_ask_result_free(rt_ask_result *r) {
    if (!r) return;
    free(r->question);
    free(r->answer);
    free(r->raw_answer);
    free(r->abstain_reason);
    for (size_t i = 0; i < r->n_sources; i++)
        rt_ask_source_clear(&r->sources[i]);
    free(r->sources);
    for (size_t i = 0; i < r->n_citations; i++)
        free(r->citations[i].quote);
    free(r->citations);
    free(r->invalid_markers);
    free(r->recitations);
    for (size_t i = 0; i < r->n_sentences; i++)
        free(r->sentences[i].text);
    free(r->sentences);
    rt_session_result_clear(&r->gen);
    free(r);
}

static int count_tokens(void *user, const char *text, size_t len) {
    return rt_session_count_tokens(user, text, len);
}

/* ASCII-case-insensitive search. */
static const char *find_nocase(const char *hay, const char *needle) {
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (!strncasecmp(p, needle, n)) return p;
    return NULL;
}

/* True when answer is (or starts with) an abstention. */
static bool is_abstention(const char *answer) {
    static const char *const starts[] = {"the documents do not contain",
                                         "the documents don't contain",
                                         "the documents does not contain",
                                         "the document does not contain",
                                         "the document doesn't contain",
                                         "the sources do not contain",
                                         "the sources don't contain",
                                         "the source does not contain",
                                         "the provided documents do not",
                                         "the provided sources do not",
                                         "the context does not contain",
                                         "the documents do not say",
                                         "the documents do not mention",
                                         "i don't know",
                                         "i do not know",
                                         "there is no information",
                                         "no information"};
    if (find_nocase(answer, RT_RAG_ABSTAIN_TEXT)) return true;
    while (*answer == ' ' || *answer == '\n' || *answer == '\t')
        answer++;
    for (size_t i = 0; i < sizeof starts / sizeof *starts; i++)
        if (!strncasecmp(answer, starts[i], strlen(starts[i]))) return true;
    return false;
}

/* The token count of the prompt with no sources (instructions, question, template). */
static int prompt_overhead(rt_session *s, rt_rag_prompt_style style, const char *tmpl,
                           const char *question, int *out) {
    char *prompt = NULL, *system = NULL, *user = NULL;
    RT_TRY(rt_rag_prompt_render(style, tmpl, NULL, 0, question, &prompt, &system, &user));
    int rc = RT_OK;
    if (style == RT_RAG_PROMPT_BASE) {
        *out = rt_session_count_tokens(s, prompt, strlen(prompt));
    } else {
        const rt_tokenizer *tok = rt_session_tokenizer(s);
        char *rendered = NULL;
        rt_chat_message m[2] = {{"system", system}, {"user", user}};
        if (tok && (rc = rt_tokenizer_apply_chat_template(tok, m, 2, true, &rendered)) == RT_OK) {
            *out = rt_session_count_tokens(s, rendered, strlen(rendered));
        } else if (!tok) {
            *out = rt_session_count_tokens(s, system, strlen(system)) +
                   rt_session_count_tokens(s, user, strlen(user)) + 16;
        }
        free(rendered);
    }
    free(prompt);
    free(system);
    free(user);
    if (rc == RT_OK && *out < 0) rc = rt_error(RT_ERR_INTERNAL, "ask: token count failed");
    return rc;
}

/* Per-source analysis: the whole text, and its sentences (built when a quote is needed). */
typedef struct source_ev {
    rt_evidence whole;
    rt_span *sent;
    size_t n_sent;
    rt_evidence *sent_ev; /* NULL until needed */
} source_ev;

static int source_sentences(rt_grounder *g, const rt_ask_source *src, source_ev *e) {
    if (e->sent_ev || e->n_sent) return RT_OK;
    size_t len = strlen(src->text);
    RT_TRY(rt_sentences_split(src->text, len, &e->sent, &e->n_sent));
    if (!e->n_sent) return RT_OK;
    e->sent_ev = rt_calloc(e->n_sent, sizeof *e->sent_ev);
    if (!e->sent_ev) return RT_ERR_NOMEM;
    for (size_t i = 0; i < e->n_sent; i++)
        RT_TRY(rt_evidence_build(g, src->text + e->sent[i].start, e->sent[i].end - e->sent[i].start,
                                 false, &e->sent_ev[i]));
    return RT_OK;
}

/* Sentences, citations with quotes and groundedness of r->answer; sev[i].whole is source i's
 * analysis. */
static int ground_answer(rt_ask_result *r, rt_grounder *g, source_ev *sev,
                         const rt_cite_mark *marks, size_t n_marks, float threshold) {
    rt_span *spans = NULL;
    size_t n_spans = 0;
    const rt_evidence **ev = r->n_sources ? rt_calloc(r->n_sources, sizeof *ev) : NULL;
    int rc = (r->n_sources && !ev) ? RT_ERR_NOMEM : RT_OK;
    if (rc == RT_OK) rc = rt_sentences_split(r->answer, strlen(r->answer), &spans, &n_spans);
    if (rc == RT_OK && n_spans) {
        r->sentences = rt_calloc(n_spans, sizeof *r->sentences);
        r->citations = n_marks ? rt_calloc(n_marks, sizeof *r->citations) : NULL;
        if (!r->sentences || (n_marks && !r->citations)) rc = RT_ERR_NOMEM;
    }
    size_t n_claims = 0, n_supported = 0;
    for (size_t i = 0; rc == RT_OK && i < n_spans; i++) {
        rt_ask_sentence *out = &r->sentences[r->n_sentences++];
        size_t len = spans[i].end - spans[i].start;
        out->text = rt_malloc(len + 1);
        char *claim_text = rt_citations_strip(r->answer + spans[i].start, len);
        if (!out->text || !claim_text) {
            free(claim_text);
            rc = RT_ERR_NOMEM;
            break;
        }
        memcpy(out->text, r->answer + spans[i].start, len);
        out->text[len] = '\0';
        rt_evidence claim;
        rc = rt_evidence_build(g, claim_text, strlen(claim_text), true, &claim);
        free(claim_text);
        if (rc != RT_OK) break;
        out->claim = claim.n_unigrams > 0 && !is_abstention(out->text);
        out->support = 1;
        out->supported = true;
        /* the sources this sentence cites */
        size_t n_ev = 0;
        for (size_t m = 0; m < n_marks; m++) {
            if (marks[m].pos < spans[i].start || marks[m].pos >= spans[i].end) continue;
            size_t si = (size_t)marks[m].number - 1;
            bool dup = false;
            for (size_t k = 0; k < n_ev; k++)
                dup |= ev[k] == &sev[si].whole;
            if (!dup) ev[n_ev++] = &sev[si].whole;
            /* the citation, with the source sentence that best supports this one */
            rt_ask_citation *c = &r->citations[r->n_citations++];
            c->marker = marks[m].number;
            c->source = (int)si;
            c->sentence = (int)i;
            rc = source_sentences(g, &r->sources[si], &sev[si]);
            if (rc != RT_OK) break;
            float best = -1;
            size_t best_j = 0;
            for (size_t j = 0; j < sev[si].n_sent; j++) {
                const rt_evidence *one = &sev[si].sent_ev[j];
                float sup = rt_grounder_support(g, &claim, &one, 1);
                if (sup > best) {
                    best = sup;
                    best_j = j;
                }
            }
            if (sev[si].n_sent) {
                rt_span q = sev[si].sent[best_j];
                c->quote = rt_malloc(q.end - q.start + 1);
                if (!c->quote) {
                    rc = RT_ERR_NOMEM;
                    break;
                }
                memcpy(c->quote, r->sources[si].text + q.start, q.end - q.start);
                c->quote[q.end - q.start] = '\0';
                c->quote_start = r->sources[si].start + q.start;
                c->quote_end = r->sources[si].start + q.end;
            } else {
                c->quote = rt_strdup("");
                if (!c->quote) rc = RT_ERR_NOMEM;
            }
        }
        if (rc == RT_OK && out->claim) {
            if (!n_ev)
                for (size_t k = 0; k < r->n_sources; k++)
                    ev[n_ev++] = &sev[k].whole;
            out->support = rt_grounder_support(g, &claim, ev, n_ev);
            out->supported = out->support >= threshold;
            n_claims++;
            n_supported += out->supported;
        }
        rt_evidence_clear(&claim);
    }
    if (r->abstained)
        r->groundedness = 1;
    else
        r->groundedness = n_claims ? (float)n_supported / (float)n_claims : 0;
    free(ev);
    free(spans);
    return rc;
}

static void sources_ev_free(source_ev *sev, size_t n) {
    for (size_t i = 0; sev && i < n; i++) {
        rt_evidence_clear(&sev[i].whole);
        for (size_t j = 0; sev[i].sent_ev && j < sev[i].n_sent; j++)
            rt_evidence_clear(&sev[i].sent_ev[j]);
        free(sev[i].sent_ev);
        free(sev[i].sent);
    }
    free(sev);
}

int rt_ask_finish(rt_ask_result *r, const char *raw, size_t raw_len, const rt_embedder *embedder,
                  float threshold, bool attribute) {
    free(r->raw_answer);
    r->raw_answer = rt_malloc(raw_len + 1);
    if (!r->raw_answer) return RT_ERR_NOMEM;
    memcpy(r->raw_answer, raw, raw_len);
    r->raw_answer[raw_len] = '\0';
    free(r->answer);
    r->answer = NULL;
    free(r->recitations);
    r->recitations = NULL;
    r->n_recitations = 0;
    rt_grounder *g;
    RT_TRY(rt_grounder_new(embedder, &g));
    source_ev *sev = r->n_sources ? rt_calloc(r->n_sources, sizeof *sev) : NULL;
    int rc = r->n_sources && !sev ? RT_ERR_NOMEM : RT_OK;
    for (size_t i = 0; rc == RT_OK && i < r->n_sources; i++)
        rc = rt_evidence_build(g, r->sources[i].text, strlen(r->sources[i].text), true,
                               &sev[i].whole);
    /* attribution, then the markers that still name no source are removed */
    char *attributed = NULL;
    if (rc == RT_OK && attribute && r->n_sources) {
        rt_evidence *whole = rt_calloc(r->n_sources, sizeof *whole);
        rc = whole ? RT_OK : RT_ERR_NOMEM;
        for (size_t i = 0; rc == RT_OK && i < r->n_sources; i++)
            whole[i] = sev[i].whole; /* shallow: owned by sev */
        if (rc == RT_OK)
            rc = rt_citations_attribute(g, raw, raw_len, whole, r->n_sources, threshold,
                                        &attributed, &r->recitations, &r->n_recitations);
        free(whole);
        if (attributed) {
            raw = attributed;
            raw_len = strlen(attributed);
        }
    }
    rt_cite_mark *marks = NULL;
    size_t n_marks = 0;
    if (rc == RT_OK)
        rc = rt_citations_clean(raw, raw_len, (int)r->n_sources, &r->answer, &marks, &n_marks,
                                &r->invalid_markers, &r->n_invalid_markers);
    free(attributed);
    if (rc != RT_OK) {
        sources_ev_free(sev, r->n_sources);
        rt_grounder_free(g);
        return rc;
    }
    /* trim surrounding whitespace (the reader's completion starts with a space) */
    size_t len = strlen(r->answer), s = 0;
    while (s < len && isspace((unsigned char)r->answer[s]))
        s++;
    while (len > s && isspace((unsigned char)r->answer[len - 1]))
        len--;
    if (s) {
        memmove(r->answer, r->answer + s, len - s);
        for (size_t i = 0; i < n_marks; i++)
            marks[i].pos -= s;
    }
    r->answer[len - s] = '\0';
    if (!r->abstained && is_abstention(r->answer)) {
        r->abstained = true;
        r->abstain_reason = rt_strdup("model abstained");
        if (!r->abstain_reason) rc = RT_ERR_NOMEM;
    }
    if (rc == RT_OK) rc = ground_answer(r, g, sev, marks, n_marks, threshold);
    free(marks);
    sources_ev_free(sev, r->n_sources);
    rt_grounder_free(g);
    return rc;
}

/* The score compared with min_score (see the file comment); NAN without results. */
static float top_score(const rt_search_results *res, rt_search_mode mode) {
    if (!res->n) return NAN;
    if (mode != RT_SEARCH_HYBRID) return res->items[0].score;
    float best = 0;
    for (size_t i = 0; i < res->n; i++)
        if (res->items[i].bm25_score > best) best = res->items[i].bm25_score;
    return best;
}

/* A new result for question (sources and answer still empty). */
static int result_new(const char *question, rt_ask_result **out) {
    *out = NULL;
    rt_ask_result *r = rt_calloc(1, sizeof *r);
    if (!r) return RT_ERR_NOMEM;
    r->question = rt_strdup(question);
    r->top_score = NAN;
    r->groundedness = 0;
    if (!r->question) {
        rt_ask_result_free(r);
        return RT_ERR_NOMEM;
    }
    *out = r;
    return RT_OK;
}

/* The prompt style: the caller's, else CHAT when the tokenizer has a chat template. */
static rt_rag_prompt_style choose_style(rt_session *s, const rt_ask_params *p) {
    if (p->style_set) return p->style;
    const rt_tokenizer *tok = s ? rt_session_tokenizer(s) : NULL;
    return !tok || rt_tokenizer_chat_template(tok) != RT_CHAT_PLAIN ? RT_RAG_PROMPT_CHAT
                                                                    : RT_RAG_PROMPT_BASE;
}

/* The session's context size (a conservative 4096 for a remote one of unknown size). */
static int context_size(rt_session *s) {
    int n_ctx = rt_session_n_ctx(s);
    return n_ctx > 0 ? n_ctx : 4096;
}

/* Abstains without generating ("no relevant source"). */
static int refuse(rt_ask_result *r, const rt_ask_params *p) {
    r->abstained = true;
    r->abstain_reason = rt_strdup("no relevant source");
    if (!r->abstain_reason) return RT_ERR_NOMEM;
    RT_TRY(rt_ask_finish(r, RT_RAG_ABSTAIN_TEXT, strlen(RT_RAG_ABSTAIN_TEXT), p->embedder,
                         p->support_threshold, p->attribute));
    if (p->on_text) p->on_text(p->user, r->answer, strlen(r->answer));
    return RT_OK;
}

/* Renders the prompt from r->sources, generates the answer and finishes r. */
static int generate_answer(rt_session *s, rt_ask_result *r, const char *question,
                           const rt_ask_params *p) {
    rt_rag_source *ps = r->n_sources ? rt_calloc(r->n_sources, sizeof *ps) : NULL;
    int rc = r->n_sources && !ps ? RT_ERR_NOMEM : RT_OK;
    for (size_t i = 0; rc == RT_OK && i < r->n_sources; i++)
        ps[i] =
            (rt_rag_source){r->sources[i].title, r->sources[i].text, strlen(r->sources[i].text)};
    char *prompt = NULL, *system = NULL, *user = NULL;
    if (rc == RT_OK)
        rc = rt_rag_prompt_render(r->style, p->prompt_template, ps, r->n_sources, question, &prompt,
                                  &system, &user);
    free(ps);
    if (rc == RT_OK) {
        rt_session_request rq = rt_session_default_request();
        rt_chat_message m[2] = {{"system", system}, {"user", user}};
        const char *const *stops = rt_rag_stop_strings();
        if (r->style == RT_RAG_PROMPT_BASE) {
            rq.prompt = prompt;
            int n = 0;
            while (stops[n])
                n++;
            rq.stop_strings = stops;
            rq.n_stop_strings = n;
        } else {
            rq.messages = m;
            rq.n_messages = 2;
        }
        rq.max_tokens = p->answer_tokens;
        rq.sampler = p->sampler;
        rq.on_text = p->on_text;
        rq.user = p->user;
        rc = rt_session_generate(s, &rq, &r->gen);
        if (rc == RT_ERR_RANGE)
            rt_error_wrap("ask: the prompt (%d sources) does not fit the context of %d tokens",
                          (int)r->n_sources, context_size(s));
    }
    free(prompt);
    free(system);
    free(user);
    if (rc == RT_OK)
        rc = rt_ask_finish(r, r->gen.text ? r->gen.text : "", r->gen.text_len, p->embedder,
                           p->support_threshold, p->attribute);
    return rc;
}

/* Hands r to *out, or frees it on failure. */
static int result_done(rt_ask_result *r, double t0, int rc, rt_ask_result **out) {
    r->total_ms = (rt_time_now() - t0) * 1e3;
    if (rc != RT_OK) {
        rt_ask_result_free(r);
        return rc;
    }
    *out = r;
    return RT_OK;
}

int rt_ask(rt_session *s, rt_collection *c, const char *question, const rt_ask_params *params,
           rt_ask_result **out) {
    *out = NULL;
    if (!s || !c || !question)
        return rt_error(RT_ERR_INVALID, "ask: no session, collection or question");
    if (!*question) return rt_error(RT_ERR_INVALID, "ask: the question is empty");
    rt_ask_params p = params ? *params : rt_ask_default_params();
    if (p.answer_tokens <= 0) return rt_error(RT_ERR_INVALID, "ask: answer_tokens must be > 0");
    double t0 = rt_time_now();
    rt_ask_result *r;
    RT_TRY(result_new(question, &r));
    /* prompt style and the room left for sources */
    r->style = choose_style(s, &p);
    int n_ctx = context_size(s);
    int overhead = 0;
    int rc = prompt_overhead(s, r->style, p.prompt_template, question, &overhead);
    int budget = p.context_tokens > 0 ? p.context_tokens : n_ctx - overhead - p.answer_tokens - 8;
    if (rc == RT_OK && (overhead + p.answer_tokens >= n_ctx || budget <= 0))
        rc = rt_error(RT_ERR_RANGE,
                      "question too long: with the instructions it takes %d tokens, which with "
                      "the answer budget of %d leaves no room for sources in a context of %d",
                      overhead, p.answer_tokens, n_ctx);
    /* retrieval */
    rt_search_results *res = NULL;
    const char *query = p.retrieval_query ? p.retrieval_query : question;
    rt_reranker *reranker = p.reranker, *opened = NULL;
    if (rc == RT_OK && !reranker && p.rerank_model) {
        double tr = rt_time_now();
        rc = rt_reranker_open(p.rerank_model, 0, &opened);
        reranker = opened;
        r->rerank_ms = (rt_time_now() - tr) * 1e3;
    }
    if (rc == RT_OK) {
        rt_search_params sp = p.search;
        if (reranker && p.rerank_candidates > sp.k) sp.k = p.rerank_candidates;
        double tr = rt_time_now();
        rc = rt_collection_search(c, query, &sp, &res);
        r->retrieval_ms = (rt_time_now() - tr) * 1e3;
    }
    float *rerank = NULL;
    size_t n_use = res ? res->n : 0;
    if (rc == RT_OK) r->top_score = top_score(res, p.search.mode);
    if (rc == RT_OK && reranker) {
        double tr = rt_time_now();
        rc = rt_rag_rerank(reranker, query, res, p.search.k, &rerank, &n_use);
        r->rerank_ms += (rt_time_now() - tr) * 1e3;
    }
    if (rc == RT_OK)
        rc = rt_rag_context_assemble(c, res->items, rerank, n_use, budget, count_tokens, s,
                                     &r->sources, &r->n_sources);
    free(rerank);
    if (opened) rt_reranker_close(opened);
    rt_search_results_free(res);
    if (rc == RT_OK && (isnan(r->top_score) || r->top_score < p.min_score || !r->n_sources))
        rc = refuse(r, &p); /* without generating */
    else if (rc == RT_OK)
        rc = generate_answer(s, r, question, &p);
    return result_done(r, t0, rc, out);
}

int rt_ask_sources(rt_session *s, const char *question, const rt_rag_source *sources, size_t n,
                   const char *answer, const rt_ask_params *params, rt_ask_result **out) {
    *out = NULL;
    if (!question || (!s && !answer) || (n && !sources))
        return rt_error(RT_ERR_INVALID, "ask: no question, or neither a session nor an answer");
    if (!*question) return rt_error(RT_ERR_INVALID, "ask: the question is empty");
    rt_ask_params p = params ? *params : rt_ask_default_params();
    if (!answer && p.answer_tokens <= 0)
        return rt_error(RT_ERR_INVALID, "ask: answer_tokens must be > 0");
    double t0 = rt_time_now();
    rt_ask_result *r;
    RT_TRY(result_new(question, &r));
    r->style = choose_style(s, &p);
    r->sources = n ? rt_calloc(n, sizeof *r->sources) : NULL;
    int rc = n && !r->sources ? RT_ERR_NOMEM : RT_OK;
    for (size_t i = 0; rc == RT_OK && i < n; i++) {
        rt_ask_source *o = &r->sources[r->n_sources++];
        char num[24];
        snprintf(num, sizeof num, "%zu", i + 1);
        size_t len = sources[i].text ? sources[i].text_len : 0;
        o->number = (int)i + 1;
        o->doc_id = rt_strdup(num);
        o->title = rt_strdup(sources[i].title ? sources[i].title : "");
        o->text = rt_malloc(len + 1);
        o->end = len;
        o->score = NAN;
        o->rerank_score = NAN;
        if (!o->doc_id || !o->title || !o->text) {
            rc = RT_ERR_NOMEM;
        } else {
            if (len) memcpy(o->text, sources[i].text, len);
            o->text[len] = '\0';
        }
    }
    if (rc == RT_OK && answer)
        rc = rt_ask_finish(r, answer, strlen(answer), p.embedder, p.support_threshold, p.attribute);
    else if (rc == RT_OK && !n)
        rc = refuse(r, &p);
    else if (rc == RT_OK)
        rc = generate_answer(s, r, question, &p);
    return result_done(r, t0, rc, out);
}

/* ---- the JSON record ---- */

static json_t *num_or_null(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static const char *stop_name(rt_stop_reason r) {
    switch (r) {
    case RT_STOP_LENGTH:
        return "length";
    case RT_STOP_EOS:
        return "eos";
    case RT_STOP_STRING:
        return "stop_string";
    case RT_STOP_CALLBACK:
        return "callback";
    case RT_STOP_CONTEXT:
        return "context";
    }
    return "unknown";
}

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

int rt_ask_result_json(const rt_ask_result *r, char **json) {
    *json = NULL;
    json_t *o = json_object();
    if (!o) return RT_ERR_NOMEM;
    json_object_set_new(o, "question", str_or_null(r->question));
    json_object_set_new(o, "answer", str_or_null(r->answer));
    json_object_set_new(o, "raw_answer", str_or_null(r->raw_answer));
    json_object_set_new(o, "abstained", json_boolean(r->abstained));
    json_object_set_new(o, "abstain_reason", str_or_null(r->abstain_reason));
    json_object_set_new(o, "groundedness", num_or_null(r->groundedness));
    json_object_set_new(o, "top_score", num_or_null(r->top_score));
    json_object_set_new(o, "prompt_style",
                        json_string(r->style == RT_RAG_PROMPT_CHAT ? "chat" : "base"));
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_sources; i++) {
        const rt_ask_source *s = &r->sources[i];
        json_t *x = json_object();
        json_object_set_new(x, "number", json_integer(s->number));
        json_object_set_new(x, "doc_id", str_or_null(s->doc_id));
        json_object_set_new(x, "path", str_or_null(s->path));
        json_object_set_new(x, "title", str_or_null(s->title));
        json_object_set_new(x, "start", json_integer((json_int_t)s->start));
        json_object_set_new(x, "end", json_integer((json_int_t)s->end));
        json_object_set_new(x, "score", num_or_null(s->score));
        json_object_set_new(x, "rerank_score", num_or_null(s->rerank_score));
        json_object_set_new(x, "text", str_or_null(s->text));
        json_array_append_new(a, x);
    }
    json_object_set_new(o, "sources", a);
    a = json_array();
    for (size_t i = 0; i < r->n_citations; i++) {
        const rt_ask_citation *c = &r->citations[i];
        const rt_ask_source *s = &r->sources[c->source];
        json_t *x = json_object();
        json_object_set_new(x, "marker", json_integer(c->marker));
        json_object_set_new(x, "sentence", json_integer(c->sentence));
        json_object_set_new(x, "doc_id", str_or_null(s->doc_id));
        json_object_set_new(x, "path", str_or_null(s->path));
        json_object_set_new(x, "start", json_integer((json_int_t)s->start));
        json_object_set_new(x, "end", json_integer((json_int_t)s->end));
        json_object_set_new(x, "quote", str_or_null(c->quote));
        json_object_set_new(x, "quote_start", json_integer((json_int_t)c->quote_start));
        json_object_set_new(x, "quote_end", json_integer((json_int_t)c->quote_end));
        json_array_append_new(a, x);
    }
    json_object_set_new(o, "citations", a);
    a = json_array();
    for (size_t i = 0; i < r->n_invalid_markers; i++)
        json_array_append_new(a, json_integer(r->invalid_markers[i]));
    json_object_set_new(o, "invalid_markers", a);
    a = json_array();
    for (size_t i = 0; i < r->n_recitations; i++) {
        const rt_ask_recitation *m = &r->recitations[i];
        json_t *x = json_object();
        json_object_set_new(x, "from", json_integer(m->from));
        json_object_set_new(x, "to", json_integer(m->to));
        json_object_set_new(x, "from_support", num_or_null(m->from_support));
        json_object_set_new(x, "to_support", num_or_null(m->to_support));
        json_array_append_new(a, x);
    }
    json_object_set_new(o, "recitations", a);
    a = json_array();
    for (size_t i = 0; i < r->n_sentences; i++) {
        const rt_ask_sentence *s = &r->sentences[i];
        json_t *x = json_object();
        json_object_set_new(x, "text", str_or_null(s->text));
        json_object_set_new(x, "support", num_or_null(s->support));
        json_object_set_new(x, "supported", json_boolean(s->supported));
        json_object_set_new(x, "claim", json_boolean(s->claim));
        json_array_append_new(a, x);
    }
    json_object_set_new(o, "sentences", a);
    const rt_session_result *g = &r->gen;
    int prefilled = g->n_prompt - g->n_prompt_cached;
    json_t *t = json_object();
    json_object_set_new(t, "retrieval_ms", num_or_null(r->retrieval_ms));
    json_object_set_new(t, "rerank_ms", num_or_null(r->rerank_ms));
    json_object_set_new(t, "ttft_ms", num_or_null(g->ttft_seconds * 1e3));
    json_object_set_new(t, "prefill_ms", num_or_null(g->prefill_seconds * 1e3));
    json_object_set_new(t, "decode_ms", num_or_null(g->decode_seconds * 1e3));
    json_object_set_new(t, "generation_ms", num_or_null(g->total_seconds * 1e3));
    json_object_set_new(t, "total_ms", num_or_null(r->total_ms));
    json_object_set_new(t, "prefill_tok_s",
                        g->prefill_seconds > 0 ? json_real(prefilled / g->prefill_seconds)
                                               : json_null());
    json_object_set_new(t, "decode_tok_s",
                        g->decode_seconds > 0 && g->n_generated > 1
                            ? json_real((g->n_generated - 1) / g->decode_seconds)
                            : json_null());
    json_object_set_new(o, "timings", t);
    t = json_object();
    json_object_set_new(t, "prompt", json_integer(g->n_prompt));
    json_object_set_new(t, "prompt_cached", json_integer(g->n_prompt_cached));
    json_object_set_new(t, "generated", json_integer(g->n_generated));
    json_object_set_new(o, "tokens", t);
    json_object_set_new(o, "stop_reason",
                        g->n_prompt ? json_string(stop_name(g->stop_reason)) : json_null());
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return rt_error(RT_ERR_NOMEM, "ask: the JSON record could not be written");
    *json = s;
    return RT_OK;
}
