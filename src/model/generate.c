/*
 * generate.c — see generate.h.
 */
#include "model/generate.h"
#include "core/error.h"
#include "core/log.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

#define RT_PIECE_CAP 1024 /* bytes of one token's text */

rt_generate_params rt_generate_default_params(void) {
    rt_generate_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = 128;
    p.sampler = rt_sampler_default_params();
    return p;
}

/* ---- stop strings ----------------------------------------------------------------------- */

int rt_stop_matcher_init(rt_stop_matcher *m, const char *const *stops, int n_stops) {
    memset(m, 0, sizeof *m);
    m->stops = stops;
    m->n_stops = n_stops;
    for (int i = 0; i < n_stops; i++) {
        if (!stops[i] || !*stops[i])
            return rt_error(RT_ERR_INVALID, "generate: stop string %d is empty", i);
        size_t len = strlen(stops[i]);
        if (len > m->max_stop_len) m->max_stop_len = len;
    }
    m->cap_pending = m->max_stop_len + RT_PIECE_CAP + 1;
    /* doubled: released text is copied out to the second half before pending is compacted */
    m->pending = rt_malloc(2 * m->cap_pending);
    return m->pending ? RT_OK : RT_ERR_NOMEM;
}

void rt_stop_matcher_free(rt_stop_matcher *m) {
    free(m->pending);
    memset(m, 0, sizeof *m);
}

static bool is_prefix_of_a_stop(const rt_stop_matcher *m, const char *s, size_t len) {
    for (int i = 0; i < m->n_stops; i++)
        if (strlen(m->stops[i]) > len && !memcmp(m->stops[i], s, len)) return true;
    return false;
}

int rt_stop_matcher_push(rt_stop_matcher *m, const char *piece, size_t len, const char **released,
                         size_t *n_released) {
    char *out = m->pending + m->cap_pending;
    if (m->n_pending + len > m->cap_pending) {
        /* cannot happen with pieces <= RT_PIECE_CAP; release the oldest text to make room */
        size_t drop = m->n_pending + len - m->cap_pending;
        if (drop > m->n_pending) drop = m->n_pending;
        memmove(m->pending, m->pending + drop, m->n_pending - drop);
        m->n_pending -= drop;
        if (len > m->cap_pending) len = m->cap_pending;
    }
    memcpy(m->pending + m->n_pending, piece, len);
    m->n_pending += len;
    /* earliest complete stop string */
    size_t best = SIZE_MAX;
    for (int i = 0; i < m->n_stops; i++) {
        size_t sl = strlen(m->stops[i]);
        for (size_t p = 0; p + sl <= m->n_pending && p < best; p++)
            if (!memcmp(m->pending + p, m->stops[i], sl)) {
                best = p;
                break;
            }
    }
    if (best != SIZE_MAX) {
        memcpy(out, m->pending, best);
        *released = out;
        *n_released = best;
        m->n_pending = 0;
        return 1;
    }
    /* hold back the longest suffix that could still grow into a stop string */
    size_t keep = 0;
    for (size_t k = m->n_pending < m->max_stop_len ? m->n_pending : m->max_stop_len; k > 0; k--)
        if (is_prefix_of_a_stop(m, m->pending + m->n_pending - k, k)) {
            keep = k;
            break;
        }
    size_t n_out = m->n_pending - keep;
    memcpy(out, m->pending, n_out);
    memmove(m->pending, m->pending + n_out, keep);
    m->n_pending = keep;
    *released = out;
    *n_released = n_out;
    return 0;
}

/* ---- the loop --------------------------------------------------------------------------- */

static bool is_stop_token(const rt_generate_params *p, int32_t eos, int32_t tok) {
    if (!p->ignore_eos && eos >= 0 && tok == eos) return true;
    for (int i = 0; i < p->n_stop_tokens; i++)
        if (p->stop_tokens[i] == tok) return true;
    return false;
}

int rt_generate(rt_context *ctx, const int32_t *prompt, int n_prompt,
                const rt_generate_params *params, int32_t *out_tokens, int out_cap,
                rt_generate_result *result) {
    rt_generate_params defaults = rt_generate_default_params();
    if (!params) params = &defaults;
    rt_generate_result res;
    memset(&res, 0, sizeof res);
    if (result) *result = res;
    if (!ctx || !prompt || n_prompt < 1)
        return rt_error(RT_ERR_INVALID, "generate: the prompt needs at least one token");
    if (params->max_tokens < 0 || (params->n_stop_tokens > 0 && !params->stop_tokens) ||
        (params->n_stop_strings > 0 && (!params->stop_strings || !params->detokenize)) ||
        out_cap < 0)
        return rt_error(RT_ERR_INVALID, "generate: bad parameters (stop strings need a "
                                        "detokenizer)");
    if (n_prompt > ctx->n_ctx)
        return rt_error(RT_ERR_RANGE, "generate: prompt of %d tokens exceeds the context of %d",
                        n_prompt, ctx->n_ctx);
    const rt_model *model = ctx->model;
    int32_t eos = rt_model_eos(model);

    /* reuse the longest common prefix; the last prompt token is always evaluated (logits) */
    int n_keep = 0;
    while (n_keep < ctx->n_past && n_keep < n_prompt - 1 && ctx->tokens[n_keep] == prompt[n_keep])
        n_keep++;
    RT_TRY(rt_context_rewind(ctx, n_keep));
    res.n_prompt = n_prompt;
    res.n_prompt_evaluated = n_prompt - n_keep;

    rt_sampler *sampler = NULL;
    RT_TRY(rt_sampler_new(&params->sampler, rt_model_n_vocab(model), &sampler));
    rt_stop_matcher matcher;
    char *piece = NULL;
    int st = rt_stop_matcher_init(&matcher, params->stop_strings, params->n_stop_strings);
    if (st == RT_OK && params->detokenize) {
        piece = rt_malloc(RT_PIECE_CAP);
        if (!piece) st = RT_ERR_NOMEM;
    }
    if (st < 0) goto done;

    double t0 = rt_time_now();
    st = rt_model_eval(ctx, prompt + n_keep, n_prompt - n_keep, NULL);
    double t1 = rt_time_now();
    res.prefill_seconds = t1 - t0;
    if (st < 0) goto done;

    res.stop_reason = RT_STOP_LENGTH;
    for (int i = 0; i < params->max_tokens; i++) {
        int32_t tok = rt_sampler_sample(sampler, rt_context_logits(ctx), ctx->tokens, ctx->n_past);
        if (is_stop_token(params, eos, tok)) {
            res.stop_reason = RT_STOP_EOS;
            break;
        }
        if (out_tokens && res.n_generated < out_cap) out_tokens[res.n_generated] = tok;
        res.n_generated++;
        const char *text = NULL;
        size_t text_len = 0;
        int found = 0;
        if (params->detokenize) {
            int n = params->detokenize(params->detokenize_user, tok, piece, RT_PIECE_CAP);
            if (n < 0) {
                st = rt_error(RT_ERR_INVALID, "generate: the detokenizer failed on token %d", tok);
                break;
            }
            if (n > RT_PIECE_CAP) n = RT_PIECE_CAP;
            found = rt_stop_matcher_push(&matcher, piece, (size_t)n, &text, &text_len);
        }
        if (params->on_token && params->on_token(params->user, tok, text, text_len)) {
            res.stop_reason = RT_STOP_CALLBACK;
            break;
        }
        if (found) {
            res.stop_reason = RT_STOP_STRING;
            break;
        }
        if (i + 1 == params->max_tokens) break;
        if (ctx->n_past >= ctx->n_ctx) {
            res.stop_reason = RT_STOP_CONTEXT;
            break;
        }
        st = params->decode ? params->decode(params->decode_user, ctx, tok)
                            : rt_model_eval(ctx, &tok, 1, NULL);
        if (st < 0) break;
    }
    /* text still held back (a partial stop string that never completed) is final now */
    if (st >= 0 && matcher.n_pending && params->on_token && res.stop_reason != RT_STOP_STRING &&
        res.stop_reason != RT_STOP_CALLBACK)
        params->on_token(params->user, -1, matcher.pending, matcher.n_pending);
    res.decode_seconds = rt_time_now() - t1;
done:
    free(piece);
    rt_stop_matcher_free(&matcher);
    rt_sampler_free(sampler);
    if (result) *result = res;
    return st < 0 ? st : RT_OK;
}
