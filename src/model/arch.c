/*
 * arch.c — see arch.h: the table of architectures.
 */
#include "model/arch.h"

#include <string.h>

static const char *const llama_aliases[] = {"mistral", NULL};
static const char *const llama_classes[] = {"Llama", "Mistral", NULL};
static const char *const qwen2_classes[] = {"Qwen2", NULL};
static const char *const qwen2_not[] = {"Qwen2Moe", "Qwen2VL", NULL};
static const char *const gpt2_classes[] = {"GPT2", NULL};
static const char *const bert_classes[] = {"Bert", NULL};

/* llama and qwen2 differ only in their names, q/k/v biases and llama.cpp's row permutation. */
#define LLAMA_FAMILY                                                                               \
    .norm = RT_ARCH_NORM_RMS, .act = RT_ARCH_ACT_SILU_GLU, .pos = RT_ARCH_POS_ROPE,                \
    .gguf_norm_eps_key = "attention.layer_norm_rms_epsilon", .norm_eps_default = 1e-5f,            \
    .gguf_attn_norm = "attn_norm", .gguf_ffn_norm = "ffn_norm",                                    \
    .gguf_linear = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",             \
                    "ffn_down"},                                                                   \
    .hf_prefix = "model.", .hf_write_prefix = "model.", .hf_token_embd = "embed_tokens.weight",                                 \
    .hf_output_norm = "norm", .hf_output = "lm_head.weight", .hf_layer = "layers.%d.",             \
    .hf_attn_norm = "input_layernorm", .hf_ffn_norm = "post_attention_layernorm",                  \
    .hf_linear = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",  \
                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"},                                \
    .lora_targets = "all-linear"

static const rt_arch_info arch_table[] = {
    {
        .arch = RT_ARCH_LLAMA,
        .name = "llama",
        .model_type_aliases = llama_aliases,
        .hf_classes = llama_classes,
        .gguf_rope_interleaved = true,
        LLAMA_FAMILY,
    },
    {
        .arch = RT_ARCH_QWEN2,
        .name = "qwen2",
        .hf_classes = qwen2_classes,
        .hf_classes_not = qwen2_not,
        .attn_bias = true,
        LLAMA_FAMILY,
    },
    {
        .arch = RT_ARCH_GPT2,
        .name = "gpt2",
        .hf_classes = gpt2_classes,
        .norm = RT_ARCH_NORM_LAYER,
        .act = RT_ARCH_ACT_GELU,
        .pos = RT_ARCH_POS_LEARNED,
        .attn_bias = true,
        .out_bias = true,
        .gguf_norm_eps_key = "attention.layer_norm_epsilon",
        .norm_eps_default = 1e-5f,
        .gguf_fused_qkv = true,
        .gguf_tied_output_copy = true,
        .gguf_attn_norm = "attn_norm",
        .gguf_ffn_norm = "ffn_norm",
        .gguf_linear = {"attn_qkv", "attn_qkv", "attn_qkv", "attn_output", NULL, "ffn_up",
                        "ffn_down"},
        .hf_prefix = "transformer.",
        .hf_write_prefix = "transformer.",
        .hf_token_embd = "wte.weight",
        .hf_pos_embd = "wpe.weight",
        .hf_output_norm = "ln_f",
        .hf_output = "lm_head.weight",
        .hf_layer = "h.%d.",
        .hf_attn_norm = "ln_1",
        .hf_ffn_norm = "ln_2",
        .hf_linear = {"attn.c_attn", "attn.c_attn", "attn.c_attn", "attn.c_proj", NULL,
                      "mlp.c_fc", "mlp.c_proj"},
        .lora_targets = "all-linear",
    },
    {
        .arch = RT_ARCH_BERT,
        .name = "bert",
        .hf_classes = bert_classes,
        .norm = RT_ARCH_NORM_LAYER,
        .act = RT_ARCH_ACT_GELU,
        .pos = RT_ARCH_POS_LEARNED,
        .encoder = true,
        .attn_bias = true,
        .out_bias = true,
        .token_types = true,
        .gguf_norm_eps_key = "attention.layer_norm_epsilon",
        .norm_eps_default = 1e-12f,
        .gguf_attn_norm = "attn_output_norm", /* post-norm: after attention */
        .gguf_ffn_norm = "layer_output_norm",
        .gguf_linear = {"attn_q", "attn_k", "attn_v", "attn_output", NULL, "ffn_up", "ffn_down"},
        .hf_prefix = "bert.",
        .hf_write_prefix = "",
        .hf_token_embd = "embeddings.word_embeddings.weight",
        .hf_pos_embd = "embeddings.position_embeddings.weight",
        .hf_type_embd = "embeddings.token_type_embeddings.weight",
        .hf_embd_norm = "embeddings.LayerNorm",
        .hf_layer = "encoder.layer.%d.",
        .hf_attn_norm = "attention.output.LayerNorm",
        .hf_ffn_norm = "output.LayerNorm",
        .hf_linear = {"attention.self.query", "attention.self.key", "attention.self.value",
                      "attention.output.dense", NULL, "intermediate.dense", "output.dense"},
        .lora_targets = NULL, /* ragtune trains bert as an embedder, fully */
    },
};

const rt_arch_info *rt_arch_get(rt_arch arch) {
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++)
        if (arch_table[i].arch == arch) return &arch_table[i];
    return NULL;
}

const char *rt_arch_name(rt_arch arch) {
    const rt_arch_info *a = rt_arch_get(arch);
    return a ? a->name : "unknown";
}

static bool has_prefix(const char *s, const char *const *prefixes) {
    for (size_t i = 0; prefixes && prefixes[i]; i++)
        if (!strncmp(s, prefixes[i], strlen(prefixes[i]))) return true;
    return false;
}

rt_arch rt_arch_from_name(const char *name) {
    if (!name) return RT_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++) {
        const rt_arch_info *a = &arch_table[i];
        if (!strcmp(name, a->name)) return a->arch;
        for (size_t k = 0; a->model_type_aliases && a->model_type_aliases[k]; k++)
            if (!strcmp(name, a->model_type_aliases[k])) return a->arch;
    }
    return RT_ARCH_UNKNOWN;
}

rt_arch rt_arch_from_hf_class(const char *class_name) {
    if (!class_name) return RT_ARCH_UNKNOWN;
    for (size_t i = 0; i < sizeof arch_table / sizeof arch_table[0]; i++) {
        const rt_arch_info *a = &arch_table[i];
        if (has_prefix(class_name, a->hf_classes) && !has_prefix(class_name, a->hf_classes_not))
            return a->arch;
    }
    return RT_ARCH_UNKNOWN;
}
