/*
 * raft.c — reader / RAFT training examples: each question-answer item with its oracle document
 * becomes a prompt in the shared reader format (rt_rag_prompt_render) whose passages are the
 * oracle among distractors, and the completion rt_rag_completion_render writes (" answer [n]"
 * with n the oracle's position, or the abstain text when the oracle was left out).
 *
 * Distractors come from search hits for the question (when a collection is given; BM25 unless
 * params->search_mode says otherwise), then from the documents near the oracle in the
 * documents' order (near > 0), then uniformly from all documents; a distractor never has the oracle's title or text. An item with an explicit context
 * (retrieved passages, or none for closed-book) gets exactly those passages instead. All draws come from one
 * splitmix64 stream seeded by params->seed, so the same inputs give the same file. The module
 * does not tokenize or truncate: passages are rendered as given.
 */
#include "rag/raft.h"

#include "core/error.h"
#include "core/file.h"
#include "core/strbuf.h"
#include "train/rng.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

rt_raft_params rt_raft_default_params(void) {
    return (rt_raft_params){
        .n_distractors = 3,
        .oracle_p = 0.8f,
        .near = 0,
        .collection = NULL,
        .search_mode = RT_SEARCH_BM25,
        .seed = 42,
        .style = RT_RAG_PROMPT_BASE,
        .template_text = NULL,
    };
}

void rt_raft_examples_free(rt_raft_example *ex, size_t n) {
    if (!ex) return;
    for (size_t i = 0; i < n; i++) {
        free(ex[i].id);
        free(ex[i].prompt);
        free(ex[i].system);
        free(ex[i].user);
        free(ex[i].completion);
    }
    free(ex);
}

/* ---- document lookup by id ---------------------------------------------------------------- */

typedef struct doc_index {
    const rt_raft_doc *docs;
    size_t *order; /* document indices sorted by id */
    size_t n;
} doc_index;

static const rt_raft_doc *g_sort_docs; /* qsort has no user pointer; used only while sorting */

static int cmp_doc_id(const void *a, const void *b) {
    return strcmp(g_sort_docs[*(const size_t *)a].id, g_sort_docs[*(const size_t *)b].id);
}

static int index_build(doc_index *x, const rt_raft_doc *docs, size_t n) {
    x->docs = docs;
    x->n = n;
    x->order = rt_malloc((n ? n : 1) * sizeof *x->order);
    if (!x->order) return RT_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!docs[i].id || !docs[i].text)
            return rt_error(RT_ERR_INVALID, "raft: document %zu has no id or text", i);
        x->order[i] = i;
    }
    g_sort_docs = docs;
    qsort(x->order, n, sizeof *x->order, cmp_doc_id);
    g_sort_docs = NULL;
    for (size_t i = 1; i < n; i++)
        if (!strcmp(docs[x->order[i]].id, docs[x->order[i - 1]].id))
            return rt_error(RT_ERR_INVALID, "raft: document id \"%s\" appears twice",
                            docs[x->order[i]].id);
    return RT_OK;
}

/* Index of the document with id, or -1. */
static long index_find(const doc_index *x, const char *id) {
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(x->docs[x->order[mid]].id, id);
        if (!c) return (long)x->order[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* ---- one example ---------------------------------------------------------------------------- */

static const char *nz(const char *s) { return s ? s : ""; }

/* May passage (title, text) stand beside the oracle without making the question ambiguous? */
static bool distinct_from(const rt_raft_doc *oracle, const char *title, const char *text) {
    const char *ot = nz(oracle->title);
    if (*ot && !strcasecmp(ot, nz(title))) return false;
    return strcmp(oracle->text, nz(text)) != 0;
}

static bool already(const rt_rag_source *src, size_t n, const char *text) {
    for (size_t i = 0; i < n; i++)
        if (!strcmp(src[i].text, text)) return true;
    return false;
}

static void add_source(rt_rag_source *src, size_t *n, const char *title, const char *text) {
    src[*n] = (rt_rag_source){.title = title, .text = text, .text_len = strlen(text)};
    (*n)++;
}

/* Fills src[*n..want) with distractors for the oracle doc o. Hit texts that are not documents are
 * kept alive in *hits (freed by the caller). */
static int pick_distractors(const rt_raft_doc *docs, size_t n_docs, const doc_index *x, long o,
                            const char *question, const rt_raft_params *p, uint64_t *rng,
                            rt_rag_source *src, size_t *n, size_t want,
                            rt_search_results **hits) {
    const rt_raft_doc *oracle = &docs[o];
    if (p->collection && *n < want) {
        rt_search_params sp = rt_search_default_params();
        sp.k = (int)want * 3 + 4;
        sp.mode = p->search_mode;
        RT_TRY(rt_collection_search(p->collection, question, &sp, hits));
        for (size_t i = 0; i < (*hits)->n && *n < want; i++) {
            const rt_search_result *h = &(*hits)->items[i];
            if (h->doc_id && !strcmp(h->doc_id, oracle->id)) continue;
            long d = h->doc_id ? index_find(x, h->doc_id) : -1;
            const char *title = d >= 0 ? docs[d].title : "";
            const char *text = d >= 0 ? docs[d].text : h->text;
            if (!text || !distinct_from(oracle, title, text) || already(src, *n, text)) continue;
            add_source(src, n, nz(title), text);
        }
    }
    if (p->near > 0) {
        /* a few random tries in the window, then the uniform draw below fills what is left */
        long lo = o - p->near < 0 ? 0 : o - p->near;
        long hi = o + p->near >= (long)n_docs ? (long)n_docs - 1 : o + p->near;
        for (int tries = 0; *n < want && tries < 4 * p->near; tries++) {
            long d = lo + (long)(rt_rng_next(rng) % (uint64_t)(hi - lo + 1));
            if (d == o || !distinct_from(oracle, docs[d].title, docs[d].text) ||
                already(src, *n, docs[d].text))
                continue;
            add_source(src, n, nz(docs[d].title), docs[d].text);
        }
    }
    for (int tries = 0; *n < want && tries < 64 * (int)want; tries++) {
        long d = (long)(rt_rng_next(rng) % (uint64_t)n_docs);
        if (d == o || !distinct_from(oracle, docs[d].title, docs[d].text) ||
            already(src, *n, docs[d].text))
            continue;
        add_source(src, n, nz(docs[d].title), docs[d].text);
    }
    if (*n < want)
        return rt_error(RT_ERR_INVALID,
                        "raft: too few distinct documents for %zu distractors beside \"%s\"",
                        want, oracle->id);
    return RT_OK;
}

/* The example of an item with an explicit context: its documents in the given order. */
static int build_fixed(const rt_raft_doc *docs, const doc_index *x, const rt_raft_item *it,
                       size_t item_no, const rt_raft_params *p, rt_raft_example *ex) {
    rt_rag_source *src = rt_calloc(it->n_context ? it->n_context : 1, sizeof *src);
    if (!src) return RT_ERR_NOMEM;
    int citation = 0;
    for (size_t i = 0; i < it->n_context; i++) {
        long d = it->context[i] ? index_find(x, it->context[i]) : -1;
        if (d < 0) {
            free(src);
            return rt_error(RT_ERR_NOT_FOUND, "raft: item %zu (%s): context document \"%s\" not found",
                            item_no + 1, nz(it->id), nz(it->context[i]));
        }
        src[i] = (rt_rag_source){.title = nz(docs[d].title),
                                 .text = docs[d].text,
                                 .text_len = strlen(docs[d].text)};
        if (!citation && !strcmp(docs[d].id, it->doc)) citation = (int)i + 1;
    }
    int st = rt_rag_prompt_render(p->style, p->template_text, src, it->n_context, it->question,
                                  p->style == RT_RAG_PROMPT_BASE ? &ex->prompt : NULL,
                                  p->style == RT_RAG_PROMPT_BASE ? NULL : &ex->system,
                                  p->style == RT_RAG_PROMPT_BASE ? NULL : &ex->user);
    free(src);
    if (st == RT_OK)
        st = rt_rag_completion_render(citation ? it->answer : NULL, citation, &ex->completion);
    if (st == RT_OK && !(ex->id = rt_strdup(nz(it->id)))) st = RT_ERR_NOMEM;
    ex->citation = citation;
    ex->n_passages = (int)it->n_context;
    return st;
}

static int build_one(const rt_raft_doc *docs, size_t n_docs, const doc_index *x,
                     const rt_raft_item *it, size_t item_no, const rt_raft_params *p,
                     uint64_t *rng, rt_rag_source *src, rt_raft_example *ex) {
    if (!it->question || !it->answer || !it->doc)
        return rt_error(RT_ERR_INVALID, "raft: item %zu needs question, answer and doc",
                        item_no + 1);
    if (it->context) return build_fixed(docs, x, it, item_no, p, ex);
    long o = index_find(x, it->doc);
    if (o < 0)
        return rt_error(RT_ERR_NOT_FOUND, "raft: item %zu (%s): document \"%s\" not found",
                        item_no + 1, nz(it->id), it->doc);
    size_t total = (size_t)p->n_distractors + 1;
    bool with_oracle = rt_rng_uniform(rng) < p->oracle_p;
    size_t n = 0;
    rt_search_results *hits = NULL;
    int st = pick_distractors(docs, n_docs, x, o, it->question, p, rng, src, &n,
                              with_oracle ? total - 1 : total, &hits);
    int citation = 0;
    if (st == RT_OK && with_oracle) {
        /* the oracle goes to a uniformly drawn position among the distractors */
        size_t pos = (size_t)(rt_rng_next(rng) % total);
        memmove(&src[pos + 1], &src[pos], (n - pos) * sizeof *src);
        src[pos] = (rt_rag_source){.title = nz(docs[o].title),
                                   .text = docs[o].text,
                                   .text_len = strlen(docs[o].text)};
        n++;
        citation = (int)pos + 1;
    } else if (st == RT_OK) {
        /* shuffle so that BM25 order does not give the passages away */
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)(rt_rng_next(rng) % i);
            rt_rag_source t = src[i - 1];
            src[i - 1] = src[j];
            src[j] = t;
        }
    }
    if (st == RT_OK)
        st = rt_rag_prompt_render(p->style, p->template_text, src, n, it->question,
                                  p->style == RT_RAG_PROMPT_BASE ? &ex->prompt : NULL,
                                  p->style == RT_RAG_PROMPT_BASE ? NULL : &ex->system,
                                  p->style == RT_RAG_PROMPT_BASE ? NULL : &ex->user);
    if (st == RT_OK) st = rt_rag_completion_render(citation ? it->answer : NULL, citation,
                                                   &ex->completion);
    if (st == RT_OK && !(ex->id = rt_strdup(nz(it->id)))) st = RT_ERR_NOMEM;
    ex->citation = citation;
    ex->n_passages = (int)n;
    rt_search_results_free(hits);
    return st;
}

int rt_raft_build(const rt_raft_doc *docs, size_t n_docs, const rt_raft_item *items,
                  size_t n_items, const rt_raft_params *params, rt_raft_example **out) {
    rt_raft_params p = params ? *params : rt_raft_default_params();
    *out = NULL;
    if (p.n_distractors < 0 || p.n_distractors > 64)
        return rt_error(RT_ERR_INVALID, "raft: n_distractors %d is not in 0..64", p.n_distractors);
    if (!(p.oracle_p >= 0.0f && p.oracle_p <= 1.0f))
        return rt_error(RT_ERR_INVALID, "raft: oracle_p must be in [0, 1]");
    if (p.near < 0) return rt_error(RT_ERR_INVALID, "raft: near must be >= 0");
    if (n_items && (!items || !docs || !n_docs))
        return rt_error(RT_ERR_INVALID, "raft: items without documents");
    doc_index x = {0};
    int st = index_build(&x, docs, n_docs);
    rt_raft_example *ex = rt_calloc(n_items ? n_items : 1, sizeof *ex);
    rt_rag_source *src = rt_calloc((size_t)p.n_distractors + 2, sizeof *src);
    if (st == RT_OK && (!ex || !src)) st = RT_ERR_NOMEM;
    uint64_t rng = p.seed * 0x9e3779b97f4a7c15ULL + 0x5851f42d4c957f2dULL;
    for (size_t i = 0; st == RT_OK && i < n_items; i++)
        st = build_one(docs, n_docs, &x, &items[i], i, &p, &rng, src, &ex[i]);
    free(src);
    free(x.order);
    if (st != RT_OK) {
        rt_raft_examples_free(ex, n_items);
        return st;
    }
    *out = ex;
    return RT_OK;
}

/* ---- JSONL in and out ----------------------------------------------------------------------- */

/* The parsed lines of a JSONL file (each a JSON object). */
typedef struct jsonl {
    json_t **rows;
    size_t n;
} jsonl;

static void jsonl_free(jsonl *j) {
    for (size_t i = 0; i < j->n; i++)
        json_decref(j->rows[i]);
    free(j->rows);
    memset(j, 0, sizeof *j);
}

static int jsonl_read(const char *path, jsonl *j) {
    char *data = NULL;
    size_t len = 0;
    memset(j, 0, sizeof *j);
    RT_TRY(rt_file_read_all(path, (size_t)4 << 30, &data, &len));
    size_t cap = 0, line_no = 0;
    int st = RT_OK;
    for (char *p = data, *end = data + len; p < end && st == RT_OK;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line_no++;
        char *line = p;
        p += n + (nl ? 1 : 0);
        size_t k = 0;
        while (k < n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r')) k++;
        if (k == n) continue;
        json_error_t err;
        json_t *o = json_loadb(line, n, 0, &err);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            st = rt_error(RT_ERR_FORMAT, "%s: line %zu: not a JSON object%s%s", path, line_no,
                          o ? "" : ": ", o ? "" : err.text);
            break;
        }
        st = RT_GROW(j->rows, cap, j->n + 1);
        if (st < 0) {
            json_decref(o);
            break;
        }
        j->rows[j->n++] = o;
    }
    free(data);
    if (st != RT_OK) jsonl_free(j);
    return st;
}

/* The string field key of row i, or NULL (an error names path, line and key when required). */
static int field(const char *path, const jsonl *j, size_t i, const char *key, bool required,
                 const char **out) {
    json_t *v = json_object_get(j->rows[i], key);
    *out = json_is_string(v) ? json_string_value(v) : NULL;
    if (!*out && required)
        return rt_error(RT_ERR_FORMAT, "%s: record %zu: \"%s\" must be a string", path, i + 1,
                        key);
    return RT_OK;
}

static int write_example(rt_strbuf *b, const rt_raft_example *ex) {
    if (ex->prompt) {
        RT_TRY(rt_strbuf_puts(b, "{\"prompt\":"));
        RT_TRY(rt_strbuf_json_string(b, ex->prompt, strlen(ex->prompt)));
        RT_TRY(rt_strbuf_puts(b, ",\"completion\":"));
        RT_TRY(rt_strbuf_json_string(b, ex->completion, strlen(ex->completion)));
        return rt_strbuf_puts(b, "}\n");
    }
    /* CHAT: the assistant turn is the completion without its leading space */
    const char *c = ex->completion[0] == ' ' ? ex->completion + 1 : ex->completion;
    RT_TRY(rt_strbuf_puts(b, "{\"messages\":[{\"role\":\"system\",\"content\":"));
    RT_TRY(rt_strbuf_json_string(b, ex->system, strlen(ex->system)));
    RT_TRY(rt_strbuf_puts(b, "},{\"role\":\"user\",\"content\":"));
    RT_TRY(rt_strbuf_json_string(b, ex->user, strlen(ex->user)));
    RT_TRY(rt_strbuf_puts(b, "},{\"role\":\"assistant\",\"content\":"));
    RT_TRY(rt_strbuf_json_string(b, c, strlen(c)));
    return rt_strbuf_puts(b, "}]}\n");
}

int rt_raft_data_write(const char *qa_path, const char *docs_path, const char *out_path,
                       const rt_raft_params *params, size_t *n_written) {
    if (!qa_path || !docs_path || !out_path)
        return rt_error(RT_ERR_INVALID, "raft: qa, docs and output paths are required");
    jsonl jq = {0}, jd = {0};
    rt_raft_doc *docs = NULL;
    rt_raft_item *items = NULL;
    rt_raft_example *ex = NULL;
    int st = jsonl_read(qa_path, &jq);
    if (st == RT_OK) st = jsonl_read(docs_path, &jd);
    if (st == RT_OK && !jd.n) st = rt_error(RT_ERR_FORMAT, "%s: no documents", docs_path);
    if (st == RT_OK) {
        docs = rt_calloc(jd.n, sizeof *docs);
        items = rt_calloc(jq.n ? jq.n : 1, sizeof *items);
        if (!docs || !items) st = RT_ERR_NOMEM;
    }
    for (size_t i = 0; st == RT_OK && i < jd.n; i++) {
        st = field(docs_path, &jd, i, "id", true, &docs[i].id);
        if (st == RT_OK) st = field(docs_path, &jd, i, "title", false, &docs[i].title);
        if (st == RT_OK) st = field(docs_path, &jd, i, "text", true, &docs[i].text);
    }
    const char **ctx_ids = NULL; /* all items' context ids, one allocation */
    size_t n_ctx = 0;
    for (size_t i = 0; st == RT_OK && i < jq.n; i++) {
        json_t *c = json_object_get(jq.rows[i], "context");
        if (c && !json_is_array(c))
            st = rt_error(RT_ERR_FORMAT, "%s: record %zu: \"context\" must be an array of ids",
                          qa_path, i + 1);
        else if (c) n_ctx += json_array_size(c);
    }
    if (st == RT_OK && !(ctx_ids = rt_calloc(n_ctx ? n_ctx : 1, sizeof *ctx_ids))) st = RT_ERR_NOMEM;
    for (size_t i = 0, used = 0; st == RT_OK && i < jq.n; i++) {
        json_t *c = json_object_get(jq.rows[i], "context");
        if (!c) continue;
        items[i].context = &ctx_ids[used];
        items[i].n_context = json_array_size(c);
        for (size_t k = 0; k < items[i].n_context; k++) {
            ctx_ids[used++] = json_string_value(json_array_get(c, k));
            if (!ctx_ids[used - 1])
                st = rt_error(RT_ERR_FORMAT, "%s: record %zu: \"context\" must hold id strings",
                              qa_path, i + 1);
        }
    }
    for (size_t i = 0; st == RT_OK && i < jq.n; i++) {
        st = field(qa_path, &jq, i, "id", false, &items[i].id);
        if (st == RT_OK) st = field(qa_path, &jq, i, "question", true, &items[i].question);
        if (st == RT_OK) st = field(qa_path, &jq, i, "answer", true, &items[i].answer);
        if (st == RT_OK) st = field(qa_path, &jq, i, "doc", true, &items[i].doc);
    }
    if (st == RT_OK) st = rt_raft_build(docs, jd.n, items, jq.n, params, &ex);
    if (st == RT_OK) {
        rt_atomic_file f;
        st = rt_atomic_file_open(&f, out_path);
        rt_strbuf b = {0};
        for (size_t i = 0; st == RT_OK && i < jq.n; i++) {
            b.len = 0;
            st = write_example(&b, &ex[i]);
            if (st == RT_OK) st = rt_fwrite_all(f.fp, b.data, b.len, out_path);
        }
        rt_strbuf_free(&b);
        if (st == RT_OK) st = rt_atomic_file_commit(&f);
        else if (f.fp) rt_atomic_file_abort(&f);
    }
    if (st == RT_OK && n_written) *n_written = jq.n;
    rt_raft_examples_free(ex, jq.n);
    free(ctx_ids);
    free(docs);
    free(items);
    jsonl_free(&jq);
    jsonl_free(&jd);
    return st;
}
