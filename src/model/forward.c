/*
 * forward.c — see forward.h. One function per architecture family:
 *   decoder (llama, qwen2, gpt2): pre-norm blocks; llama/qwen2 RMSNorm + RoPE + SwiGLU (qwen2
 *     with q/k/v biases), gpt2 LayerNorm + learned positions + GELU (tanh) with biases;
 *   bert: post-norm encoder, learned positions, token types (0), GELU (erf).
 * Keys and values are projected straight into the KV cache rows of the chunk.
 * A batched decode step (one new token of each of several sequences) shares the code: the rows
 * of one step go through each weight multiply together, attention stays per sequence; so does a
 * packed embedding pass (independent sequences one after another, no KV cache).
 */
#include "model/forward.h"
#include "core/matmul.h"
#include "core/quant.h"
#include "core/team.h"
#include "model/lora.h"
#include "model/ops.h"

#include <omp.h>
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

/* One forward step: T tokens of one sequence (n_seq == 1, seqs[0] at its n_past), or one new
 * token of each of n_seq sequences (T == n_seq, row i belongs to seqs[i]; a batched decode), or
 * (pack_len set) the tokens of n_pack independent sequences packed one after another, each at
 * positions 0.., of seqs[0]'s model (n_seq == 1; an embedding pass, no KV cache).
 * Rows of the buffers follow the tokens. */
typedef struct fwd_step {
    rt_context *const *seqs;
    int n_seq;
    int T;
    rt_forward_buffers b;
    const int *pack_len; /* (n_pack) tokens of each packed sequence; NULL: not packed */
    int n_pack;
    float *pack_scores; /* (n_ctx) attention scratch of this step's thread */
} fwd_step;

/* The LoRA branches of linear j (q, k, v, o, gate, up, down) of layer l on out (T, n_out), for
 * each row's own context. */
static void lora_branches(const fwd_step *st, int l, int j, float *out, const float *in,
                          const rt_tensor *w) {
    size_t n_out = (size_t)w->shape[0], n_in = (size_t)w->shape[1];
    if (st->n_seq == 1) {
        rt_context *ctx = st->seqs[0];
        /* a packed step may have more rows than the adapters' scratch (n_batch) */
        for (int t = 0; ctx->n_adapters && t < st->T; t += ctx->n_batch)
            rt_lora_apply(ctx, l, j, out + t * n_out, in + t * n_in,
                          st->T - t < ctx->n_batch ? st->T - t : ctx->n_batch);
        return;
    }
    for (int i = 0; i < st->n_seq; i++)
        if (st->seqs[i]->n_adapters)
            rt_lora_apply(st->seqs[i], l, j, out + i * n_out, in + i * n_in, 1);
}

/* out (T, n_out) = in W^T + bias for linear j of layer l, plus the LoRA branches of each row's
 * own context: one multiply reads W once for every row. */
static void linear(const fwd_step *st, int l, int j, float *out, const float *in,
                   const rt_tensor *w, const rt_tensor *bias) {
    rt_matmul(out, in, w, bias ? f32_data(bias) : NULL, st->T);
    lora_branches(st, l, j, out, in, w);
}

/* Linears j0 .. j0 + n - 1 of layer l on the same input (q, k, v; gate, up) as one product
 * (rt_matmul_multi: one wake-up of the threads, small weights shared out as well). */
static void linears(const fwd_step *st, int l, int j0, int n, float *const *out, const float *in,
                    const rt_tensor *const *w, const rt_tensor *const *bias) {
    rt_matmul_item items[3] = {{0}};
    for (int i = 0; i < n; i++)
        items[i] = (rt_matmul_item){out[i], w[i], bias[i] ? f32_data(bias[i]) : NULL};
    rt_matmul_multi(in, st->T, items, n);
    for (int i = 0; i < n; i++)
        lora_branches(st, l, j0 + i, out[i], in, w[i]);
}

/* q, k, v of layer l from in (T, n_embd). */
static void qkv(const fwd_step *st, int l, const float *in, float *q, float *k, float *v) {
    const rt_layer_weights *lw = &st->seqs[0]->model->weights.layers[l];
    float *out[3] = {q, k, v};
    const rt_tensor *w[3] = {&lw->wq, &lw->wk, &lw->wv}, *bias[3] = {&lw->bq, &lw->bk, &lw->bv};
    linears(st, l, 0, 3, out, in, w, bias);
}

static void norm(const rt_model_config *c, float *out, const float *x, const rt_tensor *w,
                 const rt_tensor *b, int T) {
    if (c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2)
        rt_op_rmsnorm(out, x, f32_data(w), T, c->n_embd, c->norm_eps);
    else
        rt_op_layernorm(out, x, f32_data(w), f32_data(b), T, c->n_embd, c->norm_eps);
}

/* Attention sublayer of layer l for T tokens of one sequence at positions pos0..: input b.xb,
 * output b.proj (T, n_embd). Keys and values go straight into the cache rows of the chunk. */
static void attention_block(const fwd_step *st, int l, int pos0, bool causal) {
    rt_context *ctx = st->seqs[0];
    const rt_model *m = ctx->model;
    const rt_model_config *c = &m->config;
    const rt_layer_weights *lw = &m->weights.layers[l];
    const rt_forward_buffers *b = &st->b;
    int T = st->T;
    int kv_dim = c->n_kv_head * c->head_dim;
    size_t layer_off = (size_t)l * ctx->n_ctx * kv_dim;
    float *k_layer = ctx->k_cache + layer_off, *v_layer = ctx->v_cache + layer_off;
    float *k_new = k_layer + (size_t)pos0 * kv_dim, *v_new = v_layer + (size_t)pos0 * kv_dim;

    qkv(st, l, b->xb, b->q, k_new, v_new);
    if (ctx->rope) {
        rt_op_rope(b->q, ctx->rope, T, c->n_head, c->head_dim, pos0, c->rope_interleaved);
        rt_op_rope(k_new, ctx->rope, T, c->n_kv_head, c->head_dim, pos0, c->rope_interleaved);
    }
    rt_op_attention(b->att, b->q, k_layer, v_layer, T, pos0, pos0 + T, c->n_head, c->n_kv_head,
                    c->head_dim, (size_t)kv_dim, causal, ctx->scores, ctx->n_score_rows);
    linear(st, l, 3, b->proj, b->att, &lw->wo, &lw->bo);
}

typedef struct batch_attention_job {
    const fwd_step *st;
    int l;
} batch_attention_job;

/* Sequences [lo, hi) of a batched decode step's attention in layer l (q, k, v computed). */
static void batch_attention_seqs(void *arg, int thread, int lo, int hi) {
    (void)thread;
    const batch_attention_job *j = arg;
    const fwd_step *st = j->st;
    const rt_model_config *c = &st->seqs[0]->model->config;
    const rt_forward_buffers *b = &st->b;
    int kv_dim = c->n_kv_head * c->head_dim, q_dim = c->n_head * c->head_dim;
    for (int i = lo; i < hi; i++) {
        rt_context *ctx = st->seqs[i];
        int pos = ctx->n_past;
        size_t layer_off = (size_t)j->l * ctx->n_ctx * kv_dim;
        float *k_layer = ctx->k_cache + layer_off, *v_layer = ctx->v_cache + layer_off;
        float *q = b->q + (size_t)i * q_dim, *k = b->k + (size_t)i * kv_dim;
        if (ctx->rope) {
            rt_op_rope(q, ctx->rope, 1, c->n_head, c->head_dim, pos, c->rope_interleaved);
            rt_op_rope(k, ctx->rope, 1, c->n_kv_head, c->head_dim, pos, c->rope_interleaved);
        }
        memcpy(k_layer + (size_t)pos * kv_dim, k, (size_t)kv_dim * sizeof(float));
        memcpy(v_layer + (size_t)pos * kv_dim, b->v + (size_t)i * kv_dim,
               (size_t)kv_dim * sizeof(float));
        /* inside a team run (more than one sequence), the kernel runs on this thread with row 0
         * of ctx's scores */
        rt_op_attention(b->att + (size_t)i * q_dim, q, k_layer, v_layer, 1, pos, pos + 1, c->n_head,
                        c->n_kv_head, c->head_dim, (size_t)kv_dim, true, ctx->scores,
                        ctx->n_score_rows);
    }
}

/* The same for a batched decode step: q, k, v of all rows in one multiply each, then per
 * sequence its RoPE at its own position, its new key/value row appended to its own cache and
 * attention over that cache alone (sequences of different lengths never see each other). */
static void attention_batch(const fwd_step *st, int l) {
    const rt_layer_weights *lw = &st->seqs[0]->model->weights.layers[l];
    const rt_forward_buffers *b = &st->b;
    qkv(st, l, b->xb, b->q, b->k, b->v);
    batch_attention_job j = {st, l};
    rt_team_for(st->n_seq, 1, rt_get_threads(), batch_attention_seqs, &j);
    linear(st, l, 3, b->proj, b->att, &lw->wo, &lw->bo);
}

/* The same for a packed step: q, k, v of all rows in one multiply each, then per sequence RoPE
 * from position 0 and attention over its own rows only (a block-diagonal mask), on this thread:
 * packed steps run one per thread (see rt_forward_embed_packed). Input `in`, output b.proj. */
static void attention_packed(const fwd_step *st, int l, const float *in, bool causal) {
    const rt_context *ctx = st->seqs[0];
    const rt_model_config *c = &ctx->model->config;
    const rt_layer_weights *lw = &ctx->model->weights.layers[l];
    const rt_forward_buffers *b = &st->b;
    size_t kv_dim = (size_t)c->n_kv_head * c->head_dim, q_dim = (size_t)c->n_head * c->head_dim;
    /* alone (outside a parallel region), attention may thread over heads with ctx's scratch */
    bool alone = !omp_in_parallel();
    float *scores = alone ? ctx->scores : st->pack_scores;
    int n_score_rows = alone ? ctx->n_score_rows : 1;

    qkv(st, l, in, b->q, b->k, b->v);
    for (int i = 0, t0 = 0; i < st->n_pack; t0 += st->pack_len[i++]) {
        int L = st->pack_len[i];
        float *q = b->q + t0 * q_dim, *k = b->k + t0 * kv_dim;
        if (ctx->rope) {
            rt_op_rope(q, ctx->rope, L, c->n_head, c->head_dim, 0, c->rope_interleaved);
            rt_op_rope(k, ctx->rope, L, c->n_kv_head, c->head_dim, 0, c->rope_interleaved);
        }
        rt_op_attention(b->att + t0 * q_dim, q, k, b->v + t0 * kv_dim, L, 0, L, c->n_head,
                        c->n_kv_head, c->head_dim, kv_dim, causal, scores, n_score_rows);
    }
    linear(st, l, 3, b->proj, b->att, &lw->wo, &lw->bo);
}

/* Feed-forward sublayer of layer l: input `in`, output b.proj. */
static void ffn_block(const fwd_step *st, int l, const float *in) {
    const rt_model *m = st->seqs[0]->model;
    const rt_model_config *c = &m->config;
    const rt_layer_weights *lw = &m->weights.layers[l];
    const rt_forward_buffers *b = &st->b;
    size_t n = (size_t)st->T * c->n_ff;
    if (lw->ffn_gate.data) {
        float *out[2] = {b->hb, b->hb2};
        const rt_tensor *w[2] = {&lw->ffn_gate, &lw->ffn_up}, *bias[2] = {NULL, NULL};
        linears(st, l, 4, 2, out, in, w, bias);
        rt_op_swiglu(b->hb, b->hb2, n);
    } else {
        linear(st, l, 5, b->hb, in, &lw->ffn_up, &lw->ffn_up_b);
        if (c->arch == RT_ARCH_BERT)
            rt_op_gelu_erf(b->hb, n);
        else
            rt_op_gelu_tanh(b->hb, n);
    }
    linear(st, l, 6, b->proj, b->hb, &lw->ffn_down, &lw->ffn_down_b);
}

/* x (n_embd) = embedding of token at position pos (bert: with token type `type`); tmp scratch. */
static void embed_token(const rt_model *m, float *x, int32_t token, int32_t type, int pos,
                        float *tmp) {
    const rt_model_weights *w = &m->weights;
    int C = m->config.n_embd;
    add_embedding_row(x, &w->token_embd, token, tmp, C, true);
    if (w->pos_embd.data) add_embedding_row(x, &w->pos_embd, pos, tmp, C, false);
    if (w->type_embd.data) add_embedding_row(x, &w->type_embd, type, tmp, C, false);
}

/* types: bert token type ids (T), NULL for all 0. */
static void embed_tokens(const fwd_step *st, const int32_t *tokens, const int32_t *types,
                         int pos0) {
    const rt_model *m = st->seqs[0]->model;
    int C = m->config.n_embd;
    for (int t = 0, seq = 0, seq_start = 0; t < st->T; t++) {
        int pos = pos0 + t;
        if (st->n_seq > 1) {
            pos = st->seqs[t]->n_past;
        } else if (st->pack_len) { /* positions restart at each packed sequence */
            while (t - seq_start >= st->pack_len[seq])
                seq_start += st->pack_len[seq++];
            pos = t - seq_start;
        }
        embed_token(m, st->b.x + (size_t)t * C, tokens[t], types ? types[t] : 0, pos, st->b.proj);
    }
}

/* The decoder blocks over the step's rows; the final normed hidden states go to b.xb. */
static void decoder_layers(const fwd_step *st, const int32_t *tokens, int pos0) {
    const rt_model *m = st->seqs[0]->model;
    const rt_model_config *c = &m->config;
    const rt_model_weights *w = &m->weights;
    const rt_forward_buffers *b = &st->b;
    size_t n = (size_t)st->T * c->n_embd;
    embed_tokens(st, tokens, NULL, pos0);
    for (int l = 0; l < c->n_layer; l++) {
        const rt_layer_weights *lw = &w->layers[l];
        norm(c, b->xb, b->x, &lw->attn_norm, &lw->attn_norm_b, st->T);
        if (st->pack_len)
            attention_packed(st, l, b->xb, true);
        else if (st->n_seq == 1)
            attention_block(st, l, pos0, true);
        else
            attention_batch(st, l);
        rt_op_add(b->x, b->proj, n);
        norm(c, b->xb, b->x, &lw->ffn_norm, &lw->ffn_norm_b, st->T);
        ffn_block(st, l, b->xb);
        rt_op_add(b->x, b->proj, n);
    }
    norm(c, b->xb, b->x, &w->output_norm, &w->output_norm_b, st->T);
}

static rt_forward_buffers context_buffers(rt_context *ctx) {
    rt_forward_buffers b = {.x = ctx->x,
                            .xb = ctx->xb,
                            .q = ctx->q,
                            .att = ctx->att,
                            .proj = ctx->proj,
                            .hb = ctx->hb,
                            .hb2 = ctx->hb2};
    return b;
}

static void forward_decoder(rt_context *ctx, const int32_t *tokens, int T) {
    fwd_step st = {.seqs = &ctx, .n_seq = 1, .T = T, .b = context_buffers(ctx)};
    int pos0 = ctx->n_past;
    decoder_layers(&st, tokens, pos0);
    memcpy(ctx->tokens + pos0, tokens, (size_t)T * sizeof *tokens);
    ctx->n_past += T;
}

/* BERT over the step's rows: x = LN(x + attn(x)); x = LN(x + ffn(x)). The result goes to b.xb. */
static void bert_layers(const fwd_step *st, const int32_t *tokens, const int32_t *types) {
    const rt_model *m = st->seqs[0]->model;
    const rt_model_config *c = &m->config;
    const rt_model_weights *w = &m->weights;
    const rt_forward_buffers *b = &st->b;
    int T = st->T;
    size_t n = (size_t)T * c->n_embd;
    embed_tokens(st, tokens, types, 0);
    rt_op_layernorm(b->xb, b->x, f32_data(&w->embd_norm), f32_data(&w->embd_norm_b), T, c->n_embd,
                    c->norm_eps);
    for (int l = 0; l < c->n_layer; l++) {
        const rt_layer_weights *lw = &w->layers[l];
        if (st->pack_len)
            attention_packed(st, l, b->xb, false);
        else
            attention_block(st, l, 0, false);
        rt_op_add(b->xb, b->proj, n);
        rt_op_layernorm(b->xb, b->xb, f32_data(&lw->attn_norm), f32_data(&lw->attn_norm_b), T,
                        c->n_embd, c->norm_eps);
        ffn_block(st, l, b->xb);
        rt_op_add(b->xb, b->proj, n);
        rt_op_layernorm(b->xb, b->xb, f32_data(&lw->ffn_norm), f32_data(&lw->ffn_norm_b), T,
                        c->n_embd, c->norm_eps);
    }
}

static void forward_bert(rt_context *ctx, const int32_t *tokens, const int32_t *types, int T) {
    fwd_step st = {.seqs = &ctx, .n_seq = 1, .T = T, .b = context_buffers(ctx)};
    bert_layers(&st, tokens, types);
    memcpy(ctx->tokens, tokens, (size_t)T * sizeof *tokens);
    ctx->n_past = T;
}

void rt_forward_decode_batch(rt_context *const *ctxs, const int32_t *tokens, int n,
                             const rt_forward_buffers *buffers) {
    const rt_model *m = ctxs[0]->model;
    fwd_step st = {.seqs = ctxs, .n_seq = n, .T = n, .b = *buffers};
    decoder_layers(&st, tokens, ctxs[0]->n_past); /* pos0 matters for n == 1 only */
    rt_forward_logits(ctxs[0], st.b.xb, n, st.b.logits);
    int n_vocab = m->config.n_vocab;
    for (int i = 0; i < n; i++) {
        rt_context *ctx = ctxs[i];
        ctx->tokens[ctx->n_past++] = tokens[i];
        memcpy(ctx->logits, st.b.logits + (size_t)i * n_vocab, (size_t)n_vocab * sizeof(float));
        ctx->has_logits = true;
    }
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

void rt_forward_embed_packed(rt_context *ctx, const int32_t *tokens, const int *seq_len, int n_seq,
                             const rt_forward_buffers *buffers, float *scores) {
    int T = 0;
    for (int i = 0; i < n_seq; i++)
        T += seq_len[i];
    fwd_step st = {.seqs = &ctx,
                   .n_seq = 1,
                   .T = T,
                   .b = *buffers,
                   .pack_len = seq_len,
                   .n_pack = n_seq,
                   .pack_scores = scores};
    if (ctx->model->config.arch == RT_ARCH_BERT)
        bert_layers(&st, tokens, NULL);
    else
        decoder_layers(&st, tokens, 0);
}
