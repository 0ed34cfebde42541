/*
 * model.c — rt_model (validated weights) and rt_context (KV cache + working buffers), and the
 * public entry points that drive the forward pass: rt_model_eval and rt_model_embed.
 * What it does not do: parse files (model_file.c), sample (sampling.c), loop (generate.c).
 */
#include "model/model.h"
#include "core/error.h"
#include "core/log.h"
#include "core/quant.h"
#include "model/forward.h"
#include "model/ops.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rt_model_params rt_model_default_params(void) {
    rt_model_params p = {.weight_dtype = -1};
    return p;
}

rt_context_params rt_context_default_params(void) {
    rt_context_params p = {.n_ctx = 0, .n_batch = 0};
    return p;
}

/* ---- validation ------------------------------------------------------------------------- */

static const char *tensor_label(const rt_tensor *t, const char *role) {
    return t->name ? t->name : role;
}

/* Checks that t is present with shape (d0) or (d0, d1) (d1 = 0 for 1-D). */
static int check_shape(const rt_tensor *t, const char *role, int64_t d0, int64_t d1) {
    if (!t->data) return rt_error(RT_ERR_FORMAT, "model: missing tensor %s", role);
    int want_dims = d1 ? 2 : 1;
    int64_t n_el = rt_tensor_nelements(t);
    bool ok = t->n_dims == want_dims && t->shape[0] == d0 && (!d1 || t->shape[1] == d1);
    if (!ok || n_el != d0 * (d1 ? d1 : 1))
        return rt_error(RT_ERR_FORMAT,
                        "model: tensor %s has shape (%lld, %lld) with %d dims, expected (%lld, "
                        "%lld)",
                        tensor_label(t, role), (long long)t->shape[0],
                        (long long)(t->n_dims > 1 ? t->shape[1] : 0), t->n_dims, (long long)d0,
                        (long long)d1);
    size_t need;
    RT_TRY(rt_dtype_nbytes(t->dtype, n_el, &need, tensor_label(t, role)));
    if (t->nbytes < need)
        return rt_error(RT_ERR_FORMAT, "model: tensor %s holds %zu bytes, needs %zu",
                        tensor_label(t, role), t->nbytes, need);
    return RT_OK;
}

static int check_optional(const rt_tensor *t, const char *role, int64_t d0, int64_t d1) {
    return t->data ? check_shape(t, role, d0, d1) : RT_OK;
}

static int check_config(const rt_model_config *c) {
    if (c->arch == RT_ARCH_UNKNOWN)
        return rt_error(RT_ERR_UNSUPPORTED, "model: unknown architecture");
    if (c->n_vocab <= 0 || c->n_embd <= 0 || c->n_layer <= 0 || c->n_head <= 0 ||
        c->n_kv_head <= 0 || c->head_dim <= 0 || c->n_ff <= 0 || c->n_ctx_train <= 0)
        return rt_error(RT_ERR_FORMAT, "model: configuration has a non-positive size");
    if (c->n_embd > (1 << 16) || c->n_ff > (1 << 18) || c->n_layer > 1024 || c->n_head > 1024 ||
        c->head_dim > 1024 || c->n_vocab > (1 << 24))
        return rt_error(RT_ERR_RANGE, "model: configuration sizes out of range");
    if (c->n_head % c->n_kv_head)
        return rt_error(RT_ERR_FORMAT, "model: n_head %d is not a multiple of n_kv_head %d",
                        c->n_head, c->n_kv_head);
    if (c->head_dim % 2) return rt_error(RT_ERR_FORMAT, "model: odd head_dim %d", c->head_dim);
    if (!(c->norm_eps >= 0.0f)) return rt_error(RT_ERR_FORMAT, "model: bad norm epsilon");
    return RT_OK;
}

static int check_weights(const rt_model_config *c, const rt_model_weights *w) {
    int64_t C = c->n_embd, q_dim = (int64_t)c->n_head * c->head_dim,
            kv_dim = (int64_t)c->n_kv_head * c->head_dim, F = c->n_ff;
    bool llama_like = c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2;
    bool bert = c->arch == RT_ARCH_BERT;
    RT_TRY(check_shape(&w->token_embd, "token_embd", c->n_vocab, C));
    if (!llama_like) RT_TRY(check_shape(&w->pos_embd, "pos_embd", c->n_ctx_train, C));
    if (bert) {
        if (c->n_type_vocab > 0)
            RT_TRY(check_shape(&w->type_embd, "type_embd", c->n_type_vocab, C));
        RT_TRY(check_shape(&w->embd_norm, "embd_norm", C, 0));
        RT_TRY(check_shape(&w->embd_norm_b, "embd_norm_b", C, 0));
    } else {
        RT_TRY(check_shape(&w->output_norm, "output_norm", C, 0));
        RT_TRY(check_optional(&w->output_norm_b, "output_norm_b", C, 0));
        RT_TRY(check_optional(&w->output, "output", c->n_vocab, C));
    }
    if (!w->layers) return rt_error(RT_ERR_FORMAT, "model: no layers");
    for (int l = 0; l < c->n_layer; l++) {
        const rt_layer_weights *lw = &w->layers[l];
        char role[64];
#define CHECK(field, d0, d1, required)                                                             \
    do {                                                                                           \
        snprintf(role, sizeof role, "layer %d " #field, l);                                        \
        RT_TRY((required) ? check_shape(&lw->field, role, d0, d1)                                  \
                          : check_optional(&lw->field, role, d0, d1));                             \
    } while (0)
        CHECK(attn_norm, C, 0, true);
        CHECK(attn_norm_b, C, 0, !llama_like);
        CHECK(wq, q_dim, C, true);
        CHECK(wk, kv_dim, C, true);
        CHECK(wv, kv_dim, C, true);
        CHECK(wo, C, q_dim, true);
        CHECK(bq, q_dim, 0, c->arch == RT_ARCH_QWEN2 || !llama_like);
        CHECK(bk, kv_dim, 0, c->arch == RT_ARCH_QWEN2 || !llama_like);
        CHECK(bv, kv_dim, 0, c->arch == RT_ARCH_QWEN2 || !llama_like);
        CHECK(bo, C, 0, !llama_like);
        CHECK(ffn_norm, C, 0, true);
        CHECK(ffn_norm_b, C, 0, !llama_like);
        CHECK(ffn_gate, F, C, llama_like);
        CHECK(ffn_up, F, C, true);
        CHECK(ffn_down, C, F, true);
        CHECK(ffn_up_b, F, 0, !llama_like);
        CHECK(ffn_down_b, C, 0, !llama_like);
#undef CHECK
    }
    return RT_OK;
}

/* ---- conversion ------------------------------------------------------------------------- */

static int own_converted(rt_model *m, rt_tensor *t, rt_dtype dtype) {
    if (!t->data || t->dtype == dtype) return RT_OK;
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        rt_tensor *grown = rt_realloc(m->owned, (size_t)cap * sizeof *grown);
        if (!grown) return RT_ERR_NOMEM;
        m->owned = grown;
        m->cap_owned = cap;
    }
    rt_tensor *slot = &m->owned[m->n_owned];
    RT_TRY(rt_tensor_convert(t, dtype, slot));
    m->n_owned++;
    rt_tensor view = *slot;
    view.owned = false;
    *t = view;
    return RT_OK;
}

/* Norms and biases are read as f32 by the kernels; projections go through rt_matmul, which
 * takes any dtype, and are converted only on request. */
static int prepare_weights(rt_model *m, int weight_dtype) {
    rt_model_weights *w = &m->weights;
    rt_tensor *vectors[] = {&w->embd_norm, &w->embd_norm_b, &w->output_norm, &w->output_norm_b};
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++)
        RT_TRY(own_converted(m, vectors[i], RT_DTYPE_F32));
    for (int l = 0; l < m->config.n_layer; l++) {
        rt_layer_weights *lw = &w->layers[l];
        rt_tensor *lv[] = {&lw->attn_norm, &lw->attn_norm_b, &lw->bq,       &lw->bk,
                           &lw->bv,        &lw->bo,          &lw->ffn_norm, &lw->ffn_norm_b,
                           &lw->ffn_up_b,  &lw->ffn_down_b};
        for (size_t i = 0; i < sizeof lv / sizeof *lv; i++)
            RT_TRY(own_converted(m, lv[i], RT_DTYPE_F32));
        if (weight_dtype >= 0) {
            rt_tensor *mats[] = {&lw->wq,       &lw->wk,     &lw->wv,      &lw->wo,
                                 &lw->ffn_gate, &lw->ffn_up, &lw->ffn_down};
            for (size_t i = 0; i < sizeof mats / sizeof *mats; i++)
                RT_TRY(own_converted(m, mats[i], (rt_dtype)weight_dtype));
        }
    }
    if (weight_dtype >= 0 && m->config.arch != RT_ARCH_BERT) {
        RT_TRY(
            own_converted(m, w->output.data ? &w->output : &w->token_embd, (rt_dtype)weight_dtype));
    }
    return RT_OK;
}

static void count_params(rt_model *m) {
    const rt_model_weights *w = &m->weights;
    uint64_t n = 0, bytes = 0;
    const rt_tensor *top[] = {&w->token_embd,  &w->pos_embd,    &w->type_embd,     &w->embd_norm,
                              &w->embd_norm_b, &w->output_norm, &w->output_norm_b, &w->output};
    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        if (top[i]->data) n += (uint64_t)rt_tensor_nelements(top[i]);
    for (int l = 0; l < m->config.n_layer; l++) {
        const rt_tensor *t = (const rt_tensor *)&w->layers[l];
        for (size_t i = 0; i < sizeof(rt_layer_weights) / sizeof(rt_tensor); i++) {
            if (!t[i].data) continue;
            n += (uint64_t)rt_tensor_nelements(&t[i]);
            bytes += t[i].nbytes;
        }
    }
    if (m->config.arch != RT_ARCH_BERT) {
        const rt_tensor *head = w->output.data ? &w->output : &w->token_embd;
        bytes += head->nbytes;
    }
    m->n_params = n;
    m->weight_bytes = bytes;
}

int rt_model_from_weights(const rt_model_config *config, const rt_model_weights *weights,
                          const rt_model_params *params, void *file, void (*file_close)(void *file),
                          rt_model **out) {
    *out = NULL;
    rt_model_params defaults = rt_model_default_params();
    if (!params) params = &defaults;
    if (params->weight_dtype >= 0 && !rt_dtype_valid(params->weight_dtype))
        return rt_error(RT_ERR_INVALID, "model: bad weight dtype %d", params->weight_dtype);
    RT_TRY(check_config(config));
    RT_TRY(check_weights(config, weights));
    rt_model *m = rt_calloc(1, sizeof *m);
    if (!m) return RT_ERR_NOMEM;
    m->config = *config;
    m->weights = *weights;
    m->layers = rt_calloc((size_t)config->n_layer, sizeof *m->layers);
    if (!m->layers) {
        free(m);
        return RT_ERR_NOMEM;
    }
    memcpy(m->layers, weights->layers, (size_t)config->n_layer * sizeof *m->layers);
    m->weights.layers = m->layers;
    int st = prepare_weights(m, params->weight_dtype);
    if (st < 0) {
        m->file = NULL; /* the caller keeps the file on failure */
        rt_model_free(m);
        return st;
    }
    m->file = file;
    m->file_close = file_close;
    count_params(m);
    *out = m;
    return RT_OK;
}

void rt_model_free(rt_model *model) {
    if (!model) return;
    for (int i = 0; i < model->n_owned; i++)
        rt_tensor_free(&model->owned[i]);
    free(model->owned);
    free(model->layers);
    if (model->file && model->file_close) model->file_close(model->file);
    free(model);
}

const char *rt_model_arch(const rt_model *model) {
    return rt_arch_name(model->config.arch);
}
int rt_model_n_vocab(const rt_model *model) {
    return model->config.n_vocab;
}
int rt_model_n_embd(const rt_model *model) {
    return model->config.n_embd;
}
int rt_model_n_layer(const rt_model *model) {
    return model->config.n_layer;
}
int rt_model_n_ctx_train(const rt_model *model) {
    return model->config.n_ctx_train;
}
bool rt_model_is_encoder(const rt_model *model) {
    return model->config.arch == RT_ARCH_BERT;
}
int32_t rt_model_bos(const rt_model *model) {
    return model->config.bos_token_id;
}
int32_t rt_model_eos(const rt_model *model) {
    return model->config.eos_token_id;
}
uint64_t rt_model_n_params(const rt_model *model) {
    return model->n_params;
}
uint64_t rt_model_weight_bytes(const rt_model *model) {
    return model->weight_bytes;
}

/* ---- context ---------------------------------------------------------------------------- */

/* Allocates count floats into *p and adds to the running byte total; returns false on
 * overflow or failure. */
static bool alloc_floats(float **p, size_t a, size_t b) {
    size_t n;
    if (!rt_mul_size(a, b, &n) || !rt_mul_size(n, sizeof(float), &n)) {
        rt_error(RT_ERR_RANGE, "context: buffer size overflows");
        return false;
    }
    *p = rt_malloc(n ? n : sizeof(float));
    return *p != NULL;
}

int rt_context_new(rt_model *model, const rt_context_params *params, rt_context **out) {
    *out = NULL;
    if (!model) return rt_error(RT_ERR_INVALID, "context: no model");
    rt_context_params defaults = rt_context_default_params();
    if (!params) params = &defaults;
    const rt_model_config *c = &model->config;
    bool learned_pos = c->arch == RT_ARCH_GPT2 || c->arch == RT_ARCH_BERT;
    int n_ctx = params->n_ctx > 0 ? params->n_ctx : (c->n_ctx_train < 4096 ? c->n_ctx_train : 4096);
    if (params->n_ctx < 0 || params->n_batch < 0)
        return rt_error(RT_ERR_INVALID, "context: negative n_ctx or n_batch");
    if (learned_pos && n_ctx > c->n_ctx_train)
        return rt_error(RT_ERR_RANGE, "context: n_ctx %d exceeds the model's %d positions", n_ctx,
                        c->n_ctx_train);
    if (n_ctx > (1 << 20)) return rt_error(RT_ERR_RANGE, "context: n_ctx %d too large", n_ctx);
    int n_batch = params->n_batch > 0 ? params->n_batch : 256;
    if (n_batch > n_ctx || c->arch == RT_ARCH_BERT) n_batch = n_ctx; /* bert: one pass */

    rt_context *ctx = rt_calloc(1, sizeof *ctx);
    if (!ctx) return RT_ERR_NOMEM;
    ctx->model = model;
    ctx->n_ctx = n_ctx;
    ctx->n_batch = n_batch;
    ctx->n_score_rows = omp_get_max_threads();
    size_t kv_dim = (size_t)c->n_kv_head * c->head_dim, q_dim = (size_t)c->n_head * c->head_dim;
    size_t cache_rows = (size_t)c->n_layer * (size_t)n_ctx;
    bool ok =
        alloc_floats(&ctx->k_cache, cache_rows, kv_dim) &&
        alloc_floats(&ctx->v_cache, cache_rows, kv_dim) &&
        alloc_floats(&ctx->x, n_batch, c->n_embd) && alloc_floats(&ctx->xb, n_batch, c->n_embd) &&
        alloc_floats(&ctx->q, n_batch, q_dim) && alloc_floats(&ctx->att, n_batch, q_dim) &&
        alloc_floats(&ctx->proj, n_batch, c->n_embd) && alloc_floats(&ctx->hb, n_batch, c->n_ff) &&
        alloc_floats(&ctx->hb2, n_batch, c->n_ff) &&
        alloc_floats(&ctx->scores, ctx->n_score_rows, n_ctx) &&
        alloc_floats(&ctx->logits, c->n_vocab, 1) && alloc_floats(&ctx->embd, c->n_embd, 1);
    if (ok) {
        ctx->tokens = rt_calloc((size_t)n_ctx, sizeof *ctx->tokens);
        ok = ctx->tokens != NULL;
    }
    if (ok && !learned_pos) {
        size_t half = (size_t)c->head_dim / 2;
        float *inv_freq = NULL;
        ok = alloc_floats(&ctx->rope, (size_t)n_ctx, 2 * half) && alloc_floats(&inv_freq, half, 1);
        if (ok) {
            rt_op_rope_inv_freq(inv_freq, c->head_dim, c->rope_theta, c->rope_scaling_factor,
                                c->rope_low_freq_factor, c->rope_high_freq_factor,
                                c->rope_original_ctx);
            rt_op_rope_table(ctx->rope, inv_freq, c->head_dim, n_ctx);
        }
        free(inv_freq);
    }
    if (!ok) {
        rt_context_free(ctx);
        return rt_last_error_code() ? rt_last_error_code() : RT_ERR_NOMEM;
    }
    *out = ctx;
    return RT_OK;
}

void rt_context_free(rt_context *ctx) {
    if (!ctx) return;
    float *bufs[] = {ctx->k_cache, ctx->v_cache, ctx->rope, ctx->x,  ctx->xb,
                     ctx->q,       ctx->att,     ctx->proj, ctx->hb, ctx->hb2,
                     ctx->scores,  ctx->logits,  ctx->embd};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        free(bufs[i]);
    free(ctx->tokens);
    free(ctx->adapters);
    free(ctx->adapter_scales);
    free(ctx->lora_tmp);
    free(ctx->batch_buf);
    free(ctx->embed_buf);
    free(ctx->embed_ints);
    free(ctx);
}

int rt_context_n_ctx(const rt_context *ctx) {
    return ctx->n_ctx;
}
int rt_context_n_past(const rt_context *ctx) {
    return ctx->n_past;
}
const int32_t *rt_context_tokens(const rt_context *ctx) {
    return ctx->tokens;
}
const float *rt_context_logits(const rt_context *ctx) {
    return ctx->has_logits ? ctx->logits : NULL;
}

int rt_context_rewind(rt_context *ctx, int n_past) {
    if (n_past < 0 || n_past > ctx->n_past)
        return rt_error(RT_ERR_INVALID, "context: cannot rewind to %d of %d tokens", n_past,
                        ctx->n_past);
    if (n_past < ctx->n_past) ctx->has_logits = false;
    ctx->n_past = n_past;
    return RT_OK;
}

static int check_tokens(const rt_context *ctx, const int32_t *tokens, int n_tokens) {
    if (n_tokens < 0 || (n_tokens > 0 && !tokens))
        return rt_error(RT_ERR_INVALID, "eval: bad token array");
    int n_vocab = ctx->model->config.n_vocab;
    for (int i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            return rt_error(RT_ERR_INVALID,
                            "eval: token %d at index %d is outside the vocabulary "
                            "of %d",
                            tokens[i], i, n_vocab);
    return RT_OK;
}

int rt_model_eval(rt_context *ctx, const int32_t *tokens, int n_tokens, float *logits_all) {
    const rt_model_config *c = &ctx->model->config;
    if (c->arch == RT_ARCH_BERT)
        return rt_error(RT_ERR_UNSUPPORTED, "eval: %s is an encoder; use rt_model_embed",
                        rt_arch_name(c->arch));
    RT_TRY(check_tokens(ctx, tokens, n_tokens));
    if (n_tokens > ctx->n_ctx - ctx->n_past)
        return rt_error(RT_ERR_RANGE, "eval: %d tokens after %d do not fit the context of %d",
                        n_tokens, ctx->n_past, ctx->n_ctx);
    for (int done = 0; done < n_tokens;) {
        int T = n_tokens - done < ctx->n_batch ? n_tokens - done : ctx->n_batch;
        rt_forward_chunk(ctx, tokens + done, NULL, T);
        if (logits_all) rt_forward_logits(ctx, ctx->xb, T, logits_all + (size_t)done * c->n_vocab);
        done += T;
        if (done == n_tokens) {
            if (logits_all)
                memcpy(ctx->logits, logits_all + (size_t)(n_tokens - 1) * c->n_vocab,
                       (size_t)c->n_vocab * sizeof(float));
            else
                rt_forward_logits(ctx, ctx->xb + (size_t)(T - 1) * c->n_embd, 1, ctx->logits);
            ctx->has_logits = true;
        }
    }
    return RT_OK;
}

/* Points b into lead's batch buffer for n rows, growing it first when it is smaller. */
static int batch_buffers(rt_context *lead, int n, rt_forward_buffers *b) {
    const rt_model_config *c = &lead->model->config;
    size_t C = (size_t)c->n_embd, q_dim = (size_t)c->n_head * c->head_dim,
           kv_dim = (size_t)c->n_kv_head * c->head_dim, F = (size_t)c->n_ff;
    size_t row = 3 * C + 2 * q_dim + 2 * kv_dim + 2 * F + (size_t)c->n_vocab;
    if (n > lead->batch_cap) {
        float *grown = NULL;
        if (!alloc_floats(&grown, (size_t)n, row))
            return rt_last_error_code() ? rt_last_error_code() : RT_ERR_NOMEM;
        free(lead->batch_buf);
        lead->batch_buf = grown;
        lead->batch_cap = n;
    }
    float *p = lead->batch_buf;
    size_t rows = (size_t)n;
    float **parts[] = {&b->x, &b->xb, &b->proj, &b->q, &b->att, &b->k, &b->v, &b->hb, &b->hb2,
                       &b->logits};
    size_t widths[] = {C, C, C, q_dim, q_dim, kv_dim, kv_dim, F, F, (size_t)c->n_vocab};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        *parts[i] = p;
        p += rows * widths[i];
    }
    return RT_OK;
}

int rt_decode_batch(rt_context *const *ctxs, const int32_t *tokens, int n) {
    if (n < 1 || !ctxs || !tokens)
        return rt_error(RT_ERR_INVALID, "decode batch: needs n >= 1 contexts and tokens");
    if (n > RT_DECODE_BATCH_MAX)
        return rt_error(RT_ERR_RANGE, "decode batch: %d sequences, at most %d", n,
                        RT_DECODE_BATCH_MAX);
    for (int i = 0; i < n; i++) {
        const rt_context *ctx = ctxs[i];
        if (!ctx) return rt_error(RT_ERR_INVALID, "decode batch: context %d is NULL", i);
        if (ctx->model != ctxs[0]->model)
            return rt_error(RT_ERR_INVALID, "decode batch: context %d has another model", i);
        if (ctx->model->config.arch == RT_ARCH_BERT)
            return rt_error(RT_ERR_UNSUPPORTED, "decode batch: %s is an encoder",
                            rt_arch_name(ctx->model->config.arch));
        if (ctx->n_past >= ctx->n_ctx)
            return rt_error(RT_ERR_RANGE, "decode batch: context %d is full (%d tokens)", i,
                            ctx->n_ctx);
        for (int j = 0; j < i; j++)
            if (ctxs[j] == ctx)
                return rt_error(RT_ERR_INVALID, "decode batch: contexts %d and %d are the same",
                                j, i);
        if (tokens[i] < 0 || tokens[i] >= ctx->model->config.n_vocab)
            return rt_error(RT_ERR_INVALID, "decode batch: token %d of sequence %d is outside "
                            "the vocabulary of %d", tokens[i], i, ctx->model->config.n_vocab);
    }
    rt_forward_buffers b;
    RT_TRY(batch_buffers(ctxs[0], n, &b));
    rt_forward_decode_batch(ctxs, tokens, n, &b);
    return RT_OK;
}

static void l2_normalize(float *v, int n) {
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    /* Like torch.nn.functional.normalize: divide by max(norm, 1e-12). */
    double norm = sqrt(ss);
    float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
    for (int i = 0; i < n; i++)
        v[i] *= inv;
}

int rt_model_embed(rt_context *ctx, const int32_t *tokens, int n_tokens, float *out) {
    const rt_model_config *c = &ctx->model->config;
    if (n_tokens <= 0) return rt_error(RT_ERR_INVALID, "embed: no tokens");
    RT_TRY(check_tokens(ctx, tokens, n_tokens));
    if (n_tokens > ctx->n_ctx)
        return rt_error(RT_ERR_RANGE, "embed: %d tokens exceed the context of %d", n_tokens,
                        ctx->n_ctx);
    int C = c->n_embd;
    ctx->n_past = 0;
    ctx->has_logits = false;
    for (int i = 0; i < C; i++)
        ctx->embd[i] = 0.0f;
    rt_pooling pooling = c->arch == RT_ARCH_BERT ? c->pooling : RT_POOLING_MEAN;
    for (int done = 0; done < n_tokens;) {
        int T = n_tokens - done < ctx->n_batch ? n_tokens - done : ctx->n_batch;
        rt_forward_chunk(ctx, tokens + done, NULL, T);
        for (int t = 0; t < T; t++) {
            const float *h = ctx->xb + (size_t)t * C;
            int pos = done + t;
            if (pooling == RT_POOLING_MEAN)
                for (int i = 0; i < C; i++)
                    ctx->embd[i] += h[i];
            else if ((pooling == RT_POOLING_CLS && pos == 0) ||
                     (pooling == RT_POOLING_LAST && pos == n_tokens - 1))
                memcpy(ctx->embd, h, (size_t)C * sizeof(float));
        }
        done += T;
    }
    if (pooling == RT_POOLING_MEAN)
        for (int i = 0; i < C; i++)
            ctx->embd[i] /= (float)n_tokens;
    l2_normalize(ctx->embd, C); /* always: the API promises unit vectors for cosine search */
    memcpy(out, ctx->embd, (size_t)C * sizeof(float));
    return RT_OK;
}

/* ---- batched embedding ------------------------------------------------------------------- */

/* Rows (tokens) of one packed pass at least: enough that each weight matrix, read once per pass,
 * serves many tokens. */
enum { EMBED_PACK_ROWS = 256, EMBED_MAX_THREADS = 256 };

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Floats of one thread's packed-pass buffers for `rows` tokens (x, xb, proj, q, att, k, v, hb,
 * hb2) plus its attention scratch (rows). */
static size_t embed_thread_floats(const rt_model_config *c, size_t rows) {
    size_t C = (size_t)c->n_embd, q_dim = (size_t)c->n_head * c->head_dim,
           kv_dim = (size_t)c->n_kv_head * c->head_dim, F = (size_t)c->n_ff;
    return rows * (3 * C + 2 * q_dim + 2 * kv_dim + 2 * F + 1);
}

/* Points b and *scores into thread g's share of ctx->embed_buf (rows tokens). */
static void embed_thread_buffers(rt_context *ctx, int g, size_t rows, rt_forward_buffers *b,
                                 float **scores) {
    const rt_model_config *c = &ctx->model->config;
    size_t C = (size_t)c->n_embd, q_dim = (size_t)c->n_head * c->head_dim,
           kv_dim = (size_t)c->n_kv_head * c->head_dim, F = (size_t)c->n_ff;
    float *p = ctx->embed_buf + (size_t)g * embed_thread_floats(c, rows);
    memset(b, 0, sizeof *b);
    float **parts[] = {&b->x, &b->xb, &b->proj, &b->q, &b->att, &b->k, &b->v, &b->hb, &b->hb2,
                       scores};
    size_t widths[] = {C, C, C, q_dim, q_dim, kv_dim, kv_dim, F, F, 1};
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        *parts[i] = p;
        p += rows * widths[i];
    }
}

/* Grows ctx's batched-embedding buffers to n_threads packed passes of rows tokens and the
 * bookkeeping of n sequences: ints = order (2n, as n int64), owner (n), seq (n), then per thread
 * its pack's tokens, lengths and sequence ids (3 rows). */
static int embed_reserve(rt_context *ctx, int n_threads, size_t rows, int n) {
    size_t floats, ints;
    if (!rt_mul_size(embed_thread_floats(&ctx->model->config, rows), (size_t)n_threads, &floats) ||
        !rt_mul_size(rows, 3 * (size_t)n_threads, &ints) || !rt_add_size(ints, 4 * (size_t)n, &ints))
        return rt_error(RT_ERR_RANGE, "embed batch: buffer size overflows");
    if (floats > ctx->embed_floats) {
        float *grown = NULL;
        if (!alloc_floats(&grown, floats, 1))
            return rt_last_error_code() ? rt_last_error_code() : RT_ERR_NOMEM;
        free(ctx->embed_buf);
        ctx->embed_buf = grown;
        ctx->embed_floats = floats;
    }
    if (ints > ctx->embed_n_ints) {
        int32_t *grown = rt_malloc(ints * sizeof *grown);
        if (!grown) return RT_ERR_NOMEM;
        free(ctx->embed_ints);
        ctx->embed_ints = grown;
        ctx->embed_n_ints = ints;
    }
    return RT_OK;
}

/* out (n_embd) = the pooled, L2-normalized embedding of one sequence's final hidden states
 * h (L, n_embd), as rt_model_embed pools them. */
static void pool_sequence(const rt_model_config *c, const float *h, int L, float *out) {
    int C = c->n_embd;
    rt_pooling pooling = c->arch == RT_ARCH_BERT ? c->pooling : RT_POOLING_MEAN;
    if (pooling == RT_POOLING_CLS || pooling == RT_POOLING_LAST) {
        memcpy(out, h + (pooling == RT_POOLING_CLS ? 0 : (size_t)(L - 1) * C),
               (size_t)C * sizeof(float));
    } else {
        memset(out, 0, (size_t)C * sizeof(float));
        for (int t = 0; t < L; t++)
            for (int i = 0; i < C; i++)
                out[i] += h[(size_t)t * C + i];
        for (int i = 0; i < C; i++)
            out[i] /= (float)L;
    }
    l2_normalize(out, C);
}

/* The sequences of thread g (seq[k] for owner[seq[k]] == g, in that order), in packed passes of
 * at most rows tokens, pooled into out. */
static void embed_thread(rt_context *ctx, int g, size_t rows, const int32_t *const *tokens,
                         const int *n_tokens, const int32_t *seq, const int32_t *owner, int n,
                         float *out) {
    const rt_model_config *c = &ctx->model->config;
    rt_forward_buffers b;
    float *scores;
    embed_thread_buffers(ctx, g, rows, &b, &scores);
    int32_t *pack_tokens = ctx->embed_ints + 4 * (size_t)n + (size_t)g * 3 * rows;
    int *pack_len = (int *)(pack_tokens + rows), *pack_ids = pack_len + rows;
    for (int k = 0; k < n;) {
        int n_pack = 0;
        size_t used = 0;
        for (; k < n; k++) {
            int i = seq[k];
            if (owner[i] != g) continue;
            if (used + (size_t)n_tokens[i] > rows) break;
            memcpy(pack_tokens + used, tokens[i], (size_t)n_tokens[i] * sizeof(int32_t));
            used += (size_t)n_tokens[i];
            pack_len[n_pack] = n_tokens[i];
            pack_ids[n_pack++] = i;
        }
        if (n_pack == 0) break;
        rt_forward_embed_packed(ctx, pack_tokens, pack_len, n_pack, &b, scores);
        const float *h = b.xb;
        for (int j = 0; j < n_pack; j++) {
            pool_sequence(c, h, pack_len[j], out + (size_t)pack_ids[j] * c->n_embd);
            h += (size_t)pack_len[j] * c->n_embd;
        }
    }
}

int rt_model_embed_batch(rt_context *ctx, const int32_t *const *tokens, const int *n_tokens, int n,
                         float *out) {
    if (!ctx || n < 0 || (n > 0 && (!tokens || !n_tokens || !out)))
        return rt_error(RT_ERR_INVALID, "embed batch: bad arguments");
    int longest = 0;
    for (int i = 0; i < n; i++) {
        if (n_tokens[i] <= 0) return rt_error(RT_ERR_INVALID, "embed batch: text %d has no tokens", i);
        if (n_tokens[i] > ctx->n_ctx)
            return rt_error(RT_ERR_RANGE, "embed batch: text %d has %d tokens, the context %d", i,
                            n_tokens[i], ctx->n_ctx);
        RT_TRY(check_tokens(ctx, tokens[i], n_tokens[i]));
        if (n_tokens[i] > longest) longest = n_tokens[i];
    }
    ctx->n_past = 0;
    ctx->has_logits = false;
    if (n == 0) return RT_OK;
    /* Threads at the outer loop: each thread runs whole packed passes over its own sequences,
     * its kernels on itself alone, so a pass synchronizes with no other thread (one kernel-level
     * parallel region per operation cost ~900 futex calls per 64-token text on 2 threads).
     * Adapters share ctx's scratch: one pass at a time then, its kernels threaded. */
    int n_threads = omp_in_parallel() || ctx->n_adapters ? 1 : omp_get_max_threads();
    if (n_threads > n) n_threads = n;
    if (n_threads > EMBED_MAX_THREADS) n_threads = EMBED_MAX_THREADS;
    size_t rows = longest > EMBED_PACK_ROWS ? (size_t)longest : EMBED_PACK_ROWS;
    RT_TRY(embed_reserve(ctx, n_threads, rows, n));
    /* Packing leaves no padding, so lengths need no sorting for efficiency; they are sorted
     * (longest first, then by index) only to balance tokens over threads: each sequence goes to
     * the thread with the fewest tokens so far. */
    int64_t *order = (int64_t *)ctx->embed_ints; /* (n) keys: longest first, then by index */
    int32_t *owner = ctx->embed_ints + 2 * (size_t)n, *seq = owner + n;
    for (int i = 0; i < n; i++)
        order[i] = (int64_t)(INT32_MAX - n_tokens[i]) << 32 | i;
    qsort(order, (size_t)n, sizeof *order, cmp_i64);
    for (int k = 0; k < n; k++)
        seq[k] = (int32_t)(order[k] & 0xffffffff);
    size_t load[EMBED_MAX_THREADS] = {0};
    for (int k = 0; k < n; k++) {
        int best = 0;
        for (int g = 1; g < n_threads; g++)
            if (load[g] < load[best]) best = g;
        owner[seq[k]] = best;
        load[best] += (size_t)n_tokens[seq[k]];
    }
#pragma omp parallel num_threads(n_threads) if (n_threads > 1)
    embed_thread(ctx, omp_get_thread_num(), rows, tokens, n_tokens, seq, owner, n, out);
    return RT_OK;
}
