/*
 * engine.c — timed generation and perplexity for the evaluation runner (see engine.h).
 */
#include "eval/engine.h"

#include "core/error.h"
#include "core/log.h"
#include "core/strbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rt_eval_engine {
    rt_model *model;
    rt_tokenizer *tok;
    rt_context *ctx;
};

int rt_eval_engine_open(const char *model_path, int n_ctx, rt_eval_engine **out) {
    *out = NULL;
    rt_eval_engine *e = calloc(1, sizeof *e);
    if (!e) return rt_error(RT_ERR_NOMEM, "out of memory");
    rt_model_params mp = rt_model_default_params();
    rt_context_params cp = rt_context_default_params();
    cp.n_ctx = n_ctx;
    int st = rt_model_load(model_path, &mp, &e->model);
    if (st == RT_OK && rt_model_is_encoder(e->model))
        st = rt_error(RT_ERR_INVALID, "%s: an encoder model cannot answer questions", model_path);
    if (st == RT_OK) st = rt_tokenizer_load(model_path, &e->tok);
    if (st == RT_OK) st = rt_context_new(e->model, &cp, &e->ctx);
    if (st != RT_OK) {
        rt_eval_engine_close(e);
        return st;
    }
    *out = e;
    return RT_OK;
}

void rt_eval_engine_close(rt_eval_engine *e) {
    if (!e) return;
    rt_context_free(e->ctx);
    rt_tokenizer_free(e->tok);
    rt_model_free(e->model);
    free(e);
}

int rt_eval_engine_n_ctx(const rt_eval_engine *e) {
    return rt_context_n_ctx(e->ctx);
}

int rt_eval_engine_count(const rt_eval_engine *e, const char *text) {
    int32_t *ids;
    size_t n;
    RT_TRY(rt_tokenizer_encode(e->tok, text, strlen(text), false, &ids, &n));
    free(ids);
    return (int)n;
}

typedef struct gen_state {
    rt_detokenizer *detok;
    rt_strbuf text;
    double start, first;
    int failed;
} gen_state;

static int detokenize_stream(void *user, int32_t token, char *buf, size_t cap) {
    gen_state *g = user;
    const char *text;
    size_t len;
    if (rt_detokenizer_push(g->detok, token, &text, &len) != RT_OK) return -1;
    if (len > cap) len = cap;
    memcpy(buf, text, len);
    return (int)len;
}

static int on_token(void *user, int32_t token, const char *text, size_t len) {
    gen_state *g = user;
    if (g->first == 0 && token >= 0) g->first = rt_time_now();
    if (text && len && rt_strbuf_append(&g->text, text, len) != RT_OK) {
        g->failed = 1;
        return 1;
    }
    return 0;
}

int rt_eval_engine_generate(rt_eval_engine *e, const char *prompt, int max_tokens,
                            const rt_sampler_params *sampler, const char *const *stop,
                            rt_eval_generation *out) {
    memset(out, 0, sizeof *out);
    int32_t *ids;
    size_t n;
    RT_TRY(rt_tokenizer_encode(e->tok, prompt, strlen(prompt), true, &ids, &n));
    int n_ctx = rt_context_n_ctx(e->ctx);
    if (max_tokens >= n_ctx) max_tokens = n_ctx / 4;
    size_t keep = (size_t)(n_ctx - max_tokens);
    int32_t *p = ids;
    if (n > keep) { /* the end of the prompt (question, "Answer:") matters most */
        p = ids + (n - keep);
        n = keep;
    }
    if (n == 0) {
        free(ids);
        return rt_error(RT_ERR_INVALID, "empty prompt");
    }
    gen_state g = {0};
    int st = rt_detokenizer_new(e->tok, true, &g.detok);
    if (st != RT_OK) {
        free(ids);
        return st;
    }
    int n_stop = 0;
    while (stop && stop[n_stop])
        n_stop++;
    rt_generate_params gp = rt_generate_default_params();
    gp.max_tokens = max_tokens;
    gp.sampler = *sampler;
    gp.stop_strings = stop;
    gp.n_stop_strings = n_stop;
    gp.detokenize = detokenize_stream;
    gp.detokenize_user = &g;
    gp.on_token = on_token;
    gp.user = &g;
    int32_t eot = rt_tokenizer_special_id(e->tok, RT_TOKEN_EOT);
    if (eot >= 0) {
        gp.stop_tokens = &eot;
        gp.n_stop_tokens = 1;
    }
    rt_generate_result res;
    g.start = rt_time_now();
    st = rt_generate(e->ctx, p, (int)n, &gp, NULL, 0, &res);
    double end = rt_time_now();
    free(ids);
    rt_detokenizer_free(g.detok);
    if (st == RT_OK && g.failed) st = rt_error(RT_ERR_NOMEM, "out of memory");
    if (st != RT_OK) {
        rt_strbuf_free(&g.text);
        return st;
    }
    out->text = g.text.data ? rt_strbuf_take(&g.text) : rt_strdup("");
    rt_strbuf_free(&g.text);
    if (!out->text) return RT_ERR_NOMEM;
    out->n_prompt = res.n_prompt;
    out->n_generated = res.n_generated;
    out->total_seconds = end - g.start;
    out->ttft_seconds = (g.first > 0 ? g.first : end) - g.start;
    return RT_OK;
}

int rt_eval_engine_perplexity(rt_eval_engine *e, const char *text, int max_tokens, double *ppl,
                              int *n_tokens) {
    *ppl = NAN;
    *n_tokens = 0;
    int32_t *ids;
    size_t n;
    RT_TRY(rt_tokenizer_encode(e->tok, text, strlen(text), true, &ids, &n));
    if (max_tokens > 0 && n > (size_t)max_tokens) n = (size_t)max_tokens;
    int n_vocab = rt_model_n_vocab(e->model);
    int window = rt_context_n_ctx(e->ctx);
    if (window > 512) window = 512;
    float *logits = malloc((size_t)window * (size_t)n_vocab * sizeof *logits);
    if (!logits) {
        free(ids);
        return rt_error(RT_ERR_NOMEM, "perplexity: out of memory");
    }
    double nll = 0;
    long count = 0;
    int st = RT_OK;
    for (size_t s = 0; s + 1 < n && st == RT_OK; s += (size_t)window - 1) {
        size_t m = n - s < (size_t)window ? n - s : (size_t)window;
        if (m < 2) break;
        rt_context_rewind(e->ctx, 0);
        st = rt_model_eval(e->ctx, ids + s, (int)m, logits);
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
    rt_context_rewind(e->ctx, 0);
    free(logits);
    free(ids);
    RT_TRY(st);
    if (count == 0) return rt_error(RT_ERR_INVALID, "perplexity: the text has fewer than 2 tokens");
    *ppl = exp(nll / (double)count);
    *n_tokens = (int)count;
    return RT_OK;
}
