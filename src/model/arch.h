/*
 * arch.h — one description per architecture (llama, qwen2, gpt2, bert), as llama.cpp's
 * llama-arch.cpp: the names an architecture goes by in config.json and GGUF, the GGUF metadata
 * key prefix, its tensor names per role in Hugging Face and GGUF files, which roles it has, its
 * norm, activation and position encoding, and its default LoRA targets. The loaders, the GGUF
 * writer and the adapter code look names up here instead of keeping their own switch.
 *
 * What is not data stays with the code: the forward passes (model/forward.c, train/tmodel.c),
 * GPT-2's Conv1D transposes and fused c_attn/attn_qkv, BERT's old gamma/beta LayerNorm names,
 * llama.cpp's q/k row permutation and Llama-3 rope scaling.
 */
#ifndef RT_MODEL_ARCH_H
#define RT_MODEL_ARCH_H

#include "model/config.h"

typedef enum rt_arch_norm {
    RT_ARCH_NORM_RMS,   /* RMSNorm, weight only */
    RT_ARCH_NORM_LAYER, /* LayerNorm, weight and bias */
} rt_arch_norm;

typedef enum rt_arch_act {
    RT_ARCH_ACT_SILU_GLU, /* down(silu(gate(x)) * up(x)) */
    RT_ARCH_ACT_GELU,     /* down(gelu(up(x) + b) ) + b (tanh approximation for gpt2) */
} rt_arch_act;

typedef enum rt_arch_pos {
    RT_ARCH_POS_ROPE,    /* rotary, on q and k */
    RT_ARCH_POS_LEARNED, /* a position embedding table added to the token embedding */
} rt_arch_pos;

/* The linear projections of a layer, in the order of train/tmodel's linears and adapters. */
typedef enum rt_arch_linear {
    RT_LIN_Q,
    RT_LIN_K,
    RT_LIN_V,
    RT_LIN_O,
    RT_LIN_GATE,
    RT_LIN_UP,
    RT_LIN_DOWN,
    RT_N_LIN
} rt_arch_linear;

typedef struct rt_arch_info {
    rt_arch arch;
    /* GGUF general.architecture, the prefix of its metadata keys ("<name>.block_count"), and
     * HF config.json's model_type */
    const char *name;
    const char *const *model_type_aliases; /* other model_type values (NULL-terminated) */
    /* config.json "architectures"[0] prefixes that select it, and prefixes that do not
     * (NULL-terminated; e.g. Qwen2Moe is not qwen2) */
    const char *const *hf_classes;
    const char *const *hf_classes_not;

    rt_arch_norm norm;
    rt_arch_act act;
    rt_arch_pos pos;
    bool encoder;          /* bidirectional attention, embeddings instead of logits (bert) */
    bool attn_bias;        /* q/k/v biases always present (else optional, by the file) */
    bool out_bias;         /* attention output and FFN biases */
    bool token_types;      /* a token-type embedding and an embedding norm (bert) */
    const char *gguf_norm_eps_key;   /* "<name>." + this */
    float norm_eps_default;          /* when the key is absent */
    bool gguf_rope_interleaved;      /* llama.cpp stores wq/wk rows permuted (llama only) */
    bool gguf_fused_qkv;             /* q, k, v as one blk.N.attn_qkv (gpt2) */
    bool gguf_tied_output_copy;      /* llama.cpp's converter writes the tied output as a copy */

    /* GGUF tensor names: per layer "blk.N.<base>.weight|bias" */
    const char *gguf_attn_norm, *gguf_ffn_norm;
    const char *gguf_linear[RT_N_LIN]; /* NULL: the role does not exist */

    /* Hugging Face tensor names: hf_prefix (when the file has it) + name; per layer
     * hf_prefix + hf_layer (with %d) + name; hf_output has no prefix */
    const char *hf_prefix;
    const char *hf_write_prefix; /* the prefix rt_hf_write gives them (BertModel's: none) */
    const char *hf_token_embd, *hf_pos_embd, *hf_type_embd, *hf_embd_norm;
    const char *hf_output_norm, *hf_output;
    const char *hf_layer;
    const char *hf_attn_norm, *hf_ffn_norm;
    const char *hf_linear[RT_N_LIN]; /* module paths in a layer (fused ones repeat); NULL: none */

    /* LoRA: the default target modules (rt_train_params.lora_targets' syntax) */
    const char *lora_targets;
} rt_arch_info;

/* The description of arch; NULL for RT_ARCH_UNKNOWN or an out-of-range value. */
const rt_arch_info *rt_arch_get(rt_arch arch);
/* The architecture a config.json "architectures" class name selects (RT_ARCH_UNKNOWN: none). */
rt_arch rt_arch_from_hf_class(const char *class_name);

#endif
