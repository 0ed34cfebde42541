/*
 * config.h — the hyper-parameters of a transformer, whatever file they came from
 * (config.json of a Hugging Face directory, or GGUF metadata), and the weights of one model as
 * tensor views. Every layer of ragtune that touches a model (inference, training, adapters,
 * conversion) uses these two structs.
 *
 * Weight shapes (row-major, PyTorch order; a linear layer's weight is (n_out, n_in)):
 *   token_embd   (n_vocab, n_embd)
 *   pos_embd     (n_ctx_train, n_embd)                 gpt2, bert only
 *   type_embd    (n_type_vocab, n_embd)                bert only
 *   embd_norm    (n_embd) [+ bias]                     bert only (embeddings LayerNorm)
 *   per layer:
 *     attn_norm  (n_embd) [+ bias for LayerNorm]       bert: post-attention LayerNorm
 *     wq (n_head*head_dim, n_embd)   [bq (n_head*head_dim)]      bias: qwen2, gpt2, bert
 *     wk (n_kv_head*head_dim, n_embd) [bk]
 *     wv (n_kv_head*head_dim, n_embd) [bv]
 *     wo (n_embd, n_head*head_dim)   [bo]                         bias: gpt2, bert
 *     ffn_norm   (n_embd) [+ bias]                     bert: post-FFN LayerNorm
 *     ffn_gate   (n_ff, n_embd)                        llama/qwen2 (SwiGLU) only
 *     ffn_up     (n_ff, n_embd)   [bias: gpt2, bert]
 *     ffn_down   (n_embd, n_ff)   [bias: gpt2, bert]
 *   output_norm  (n_embd) [+ bias]                     decoders
 *   output       (n_vocab, n_embd)                     absent (NULL data) when tied
 */
#ifndef RT_MODEL_CONFIG_H
#define RT_MODEL_CONFIG_H

#include "core/tensor.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum rt_arch {
    RT_ARCH_UNKNOWN = 0,
    RT_ARCH_LLAMA, /* Llama 2/3, SmolLM, TinyLlama, Mistral */
    RT_ARCH_QWEN2, /* llama + q/k/v bias */
    RT_ARCH_GPT2,
    RT_ARCH_BERT, /* encoder, for embeddings */
} rt_arch;

typedef enum rt_pooling {
    RT_POOLING_MEAN = 0,
    RT_POOLING_CLS = 1,
    RT_POOLING_LAST = 2,
} rt_pooling;

typedef struct rt_model_config {
    rt_arch arch;
    int n_vocab;
    int n_embd; /* hidden size */
    int n_layer;
    int n_head;
    int n_kv_head;    /* == n_head without grouped-query attention */
    int head_dim;     /* usually n_embd / n_head */
    int n_ff;         /* feed-forward inner size */
    int n_ctx_train;  /* max_position_embeddings */
    int n_type_vocab; /* bert token types (2); 0 otherwise */
    float norm_eps;   /* rms_norm_eps or layer_norm_eps */
    float rope_theta;
    /* RoPE pairing. false: Hugging Face rotate_half (pairs i and i+head_dim/2), as HF llama and
     * qwen2 checkpoints expect. true: interleaved pairs (2i, 2i+1), as GGUF llama files expect
     * (llama.cpp's converter permutes the rows of wq/wk for it). */
    bool rope_interleaved;
    /* Llama-3 rope scaling ("rope_type": "llama3"); factor 0 = none. */
    float rope_scaling_factor;
    float rope_low_freq_factor;
    float rope_high_freq_factor;
    int rope_original_ctx;
    bool tied_embeddings;
    bool attn_bias;                               /* q/k/v biases (qwen2, gpt2, bert) */
    rt_pooling pooling;                           /* bert / embeddings */
    bool normalize_embeddings;                    /* L2-normalize pooled embeddings */
    int bos_token_id, eos_token_id, pad_token_id; /* -1 when unknown */
} rt_model_config;

typedef struct rt_layer_weights {
    rt_tensor attn_norm, attn_norm_b;
    rt_tensor wq, wk, wv, wo;
    rt_tensor bq, bk, bv, bo;
    rt_tensor ffn_norm, ffn_norm_b;
    rt_tensor ffn_gate, ffn_up, ffn_down;
    rt_tensor ffn_up_b, ffn_down_b;
} rt_layer_weights;

typedef struct rt_model_weights {
    rt_tensor token_embd, pos_embd, type_embd;
    rt_tensor embd_norm, embd_norm_b;
    rt_layer_weights *layers; /* n_layer */
    rt_tensor output_norm, output_norm_b;
    rt_tensor output; /* data NULL when tied to token_embd */
} rt_model_weights;

/* "llama", "qwen2", "gpt2", "bert" (GGUF general.architecture names). */
const char *rt_arch_name(rt_arch arch);
rt_arch rt_arch_from_name(const char *name);

#endif
