/*
 * export.c — Hugging Face directory output of a trained llama/qwen2 model.
 */
#include "train/export.h"

#include "core/error.h"
#include "core/file.h"
#include "model/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int write_config(const rt_model_config *c, const char *dir) {
    bool qwen = c->arch == RT_ARCH_QWEN2;
    json_t *o = json_object();
    json_t *arch = json_array();
    json_array_append_new(arch, json_string(qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
    json_object_set_new(o, "architectures", arch);
    json_object_set_new(o, "model_type", json_string(qwen ? "qwen2" : "llama"));
    json_object_set_new(o, "vocab_size", json_integer(c->n_vocab));
    json_object_set_new(o, "hidden_size", json_integer(c->n_embd));
    json_object_set_new(o, "num_hidden_layers", json_integer(c->n_layer));
    json_object_set_new(o, "num_attention_heads", json_integer(c->n_head));
    json_object_set_new(o, "num_key_value_heads", json_integer(c->n_kv_head));
    json_object_set_new(o, "head_dim", json_integer(c->head_dim));
    json_object_set_new(o, "intermediate_size", json_integer(c->n_ff));
    json_object_set_new(o, "max_position_embeddings", json_integer(c->n_ctx_train));
    json_object_set_new(o, "rms_norm_eps", json_real(c->norm_eps));
    json_object_set_new(o, "rope_theta", json_real(c->rope_theta));
    json_object_set_new(o, "hidden_act", json_string("silu"));
    json_object_set_new(o, "tie_word_embeddings", json_boolean(c->tied_embeddings));
    json_object_set_new(o, "torch_dtype", json_string("float32"));
    if (c->bos_token_id >= 0) json_object_set_new(o, "bos_token_id", json_integer(c->bos_token_id));
    if (c->eos_token_id >= 0) json_object_set_new(o, "eos_token_id", json_integer(c->eos_token_id));
    if (c->rope_scaling_factor > 0) {
        json_t *rs = json_object();
        json_object_set_new(rs, "rope_type", json_string("llama3"));
        json_object_set_new(rs, "factor", json_real(c->rope_scaling_factor));
        json_object_set_new(rs, "low_freq_factor", json_real(c->rope_low_freq_factor));
        json_object_set_new(rs, "high_freq_factor", json_real(c->rope_high_freq_factor));
        json_object_set_new(rs, "original_max_position_embeddings",
                            json_integer(c->rope_original_ctx));
        json_object_set_new(o, "rope_scaling", rs);
    }
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!text) return RT_ERR_NOMEM;
    char *path = rt_path_join(dir, "config.json");
    int st = path ? rt_file_write_atomic(path, text, strlen(text)) : RT_ERR_NOMEM;
    free(path);
    free(text);
    return st;
}

int tmodel_save_hf(const tmodel *m, const char *dir) {
    if (m->cfg.arch != RT_ARCH_LLAMA && m->cfg.arch != RT_ARCH_QWEN2)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "writing %s models needs the model layer's rt_hf_write (not yet built)",
                        rt_arch_name(m->cfg.arch));
    if (m->cfg.rope_interleaved)
        return rt_error(RT_ERR_UNSUPPORTED, "a model with interleaved RoPE (from GGUF) cannot be "
                        "written as a Hugging Face directory here");
    RT_TRY(rt_mkdir_p(dir));
    RT_TRY(write_config(&m->cfg, dir));
    rt_tensor *ts = rt_calloc((size_t)m->n_tensors, sizeof *ts);
    if (!ts) return RT_ERR_NOMEM;
    int st = RT_OK;
    for (int i = 0; i < m->n_tensors && st == RT_OK; i++) {
        ts[i] = *m->tensors[i].t;
        ts[i].owned = false;
        if (ts[i].dtype != RT_DTYPE_F32 && ts[i].dtype != RT_DTYPE_BF16 &&
            ts[i].dtype != RT_DTYPE_F16)
            st = rt_error(RT_ERR_UNSUPPORTED, "tensor %s is %s; safetensors needs a float type",
                          m->tensors[i].name, rt_dtype_name(ts[i].dtype));
        if (!(ts[i].name = rt_strdup(m->tensors[i].name))) st = RT_ERR_NOMEM;
    }
    char *path = rt_path_join(dir, "model.safetensors");
    const char *meta[] = {"format", "pt"};
    if (st == RT_OK)
        st = path ? rt_safetensors_write(path, ts, (size_t)m->n_tensors, meta, 1) : RT_ERR_NOMEM;
    free(path);
    for (int i = 0; i < m->n_tensors; i++) free(ts[i].name);
    free(ts);
    return st;
}
