/*
 * session.c — generation sessions (see session.h and ragtune.h).
 *
 * Local path: messages -> the tokenizer's chat template -> ids (the template writes its own
 * BOS, so no special tokens are added); a raw prompt -> ids with the tokenizer's special tokens;
 * prompt_ids as given. rt_generate reuses the longest prefix the session's context already
 * holds (the previous request's prompt and answer), so a request that repeats a system prompt
 * or instructions prefills only what follows them. Generated ids are detokenized by a streaming
 * rt_detokenizer (UTF-8 split over tokens comes out whole), stop strings are held back and cut
 * by rt_generate's matcher, and the final text goes to res->text and on_text.
 *
 * A session does not load anything it is given: a model and tokenizer passed in params are
 * shared with other sessions (one per server slot) and outlive them. A local session without a
 * tokenizer (none found beside the model) can still generate from prompt_ids.
 */
#include "rag/session.h"

#include "core/error.h"
#include "core/log.h"
#include "rag/remote.h"

#include <stdlib.h>
#include <string.h>

struct rt_session {
    char *name;
    /* local */
    rt_model *model;
    bool own_model;
    const rt_tokenizer *tok;
    rt_tokenizer *own_tok;
    char *no_tokenizer; /* why there is no tokenizer (message of the failed load) */
    rt_context *ctx;
    rt_decode_fn decode; /* NULL: rt_generate's own */
    void *decode_user;
    /* remote */
    rt_remote *remote;
};

/* ---- the sink shared with remote.c ------------------------------------------------------- */

void rt_session_sink_init(rt_session_sink *k, const rt_session_request *req) {
    memset(k, 0, sizeof *k);
    k->req = req;
    k->t_start = rt_time_now();
}

void rt_session_sink_first(rt_session_sink *k) {
    if (k->t_first == 0) k->t_first = rt_time_now();
}

int rt_session_sink_text(rt_session_sink *k, const char *text, size_t len) {
    if (!len) return 0;
    rt_session_sink_first(k);
    RT_TRY(rt_strbuf_append(&k->text, text, len));
    if (k->req->on_text && k->req->on_text(k->req->user, text, len)) {
        k->stopped = true;
        return 1;
    }
    return 0;
}

int rt_session_sink_finish(rt_session_sink *k, rt_session_result *res) {
    double now = rt_time_now();
    size_t len = k->text.len; /* the text may hold NUL bytes */
    res->text = rt_strbuf_take(&k->text);
    if (!res->text) {
        rt_session_sink_free(k);
        return RT_ERR_NOMEM;
    }
    res->text_len = len;
    res->total_seconds = now - k->t_start;
    if (k->t_first > 0) {
        res->ttft_seconds = k->t_first - k->t_start;
        res->decode_seconds = now - k->t_first;
    }
    rt_session_sink_free(k);
    return RT_OK;
}

void rt_session_sink_free(rt_session_sink *k) {
    rt_strbuf_free(&k->text);
}

int rt_session_estimate_tokens(const char *text, size_t len) {
    (void)text;
    size_t n = (len + 3) / 4;
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

/* ---- open / close ------------------------------------------------------------------------- */

rt_session_params rt_session_default_params(void) {
    rt_session_params p;
    memset(&p, 0, sizeof p);
    p.weight_dtype = -1;
    p.timeout_seconds = 120;
    p.max_retries = 3;
    return p;
}

rt_session_request rt_session_default_request(void) {
    rt_session_request r;
    memset(&r, 0, sizeof r);
    r.max_tokens = 256;
    r.sampler = rt_sampler_default_params();
    return r;
}

static int open_local(const rt_session_params *p, rt_session *s) {
    if (p->model) {
        s->model = p->model;
        s->tok = p->tokenizer;
        if (!s->tok) {
            s->no_tokenizer = rt_strdup("no tokenizer was given with the model");
            if (!s->no_tokenizer) return RT_ERR_NOMEM;
        }
    } else {
        rt_model_params mp = rt_model_default_params();
        mp.weight_dtype = p->weight_dtype;
        RT_TRY(rt_model_load(p->model_path, &mp, &s->model));
        s->own_model = true;
        if (p->tokenizer) {
            s->tok = p->tokenizer;
        } else if (rt_tokenizer_load(p->tokenizer_path ? p->tokenizer_path : p->model_path,
                                     &s->own_tok) == RT_OK) {
            s->tok = s->own_tok;
        } else if (p->tokenizer_path) {
            return rt_error_wrap("session");
        } else {
            /* token ids still work; text requests report why there is no tokenizer */
            s->no_tokenizer = rt_strdup(rt_last_error());
            if (!s->no_tokenizer) return RT_ERR_NOMEM;
            rt_error_clear();
        }
    }
    if (rt_model_is_encoder(s->model))
        return rt_error(RT_ERR_INVALID, "session: %s is an encoder (%s); it cannot generate",
                        p->model_path ? p->model_path : "the model", rt_model_arch(s->model));
    if (s->tok && rt_tokenizer_n_vocab(s->tok) > (size_t)rt_model_n_vocab(s->model))
        return rt_error(RT_ERR_INVALID, "session: the tokenizer has %zu ids but the model only %d",
                        rt_tokenizer_n_vocab(s->tok), rt_model_n_vocab(s->model));
    s->decode = p->decode;
    s->decode_user = p->decode_user;
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = p->n_ctx;
    return rt_context_new(s->model, &cp, &s->ctx);
}

int rt_session_open(const rt_session_params *params, rt_session **out) {
    if (!params || !out) return rt_error(RT_ERR_INVALID, "rt_session_open: NULL argument");
    *out = NULL;
    bool remote = params->api_base && *params->api_base;
    if (!remote && !params->model && !(params->model_path && *params->model_path))
        return rt_error(RT_ERR_INVALID, "session: no model (model_path, model or api_base)");
    if (params->n_ctx < 0)
        return rt_error(RT_ERR_INVALID, "session: n_ctx %d is negative", params->n_ctx);
    rt_session *s = rt_calloc(1, sizeof *s);
    if (!s) return RT_ERR_NOMEM;
    int st;
    const char *name = params->name;
    rt_strbuf nb = {0};
    if (remote) {
        st = rt_remote_open(params, &s->remote);
        if (st == RT_OK && !name) {
            st = rt_strbuf_printf(&nb, "remote:%s", rt_remote_model(s->remote));
            name = nb.data;
        }
    } else {
        st = open_local(params, s);
        if (!name) name = params->model ? rt_model_arch(params->model) : params->model_path;
    }
    if (st == RT_OK) {
        s->name = rt_strdup(name);
        if (!s->name) st = RT_ERR_NOMEM;
    }
    rt_strbuf_free(&nb);
    if (st != RT_OK) {
        rt_session_close(s);
        return st;
    }
    *out = s;
    return RT_OK;
}

void rt_session_close(rt_session *s) {
    if (!s) return;
    rt_context_free(s->ctx);
    rt_tokenizer_free(s->own_tok);
    if (s->own_model) rt_model_free(s->model);
    rt_remote_close(s->remote);
    free(s->no_tokenizer);
    free(s->name);
    free(s);
}

rt_model *rt_session_model(rt_session *s) {
    return s ? s->model : NULL;
}

const rt_tokenizer *rt_session_tokenizer(const rt_session *s) {
    return s ? s->tok : NULL;
}

rt_context *rt_session_context(rt_session *s) {
    return s ? s->ctx : NULL;
}

const char *rt_session_name(const rt_session *s) {
    return s ? s->name : "";
}

int rt_session_n_ctx(const rt_session *s) {
    return s && s->ctx ? rt_context_n_ctx(s->ctx) : 0;
}

int rt_session_count_tokens(const rt_session *s, const char *text, size_t len) {
    if (!s || (!text && len))
        return rt_error(RT_ERR_INVALID, "rt_session_count_tokens: NULL argument");
    if (!s->tok) return rt_session_estimate_tokens(text, len);
    int32_t *ids = NULL;
    size_t n = 0;
    RT_TRY(rt_tokenizer_encode(s->tok, text ? text : "", len, false, &ids, &n));
    free(ids);
    return n > (size_t)INT32_MAX ? INT32_MAX : (int)n;
}

int rt_session_set_adapters(rt_session *s, rt_adapter *const *adapters, const float *scales,
                            int n) {
    if (!s) return rt_error(RT_ERR_INVALID, "rt_session_set_adapters: NULL session");
    if (!s->ctx)
        return rt_error(RT_ERR_UNSUPPORTED, "session %s: adapters need a local model", s->name);
    return rt_context_set_adapters(s->ctx, adapters, scales, n);
}

/* ---- local generation --------------------------------------------------------------------- */

/* The request's prompt ids (malloc'd in *ids unless they are req->prompt_ids). */
static int local_prompt(const rt_session *s, const rt_session_request *req, int32_t **ids,
                        int *n_ids, bool *owned) {
    *owned = false;
    if (req->n_prompt_ids > 0) {
        if (!req->prompt_ids) return rt_error(RT_ERR_INVALID, "session: prompt_ids is NULL");
        *ids = (int32_t *)req->prompt_ids;
        *n_ids = req->n_prompt_ids;
        return RT_OK;
    }
    if (!s->tok)
        return rt_error(RT_ERR_INVALID, "session %s: a text prompt needs a tokenizer (%s)", s->name,
                        s->no_tokenizer ? s->no_tokenizer : "none");
    char *rendered = NULL;
    const char *text = req->prompt;
    if (!text) {
        if (!req->messages || req->n_messages == 0)
            return rt_error(RT_ERR_INVALID, "session: the request has no prompt and no messages");
        RT_TRY(rt_tokenizer_apply_chat_template(s->tok, req->messages, req->n_messages, true,
                                                &rendered));
        text = rendered;
    }
    size_t n = 0;
    /* a chat template writes its own BOS; a raw prompt gets what the tokenizer's file adds */
    int st = rt_tokenizer_encode(s->tok, text, strlen(text), req->prompt != NULL, ids, &n);
    free(rendered);
    if (st != RT_OK) return st;
    *owned = true;
    if (n > (size_t)INT32_MAX) return rt_error(RT_ERR_RANGE, "session: prompt too long");
    *n_ids = (int)n;
    return RT_OK;
}

typedef struct local_state {
    rt_session_sink sink;
    rt_detokenizer *detok;
    int status; /* first error inside a callback */
} local_state;

static int detokenize_piece(void *user, int32_t token, char *buf, size_t cap) {
    const char *text;
    size_t len;
    if (rt_detokenizer_push(user, token, &text, &len) != RT_OK) return -1;
    if (len > cap) len = cap;
    memcpy(buf, text, len);
    return (int)len;
}

static int on_token(void *user, int32_t token, const char *text, size_t len) {
    local_state *ls = user;
    rt_session_sink_first(&ls->sink);
    const rt_session_request *req = ls->sink.req;
    if (req->on_token && req->on_token(req->user, token, text, len)) {
        ls->sink.stopped = true;
        return 1;
    }
    int st = rt_session_sink_text(&ls->sink, text, text ? len : 0);
    if (st < 0) ls->status = st;
    return st != 0;
}

static int local_generate(rt_session *s, const rt_session_request *req, rt_session_result *res) {
    int32_t *prompt = NULL;
    int n_prompt = 0;
    bool owned = false;
    RT_TRY(local_prompt(s, req, &prompt, &n_prompt, &owned));
    int n_ctx = rt_context_n_ctx(s->ctx);
    int st = RT_OK;
    if (n_prompt < 1)
        st = rt_error(RT_ERR_INVALID, "session: the prompt is empty after tokenization");
    else if (n_prompt >= n_ctx)
        st = rt_error(RT_ERR_RANGE,
                      "session %s: the prompt has %d tokens; the context holds %d with one more "
                      "needed to generate",
                      s->name, n_prompt, n_ctx);
    int32_t *stops = NULL;
    int n_stops = 0;
    if (st == RT_OK) {
        stops = rt_malloc(((size_t)(req->n_stop_tokens > 0 ? req->n_stop_tokens : 0) + 2) *
                          sizeof *stops);
        if (!stops) st = RT_ERR_NOMEM;
    }
    if (st == RT_OK && req->n_stop_tokens > 0) {
        if (!req->stop_tokens) {
            st = rt_error(RT_ERR_INVALID, "session: stop_tokens is NULL");
        } else {
            memcpy(stops, req->stop_tokens, (size_t)req->n_stop_tokens * sizeof *stops);
            n_stops = req->n_stop_tokens;
        }
    }
    local_state ls;
    memset(&ls, 0, sizeof ls);
    rt_session_sink_init(&ls.sink, req);
    if (st == RT_OK && s->tok) {
        /* a chat turn ends at the end-of-turn token; the tokenizer's eos ends any text */
        int32_t eot = rt_tokenizer_special_id(s->tok, RT_TOKEN_EOT);
        int32_t eos = rt_tokenizer_special_id(s->tok, RT_TOKEN_EOS);
        bool chat = req->n_prompt_ids <= 0 && !req->prompt;
        if (chat && eot >= 0) stops[n_stops++] = eot;
        if (!req->ignore_eos && eos >= 0) stops[n_stops++] = eos;
        st = rt_detokenizer_new(s->tok, true, &ls.detok);
    }
    if (st == RT_OK && req->n_stop_strings > 0 && !ls.detok)
        st = rt_error(RT_ERR_INVALID, "session %s: stop strings need a tokenizer (%s)", s->name,
                      s->no_tokenizer ? s->no_tokenizer : "none");
    rt_generate_result gr;
    memset(&gr, 0, sizeof gr);
    if (st == RT_OK) {
        rt_generate_params gp = rt_generate_default_params();
        gp.max_tokens = req->max_tokens;
        gp.sampler = req->sampler;
        gp.stop_tokens = stops;
        gp.n_stop_tokens = n_stops;
        gp.ignore_eos = req->ignore_eos;
        gp.stop_strings = req->stop_strings;
        gp.n_stop_strings = req->n_stop_strings;
        gp.detokenize = ls.detok ? detokenize_piece : NULL;
        gp.detokenize_user = ls.detok;
        gp.on_token = on_token;
        gp.user = &ls;
        gp.decode = s->decode;
        gp.decode_user = s->decode_user;
        st = rt_generate(s->ctx, prompt, n_prompt, &gp, NULL, 0, &gr);
        if (st == RT_OK && ls.status < 0) st = ls.status;
    }
    /* bytes of a character the stream ended inside of (they become U+FFFD, as decode does) */
    if (st == RT_OK && ls.detok && gr.stop_reason != RT_STOP_STRING &&
        gr.stop_reason != RT_STOP_CALLBACK) {
        const char *tail;
        size_t n_tail;
        st = rt_detokenizer_flush(ls.detok, &tail, &n_tail);
        if (st == RT_OK && rt_session_sink_text(&ls.sink, tail, n_tail) < 0) st = RT_ERR_NOMEM;
    }
    rt_detokenizer_free(ls.detok);
    free(stops);
    if (owned) free(prompt);
    if (st != RT_OK) {
        rt_session_sink_free(&ls.sink);
        return st;
    }
    res->n_prompt = gr.n_prompt;
    res->n_prompt_cached = gr.n_prompt - gr.n_prompt_evaluated;
    res->n_generated = gr.n_generated;
    res->stop_reason = gr.stop_reason;
    res->prefill_seconds = gr.prefill_seconds;
    return rt_session_sink_finish(&ls.sink, res);
}

int rt_session_generate(rt_session *s, const rt_session_request *req, rt_session_result *res) {
    if (res) memset(res, 0, sizeof *res);
    if (!s || !req || !res) return rt_error(RT_ERR_INVALID, "rt_session_generate: NULL argument");
    if (req->max_tokens < 0 || req->n_stop_strings < 0 || req->n_stop_tokens < 0 ||
        req->n_prompt_ids < 0 || (req->n_stop_strings > 0 && !req->stop_strings))
        return rt_error(RT_ERR_INVALID,
                        "session %s: bad request (negative count or NULL stop "
                        "strings)",
                        s->name);
    for (int i = 0; i < req->n_stop_strings; i++)
        if (!req->stop_strings[i] || !*req->stop_strings[i])
            return rt_error(RT_ERR_INVALID, "session %s: stop string %d is empty", s->name, i);
    return s->remote ? rt_remote_generate(s->remote, req, res) : local_generate(s, req, res);
}

void rt_session_result_clear(rt_session_result *res) {
    if (!res) return;
    free(res->text);
    memset(res, 0, sizeof *res);
}
