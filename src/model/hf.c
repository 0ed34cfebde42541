/*
 * hf.c — see hf.h. Three parts: config.json parsing, the set of safetensors files of a
 * directory, and per-architecture tensor name mapping (reading here, writing in rt_hf_write).
 */
#include "model/hf.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/model_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/quant.h"

#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ---- config.json ---------------------------------------------------------------------------- */

#define REQUIRED INT_MIN

/* Integer `key` of o in [min, max]; dflt when absent or null (REQUIRED: an error). */
static int get_int(json_t *o, const char *key, int dflt, int min, int max, const char *what,
                   int *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        if (dflt == REQUIRED)
            return rt_error(RT_ERR_FORMAT, "%s: missing required key '%s'", what, key);
        *out = dflt;
        return RT_OK;
    }
    if (!json_is_integer(v))
        return rt_error(RT_ERR_FORMAT, "%s: '%s' is not an integer", what, key);
    json_int_t x = json_integer_value(v);
    if (x < min || x > max)
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %lld is outside [%d, %d]", what, key,
                        (long long)x, min, max);
    *out = (int)x;
    return RT_OK;
}

static int get_float(json_t *o, const char *key, float dflt, const char *what, float *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return RT_OK;
    }
    if (!json_is_number(v)) return rt_error(RT_ERR_FORMAT, "%s: '%s' is not a number", what, key);
    double x = json_number_value(v);
    if (!(x >= 0 && x < 1e30))
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %g is out of range", what, key, x);
    *out = (float)x;
    return RT_OK;
}

static int get_bool(json_t *o, const char *key, bool dflt, const char *what, bool *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return RT_OK;
    }
    if (!json_is_boolean(v)) return rt_error(RT_ERR_FORMAT, "%s: '%s' is not a boolean", what, key);
    *out = json_is_true(v);
    return RT_OK;
}

/* A token id: an integer, a list of integers (the first one counts), or absent/null (dflt). */
static int get_token_id(json_t *o, const char *key, int dflt, const char *what, int *out) {
    json_t *v = json_object_get(o, key);
    if (json_is_array(v)) v = json_array_size(v) ? json_array_get(v, 0) : NULL;
    if (!v || json_is_null(v)) {
        *out = dflt;
        return RT_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT_MAX)
        return rt_error(RT_ERR_FORMAT, "%s: '%s' is not a token id", what, key);
    *out = (int)json_integer_value(v);
    return RT_OK;
}

static rt_arch arch_from_hf(json_t *root) {
    json_t *archs = json_object_get(root, "architectures");
    const char *a = json_string_value(json_array_get(archs, 0));
    if (a) return rt_arch_from_hf_class(a);
    return rt_arch_from_name(json_string_value(json_object_get(root, "model_type")));
}

#define TRY_GOTO(expr)                                                                             \
    do {                                                                                           \
        if ((rc = (expr)) < 0) return rc;                                                          \
    } while (0)

static int parse_rope_scaling(json_t *root, const char *what, rt_model_config *c) {
    json_t *rs = json_object_get(root, "rope_scaling");
    if (!rs || json_is_null(rs)) return RT_OK;
    if (!json_is_object(rs))
        return rt_error(RT_ERR_FORMAT, "%s: rope_scaling is not an object", what);
    const char *type = json_string_value(json_object_get(rs, "rope_type"));
    if (!type) type = json_string_value(json_object_get(rs, "type"));
    if (!type || strcmp(type, "llama3"))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: rope_scaling type '%s' is not supported (only "
                        "llama3)",
                        what, type ? type : "?");
    int rc;
    TRY_GOTO(get_float(rs, "factor", 0, what, &c->rope_scaling_factor));
    TRY_GOTO(get_float(rs, "low_freq_factor", 1, what, &c->rope_low_freq_factor));
    TRY_GOTO(get_float(rs, "high_freq_factor", 4, what, &c->rope_high_freq_factor));
    TRY_GOTO(get_int(rs, "original_max_position_embeddings", 8192, 1, 1 << 24, what,
                     &c->rope_original_ctx));
    if (c->rope_scaling_factor < 1 || c->rope_high_freq_factor <= c->rope_low_freq_factor)
        return rt_error(RT_ERR_FORMAT, "%s: rope_scaling factors are inconsistent", what);
    return RT_OK;
}

static int parse_config_root(json_t *root, const char *what, rt_model_config *c) {
    int rc;
    memset(c, 0, sizeof *c);
    c->bos_token_id = c->eos_token_id = c->pad_token_id = -1;
    if (!json_is_object(root)) return rt_error(RT_ERR_FORMAT, "%s: not a JSON object", what);
    c->arch = arch_from_hf(root);
    if (c->arch == RT_ARCH_UNKNOWN) {
        const char *a =
            json_string_value(json_array_get(json_object_get(root, "architectures"), 0));
        const char *mt = json_string_value(json_object_get(root, "model_type"));
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: architecture '%s' is not supported (llama, mistral, qwen2, gpt2, "
                        "bert)",
                        what,
                        a    ? a
                        : mt ? mt
                             : "?");
    }
    const int DIM = 1 << 16, LAYERS = 1024, VOCAB = 1 << 22, CTX = 1 << 24;
    if (c->arch == RT_ARCH_GPT2) {
        TRY_GOTO(get_int(root, "n_embd", 768, 1, DIM, what, &c->n_embd));
        TRY_GOTO(get_int(root, "n_layer", 12, 1, LAYERS, what, &c->n_layer));
        TRY_GOTO(get_int(root, "n_head", 12, 1, DIM, what, &c->n_head));
        TRY_GOTO(get_int(root, "n_inner", 0, 1, 1 << 20, what, &c->n_ff));
        if (c->n_ff == 0) c->n_ff = 4 * c->n_embd;
        TRY_GOTO(get_int(root, "vocab_size", 50257, 1, VOCAB, what, &c->n_vocab));
        TRY_GOTO(get_int(root, "n_positions", 1024, 1, CTX, what, &c->n_ctx_train));
        TRY_GOTO(get_float(root, "layer_norm_epsilon", 1e-5f, what, &c->norm_eps));
        TRY_GOTO(get_bool(root, "tie_word_embeddings", true, what, &c->tied_embeddings));
        TRY_GOTO(get_token_id(root, "bos_token_id", 50256, what, &c->bos_token_id));
        TRY_GOTO(get_token_id(root, "eos_token_id", 50256, what, &c->eos_token_id));
        TRY_GOTO(get_token_id(root, "pad_token_id", -1, what, &c->pad_token_id));
        c->n_kv_head = c->n_head;
        if (c->n_embd % c->n_head)
            return rt_error(RT_ERR_FORMAT, "%s: n_embd %d is not a multiple of n_head %d", what,
                            c->n_embd, c->n_head);
        c->head_dim = c->n_embd / c->n_head;
        c->attn_bias = true;
        return RT_OK;
    }
    TRY_GOTO(get_int(root, "hidden_size", REQUIRED, 1, DIM, what, &c->n_embd));
    TRY_GOTO(get_int(root, "num_hidden_layers", REQUIRED, 1, LAYERS, what, &c->n_layer));
    TRY_GOTO(get_int(root, "num_attention_heads", REQUIRED, 1, DIM, what, &c->n_head));
    TRY_GOTO(get_int(root, "intermediate_size", REQUIRED, 1, 1 << 20, what, &c->n_ff));
    TRY_GOTO(get_int(root, "vocab_size", REQUIRED, 1, VOCAB, what, &c->n_vocab));
    if (c->arch == RT_ARCH_BERT) {
        TRY_GOTO(get_int(root, "max_position_embeddings", 512, 1, CTX, what, &c->n_ctx_train));
        TRY_GOTO(get_int(root, "type_vocab_size", 2, 0, 1 << 16, what, &c->n_type_vocab));
        TRY_GOTO(get_float(root, "layer_norm_eps", 1e-12f, what, &c->norm_eps));
        TRY_GOTO(get_token_id(root, "pad_token_id", 0, what, &c->pad_token_id));
        TRY_GOTO(get_token_id(root, "bos_token_id", -1, what, &c->bos_token_id));
        TRY_GOTO(get_token_id(root, "eos_token_id", -1, what, &c->eos_token_id));
        const char *pe = json_string_value(json_object_get(root, "position_embedding_type"));
        if (pe && strcmp(pe, "absolute"))
            return rt_error(RT_ERR_UNSUPPORTED,
                            "%s: position_embedding_type '%s' is not "
                            "supported (absolute only)",
                            what, pe);
        c->n_kv_head = c->n_head;
        if (c->n_embd % c->n_head)
            return rt_error(RT_ERR_FORMAT,
                            "%s: hidden_size %d is not a multiple of "
                            "num_attention_heads %d",
                            what, c->n_embd, c->n_head);
        c->head_dim = c->n_embd / c->n_head;
        c->attn_bias = true;
        c->pooling = RT_POOLING_MEAN;
        return RT_OK;
    }
    /* llama, mistral, qwen2 */
    TRY_GOTO(get_int(root, "num_key_value_heads", c->n_head, 1, DIM, what, &c->n_kv_head));
    if (c->n_embd % c->n_head && !json_integer_value(json_object_get(root, "head_dim")))
        return rt_error(RT_ERR_FORMAT,
                        "%s: hidden_size %d is not a multiple of "
                        "num_attention_heads %d and head_dim is not given",
                        what, c->n_embd, c->n_head);
    TRY_GOTO(get_int(root, "head_dim", c->n_embd / c->n_head, 2, 4096, what, &c->head_dim));
    TRY_GOTO(get_int(root, "max_position_embeddings", 2048, 1, CTX, what, &c->n_ctx_train));
    TRY_GOTO(get_float(root, "rms_norm_eps", 1e-6f, what, &c->norm_eps));
    TRY_GOTO(get_float(root, "rope_theta", 10000.0f, what, &c->rope_theta));
    TRY_GOTO(get_bool(root, "tie_word_embeddings", false, what, &c->tied_embeddings));
    TRY_GOTO(get_token_id(root, "bos_token_id", -1, what, &c->bos_token_id));
    TRY_GOTO(get_token_id(root, "eos_token_id", -1, what, &c->eos_token_id));
    TRY_GOTO(get_token_id(root, "pad_token_id", -1, what, &c->pad_token_id));
    if (c->arch == RT_ARCH_QWEN2) {
        c->attn_bias = true;
    } else {
        TRY_GOTO(get_bool(root, "attention_bias", false, what, &c->attn_bias));
        bool mlp_bias;
        TRY_GOTO(get_bool(root, "mlp_bias", false, what, &mlp_bias));
        if (mlp_bias) return rt_error(RT_ERR_UNSUPPORTED, "%s: mlp_bias is not supported", what);
    }
    const char *act = json_string_value(json_object_get(root, "hidden_act"));
    if (act && strcmp(act, "silu"))
        return rt_error(RT_ERR_UNSUPPORTED, "%s: hidden_act '%s' is not supported (silu)", what,
                        act);
    c->rope_interleaved = false; /* HF checkpoints use rotate_half */
    return parse_rope_scaling(root, what, c);
}

int rt_hf_config_parse(const char *text, size_t len, const char *what, rt_model_config *cfg) {
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rt_error(RT_ERR_FORMAT, "%s: line %d column %d: %s", what, jerr.line, jerr.column,
                        jerr.text);
    int rc = parse_config_root(root, what, cfg);
    if (rc == RT_OK) rc = rt_model_config_check(cfg, what);
    json_decref(root);
    return rc;
}

/* sentence-transformers: 1_Pooling/config.json and modules.json (2_Normalize). */
static int load_st_pooling(const char *dir, rt_model_config *cfg) {
    char *mpath = rt_path_join(dir, "modules.json");
    char *ppath = NULL;
    if (!mpath) return RT_ERR_NOMEM;
    int rc = RT_OK;
    if (rt_is_file(mpath)) {
        json_error_t jerr;
        json_t *m = json_load_file(mpath, JSON_REJECT_DUPLICATES, &jerr);
        if (!m) {
            rc = rt_error(RT_ERR_FORMAT, "%s: line %d: %s", mpath, jerr.line, jerr.text);
            goto done;
        }
        size_t i;
        json_t *mod;
        json_array_foreach(m, i, mod) {
            const char *type = json_string_value(json_object_get(mod, "type"));
            const char *path = json_string_value(json_object_get(mod, "path"));
            if (type && strstr(type, "Normalize")) cfg->normalize_embeddings = true;
            if (type && strstr(type, "Pooling") && path && !strchr(path, '.') && !ppath) {
                char *pdir = rt_path_join(dir, path);
                ppath = pdir ? rt_path_join(pdir, "config.json") : NULL;
                free(pdir);
            }
        }
        json_decref(m);
    }
    if (!ppath) ppath = rt_path_join(dir, "1_Pooling/config.json");
    if (ppath && rt_is_file(ppath)) {
        json_error_t jerr;
        json_t *p = json_load_file(ppath, JSON_REJECT_DUPLICATES, &jerr);
        if (!p) {
            rc = rt_error(RT_ERR_FORMAT, "%s: line %d: %s", ppath, jerr.line, jerr.text);
            goto done;
        }
        const char *mode = json_string_value(json_object_get(p, "pooling_mode"));
        if (json_is_true(json_object_get(p, "pooling_mode_cls_token")) ||
            (mode && !strcmp(mode, "cls")))
            cfg->pooling = RT_POOLING_CLS;
        else if (json_is_true(json_object_get(p, "pooling_mode_lasttoken")) ||
                 (mode && !strcmp(mode, "lasttoken")))
            cfg->pooling = RT_POOLING_LAST;
        else
            cfg->pooling = RT_POOLING_MEAN;
        json_decref(p);
    }
done:
    free(mpath);
    free(ppath);
    return rc;
}

int rt_hf_config_load(const char *dir, rt_model_config *cfg, json_t **raw) {
    char *path = rt_path_join(dir, "config.json");
    if (!path) return RT_ERR_NOMEM;
    char *text;
    size_t len;
    int rc = rt_file_read_all(path, RT_HF_MAX_CONFIG, &text, &len);
    if (rc < 0) {
        free(path);
        return rc;
    }
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root) {
        rc = rt_error(RT_ERR_FORMAT, "%s: line %d column %d: %s", path, jerr.line, jerr.column,
                      jerr.text);
        free(path);
        return rc;
    }
    rc = parse_config_root(root, path, cfg);
    if (rc == RT_OK) rc = rt_model_config_check(cfg, path);
    if (rc == RT_OK && (cfg->arch == RT_ARCH_BERT)) rc = load_st_pooling(dir, cfg);
    free(path);
    if (rc == RT_OK && raw)
        *raw = root;
    else
        json_decref(root);
    return rc;
}

/* ---- the safetensors files of a model -------------------------------------------------------- */

void rt_hf_tensors_close(rt_hf_tensors *ts) {
    for (size_t i = 0; i < ts->n_files; i++)
        rt_safetensors_close(&ts->files[i]);
    free(ts->files);
    free(ts->what);
    memset(ts, 0, sizeof *ts);
}

static int open_index(const char *dir, const char *index_path, rt_hf_tensors *ts) {
    json_error_t jerr;
    json_t *idx = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    if (!idx) return rt_error(RT_ERR_FORMAT, "%s: line %d: %s", index_path, jerr.line, jerr.text);
    int rc = RT_OK;
    json_t *wm = json_object_get(idx, "weight_map");
    const char **names = NULL;
    size_t n_names = 0;
    if (!json_is_object(wm) || json_object_size(wm) == 0) {
        rc = rt_error(RT_ERR_FORMAT, "%s: no weight_map object", index_path);
        goto done;
    }
    names = rt_calloc(json_object_size(wm), sizeof *names);
    if (!names) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    const char *key;
    json_t *v;
    json_object_foreach(wm, key, v) {
        const char *file = json_string_value(v);
        if (!file || !*file || strchr(file, '/') || !strcmp(file, "..")) {
            rc = rt_error(RT_ERR_FORMAT,
                          "%s: weight_map entry of '%s' is not a file name in "
                          "the model directory",
                          index_path, key);
            goto done;
        }
        size_t j = 0;
        while (j < n_names && strcmp(names[j], file))
            j++;
        if (j == n_names) names[n_names++] = file;
    }
    ts->files = rt_calloc(n_names, sizeof *ts->files);
    if (!ts->files) {
        rc = RT_ERR_NOMEM;
        goto done;
    }
    for (size_t j = 0; j < n_names; j++) {
        char *p = rt_path_join(dir, names[j]);
        if (!p) {
            rc = RT_ERR_NOMEM;
            goto done;
        }
        rc = rt_safetensors_open(p, &ts->files[j]);
        free(p);
        if (rc < 0) goto done;
        ts->n_files++;
    }
    /* Every listed tensor must be in its shard. */
    json_object_foreach(wm, key, v) {
        if (!rt_hf_tensors_find(ts, key)) {
            rc = rt_error(RT_ERR_FORMAT, "%s: tensor '%s' is listed in the index but not in %s",
                          index_path, key, json_string_value(v));
            goto done;
        }
    }
done:
    free(names);
    json_decref(idx);
    return rc;
}

int rt_hf_tensors_open(const char *path, rt_hf_tensors *ts) {
    memset(ts, 0, sizeof *ts);
    int rc;
    if (!rt_is_dir(path)) {
        ts->what = rt_strdup(path);
        ts->files = rt_calloc(1, sizeof *ts->files);
        if (!ts->what || !ts->files) {
            rt_hf_tensors_close(ts);
            return RT_ERR_NOMEM;
        }
        rc = rt_safetensors_open(path, &ts->files[0]);
        if (rc == RT_OK) ts->n_files = 1;
    } else {
        char *single = rt_path_join(path, "model.safetensors");
        char *index = rt_path_join(path, "model.safetensors.index.json");
        if (!single || !index) {
            free(single);
            free(index);
            return RT_ERR_NOMEM;
        }
        if (rt_is_file(single)) {
            ts->what = single;
            free(index);
            ts->files = rt_calloc(1, sizeof *ts->files);
            if (!ts->files) {
                rt_hf_tensors_close(ts);
                return RT_ERR_NOMEM;
            }
            rc = rt_safetensors_open(single, &ts->files[0]);
            if (rc == RT_OK) ts->n_files = 1;
        } else if (rt_is_file(index)) {
            ts->what = index;
            free(single);
            rc = open_index(path, index, ts);
        } else {
            char *bin = rt_path_join(path, "pytorch_model.bin");
            bool has_bin = bin && rt_is_file(bin);
            free(bin);
            rc = rt_error(has_bin ? RT_ERR_UNSUPPORTED : RT_ERR_NOT_FOUND,
                          "%s: no model.safetensors or model.safetensors.index.json%s", path,
                          has_bin ? " (pytorch_model.bin, a pickle, is not read: save the model "
                                    "as safetensors)"
                                  : "");
            free(single);
            free(index);
        }
    }
    if (rc < 0) rt_hf_tensors_close(ts);
    return rc;
}

/* The file holding entry e (for messages). */
static const char *file_of(const rt_hf_tensors *ts, const rt_safetensors_entry *e) {
    for (size_t i = 0; i < ts->n_files; i++)
        if (e >= ts->files[i].tensors && e < ts->files[i].tensors + ts->files[i].n_tensors)
            return ts->files[i].path;
    return ts->what;
}

const rt_safetensors_entry *rt_hf_tensors_find(const rt_hf_tensors *ts, const char *name) {
    for (size_t i = 0; i < ts->n_files; i++) {
        const rt_safetensors_entry *e = rt_safetensors_find(&ts->files[i], name);
        if (e) return e;
    }
    return NULL;
}

/* ---- name mapping: reading --------------------------------------------------------------------
 */

typedef struct mapper {
    const rt_hf_tensors *ts;
    const char *prefix; /* "model.", "transformer.", "bert." or "" */
} mapper;

static void shape_str(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t o = 0;
    o += (size_t)snprintf(buf + o, n - o, "(");
    for (int i = 0; i < n_dims && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

static bool is_float_dtype(rt_dtype d) {
    return d == RT_DTYPE_F32 || d == RT_DTYPE_F16 || d == RT_DTYPE_BF16;
}

/* Finds prefix+name, checks dtype and shape (d1 < 0: a vector of d0) and makes out a view of it
 * (a copy when misaligned). Missing and optional: out zeroed, RT_OK. */
static int take(const mapper *m, const char *name, int64_t d0, int64_t d1, bool optional,
                rt_tensor *out) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", m->prefix, name);
    memset(out, 0, sizeof *out);
    int n_dims = d1 < 0 ? 1 : 2;
    int64_t want[2] = {d0, d1};
    char ws[64];
    shape_str(ws, sizeof ws, n_dims, want);
    const rt_safetensors_entry *e = rt_hf_tensors_find(m->ts, full);
    if (!e) {
        if (optional) return RT_OK;
        return rt_error(RT_ERR_NOT_FOUND, "%s: missing tensor '%s' (expected shape %s)",
                        m->ts->what, full, ws);
    }
    if (!is_float_dtype(e->t.dtype))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has dtype %s (expected F32, F16 or "
                        "BF16)",
                        file_of(m->ts, e), full, e->st_dtype);
    if (e->t.n_dims != n_dims || e->t.shape[0] != d0 || (n_dims == 2 && e->t.shape[1] != d1)) {
        char gs[64];
        shape_str(gs, sizeof gs, e->t.n_dims, e->t.shape);
        return rt_error(RT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s",
                        file_of(m->ts, e), full, gs, ws);
    }
    size_t es = rt_dtype_block_bytes(e->t.dtype);
    if ((uintptr_t)e->t.data % es) {
        RT_TRY(rt_tensor_alloc(out, full, e->t.dtype, n_dims, want));
        memcpy(out->data, e->t.data, e->t.nbytes);
        return RT_OK;
    }
    *out = e->t;
    out->name = rt_strdup(full);
    out->owned = false;
    return out->name ? RT_OK : RT_ERR_NOMEM;
}

/* A (rows, n_in) tensor from columns [c0, c0 + rows) of a Conv1D weight stored (n_in, n_out). */
static int conv1d_slice(const rt_tensor *src, int64_t n_in, int64_t n_out, int64_t c0, int64_t rows,
                        rt_tensor *out) {
    int64_t shape[2] = {rows, n_in};
    RT_TRY(rt_tensor_alloc(out, src->name, src->dtype, 2, shape));
    size_t es = rt_dtype_block_bytes(src->dtype);
    const uint8_t *s = src->data;
    uint8_t *d = out->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t i = 0; i < n_in; i++)
            memcpy(d + ((size_t)r * (size_t)n_in + (size_t)i) * es,
                   s + ((size_t)i * (size_t)n_out + (size_t)(c0 + r)) * es, es);
    return RT_OK;
}

/* A view of elements [off, off + n) of a vector. */
static int vec_slice(const rt_tensor *src, int64_t off, int64_t n, rt_tensor *out) {
    memset(out, 0, sizeof *out);
    size_t es = rt_dtype_block_bytes(src->dtype);
    out->dtype = src->dtype;
    out->n_dims = 1;
    for (int i = 0; i < RT_MAX_DIMS; i++)
        out->shape[i] = 1;
    out->shape[0] = n;
    out->nbytes = (size_t)n * es;
    if (src->owned) {
        out->data = rt_malloc(out->nbytes);
        if (!out->data) return RT_ERR_NOMEM;
        memcpy(out->data, (const uint8_t *)src->data + (size_t)off * es, out->nbytes);
        out->owned = true;
    } else {
        out->data = (uint8_t *)src->data + (size_t)off * es;
    }
    out->name = rt_strdup(src->name);
    return out->name ? RT_OK : RT_ERR_NOMEM;
}

/* The file's prefix of the architecture's names (hf_prefix, e.g. "model.", when its token
 * embedding goes by it; none otherwise) and the name of part (+ "." + kind) of layer il. */
static void find_prefix(mapper *m, const rt_arch_info *a) {
    char full[160];
    snprintf(full, sizeof full, "%s%s", a->hf_prefix, a->hf_token_embd);
    m->prefix = rt_hf_tensors_find(m->ts, full) ? a->hf_prefix : "";
}

static const char *layer_name(char *buf, size_t n, const rt_arch_info *a, int il, const char *part,
                              const char *kind) {
    int o = snprintf(buf, n, a->hf_layer, il);
    snprintf(buf + o, n - (size_t)o, "%s%s%s", part, kind ? "." : "", kind ? kind : "");
    return buf;
}

static int map_llama(const rt_model_config *c, mapper *m, rt_model_weights *w) {
    const rt_arch_info *a = rt_arch_get(c->arch);
    int64_t E = c->n_embd, Q = (int64_t)c->n_head * c->head_dim,
            KV = (int64_t)c->n_kv_head * c->head_dim, F = c->n_ff, V = c->n_vocab;
    find_prefix(m, a);
    RT_TRY(take(m, a->hf_token_embd, V, E, false, &w->token_embd));
    char n[160];
    snprintf(n, sizeof n, "%s.weight", a->hf_output_norm);
    RT_TRY(take(m, n, E, -1, false, &w->output_norm));
    for (int il = 0; il < c->n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
#define T(field, part, kind, d0, d1, opt)                                                          \
    RT_TRY(take(m, layer_name(n, sizeof n, a, il, part, kind), d0, d1, opt, &l->field))
        T(attn_norm, a->hf_attn_norm, "weight", E, -1, false);
        T(wq, a->hf_linear[RT_LIN_Q], "weight", Q, E, false);
        T(wk, a->hf_linear[RT_LIN_K], "weight", KV, E, false);
        T(wv, a->hf_linear[RT_LIN_V], "weight", KV, E, false);
        T(wo, a->hf_linear[RT_LIN_O], "weight", E, Q, false);
        if (c->attn_bias) {
            T(bq, a->hf_linear[RT_LIN_Q], "bias", Q, -1, false);
            T(bk, a->hf_linear[RT_LIN_K], "bias", KV, -1, false);
            T(bv, a->hf_linear[RT_LIN_V], "bias", KV, -1, false);
        }
        T(bo, a->hf_linear[RT_LIN_O], "bias", E, -1, true);
        T(ffn_norm, a->hf_ffn_norm, "weight", E, -1, false);
        T(ffn_gate, a->hf_linear[RT_LIN_GATE], "weight", F, E, false);
        T(ffn_up, a->hf_linear[RT_LIN_UP], "weight", F, E, false);
        T(ffn_down, a->hf_linear[RT_LIN_DOWN], "weight", E, F, false);
#undef T
    }
    if (!c->tied_embeddings) {
        m->prefix = "";
        RT_TRY(take(m, a->hf_output, V, E, false, &w->output));
    }
    return RT_OK;
}

/* GPT-2's Conv1D weights are stored (n_in, n_out) and c_attn fuses q, k, v: they are taken whole
 * and sliced into the row-major (n_out, n_in) views of rt_model_weights. */
static int map_gpt2(const rt_model_config *c, mapper *m, rt_model_weights *w) {
    const rt_arch_info *a = rt_arch_get(c->arch);
    int64_t E = c->n_embd, F = c->n_ff, V = c->n_vocab;
    find_prefix(m, a);
    RT_TRY(take(m, a->hf_token_embd, V, E, false, &w->token_embd));
    RT_TRY(take(m, a->hf_pos_embd, c->n_ctx_train, E, false, &w->pos_embd));
    char n[160];
    snprintf(n, sizeof n, "%s.weight", a->hf_output_norm);
    RT_TRY(take(m, n, E, -1, false, &w->output_norm));
    snprintf(n, sizeof n, "%s.bias", a->hf_output_norm);
    RT_TRY(take(m, n, E, -1, false, &w->output_norm_b));
    int rc = RT_OK;
    const char *const *lin = a->hf_linear;
    for (int il = 0; il < c->n_layer && rc == RT_OK; il++) {
        rt_layer_weights *l = &w->layers[il];
        rt_tensor attn_w = {0}, attn_b = {0}, proj_w = {0}, fc_w = {0}, mproj_w = {0};
#define T(dst, part, kind, d0, d1)                                                                 \
    if (rc == RT_OK) rc = take(m, layer_name(n, sizeof n, a, il, part, kind), d0, d1, false, dst)
        T(&l->attn_norm, a->hf_attn_norm, "weight", E, -1);
        T(&l->attn_norm_b, a->hf_attn_norm, "bias", E, -1);
        T(&attn_w, lin[RT_LIN_Q], "weight", E, 3 * E);
        T(&attn_b, lin[RT_LIN_Q], "bias", 3 * E, -1);
        T(&proj_w, lin[RT_LIN_O], "weight", E, E);
        T(&l->bo, lin[RT_LIN_O], "bias", E, -1);
        T(&l->ffn_norm, a->hf_ffn_norm, "weight", E, -1);
        T(&l->ffn_norm_b, a->hf_ffn_norm, "bias", E, -1);
        T(&fc_w, lin[RT_LIN_UP], "weight", E, F);
        T(&l->ffn_up_b, lin[RT_LIN_UP], "bias", F, -1);
        T(&mproj_w, lin[RT_LIN_DOWN], "weight", F, E);
        T(&l->ffn_down_b, lin[RT_LIN_DOWN], "bias", E, -1);
#undef T
        if (rc == RT_OK) rc = conv1d_slice(&attn_w, E, 3 * E, 0, E, &l->wq);
        if (rc == RT_OK) rc = conv1d_slice(&attn_w, E, 3 * E, E, E, &l->wk);
        if (rc == RT_OK) rc = conv1d_slice(&attn_w, E, 3 * E, 2 * E, E, &l->wv);
        if (rc == RT_OK) rc = vec_slice(&attn_b, 0, E, &l->bq);
        if (rc == RT_OK) rc = vec_slice(&attn_b, E, E, &l->bk);
        if (rc == RT_OK) rc = vec_slice(&attn_b, 2 * E, E, &l->bv);
        if (rc == RT_OK) rc = conv1d_slice(&proj_w, E, E, 0, E, &l->wo);
        if (rc == RT_OK) rc = conv1d_slice(&fc_w, E, F, 0, F, &l->ffn_up);
        if (rc == RT_OK) rc = conv1d_slice(&mproj_w, F, E, 0, E, &l->ffn_down);
        rt_tensor_free(&attn_w);
        rt_tensor_free(&attn_b);
        rt_tensor_free(&proj_w);
        rt_tensor_free(&fc_w);
        rt_tensor_free(&mproj_w);
    }
    RT_TRY(rc);
    if (!c->tied_embeddings) {
        m->prefix = "";
        RT_TRY(take(m, a->hf_output, V, E, false, &w->output));
    }
    return RT_OK;
}

/* BERT LayerNorm: "weight"/"bias", or the old TF names "gamma"/"beta". */
static int take_ln(const mapper *m, const char *base, int64_t E, rt_tensor *g, rt_tensor *b) {
    char n[200];
    snprintf(n, sizeof n, "%s.weight", base);
    RT_TRY(take(m, n, E, -1, true, g));
    if (g->data) {
        snprintf(n, sizeof n, "%s.bias", base);
        return take(m, n, E, -1, false, b);
    }
    snprintf(n, sizeof n, "%s.gamma", base);
    char full[256];
    snprintf(full, sizeof full, "%s%s", m->prefix, n);
    if (!rt_hf_tensors_find(m->ts, full)) {
        snprintf(n, sizeof n, "%s.weight", base);
        return take(m, n, E, -1, false, g); /* reports the missing tensor */
    }
    RT_TRY(take(m, n, E, -1, false, g));
    snprintf(n, sizeof n, "%s.beta", base);
    return take(m, n, E, -1, false, b);
}

static int map_bert(const rt_model_config *c, mapper *m, rt_model_weights *w) {
    const rt_arch_info *a = rt_arch_get(c->arch);
    int64_t E = c->n_embd, F = c->n_ff;
    find_prefix(m, a);
    RT_TRY(take(m, a->hf_token_embd, c->n_vocab, E, false, &w->token_embd));
    RT_TRY(take(m, a->hf_pos_embd, c->n_ctx_train, E, false, &w->pos_embd));
    if (c->n_type_vocab > 0)
        RT_TRY(take(m, a->hf_type_embd, c->n_type_vocab, E, false, &w->type_embd));
    RT_TRY(take_ln(m, a->hf_embd_norm, E, &w->embd_norm, &w->embd_norm_b));
    char n[160];
    const char *const *lin = a->hf_linear;
    for (int il = 0; il < c->n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
        struct {
            rt_arch_linear j;
            rt_tensor *w, *b;
            int64_t n_out, n_in;
        } ls[] = {{RT_LIN_Q, &l->wq, &l->bq, E, E},
                  {RT_LIN_K, &l->wk, &l->bk, E, E},
                  {RT_LIN_V, &l->wv, &l->bv, E, E},
                  {RT_LIN_O, &l->wo, &l->bo, E, E},
                  {RT_LIN_UP, &l->ffn_up, &l->ffn_up_b, F, E},
                  {RT_LIN_DOWN, &l->ffn_down, &l->ffn_down_b, E, F}};
        for (size_t k = 0; k < sizeof ls / sizeof ls[0]; k++) {
            const char *part = lin[ls[k].j];
            RT_TRY(take(m, layer_name(n, sizeof n, a, il, part, "weight"), ls[k].n_out,
                        ls[k].n_in, false, ls[k].w));
            RT_TRY(take(m, layer_name(n, sizeof n, a, il, part, "bias"), ls[k].n_out, -1, false,
                        ls[k].b));
        }
        RT_TRY(take_ln(m, layer_name(n, sizeof n, a, il, a->hf_attn_norm, NULL), E, &l->attn_norm,
                       &l->attn_norm_b));
        RT_TRY(take_ln(m, layer_name(n, sizeof n, a, il, a->hf_ffn_norm, NULL), E, &l->ffn_norm,
                       &l->ffn_norm_b));
    }
    return RT_OK;
}

int rt_hf_weights_map(const rt_model_config *cfg, const rt_hf_tensors *ts, rt_model_weights *w) {
    memset(w, 0, sizeof *w);
    w->layers = rt_calloc((size_t)cfg->n_layer, sizeof *w->layers);
    if (!w->layers) return RT_ERR_NOMEM;
    mapper m = {ts, ""};
    int rc;
    switch (cfg->arch) {
    case RT_ARCH_LLAMA:
    case RT_ARCH_QWEN2:
        rc = map_llama(cfg, &m, w);
        break;
    case RT_ARCH_GPT2:
        rc = map_gpt2(cfg, &m, w);
        break;
    case RT_ARCH_BERT:
        rc = map_bert(cfg, &m, w);
        break;
    default:
        rc = rt_error(RT_ERR_UNSUPPORTED, "%s: unknown architecture", ts->what);
    }
    if (rc < 0) rt_model_weights_free(w, cfg->n_layer);
    return rc;
}

/* ---- writing a Hugging Face directory ----------------------------------------------------------
 */

typedef struct out_list {
    rt_tensor *t;
    size_t n, cap;
} out_list;

static void out_free(out_list *l) {
    for (size_t i = 0; i < l->n; i++)
        rt_tensor_free(&l->t[i]);
    free(l->t);
}

static rt_tensor *out_next(out_list *l) {
    if (RT_GROW(l->t, l->cap, l->n + 1) < 0) return NULL;
    memset(&l->t[l->n], 0, sizeof l->t[0]);
    return &l->t[l->n++];
}

/* src in a dtype safetensors holds: a view (quantized tensors become owned f32). */
static int hf_view(const rt_tensor *src, rt_tensor *out) {
    if (src->dtype == RT_DTYPE_Q8_0 || src->dtype == RT_DTYPE_Q4_0)
        return rt_tensor_convert(src, RT_DTYPE_F32, out);
    *out = *src;
    out->name = NULL;
    out->owned = false;
    return RT_OK;
}

/* Adds src under name; transform: 0 none, 1 undo llama.cpp's rope permutation (n_heads). */
static int add_out(out_list *l, const char *name, const rt_tensor *src, int unpermute_heads) {
    rt_tensor *o = out_next(l);
    if (!o) return RT_ERR_NOMEM;
    RT_TRY(hf_view(src, o));
    if (unpermute_heads) {
        void *dst = rt_malloc(o->nbytes);
        if (!dst) return RT_ERR_NOMEM;
        size_t rb = o->n_dims == 1 ? rt_dtype_block_bytes(o->dtype) : rt_tensor_row_bytes(o);
        rt_rope_permute_rows(o->data, dst, o->shape[0], rb, unpermute_heads, false);
        if (o->owned) free(o->data);
        o->data = dst;
        o->owned = true;
    }
    o->name = rt_strdup(name);
    return o->name ? RT_OK : RT_ERR_NOMEM;
}

/* Adds the Conv1D form (n_in, n_out) of row-major weights parts[0..n) (each (rows_j, n_in)). */
static int add_conv1d(out_list *l, const char *name, const rt_tensor *const *parts, int n) {
    rt_tensor conv[3];
    int64_t n_out = 0, n_in = parts[0]->shape[1];
    int rc = RT_OK, made = 0;
    for (int j = 0; j < n && rc == RT_OK; j++, made++) {
        rc = hf_view(parts[j], &conv[j]);
        if (rc == RT_OK && (conv[j].dtype != conv[0].dtype || conv[j].shape[1] != n_in))
            rc = rt_error(RT_ERR_INVALID, "%s: fused parts differ in dtype or width", name);
        n_out += parts[j]->shape[0];
    }
    rt_tensor *o = rc == RT_OK ? out_next(l) : NULL;
    if (rc == RT_OK && !o) rc = RT_ERR_NOMEM;
    if (rc == RT_OK) {
        int64_t shape[2] = {n_in, n_out};
        rc = rt_tensor_alloc(o, name, conv[0].dtype, 2, shape);
    }
    if (rc == RT_OK) {
        size_t es = rt_dtype_block_bytes(conv[0].dtype);
        int64_t c0 = 0;
        for (int j = 0; j < n; j++) {
            const uint8_t *s = conv[j].data;
            uint8_t *d = o->data;
            for (int64_t r = 0; r < conv[j].shape[0]; r++)
                for (int64_t i = 0; i < n_in; i++)
                    memcpy(d + ((size_t)i * (size_t)n_out + (size_t)(c0 + r)) * es,
                           s + ((size_t)r * (size_t)n_in + (size_t)i) * es, es);
            c0 += conv[j].shape[0];
        }
    }
    for (int j = 0; j < made; j++)
        rt_tensor_free(&conv[j]);
    return rc;
}

/* Concatenation of vectors (GPT-2's c_attn bias). */
static int add_concat(out_list *l, const char *name, const rt_tensor *const *parts, int n) {
    rt_tensor conv[3];
    int64_t total = 0;
    int rc = RT_OK, made = 0;
    for (int j = 0; j < n && rc == RT_OK; j++, made++) {
        rc = hf_view(parts[j], &conv[j]);
        if (rc == RT_OK && conv[j].dtype != conv[0].dtype)
            rc = rt_error(RT_ERR_INVALID, "%s: parts differ in dtype", name);
        total += parts[j]->shape[0];
    }
    rt_tensor *o = rc == RT_OK ? out_next(l) : NULL;
    if (rc == RT_OK && !o) rc = RT_ERR_NOMEM;
    if (rc == RT_OK) rc = rt_tensor_alloc(o, name, conv[0].dtype, 1, &total);
    size_t off = 0;
    for (int j = 0; j < n && rc == RT_OK; j++) {
        memcpy((uint8_t *)o->data + off, conv[j].data, conv[j].nbytes);
        off += conv[j].nbytes;
    }
    for (int j = 0; j < made; j++)
        rt_tensor_free(&conv[j]);
    return rc;
}

static int hf_tensors_of(const rt_model_config *c, const rt_model_weights *w, out_list *l) {
    const rt_arch_info *a = rt_arch_get(c->arch);
    if (!a) return rt_error(RT_ERR_UNSUPPORTED, "unknown architecture");
    char n[160];
    const char *pre = a->hf_write_prefix;
    const char *const *lin = a->hf_linear;
    bool unperm = c->rope_interleaved;
    /* top-level tensor name (prefixed) / name of part.kind of layer il (prefixed) */
#define TOP(name) (snprintf(n, sizeof n, "%s%s", pre, name), n)
#define LAYER(part, kind)                                                                          \
    (snprintf(n, sizeof n, "%s", pre), layer_name(n + strlen(n), sizeof n - strlen(n), a, il,      \
                                                  part, kind),                                     \
     n)
#define ADD(name, tensor, heads)                                                                   \
    do {                                                                                           \
        if ((tensor)->data) RT_TRY(add_out(l, (name), (tensor), (heads)));                         \
    } while (0)
    char on[96];
    snprintf(on, sizeof on, "%s.weight", a->hf_output_norm ? a->hf_output_norm : "");
    switch (c->arch) {
    case RT_ARCH_LLAMA:
    case RT_ARCH_QWEN2:
        ADD(TOP(a->hf_token_embd), &w->token_embd, 0);
        ADD(TOP(on), &w->output_norm, 0);
        if (!c->tied_embeddings) ADD(a->hf_output, &w->output, 0);
        for (int il = 0; il < c->n_layer; il++) {
            const rt_layer_weights *y = &w->layers[il];
            int hq = unperm ? c->n_head : 0, hk = unperm ? c->n_kv_head : 0;
            ADD(LAYER(a->hf_attn_norm, "weight"), &y->attn_norm, 0);
            ADD(LAYER(lin[RT_LIN_Q], "weight"), &y->wq, hq);
            ADD(LAYER(lin[RT_LIN_K], "weight"), &y->wk, hk);
            ADD(LAYER(lin[RT_LIN_V], "weight"), &y->wv, 0);
            ADD(LAYER(lin[RT_LIN_O], "weight"), &y->wo, 0);
            ADD(LAYER(lin[RT_LIN_Q], "bias"), &y->bq, hq);
            ADD(LAYER(lin[RT_LIN_K], "bias"), &y->bk, hk);
            ADD(LAYER(lin[RT_LIN_V], "bias"), &y->bv, 0);
            ADD(LAYER(lin[RT_LIN_O], "bias"), &y->bo, 0);
            ADD(LAYER(a->hf_ffn_norm, "weight"), &y->ffn_norm, 0);
            ADD(LAYER(lin[RT_LIN_GATE], "weight"), &y->ffn_gate, 0);
            ADD(LAYER(lin[RT_LIN_UP], "weight"), &y->ffn_up, 0);
            ADD(LAYER(lin[RT_LIN_DOWN], "weight"), &y->ffn_down, 0);
        }
        break;
    case RT_ARCH_GPT2:
        ADD(TOP(a->hf_token_embd), &w->token_embd, 0);
        ADD(TOP(a->hf_pos_embd), &w->pos_embd, 0);
        ADD(TOP(on), &w->output_norm, 0);
        snprintf(on, sizeof on, "%s.bias", a->hf_output_norm);
        ADD(TOP(on), &w->output_norm_b, 0);
        if (!c->tied_embeddings) ADD(a->hf_output, &w->output, 0);
        for (int il = 0; il < c->n_layer; il++) {
            const rt_layer_weights *y = &w->layers[il];
            ADD(LAYER(a->hf_attn_norm, "weight"), &y->attn_norm, 0);
            ADD(LAYER(a->hf_attn_norm, "bias"), &y->attn_norm_b, 0);
            const rt_tensor *qkv[3] = {&y->wq, &y->wk, &y->wv};
            const rt_tensor *qkv_b[3] = {&y->bq, &y->bk, &y->bv};
            RT_TRY(add_conv1d(l, LAYER(lin[RT_LIN_Q], "weight"), qkv, 3));
            RT_TRY(add_concat(l, LAYER(lin[RT_LIN_Q], "bias"), qkv_b, 3));
            const rt_tensor *wo[1] = {&y->wo}, *up[1] = {&y->ffn_up}, *down[1] = {&y->ffn_down};
            RT_TRY(add_conv1d(l, LAYER(lin[RT_LIN_O], "weight"), wo, 1));
            ADD(LAYER(lin[RT_LIN_O], "bias"), &y->bo, 0);
            ADD(LAYER(a->hf_ffn_norm, "weight"), &y->ffn_norm, 0);
            ADD(LAYER(a->hf_ffn_norm, "bias"), &y->ffn_norm_b, 0);
            RT_TRY(add_conv1d(l, LAYER(lin[RT_LIN_UP], "weight"), up, 1));
            ADD(LAYER(lin[RT_LIN_UP], "bias"), &y->ffn_up_b, 0);
            RT_TRY(add_conv1d(l, LAYER(lin[RT_LIN_DOWN], "weight"), down, 1));
            ADD(LAYER(lin[RT_LIN_DOWN], "bias"), &y->ffn_down_b, 0);
        }
        break;
    case RT_ARCH_BERT:
        ADD(TOP(a->hf_token_embd), &w->token_embd, 0);
        ADD(TOP(a->hf_pos_embd), &w->pos_embd, 0);
        ADD(TOP(a->hf_type_embd), &w->type_embd, 0);
        snprintf(on, sizeof on, "%s.weight", a->hf_embd_norm);
        ADD(TOP(on), &w->embd_norm, 0);
        snprintf(on, sizeof on, "%s.bias", a->hf_embd_norm);
        ADD(TOP(on), &w->embd_norm_b, 0);
        for (int il = 0; il < c->n_layer; il++) {
            const rt_layer_weights *y = &w->layers[il];
            ADD(LAYER(lin[RT_LIN_Q], "weight"), &y->wq, 0);
            ADD(LAYER(lin[RT_LIN_Q], "bias"), &y->bq, 0);
            ADD(LAYER(lin[RT_LIN_K], "weight"), &y->wk, 0);
            ADD(LAYER(lin[RT_LIN_K], "bias"), &y->bk, 0);
            ADD(LAYER(lin[RT_LIN_V], "weight"), &y->wv, 0);
            ADD(LAYER(lin[RT_LIN_V], "bias"), &y->bv, 0);
            ADD(LAYER(lin[RT_LIN_O], "weight"), &y->wo, 0);
            ADD(LAYER(lin[RT_LIN_O], "bias"), &y->bo, 0);
            ADD(LAYER(a->hf_attn_norm, "weight"), &y->attn_norm, 0);
            ADD(LAYER(a->hf_attn_norm, "bias"), &y->attn_norm_b, 0);
            ADD(LAYER(lin[RT_LIN_UP], "weight"), &y->ffn_up, 0);
            ADD(LAYER(lin[RT_LIN_UP], "bias"), &y->ffn_up_b, 0);
            ADD(LAYER(lin[RT_LIN_DOWN], "weight"), &y->ffn_down, 0);
            ADD(LAYER(lin[RT_LIN_DOWN], "bias"), &y->ffn_down_b, 0);
            ADD(LAYER(a->hf_ffn_norm, "weight"), &y->ffn_norm, 0);
            ADD(LAYER(a->hf_ffn_norm, "bias"), &y->ffn_norm_b, 0);
        }
        break;
    default:
        return rt_error(RT_ERR_UNSUPPORTED, "unknown architecture");
    }
#undef ADD
#undef LAYER
#undef TOP
    return RT_OK;
}

/* A float as the shortest decimal that reads back to it (1e-5f prints as 1e-05, not
 * 9.99999975e-06). */
static json_t *json_float(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return json_real(strtod(buf, NULL));
}

static json_t *config_json(const rt_model_config *c, const rt_model_weights *w) {
    json_t *j = json_object();
    const char *dt = w->token_embd.dtype == RT_DTYPE_BF16  ? "bfloat16"
                     : w->token_embd.dtype == RT_DTYPE_F16 ? "float16"
                                                           : "float32";
#define SET(k, v) json_object_set_new(j, k, v)
    switch (c->arch) {
    case RT_ARCH_GPT2:
        SET("architectures", json_pack("[s]", "GPT2LMHeadModel"));
        SET("model_type", json_string("gpt2"));
        SET("n_embd", json_integer(c->n_embd));
        SET("n_layer", json_integer(c->n_layer));
        SET("n_head", json_integer(c->n_head));
        SET("n_inner", json_integer(c->n_ff));
        SET("n_positions", json_integer(c->n_ctx_train));
        SET("n_ctx", json_integer(c->n_ctx_train));
        SET("vocab_size", json_integer(c->n_vocab));
        SET("layer_norm_epsilon", json_float(c->norm_eps));
        SET("activation_function", json_string("gelu_new"));
        SET("tie_word_embeddings", json_boolean(c->tied_embeddings));
        break;
    case RT_ARCH_BERT:
        SET("architectures", json_pack("[s]", "BertModel"));
        SET("model_type", json_string("bert"));
        SET("hidden_size", json_integer(c->n_embd));
        SET("num_hidden_layers", json_integer(c->n_layer));
        SET("num_attention_heads", json_integer(c->n_head));
        SET("intermediate_size", json_integer(c->n_ff));
        SET("max_position_embeddings", json_integer(c->n_ctx_train));
        SET("vocab_size", json_integer(c->n_vocab));
        SET("type_vocab_size", json_integer(c->n_type_vocab));
        SET("layer_norm_eps", json_float(c->norm_eps));
        SET("hidden_act", json_string("gelu"));
        SET("position_embedding_type", json_string("absolute"));
        break;
    default:
        SET("architectures",
            json_pack("[s]", c->arch == RT_ARCH_QWEN2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM"));
        SET("model_type", json_string(rt_arch_name(c->arch)));
        SET("hidden_size", json_integer(c->n_embd));
        SET("num_hidden_layers", json_integer(c->n_layer));
        SET("num_attention_heads", json_integer(c->n_head));
        SET("num_key_value_heads", json_integer(c->n_kv_head));
        SET("head_dim", json_integer(c->head_dim));
        SET("intermediate_size", json_integer(c->n_ff));
        SET("max_position_embeddings", json_integer(c->n_ctx_train));
        SET("vocab_size", json_integer(c->n_vocab));
        SET("rms_norm_eps", json_float(c->norm_eps));
        SET("rope_theta", json_float(c->rope_theta));
        SET("hidden_act", json_string("silu"));
        SET("tie_word_embeddings", json_boolean(c->tied_embeddings));
        if (c->arch == RT_ARCH_LLAMA) {
            SET("attention_bias", json_boolean(c->attn_bias));
            SET("mlp_bias", json_false());
        }
        if (c->rope_scaling_factor > 0)
            SET("rope_scaling",
                json_pack("{s:s, s:o, s:o, s:o, s:i}", "rope_type", "llama3", "factor",
                          json_float(c->rope_scaling_factor), "low_freq_factor",
                          json_float(c->rope_low_freq_factor), "high_freq_factor",
                          json_float(c->rope_high_freq_factor), "original_max_position_embeddings",
                          c->rope_original_ctx));
        break;
    }
    if (c->bos_token_id >= 0) SET("bos_token_id", json_integer(c->bos_token_id));
    if (c->eos_token_id >= 0) SET("eos_token_id", json_integer(c->eos_token_id));
    if (c->pad_token_id >= 0) SET("pad_token_id", json_integer(c->pad_token_id));
    SET("torch_dtype", json_string(dt));
#undef SET
    return j;
}

/* Writes a JSON value to dir/name atomically. */
static int write_json(const char *dir, const char *name, json_t *j) {
    char *path = rt_path_join(dir, name);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    int rc = path && text ? rt_file_write_atomic(path, text, strlen(text))
                          : rt_error(RT_ERR_NOMEM, "%s: cannot write %s", dir, name);
    free(text);
    free(path);
    json_decref(j);
    return rc;
}

/* bert: sentence-transformers' modules.json and 1_Pooling/config.json, so the pooling and
 * normalization survive (rt_hf_config_load reads them back). */
static int write_st_pooling(const char *dir, const rt_model_config *c) {
    json_t *mods =
        json_pack("[{s:i, s:s, s:s, s:s}, {s:i, s:s, s:s, s:s}]", "idx", 0, "name", "0", "path", "",
                  "type", "sentence_transformers.models.Transformer", "idx", 1, "name", "1", "path",
                  "1_Pooling", "type", "sentence_transformers.models.Pooling");
    if (mods && c->normalize_embeddings)
        json_array_append_new(mods, json_pack("{s:i, s:s, s:s, s:s}", "idx", 2, "name", "2", "path",
                                              "2_Normalize", "type",
                                              "sentence_transformers.models.Normalize"));
    RT_TRY(write_json(dir, "modules.json", mods));
    char *pdir = rt_path_join(dir, "1_Pooling");
    if (!pdir) return RT_ERR_NOMEM;
    int rc = rt_mkdir_p(pdir);
    if (rc == RT_OK)
        rc = write_json(pdir, "config.json",
                        json_pack("{s:i, s:b, s:b, s:b, s:b}", "word_embedding_dimension",
                                  c->n_embd, "pooling_mode_cls_token", c->pooling == RT_POOLING_CLS,
                                  "pooling_mode_mean_tokens", c->pooling == RT_POOLING_MEAN,
                                  "pooling_mode_max_tokens", 0, "pooling_mode_lasttoken",
                                  c->pooling == RT_POOLING_LAST));
    free(pdir);
    return rc;
}

int rt_hf_write(const char *dir, const rt_model_config *cfg, const rt_model_weights *w) {
    RT_TRY(rt_model_config_check(cfg, dir));
    RT_TRY(rt_mkdir_p(dir));
    out_list l = {0};
    int rc = hf_tensors_of(cfg, w, &l);
    char *st_path = rt_path_join(dir, "model.safetensors");
    char *cfg_path = rt_path_join(dir, "config.json");
    char *text = NULL;
    if (rc == RT_OK && (!st_path || !cfg_path)) rc = RT_ERR_NOMEM;
    if (rc == RT_OK) {
        const char *meta[] = {"format", "pt"};
        rc = rt_safetensors_write(st_path, l.t, l.n, meta, 1);
    }
    if (rc == RT_OK) {
        json_t *j = config_json(cfg, w);
        text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        json_decref(j);
        if (!text) rc = rt_error(RT_ERR_NOMEM, "%s: cannot serialize config.json", dir);
    }
    if (rc == RT_OK) rc = rt_file_write_atomic(cfg_path, text, strlen(text));
    if (rc == RT_OK && cfg->arch == RT_ARCH_BERT) rc = write_st_pooling(dir, cfg);
    free(text);
    free(st_path);
    free(cfg_path);
    out_free(&l);
    return rc;
}
