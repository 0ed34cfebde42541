/*
 * forward.h — the forward pass of each architecture (llama, qwen2, gpt2, bert) over one chunk
 * of tokens, reading and extending a context's KV cache. Decoders: causal attention, the chunk
 * sits at positions ctx->n_past.. ; bert: one bidirectional pass over the whole input.
 * No allocation happens here; every buffer lives in the rt_context.
 */
#ifndef RT_MODEL_FORWARD_H
#define RT_MODEL_FORWARD_H

#include "model/model.h"

/* Runs T tokens (T <= n_batch, n_past + T <= n_ctx) through the model and leaves the final
 * normed hidden states in ctx->xb (T, n_embd); for decoders it appends the chunk to the cache
 * (n_past += T, tokens recorded). token_types: bert's token type ids (T), NULL for all 0;
 * ignored by decoders. Token ids and types must be checked by the caller. */
void rt_forward_chunk(rt_context *ctx, const int32_t *tokens, const int32_t *token_types, int T);

/* Working buffers of a batched decode step of n sequences (rows = sequences):
 * x, xb, proj (n, n_embd); q, att (n, n_head*head_dim); k, v (n, n_kv_head*head_dim);
 * hb, hb2 (n, n_ff); logits (n, n_vocab). */
typedef struct rt_forward_buffers {
    float *x, *xb, *q, *att, *proj, *hb, *hb2;
    float *k, *v, *logits;
} rt_forward_buffers;

/* One decode step of n decoder sequences at once: token i is appended to ctxs[i] (at its own
 * n_past, attending to its own cache with its own adapters) and its logits land in ctxs[i]'s
 * logits. Every weight matrix is read once for all n rows. The caller checks that the contexts
 * are distinct, share one model, have room for one token and that the tokens are in range. */
void rt_forward_decode_batch(rt_context *const *ctxs, const int32_t *tokens, int n,
                             const rt_forward_buffers *buffers);

/* An embedding pass over n_seq independent sequences packed one after another in tokens
 * (seq_len[i] tokens each, T = their sum): every weight multiply takes all T rows at once,
 * attention stays within each sequence (positions from 0; causal for decoders, bidirectional for
 * bert). Leaves the final hidden states (decoders: final-normed) in buffers->xb (T, n_embd);
 * x, xb, q, att, proj, k, v, hb, hb2 must hold T rows (k, v: n_kv_head*head_dim wide), scores
 * (longest seq_len) floats. Uses ctx's model and run-time adapters (whose scratch it shares, so
 * one call at a time per ctx when it has adapters), never its KV cache: several threads may run
 * packed passes on one ctx at once with their own buffers. Each call runs on the calling thread
 * when called inside an OpenMP parallel region (its kernels' regions are then inactive). */
void rt_forward_embed_packed(rt_context *ctx, const int32_t *tokens, const int *seq_len, int n_seq,
                             const rt_forward_buffers *buffers, float *scores);

/* out (T, n_vocab) = the output head applied to ctx->xb rows 0..T-1. */
void rt_forward_logits(rt_context *ctx, const float *hidden, int T, float *out);

#endif
