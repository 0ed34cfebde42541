/*
 * forward.c — see forward.h. One function per architecture family:
 *   decoder (llama, qwen2, gpt2): pre-norm blocks; llama/qwen2 RMSNorm + RoPE + SwiGLU (qwen2
 *     with q/k/v biases), gpt2 LayerNorm + learned positions + GELU (tanh) with biases;
 *   bert: post-norm encoder, learned positions, token types (0), GELU (erf).
 * Keys and values are projected straight into the KV cache rows of the chunk.
 */
#include "model/forward.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "model/lora.h"
#include "model/ops.h"

#include <string.h>

static const float *f32_data(const rt_tensor *t) {
    return t->data ? (const float *)t->data : NULL;
}

/* dst (n) += row `index` of table (n_rows, n) of any dtype; tmp (n) scratch. */
static void add_embedding_row(float *dst, const rt_tensor *table, int64_t index, float *tmp, int n,
                              bool first) {
    size_t row_bytes = rt_tensor_row_bytes(table);
    const char *row = (const char *)table->data + (size_t)index * row_bytes;
    if (first) {
        rt_dequantize_row(table->dtype, row, dst, n);
        return;
    }
    rt_dequantize_row(table->dtype, row, tmp, n);
    for (int i = 0; i < n; i++)
        dst[i] += tmp[i];
}

/* out (T, n_out) = in W^T + bias for linear j (q, k, v, o, gate, up, down) of layer l, plus the
 * context's LoRA adapters' branches. */
static void linear(rt_context *ctx, int l, int j, float *out, const float *in, const rt_tensor *w,
                   const rt_tensor *bias, int T) {
    rt_matmul(out, in, w, bias ? f32_data(bias) : NULL, T);
    if (ctx->n_adapters) rt_lora_apply(ctx, l, j, out, in, T);
}

static void norm(const rt_model_config *c, float *out, const float *x, const rt_tensor *w,
                 const rt_tensor *b, int T) {
    if (c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2)
        rt_op_rmsnorm(out, x, f32_data(w), T, c->n_embd, c->norm_eps);
    else
        rt_op_layernorm(out, x, f32_data(w), f32_data(b), T, c->n_embd, c->norm_eps);
}

/* Attention sublayer of layer l for T tokens at positions pos0..: input ctx->xb, output
 * ctx->proj (T, n_embd). */
static void attention_block(rt_context *ctx, int l, int T, int pos0, bool causal) {
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_layer_weights *lw = &m->weights.layers[l];
    int kv_dim = c->n_kv_head * c->head_dim;
    size_t layer_off = (size_t)l * ctx->n_ctx * kv_dim;
    float *k_layer = ctx->k_cache + layer_off, *v_layer = ctx->v_cache + layer_off;
    float *k_new = k_layer + (size_t)pos0 * kv_dim, *v_new = v_layer + (size_t)pos0 * kv_dim;

    linear(ctx, l, 0, ctx->q, ctx->xb, &lw->wq, &lw->bq, T);
    linear(ctx, l, 1, k_new, ctx->xb, &lw->wk, &lw->bk, T);
    linear(ctx, l, 2, v_new, ctx->xb, &lw->wv, &lw->bv, T);
    if (ctx->rope) {
        rt_op_rope(ctx->q, ctx->rope, T, c->n_head, c->head_dim, pos0, c->rope_interleaved);
        rt_op_rope(k_new, ctx->rope, T, c->n_kv_head, c->head_dim, pos0, c->rope_interleaved);
    }
    rt_op_attention(ctx->att, ctx->q, k_layer, v_layer, T, pos0, pos0 + T, c->n_head, c->n_kv_head,
                    c->head_dim, (size_t)kv_dim, causal, ctx->scores, ctx->n_score_rows);
    linear(ctx, l, 3, ctx->proj, ctx->att, &lw->wo, &lw->bo, T);
}

/* Feed-forward sublayer of layer l: input ctx->xb (or `in`), output ctx->proj. */
static void ffn_block(rt_context *ctx, int l, const float *in, int T) {
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_layer_weights *lw = &m->weights.layers[l];
    size_t n = (size_t)T * c->n_ff;
    if (lw->ffn_gate.data) {
        linear(ctx, l, 4, ctx->hb, in, &lw->ffn_gate, NULL, T);
        linear(ctx, l, 5, ctx->hb2, in, &lw->ffn_up, NULL, T);
        rt_op_swiglu(ctx->hb, ctx->hb2, n);
    } else {
        linear(ctx, l, 5, ctx->hb, in, &lw->ffn_up, &lw->ffn_up_b, T);
        if (c->arch == RT_ARCH_BERT)
            rt_op_gelu_erf(ctx->hb, n);
        else
            rt_op_gelu_tanh(ctx->hb, n);
    }
    linear(ctx, l, 6, ctx->proj, ctx->hb, &lw->ffn_down, &lw->ffn_down_b, T);
}

/* types: bert token type ids (T), NULL for all 0. */
static void embed_tokens(rt_context *ctx, const int32_t *tokens, const int32_t *types, int T,
                         int pos0) {
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_model_weights *w = &m->weights;
    int C = c->n_embd;
    for (int t = 0; t < T; t++) {
        float *xt = ctx->x + (size_t)t * C;
        add_embedding_row(xt, &w->token_embd, tokens[t], ctx->proj, C, true);
        if (w->pos_embd.data) add_embedding_row(xt, &w->pos_embd, pos0 + t, ctx->proj, C, false);
        if (w->type_embd.data)
            add_embedding_row(xt, &w->type_embd, types ? types[t] : 0, ctx->proj, C, false);
    }
}

static void forward_decoder(rt_context *ctx, const int32_t *tokens, int T) {
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_model_weights *w = &m->weights;
    int pos0 = ctx->n_past;
    size_t n = (size_t)T * c->n_embd;
    embed_tokens(ctx, tokens, NULL, T, pos0);
    for (int l = 0; l < c->n_layer; l++) {
        const rt_layer_weights *lw = &w->layers[l];
        norm(c, ctx->xb, ctx->x, &lw->attn_norm, &lw->attn_norm_b, T);
        attention_block(ctx, l, T, pos0, true);
        rt_op_add(ctx->x, ctx->proj, n);
        norm(c, ctx->xb, ctx->x, &lw->ffn_norm, &lw->ffn_norm_b, T);
        ffn_block(ctx, l, ctx->xb, T);
        rt_op_add(ctx->x, ctx->proj, n);
    }
    norm(c, ctx->xb, ctx->x, &w->output_norm, &w->output_norm_b, T);
    memcpy(ctx->tokens + pos0, tokens, (size_t)T * sizeof *tokens);
    ctx->n_past += T;
}

/* BERT: x = LN(x + attn(x)); x = LN(x + ffn(x)). The result goes to ctx->xb. */
static void forward_bert(rt_context *ctx, const int32_t *tokens, const int32_t *types, int T) {
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_model_weights *w = &m->weights;
    size_t n = (size_t)T * c->n_embd;
    embed_tokens(ctx, tokens, types, T, 0);
    rt_op_layernorm(ctx->xb, ctx->x, f32_data(&w->embd_norm), f32_data(&w->embd_norm_b), T,
                    c->n_embd, c->norm_eps);
    for (int l = 0; l < c->n_layer; l++) {
        const rt_layer_weights *lw = &w->layers[l];
        attention_block(ctx, l, T, 0, false);
        rt_op_add(ctx->xb, ctx->proj, n);
        rt_op_layernorm(ctx->xb, ctx->xb, f32_data(&lw->attn_norm), f32_data(&lw->attn_norm_b), T,
                        c->n_embd, c->norm_eps);
        ffn_block(ctx, l, ctx->xb, T);
        rt_op_add(ctx->xb, ctx->proj, n);
        rt_op_layernorm(ctx->xb, ctx->xb, f32_data(&lw->ffn_norm), f32_data(&lw->ffn_norm_b), T,
                        c->n_embd, c->norm_eps);
    }
    memcpy(ctx->tokens, tokens, (size_t)T * sizeof *tokens);
    ctx->n_past = T;
}

void rt_forward_chunk(rt_context *ctx, const int32_t *tokens, const int32_t *token_types, int T) {
    if (ctx->model->config.arch == RT_ARCH_BERT)
        forward_bert(ctx, tokens, token_types, T);
    else
        forward_decoder(ctx, tokens, T);
}

void rt_forward_logits(rt_context *ctx, const float *hidden, int T, float *out) {
    const rt_model_weights *w = &ctx->model->weights;
    const rt_tensor *head = w->output.data ? &w->output : &w->token_embd;
    rt_matmul(out, hidden, head, NULL, T);
}
