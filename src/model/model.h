/*
 * model.h — the internals of rt_model (configuration + weights, read-only once loaded) and
 * rt_context (one sequence: KV cache, token history and every working buffer of the forward
 * pass, allocated once in rt_context_new so that the hot loop never allocates).
 *
 * Loading a file is model_file's job (GGUF, safetensors); this module validates the tensors'
 * shapes against the configuration, converts the small tensors (norms, biases) to f32 and,
 * on request, the projection weights to another dtype (e.g. q8_0). The forward pass itself is
 * in forward.c.
 */
#ifndef RT_MODEL_MODEL_H
#define RT_MODEL_MODEL_H

#include "model/config.h"
#include "ragtune.h"

struct rt_model {
    rt_model_config config;
    rt_model_weights weights; /* views; into the file's map or into `owned` */
    rt_layer_weights *layers; /* storage behind weights.layers (n_layer) */
    void *file;               /* the rt_model_file the views point into; NULL if none */
    void (*file_close)(void *file);
    rt_tensor *owned; /* converted tensors, freed with the model */
    int n_owned, cap_owned;
    uint64_t n_params;
    uint64_t weight_bytes; /* bytes read per token: all layers + output head */
};

struct rt_context {
    rt_model *model;
    int n_ctx;                /* longest sequence */
    int n_batch;              /* tokens per forward chunk */
    int n_past;               /* tokens in the cache */
    int32_t *tokens;          /* (n_ctx) the sequence */
    float *k_cache, *v_cache; /* (n_layer, n_ctx, n_kv_head*head_dim) */
    float *rope;              /* (n_ctx, head_dim/2, 2) cos/sin; NULL without RoPE */
    /* working buffers, one chunk of n_batch tokens */
    float *x;        /* (n_batch, n_embd) residual stream */
    float *xb;       /* (n_batch, n_embd) normed input of a sublayer */
    float *q;        /* (n_batch, n_head*head_dim) */
    float *att;      /* (n_batch, n_head*head_dim) attention output */
    float *proj;     /* (n_batch, n_embd) output of wo / ffn_down */
    float *hb, *hb2; /* (n_batch, n_ff) */
    float *scores;   /* (n_score_rows, n_ctx) one attention row per thread */
    int n_score_rows;
    float *logits; /* (n_vocab) of the last token */
    bool has_logits;
    float *embd; /* (n_embd) pooled embedding accumulator */
    /* run-time LoRA adapters (model/lora.c); none by default */
    rt_adapter **adapters;  /* (n_adapters) not owned */
    float *adapter_scales;  /* (n_adapters) */
    int n_adapters;
    float *lora_tmp; /* (n_batch, largest rank of the adapters) */
    /* working buffers of rt_decode_batch steps this context leads (ctxs[0]); grown to the
     * largest batch seen, NULL until the first */
    float *batch_buf;
    int batch_cap; /* rows batch_buf holds */
    /* working buffers of rt_model_embed_batch (one packed pass per thread); grown to the
     * largest call, NULL until the first */
    float *embed_buf;
    size_t embed_floats; /* floats embed_buf holds */
    int32_t *embed_ints;
    size_t embed_n_ints; /* int32s embed_ints holds */
};

/* Builds a model over weights that stay owned by the caller (or by `file`, which the model
 * closes with file_close when freed). Checks every shape against config. */
int rt_model_from_weights(const rt_model_config *config, const rt_model_weights *weights,
                          const rt_model_params *params, void *file, void (*file_close)(void *file),
                          rt_model **out);

#endif
