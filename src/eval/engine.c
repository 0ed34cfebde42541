/*
 * engine.c — timed generation through a session and perplexity for the evaluation runner (see
 * engine.h).
 */
#include "eval/engine.h"

#include "core/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rt_eval_engine {
    rt_session *s;
    rt_adapter *adapter;
};

/* An engine over a session opened with sp, with adapter_path (NULL: none) applied. */
static int engine_open(const rt_session_params *sp, const char *adapter_path,
                       rt_eval_engine **out) {
    *out = NULL;
    rt_eval_engine *e = calloc(1, sizeof *e);
    if (!e) return rt_error(RT_ERR_NOMEM, "out of memory");
    int st = rt_session_open(sp, &e->s);
    if (st == RT_OK && adapter_path) {
        st = rt_adapter_load(rt_session_model(e->s), adapter_path, &e->adapter);
        float one = 1.0f;
        if (st == RT_OK) st = rt_session_set_adapters(e->s, &e->adapter, &one, 1);
    }
    if (st != RT_OK) {
        rt_eval_engine_close(e);
        return st;
    }
    *out = e;
    return RT_OK;
}

int rt_eval_engine_open(const char *model_path, const char *adapter_path, int n_ctx,
                        rt_eval_engine **out) {
    rt_session_params sp = rt_session_default_params();
    sp.model_path = model_path;
    sp.n_ctx = n_ctx;
    return engine_open(&sp, adapter_path, out);
}

int rt_eval_engine_open_remote(const char *api_base, const char *api_model, rt_eval_engine **out) {
    rt_session_params sp = rt_session_default_params();
    sp.api_base = api_base;
    sp.api_model = api_model;
    return engine_open(&sp, NULL, out);
}

bool rt_eval_engine_is_remote(rt_eval_engine *e) {
    return rt_session_model(e->s) == NULL;
}

void rt_eval_engine_close(rt_eval_engine *e) {
    if (!e) return;
    rt_session_close(e->s); /* before the adapter it uses */
    rt_adapter_free(e->adapter);
    free(e);
}

rt_session *rt_eval_engine_session(rt_eval_engine *e) {
    return e->s;
}

int rt_eval_engine_generate(rt_eval_engine *e, const char *prompt, int max_tokens,
                            const rt_sampler_params *sampler, const char *const *stop,
                            rt_eval_generation *out) {
    memset(out, 0, sizeof *out);
    int n_stop = 0;
    while (stop && stop[n_stop])
        n_stop++;
    rt_session_request rq = rt_session_default_request();
    rt_chat_message m = {"user", prompt};
    if (rt_eval_engine_is_remote(e)) { /* chat servers need not serve /completions */
        rq.messages = &m;
        rq.n_messages = 1;
    } else {
        rq.prompt = prompt;
    }
    rq.max_tokens = max_tokens;
    rq.sampler = *sampler;
    rq.stop_strings = stop;
    rq.n_stop_strings = n_stop;
    rt_session_result res;
    memset(&res, 0, sizeof res);
    RT_TRY(rt_session_generate(e->s, &rq, &res));
    out->text = res.text ? res.text : rt_strdup("");
    res.text = NULL;
    /* the counts and timings before rt_session_result_clear zeroes them */
    out->n_prompt = res.n_prompt;
    out->n_generated = res.n_generated;
    out->ttft_seconds = res.ttft_seconds;
    out->total_seconds = res.total_seconds;
    rt_session_result_clear(&res);
    if (!out->text) return RT_ERR_NOMEM;
    return RT_OK;
}

int rt_eval_engine_perplexity(rt_eval_engine *e, const char *text, int max_tokens, double *ppl,
                              int *n_tokens) {
    *ppl = NAN;
    *n_tokens = 0;
    rt_model *model = rt_session_model(e->s);
    rt_context *ctx = rt_session_context(e->s);
    const rt_tokenizer *tok = rt_session_tokenizer(e->s);
    if (!model || !ctx || !tok)
        return rt_error(RT_ERR_UNSUPPORTED, "perplexity needs a local model");
    int32_t *ids;
    size_t n;
    RT_TRY(rt_tokenizer_encode(tok, text, strlen(text), true, &ids, &n));
    if (max_tokens > 0 && n > (size_t)max_tokens) n = (size_t)max_tokens;
    int n_vocab = rt_model_n_vocab(model);
    int window = rt_context_n_ctx(ctx);
    if (window > 512) window = 512;
    float *logits = malloc((size_t)window * (size_t)n_vocab * sizeof *logits);
    if (!logits) {
        free(ids);
        return rt_error(RT_ERR_NOMEM, "perplexity: out of memory");
    }
    double nll = 0;
    long count = 0;
    int st = RT_OK;
    /* windows overlap by one token, so every token after the first is predicted once */
    for (size_t s = 0; s + 1 < n && st == RT_OK; s += (size_t)window - 1) {
        size_t m = n - s < (size_t)window ? n - s : (size_t)window;
        if (m < 2) break;
        rt_context_rewind(ctx, 0);
        st = rt_model_eval(ctx, ids + s, (int)m, logits);
        for (size_t i = 0; st == RT_OK && i + 1 < m; i++) {
            const float *l = logits + i * (size_t)n_vocab;
            float mx = l[0];
            for (int v = 1; v < n_vocab; v++)
                mx = l[v] > mx ? l[v] : mx;
            double z = 0;
            for (int v = 0; v < n_vocab; v++)
                z += exp((double)(l[v] - mx));
            nll += log(z) + mx - l[ids[s + i + 1]];
            count++;
        }
    }
    rt_context_rewind(ctx, 0);
    free(logits);
    free(ids);
    RT_TRY(st);
    if (count == 0) return rt_error(RT_ERR_INVALID, "perplexity: the text has fewer than 2 tokens");
    *ppl = exp(nll / (double)count);
    *n_tokens = (int)count;
    return RT_OK;
}
