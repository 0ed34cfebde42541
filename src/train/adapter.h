/*
 * adapter.h — LoRA adapters on disk in PEFT's format: adapter_config.json (peft_type LORA, r,
 * lora_alpha, lora_dropout, target_modules, ...) and adapter_model.safetensors with PEFT's
 * tensor names ("base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight", A (r, n_in),
 * B (n_out, r)), llama.cpp's GGUF LoRA (adapter_gguf.c), and folding an adapter into its base
 * (ragtune merge).
 *
 * Names are the Hugging Face modules PEFT targets: llama/qwen2's split projections, gpt2's
 * Conv1D modules (attn.c_attn holding q, k, v fused, attn.c_proj, mlp.c_fc, mlp.c_proj). How
 * ragtune's separate q/k/v pairs map to and from one c_attn LoRA is described in adapter.c.
 */
#ifndef RT_TRAIN_ADAPTER_H
#define RT_TRAIN_ADAPTER_H

#include "train/tmodel.h"

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors for the LoRA matrices of m
 * (base_model may be NULL). Creates dir. */
int adapter_save_peft(const tmodel *m, const char *dir, const char *base_model);

/* Writes m's LoRA matrices as a llama.cpp GGUF LoRA adapter (llama, qwen2, gpt2), see
 * adapter_gguf.c. RT_ERR_UNSUPPORTED when the pairs' scales are not all alpha/rank. */
int adapter_save_gguf(const tmodel *m, const char *path);

/* Reads dir/adapter_config.json: rank r, alpha, dropout, targets (RT_LORA_* bits; gpt2's
 * c_attn sets q, k and v). Per-module rank_pattern / alpha_pattern are applied by
 * adapter_load_peft. */
int adapter_read_config(const char *dir, tm_options *opt);
/* The same from text in memory (`what` names it in errors). */
int adapter_config_parse(const char *text, size_t len, const char *what, tm_options *opt);

/* Copies the tensors of dir/adapter_model.safetensors into the LoRA matrices of m (created with
 * the options of adapter_read_config) and sets each linear's scale to PEFT's alpha/r for its
 * module. Every LoRA matrix of m must be present with its shape; a module whose rank (from
 * rank_pattern) the model cannot hold at its one LoRA rank is RT_ERR_UNSUPPORTED. */
int adapter_load_peft(tmodel *m, const char *dir);

/* One LoRA pair of a PEFT adapter, as read for linear j (q, k, v, o, gate, up, down) of a
 * layer of a model with configuration cfg: A (rank, n_in) and this linear's rows of B
 * (n_out, rank), f32, with q/k rows already in the model's RoPE order. For gpt2's fused c_attn
 * (fused true), q, k and v each get the module's whole A and their row block of B. */
typedef struct adapter_pair {
    int layer, j;
    const char *module; /* PEFT module path, e.g. "model.layers.3.self_attn.q_proj" */
    const char *path;   /* the safetensors file, for messages */
    const float *a;
    int64_t rank;
    const float *b;
    bool fused;
    float scale; /* PEFT's alpha/r of the module (rank_pattern, alpha_pattern, rsLoRA) */
} adapter_pair;
typedef int (*adapter_pair_fn)(void *user, const adapter_pair *p);

/* Reads the PEFT adapter in dir for a model with configuration cfg and calls fn for each
 * linear whose RT_LORA_* bit is in targets (every layer). A missing tensor is RT_ERR_NOT_FOUND,
 * a wrong shape RT_ERR_FORMAT, both naming the tensor; with strict, a tensor of the file that no
 * linear used (another n_layer, a module ragtune cannot adapt) is RT_ERR_INVALID naming it. */
int adapter_peft_each(const rt_model_config *cfg, unsigned targets, const char *dir,
                      bool strict, adapter_pair_fn fn, void *user);

/* The same for a llama.cpp GGUF LoRA file at path: general.type "adapter", adapter.type
 * "lora", general.architecture equal to cfg's (else RT_ERR_INVALID), pairs
 * "blk.N.<module>.weight.lora_a/_b" (gpt2: attn_qkv fused) scaled by adapter.lora.alpha / rank
 * (1 when alpha is 0). A tensor that fits no linear of cfg is RT_ERR_INVALID naming it. */
int adapter_gguf_each(const rt_model_config *cfg, const char *path, adapter_pair_fn fn,
                      void *user);

#endif
