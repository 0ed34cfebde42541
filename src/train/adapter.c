/*
 * adapter.c — PEFT LoRA adapters: save, load, and rt_lora_merge.
 *
 * Module names follow the Hugging Face model PEFT was applied to. llama/qwen2: the split
 * projections ("model.layers.N.self_attn.q_proj", "model.layers.N.mlp.down_proj"). gpt2: the
 * Conv1D modules of GPT2LMHeadModel ("transformer.h.N.attn.c_attn" = q,k,v fused,
 * "attn.c_proj" = o, "mlp.c_fc" = up, "mlp.c_proj" = down; gpt2 has no gate).
 *
 * ragtune trains separate q, k, v pairs (A_x (r, n_embd), B_x (n_out_x, r)). A gpt2 adapter
 * stores them exactly as one c_attn LoRA of rank 3r:
 *     A = [A_q; A_k; A_v] (3r, n_embd),  B = blockdiag(B_q, B_k, B_v) (n_q + n_k + n_v, 3r),
 * with rank_pattern {"c_attn": 3r} and alpha_pattern {"c_attn": 3 alpha}, so that PEFT's scale
 * alpha/r of the module is unchanged and B A = [B_q A_q; B_k A_k; B_v A_v]. When only some of
 * q/k/v are trained, the blocks of the others are zero.
 *
 * Loading a c_attn LoRA of rank R into q/k/v pairs of the model's rank r:
 *   - R == r (what PEFT itself trains, B dense): each of q, k, v gets A = A_c_attn and B = its
 *     row block of B_c_attn. Exact for the forward pass and for merging.
 *   - R == 3r with B block-diagonal (ragtune's own layout): each gets its diagonal block.
 *   - anything else cannot be represented with one LoRA rank per model (tmodel_new sizes every
 *     LoRA pair from opt.lora_rank), and is an error that names both ranks.
 * Every module's scale is alpha/R with PEFT's rank_pattern / alpha_pattern applied (plain
 * module names, matched on the end of the module path as PEFT does; regular expressions are
 * refused). fan_in_fan_out is PEFT's flag for Conv1D and is set by PEFT from the module type,
 * so it is written for gpt2 and otherwise ignored: A and B have the same orientation either way.
 */
#include "train/adapter.h"

#include "core/error.h"
#include "core/file.h"
#include "core/quant.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/hf.h"
#include "model/lora.h"
#include "model/model_file.h"
#include "model/safetensors.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_LIN = 7 };

/* PEFT's short module name of split linear j ("q_proj", ...): the end of llama's module path
 * (model/arch.c), which qwen2 shares. */
static const char *module_name(int j) {
    return strrchr(rt_arch_get(RT_ARCH_LLAMA)->hf_linear[j], '.') + 1;
}

/* target_modules entries read for gpt2 (PEFT matches them on the end of the module path). */
static const struct {
    const char *name;
    unsigned targets;
} gpt2_targets[] = {
    {"c_attn", RT_LORA_Q | RT_LORA_K | RT_LORA_V},
    {"attn.c_attn", RT_LORA_Q | RT_LORA_K | RT_LORA_V},
    {"c_proj", RT_LORA_O | RT_LORA_DOWN},
    {"attn.c_proj", RT_LORA_O},
    {"mlp.c_proj", RT_LORA_DOWN},
    {"c_fc", RT_LORA_UP},
    {"mlp.c_fc", RT_LORA_UP},
};

/* PEFT's module path of linear j of a layer, without the "base_model.model." prefix: the
 * Hugging Face module of the architecture (model/arch.c; gpt2's q, k, v are one c_attn). */
static void module_path_of(rt_arch arch, int layer, int j, char *buf, size_t n) {
    const rt_arch_info *a = rt_arch_get(arch);
    int o = snprintf(buf, n, "%s", a->hf_prefix);
    o += snprintf(buf + o, n - (size_t)o, a->hf_layer, layer);
    snprintf(buf + o, n - (size_t)o, "%s", a->hf_linear[j]);
}

static void module_path(const tmodel *m, int layer, int j, char *buf, size_t n) {
    module_path_of(m->cfg.arch, layer, j, buf, n);
}

static void tensor_name(const char *module, char which, char *buf, size_t n) {
    snprintf(buf, n, "base_model.model.%s.lora_%c.weight", module, which);
}

/* True for the q and k projections of a model whose rows use llama.cpp's interleaved RoPE
 * pairing (a llama loaded from GGUF). Their B rows are stored in PEFT files in Hugging Face's
 * rotate_half order, which the base they apply to (an HF checkpoint) uses. */
static bool qk_interleaved(const tmodel *m, int j) {
    return m->cfg.rope_interleaved && j <= 1;
}

/* ---- saving ------------------------------------------------------------------------------ */

typedef struct out_tensors {
    rt_tensor *v;
    int n;
    size_t cap;
} out_tensors;

/* Appends an f32 matrix (rows, cols); owned data is freed with the list. */
static int out_add(out_tensors *l, const char *name, float *data, int64_t rows, int64_t cols,
                   bool owned) {
    int st = RT_GROW(l->v, l->cap, l->n + 1);
    if (st < 0) {
        if (owned) free(data);
        return st;
    }
    rt_tensor *t = &l->v[l->n];
    rt_tensor_view_f32(t, data, rows, cols);
    t->owned = owned;
    t->name = rt_strdup(name);
    l->n++;
    return t->name ? RT_OK : RT_ERR_NOMEM;
}

static void out_free(out_tensors *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].name);
        if (l->v[i].owned) free(l->v[i].data);
    }
    free(l->v);
}

/* gpt2 layer i: q, k, v as one c_attn LoRA of rank 3r (see the top of the file). */
static int add_fused_qkv(const tmodel *m, int layer, out_tensors *l) {
    int r = m->opt.lora_rank, n_in = m->cfg.n_embd;
    int64_t n_out = 0;
    for (int j = 0; j < 3; j++)
        n_out += tmodel_linear(m, layer, j)->n_out;
    float *a = rt_calloc((size_t)3 * r * n_in, sizeof(float));
    float *b = rt_calloc((size_t)n_out * 3 * r, sizeof(float));
    if (!a || !b) {
        free(a);
        free(b);
        return RT_ERR_NOMEM;
    }
    int64_t row0 = 0;
    for (int j = 0; j < 3; j++) {
        const tm_linear *L = tmodel_linear(m, layer, j);
        /* an untargeted projection keeps zero blocks: its delta is zero, as in the model */
        if (L->rank) {
            memcpy(a + (size_t)j * r * n_in, L->lora_a, (size_t)r * n_in * sizeof(float));
            for (int o = 0; o < L->n_out; o++)
                memcpy(b + (size_t)(row0 + o) * 3 * r + (size_t)j * r, L->lora_b + (size_t)o * r,
                       (size_t)r * sizeof(float));
        }
        row0 += L->n_out;
    }
    char module[96], name[160];
    module_path(m, layer, 0, module, sizeof module);
    tensor_name(module, 'A', name, sizeof name);
    int st = out_add(l, name, a, 3 * r, n_in, true);
    tensor_name(module, 'B', name, sizeof name);
    if (st == RT_OK)
        st = out_add(l, name, b, n_out, 3 * r, true);
    else
        free(b);
    return st;
}

static int collect_tensors(const tmodel *m, out_tensors *l) {
    for (int i = 0; i < m->cfg.n_layer; i++) {
        bool fused = m->is_gpt2 && (m->opt.lora_targets & (RT_LORA_Q | RT_LORA_K | RT_LORA_V));
        if (fused) RT_TRY(add_fused_qkv(m, i, l));
        for (int j = fused ? 3 : 0; j < N_LIN; j++) {
            const tm_linear *L = tmodel_linear(m, i, j);
            if (!L->rank) continue;
            char module[96], name[160];
            module_path(m, i, j, module, sizeof module);
            tensor_name(module, 'A', name, sizeof name);
            RT_TRY(out_add(l, name, L->lora_a, L->rank, L->n_in, false));
            tensor_name(module, 'B', name, sizeof name);
            if (!qk_interleaved(m, j)) {
                RT_TRY(out_add(l, name, L->lora_b, L->n_out, L->rank, false));
                continue;
            }
            float *b = rt_malloc((size_t)L->n_out * L->rank * sizeof(float));
            if (!b) return RT_ERR_NOMEM;
            rt_rope_permute_rows(L->lora_b, b, L->n_out, (size_t)L->rank * sizeof(float),
                                 j == 0 ? m->cfg.n_head : m->cfg.n_kv_head, false);
            RT_TRY(out_add(l, name, b, L->n_out, L->rank, true));
        }
    }
    return RT_OK;
}

static json_t *target_list(const tmodel *m) {
    json_t *targets = json_array();
    unsigned t = m->opt.lora_targets;
    if (!m->is_gpt2) {
        for (int j = 0; j < N_LIN; j++)
            if (t & (1u << j)) json_array_append_new(targets, json_string(module_name(j)));
        return targets;
    }
    if (t & (RT_LORA_Q | RT_LORA_K | RT_LORA_V))
        json_array_append_new(targets, json_string("c_attn"));
    /* "c_proj" alone would match both attn.c_proj and mlp.c_proj */
    if ((t & RT_LORA_O) && (t & RT_LORA_DOWN))
        json_array_append_new(targets, json_string("c_proj"));
    else if (t & RT_LORA_O)
        json_array_append_new(targets, json_string("attn.c_proj"));
    else if (t & RT_LORA_DOWN)
        json_array_append_new(targets, json_string("mlp.c_proj"));
    if (t & RT_LORA_UP) json_array_append_new(targets, json_string("c_fc"));
    return targets;
}

int adapter_save_peft(const tmodel *m, const char *dir, const char *base_model) {
    if (m->opt.lora_rank <= 0) return rt_error(RT_ERR_INVALID, "the model has no LoRA adapter");
    RT_TRY(rt_mkdir_p(dir));
    bool fused = m->is_gpt2 && (m->opt.lora_targets & (RT_LORA_Q | RT_LORA_K | RT_LORA_V));
    json_t *cfg = json_object();
    json_t *rank_pattern = json_object(), *alpha_pattern = json_object();
    if (fused) {
        json_object_set_new(rank_pattern, "c_attn", json_integer(3 * m->opt.lora_rank));
        /* alpha' / 3r = alpha / r, or alpha' / sqrt(3r) = alpha / sqrt(r) with rsLoRA */
        json_object_set_new(alpha_pattern, "c_attn",
                            json_real((m->opt.lora_rslora ? sqrt(3.0) : 3.0) * m->opt.lora_alpha));
    }
    json_object_set_new(cfg, "peft_type", json_string("LORA"));
    json_object_set_new(cfg, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(cfg, "r", json_integer(m->opt.lora_rank));
    json_object_set_new(cfg, "lora_alpha", json_real(m->opt.lora_alpha));
    json_object_set_new(cfg, "lora_dropout", json_real(m->opt.lora_dropout));
    json_object_set_new(cfg, "target_modules", target_list(m));
    json_object_set_new(cfg, "rank_pattern", rank_pattern);
    json_object_set_new(cfg, "alpha_pattern", alpha_pattern);
    json_object_set_new(cfg, "bias", json_string("none"));
    /* Conv1D weights are stored (n_in, n_out): PEFT's flag for gpt2's modules */
    json_object_set_new(cfg, "fan_in_fan_out", json_boolean(m->is_gpt2));
    json_object_set_new(cfg, "inference_mode", json_true());
    json_object_set_new(cfg, "use_rslora", json_boolean(m->opt.lora_rslora));
    json_object_set_new(cfg, "use_dora", json_false());
    json_object_set_new(cfg, "base_model_name_or_path",
                        base_model ? json_string(base_model) : json_null());
    char *text = json_dumps(cfg, JSON_INDENT(2));
    json_decref(cfg);
    if (!text) return RT_ERR_NOMEM;
    char *path = rt_path_join(dir, "adapter_config.json");
    int st = path ? rt_file_write_atomic(path, text, strlen(text)) : RT_ERR_NOMEM;
    free(path);
    free(text);
    RT_TRY(st);

    out_tensors l = {0};
    st = collect_tensors(m, &l);
    path = rt_path_join(dir, "adapter_model.safetensors");
    const char *meta[] = {"format", "pt"};
    if (st == RT_OK)
        st = path ? rt_safetensors_write(path, l.v, (size_t)l.n, meta, 1) : RT_ERR_NOMEM;
    free(path);
    out_free(&l);
    return st;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* Parses text as a JSON object into *cfg (json_decref it); `what` names it in errors. */
static int parse_config_json(const char *text, size_t len, const char *what, json_t **cfg) {
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        *cfg = NULL;
        return rt_error(RT_ERR_FORMAT, "%s: not a JSON object%s%s", what, j ? "" : ": ",
                        j ? "" : jerr.text);
    }
    *cfg = j;
    return RT_OK;
}

/* Reads dir/adapter_config.json; calls fn(text, len, path, arg). */
static int with_config_text(const char *dir, int (*fn)(const char *, size_t, const char *, void *),
                            void *arg) {
    char *path = rt_path_join(dir, "adapter_config.json");
    if (!path) return RT_ERR_NOMEM;
    char *text;
    size_t len;
    int st = rt_file_read_all(path, 1 << 20, &text, &len);
    if (st == RT_OK) {
        st = fn(text, len, path, arg);
        free(text);
    }
    free(path);
    return st;
}

static int parse_into_json(const char *text, size_t len, const char *what, void *arg) {
    return parse_config_json(text, len, what, (json_t **)arg);
}

/* Parses dir/adapter_config.json into *cfg (a JSON object; json_decref it). */
static int load_config_json(const char *dir, json_t **cfg) {
    *cfg = NULL;
    return with_config_text(dir, parse_into_json, cfg);
}

/* rank_pattern / alpha_pattern: the value of the first key that names module (the whole path,
 * or its end after a '.', as PEFT's get_pattern_key matches "(.*\.)?(key)$"). Returns 1 and
 * *value when found, 0 when not, or an error for a key that is a regular expression. */
static int pattern_lookup(const json_t *pattern, const char *module, double *value) {
    if (!pattern || json_is_null(pattern)) return 0;
    if (!json_is_object(pattern))
        return rt_error(RT_ERR_FORMAT, "adapter_config.json: rank_pattern and alpha_pattern "
                                       "must be objects");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)pattern, key, v) {
        if (strpbrk(key, "^$*+?()[]{}|\\"))
            return rt_error(RT_ERR_UNSUPPORTED,
                            "adapter_config.json: pattern '%s' is a regular expression (only "
                            "module names are supported)",
                            key);
        size_t nk = strlen(key), nm = strlen(module);
        bool match = !strcmp(key, module) ||
                     (nm > nk && module[nm - nk - 1] == '.' && !strcmp(module + nm - nk, key));
        if (!match) continue;
        if (!json_is_number(v))
            return rt_error(RT_ERR_FORMAT, "adapter_config.json: pattern '%s' is not a number",
                            key);
        *value = json_number_value(v);
        return 1;
    }
    return 0;
}

static unsigned target_bits(const char *s) {
    for (int j = 0; j < N_LIN; j++)
        if (!strcmp(s, module_name(j))) return 1u << j;
    for (size_t k = 0; k < sizeof gpt2_targets / sizeof gpt2_targets[0]; k++)
        if (!strcmp(s, gpt2_targets[k].name)) return gpt2_targets[k].targets;
    return 0;
}

int adapter_config_parse(const char *text, size_t len, const char *what, tm_options *opt) {
    json_t *cfg;
    RT_TRY(parse_config_json(text, len, what, &cfg));
    int st = RT_OK;
    const char *type = json_string_value(json_object_get(cfg, "peft_type"));
    json_t *r = json_object_get(cfg, "r"), *alpha = json_object_get(cfg, "lora_alpha");
    json_t *dropout = json_object_get(cfg, "lora_dropout");
    json_t *targets = json_object_get(cfg, "target_modules");
    if (!type || strcmp(type, "LORA") || !json_is_integer(r) || !json_is_number(alpha)) {
        st = rt_error(RT_ERR_FORMAT, "%s: needs peft_type LORA, integer r and lora_alpha", what);
        goto out;
    }
    if (json_is_true(json_object_get(cfg, "use_dora"))) {
        st = rt_error(RT_ERR_UNSUPPORTED, "%s: DoRA adapters are not supported", what);
        goto out;
    }
    json_int_t rank = json_integer_value(r);
    double p = json_number_value(dropout);
    if (rank <= 0 || rank > 4096) {
        st = rt_error(RT_ERR_FORMAT, "%s: rank %lld out of range (1..4096)", what, (long long)rank);
        goto out;
    }
    if ((dropout && !json_is_null(dropout) && !json_is_number(dropout)) || p < 0 || p >= 1) {
        st = rt_error(RT_ERR_FORMAT, "%s: lora_dropout must be a number in [0, 1)", what);
        goto out;
    }
    memset(opt, 0, sizeof *opt);
    opt->lora_rank = (int)rank;
    opt->lora_alpha = (float)json_number_value(alpha);
    opt->lora_dropout = (float)p;
    opt->lora_rslora = json_is_true(json_object_get(cfg, "use_rslora"));
    opt->base_dtype = RT_DTYPE_F32;
    if (json_is_string(targets) && !strcmp(json_string_value(targets), "all-linear")) {
        opt->lora_targets = RT_LORA_ALL;
    } else if (json_is_array(targets)) {
        size_t i;
        json_t *v;
        json_array_foreach(targets, i, v) {
            const char *s = json_string_value(v);
            unsigned bits = s ? target_bits(s) : 0;
            if (!bits) {
                st = rt_error(RT_ERR_UNSUPPORTED, "%s: target module '%s' not supported", what,
                              s ? s : "?");
                goto out;
            }
            opt->lora_targets |= bits;
        }
    }
    if (!opt->lora_targets) st = rt_error(RT_ERR_FORMAT, "%s: no target_modules", what);
out:
    json_decref(cfg);
    return st;
}

static int parse_into_options(const char *text, size_t len, const char *what, void *arg) {
    return adapter_config_parse(text, len, what, (tm_options *)arg);
}

int adapter_read_config(const char *dir, tm_options *opt) {
    return with_config_text(dir, parse_into_options, opt);
}

/* ---- loading ----------------------------------------------------------------------------- */

/* A float matrix of the adapter file as f32 (malloc'd into *out), with its shape. */
static int read_matrix(const rt_safetensors *f, const char *path, const char *name, float **out,
                       int64_t *rows, int64_t *cols) {
    *out = NULL;
    const rt_safetensors_entry *e = rt_safetensors_find(f, name);
    if (!e) return rt_error(RT_ERR_NOT_FOUND, "%s: no tensor %s", path, name);
    const rt_tensor *t = &e->t;
    if (t->n_dims != 2 || t->shape[0] <= 0 || t->shape[1] <= 0 ||
        (t->dtype != RT_DTYPE_F32 && t->dtype != RT_DTYPE_F16 && t->dtype != RT_DTYPE_BF16))
        return rt_error(RT_ERR_FORMAT, "%s: tensor %s must be a float matrix", path, name);
    *rows = t->shape[0];
    *cols = t->shape[1];
    *out = rt_malloc((size_t)(*rows * *cols) * sizeof(float));
    if (!*out) return RT_ERR_NOMEM;
    rt_dequantize_row(t->dtype, t->data, *out, *rows * *cols);
    return RT_OK;
}

/* True when the columns of b (rows, R) outside [c0, c0 + r) are all zero. */
static bool zero_outside(const float *b, int64_t rows, int64_t R, int64_t c0, int r) {
    for (int64_t o = 0; o < rows; o++)
        for (int64_t c = 0; c < R; c++)
            if ((c < c0 || c >= c0 + r) && b[o * R + c] != 0.0f) return false;
    return true;
}

/* Fills linear p->j of layer p->layer of m from its pair (see the top of the file). */
static int load_linear(void *user, const adapter_pair *p) {
    tmodel *m = user;
    tm_linear *L = tmodel_linear(m, p->layer, p->j);
    int r = L->rank;
    int64_t R = p->rank;
    if (!r) return RT_OK;
    if (R == r) {
        /* dense: this projection's rows of B, all of A */
        memcpy(L->lora_a, p->a, (size_t)r * L->n_in * sizeof(float));
        memcpy(L->lora_b, p->b, (size_t)L->n_out * r * sizeof(float));
    } else if (p->fused && R == 3 * (int64_t)r && zero_outside(p->b, L->n_out, R, p->j * r, r)) {
        memcpy(L->lora_a, p->a + (size_t)p->j * r * L->n_in, (size_t)r * L->n_in * sizeof(float));
        for (int o = 0; o < L->n_out; o++)
            memcpy(L->lora_b + (size_t)o * r, p->b + (size_t)o * R + (size_t)p->j * r,
                   (size_t)r * sizeof(float));
    } else {
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: %s has LoRA rank %lld but the model's rank is %d%s; ragtune uses one "
                        "LoRA rank for every module",
                        p->path, p->module, (long long)R, r,
                        p->fused ? " (a fused c_attn may have rank r, or 3r with block-diagonal B)"
                                 : "");
    }
    /* PEFT's per-module scale, computed as tmodel_new does (in float) */
    L->scale = p->scale;
    return RT_OK;
}

int adapter_peft_each(const rt_model_config *cfg, unsigned targets, const char *dir,
                      bool strict, adapter_pair_fn fn, void *user) {
    json_t *cfg_json;
    RT_TRY(load_config_json(dir, &cfg_json));
    json_t *rank_pattern = json_object_get(cfg_json, "rank_pattern");
    json_t *alpha_pattern = json_object_get(cfg_json, "alpha_pattern");
    double r_default = (double)json_integer_value(json_object_get(cfg_json, "r"));
    double alpha_default = json_number_value(json_object_get(cfg_json, "lora_alpha"));
    bool rslora = json_is_true(json_object_get(cfg_json, "use_rslora"));
    bool is_gpt2 = cfg->arch == RT_ARCH_GPT2;
    const rt_arch_info *ai = rt_arch_get(cfg->arch);
    if (!ai || !ai->lora_targets) {
        json_decref(cfg_json);
        return rt_error(RT_ERR_UNSUPPORTED, "%s: LoRA adapters are for decoders (llama, qwen2, "
                        "gpt2), not %s", dir, rt_arch_name(cfg->arch));
    }
    char *path = rt_path_join(dir, "adapter_model.safetensors");
    if (!path) {
        json_decref(cfg_json);
        return RT_ERR_NOMEM;
    }
    rt_safetensors f;
    int st = rt_safetensors_open(path, &f);
    if (st < 0) {
        json_decref(cfg_json);
        free(path);
        return st;
    }
    bool *used = rt_calloc(f.n_tensors ? f.n_tensors : 1, sizeof *used);
    if (!used) st = RT_ERR_NOMEM;
    for (int i = 0; i < cfg->n_layer && st == RT_OK; i++)
        for (int j = 0; j < N_LIN && st == RT_OK; j++) {
            if (!(targets & (1u << j)) || !ai->hf_linear[j]) continue;
            char module[96], name_a[160], name_b[160];
            module_path_of(cfg->arch, i, j, module, sizeof module);
            tensor_name(module, 'A', name_a, sizeof name_a);
            tensor_name(module, 'B', name_b, sizeof name_b);
            double rank = r_default, alpha = alpha_default;
            int found = pattern_lookup(rank_pattern, module, &rank);
            if (found >= 0) found = pattern_lookup(alpha_pattern, module, &alpha);
            if (found < 0) {
                st = found;
                break;
            }
            int n_out, n_in;
            rt_lora_linear_shape(cfg, j, &n_out, &n_in);
            int64_t n_out_all = n_out, row0 = 0;
            bool fused = is_gpt2 && j < 3;
            if (fused) {
                n_out_all = 3 * (int64_t)cfg->n_embd;
                row0 = (int64_t)j * cfg->n_embd;
            }
            float *a = NULL, *b = NULL;
            int64_t ar, ac, br, bc;
            st = read_matrix(&f, path, name_a, &a, &ar, &ac);
            if (st == RT_OK) st = read_matrix(&f, path, name_b, &b, &br, &bc);
            if (st == RT_OK && (ac != n_in || br != n_out_all || bc != ar || ar != (int64_t)rank))
                st = rt_error(RT_ERR_INVALID,
                              "%s: %s: A (%lld, %lld) and B (%lld, %lld) do not fit a rank-%g "
                              "LoRA of a (%lld, %d) weight",
                              path, module, (long long)ar, (long long)ac, (long long)br,
                              (long long)bc, rank, (long long)n_out_all, n_in);
            /* B's q/k rows are in Hugging Face's rotate_half order; a llama loaded from GGUF
             * has its rows interleaved */
            if (st == RT_OK && cfg->rope_interleaved && j <= 1) {
                float *perm = rt_malloc((size_t)(br * bc) * sizeof(float));
                if (!perm)
                    st = RT_ERR_NOMEM;
                else
                    rt_rope_permute_rows(b, perm, br, (size_t)bc * sizeof(float),
                                         j == 0 ? cfg->n_head : cfg->n_kv_head, true);
                free(b);
                b = perm;
            }
            if (st == RT_OK) {
                for (size_t k = 0; k < f.n_tensors; k++)
                    if (!strcmp(f.tensors[k].t.name, name_a) ||
                        !strcmp(f.tensors[k].t.name, name_b))
                        used[k] = true;
                adapter_pair p = {.layer = i,
                                  .j = j,
                                  .module = module,
                                  .path = path,
                                  .a = a,
                                  .rank = ar,
                                  .b = b + row0 * bc,
                                  .fused = fused,
                                  .scale = tm_lora_scale((float)alpha, rank, rslora)};
                st = fn(user, &p);
            }
            free(a);
            free(b);
        }
    for (size_t k = 0; strict && st == RT_OK && k < f.n_tensors; k++)
        if (!used[k])
            st = rt_error(RT_ERR_INVALID,
                          "%s: tensor %s has no linear in the model (%s, %d layers, targets of "
                          "adapter_config.json)",
                          path, f.tensors[k].t.name, rt_arch_name(cfg->arch), cfg->n_layer);
    free(used);
    rt_safetensors_close(&f);
    free(path);
    json_decref(cfg_json);
    return st;
}

int adapter_load_peft(tmodel *m, const char *dir) {
    unsigned targets = 0;
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = 0; j < N_LIN; j++)
            if (tmodel_linear(m, i, j)->rank) targets |= 1u << j;
    return adapter_peft_each(&m->cfg, targets, dir, false, load_linear, m);
}

int rt_lora_merge(const char *model_path, const char *adapter_dir, const char *out_path) {
    tm_options opt;
    RT_TRY(adapter_read_config(adapter_dir, &opt));
    opt.lora_dropout = 0.0f;
    rt_model_file *mf;
    RT_TRY(rt_model_file_open(model_path, &mf));
    rt_model_config cfg = *rt_model_file_config(mf);
    tmodel *m;
    int st = tmodel_new(&cfg, rt_model_file_weights(mf), &opt, &m);
    if (st != RT_OK) {
        rt_model_file_close(mf);
        return st;
    }
    st = adapter_load_peft(m, adapter_dir);
    /* W (n_out, n_in) += scale B A in ragtune's orientation; a gpt2 HF directory gets its
     * Conv1D (n_in, n_out) layout back from rt_model_file_save_as (hf.c transposes on write),
     * which is PEFT's fan_in_fan_out merge W_conv += scale (B A)^T. */
    if (st == RT_OK) st = tmodel_merge_lora(m);
    rt_model_weights w;
    if (st == RT_OK) st = tmodel_weights(m, &w);
    if (st == RT_OK) {
        /* the base's tokenizer goes with the merged model */
        st = rt_model_file_save_as(mf, &cfg, &w, out_path, RT_DTYPE_F32);
        rt_model_weights_free(&w, cfg.n_layer);
    }
    tmodel_free(m);
    rt_model_file_close(mf);
    return st;
}
