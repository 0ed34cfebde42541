/*
 * model_file.c — see model_file.h. Decides the format from the path (directory, magic bytes),
 * delegates to hf.c or gguf.c, and owns whatever they opened.
 */
#include "model/model_file.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/hf.h"
#include "model/hf_tokenizer.h"
#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/quant.h"

#include <inttypes.h>

#include <stdlib.h>
#include <string.h>

struct rt_model_file {
    rt_model_format format;
    char *path;
    char *dir; /* HF only */
    rt_model_config config;
    rt_model_weights weights;
    bool weights_set;
    rt_hf_tensors hf;  /* HF only */
    json_t *hf_config; /* HF only */
    rt_gguf *gguf;     /* GGUF only */
};

/* ---- configuration check ----------------------------------------------------------------------
 */

int rt_model_config_check(const rt_model_config *c, const char *what) {
    if (c->arch == RT_ARCH_UNKNOWN)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: unknown architecture", what);
    struct {
        const char *name;
        int v, lo, hi;
    } dims[] = {
        {"n_vocab", c->n_vocab, 1, 1 << 22},
        {"n_embd", c->n_embd, 1, 1 << 16},
        {"n_layer", c->n_layer, 1, 1024},
        {"n_head", c->n_head, 1, 1 << 12},
        {"n_kv_head", c->n_kv_head, 1, 1 << 12},
        {"head_dim", c->head_dim, 1, 4096},
        {"n_ff", c->n_ff, 1, 1 << 20},
        {"n_ctx_train", c->n_ctx_train, 1, 1 << 24},
        {"n_type_vocab", c->n_type_vocab, 0, 1 << 16},
    };
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (dims[i].v < dims[i].lo || dims[i].v > dims[i].hi)
            return rt_error(RT_ERR_RANGE, "%s: %s = %d is outside [%d, %d]", what, dims[i].name,
                            dims[i].v, dims[i].lo, dims[i].hi);
    if (c->n_head % c->n_kv_head)
        return rt_error(RT_ERR_FORMAT, "%s: n_head %d is not a multiple of n_kv_head %d", what,
                        c->n_head, c->n_kv_head);
    if ((int64_t)c->n_head * c->head_dim > (1 << 17))
        return rt_error(RT_ERR_RANGE, "%s: n_head * head_dim is too large", what);
    bool rope = c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2;
    if (rope && c->head_dim % 2)
        return rt_error(RT_ERR_FORMAT, "%s: head_dim %d is odd (RoPE needs pairs)", what,
                        c->head_dim);
    if (!rope && c->n_head * c->head_dim != c->n_embd)
        return rt_error(RT_ERR_FORMAT, "%s: n_head * head_dim != n_embd", what);
    if (!(c->norm_eps >= 0 && c->norm_eps < 1))
        return rt_error(RT_ERR_RANGE, "%s: norm epsilon %g is out of range", what,
                        (double)c->norm_eps);
    if (rope && !(c->rope_theta > 0))
        return rt_error(RT_ERR_RANGE, "%s: rope_theta %g is not positive", what,
                        (double)c->rope_theta);
    if (c->arch == RT_ARCH_BERT && c->tied_embeddings)
        return rt_error(RT_ERR_FORMAT, "%s: bert has no output layer to tie", what);
    return RT_OK;
}

/* ---- weights ------------------------------------------------------------------------------------
 */

static void weights_tensors(const rt_model_config *cfg, const rt_model_weights *w, int il,
                            const char **names, rt_tensor **ts, size_t *n) {
    rt_layer_weights *l = &w->layers[il];
    const rt_arch_info *a = rt_arch_get(cfg->arch);
    const char *an = a ? a->gguf_attn_norm : "attn_norm", *fn = a ? a->gguf_ffn_norm : "ffn_norm";
    struct {
        const char *base, *kind;
        rt_tensor *t;
    } all[] = {
        {an, "weight", &l->attn_norm},        {an, "bias", &l->attn_norm_b},
        {"attn_q", "weight", &l->wq},         {"attn_q", "bias", &l->bq},
        {"attn_k", "weight", &l->wk},         {"attn_k", "bias", &l->bk},
        {"attn_v", "weight", &l->wv},         {"attn_v", "bias", &l->bv},
        {"attn_output", "weight", &l->wo},    {"attn_output", "bias", &l->bo},
        {fn, "weight", &l->ffn_norm},         {fn, "bias", &l->ffn_norm_b},
        {"ffn_gate", "weight", &l->ffn_gate}, {"ffn_up", "weight", &l->ffn_up},
        {"ffn_up", "bias", &l->ffn_up_b},     {"ffn_down", "weight", &l->ffn_down},
        {"ffn_down", "bias", &l->ffn_down_b},
    };
    *n = 0;
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        names[2 * i] = all[i].base;
        names[2 * i + 1] = all[i].kind;
        ts[i] = all[i].t;
        (*n)++;
    }
}

size_t rt_model_weights_list(const rt_model_config *cfg, const rt_model_weights *w,
                             rt_weight_ref *refs, size_t max) {
    size_t k = 0;
    rt_model_weights *mw = (rt_model_weights *)w;
#define ADD(tensor, fmt, ...)                                                                      \
    do {                                                                                           \
        if ((tensor)->data) {                                                                      \
            if (k < max) {                                                                         \
                snprintf(refs[k].name, sizeof refs[k].name, fmt, __VA_ARGS__);                     \
                refs[k].t = (tensor);                                                              \
            }                                                                                      \
            k++;                                                                                   \
        }                                                                                          \
    } while (0)
    ADD(&mw->token_embd, "%s", "token_embd.weight");
    ADD(&mw->pos_embd, "%s", "position_embd.weight");
    ADD(&mw->type_embd, "%s", "token_types.weight");
    ADD(&mw->embd_norm, "%s", "token_embd_norm.weight");
    ADD(&mw->embd_norm_b, "%s", "token_embd_norm.bias");
    for (int il = 0; w->layers && il < cfg->n_layer; il++) {
        const char *names[2 * 17];
        rt_tensor *ts[17];
        size_t n;
        weights_tensors(cfg, w, il, names, ts, &n);
        for (size_t i = 0; i < n; i++)
            ADD(ts[i], "blk.%d.%s.%s", il, names[2 * i], names[2 * i + 1]);
    }
    ADD(&mw->output_norm, "%s", "output_norm.weight");
    ADD(&mw->output_norm_b, "%s", "output_norm.bias");
    ADD(&mw->output, "%s", "output.weight");
#undef ADD
    return k;
}

int64_t rt_model_weights_n_params(const rt_model_config *cfg, const rt_model_weights *w) {
    size_t n = rt_model_weights_list(cfg, w, NULL, 0);
    rt_weight_ref *refs = rt_calloc(n ? n : 1, sizeof *refs);
    if (!refs) return -1;
    rt_model_weights_list(cfg, w, refs, n);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += rt_tensor_nelements(refs[i].t);
    free(refs);
    return total;
}

void rt_model_weights_free(rt_model_weights *w, int n_layer) {
    rt_tensor *top[] = {&w->token_embd,  &w->pos_embd,    &w->type_embd,     &w->embd_norm,
                        &w->embd_norm_b, &w->output_norm, &w->output_norm_b, &w->output};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        rt_tensor_free(top[i]);
    for (int il = 0; w->layers && il < n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
        rt_tensor *ts[] = {&l->attn_norm, &l->attn_norm_b, &l->wq,       &l->wk,     &l->wv,
                           &l->wo,        &l->bq,          &l->bk,       &l->bv,     &l->bo,
                           &l->ffn_norm,  &l->ffn_norm_b,  &l->ffn_gate, &l->ffn_up, &l->ffn_down,
                           &l->ffn_up_b,  &l->ffn_down_b};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
            rt_tensor_free(ts[i]);
    }
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* ---- opening ------------------------------------------------------------------------------------
 */

static bool has_gguf_magic(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return false;
    char m[4] = {0};
    size_t n = fread(m, 1, 4, fp);
    fclose(fp);
    return n == 4 && !memcmp(m, "GGUF", 4);
}

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return rt_strdup(".");
    if (slash == path) return rt_strdup("/");
    char *d = rt_malloc((size_t)(slash - path) + 1);
    if (!d) return NULL;
    memcpy(d, path, (size_t)(slash - path));
    d[slash - path] = '\0';
    return d;
}

static int open_hf(rt_model_file *f, const char *path) {
    bool is_dir = rt_is_dir(path);
    f->dir = is_dir ? rt_strdup(path) : dir_of(path);
    if (!f->dir) return RT_ERR_NOMEM;
    int rc = rt_hf_config_load(f->dir, &f->config, &f->hf_config);
    if (rc < 0) return rc;
    /* One shard of a sharded checkpoint stands for the whole model. */
    char *index = rt_path_join(f->dir, "model.safetensors.index.json");
    if (!index) return RT_ERR_NOMEM;
    bool sharded = !is_dir && rt_is_file(index);
    free(index);
    RT_TRY(rt_hf_tensors_open(sharded ? f->dir : path, &f->hf));
    RT_TRY(rt_hf_weights_map(&f->config, &f->hf, &f->weights));
    f->weights_set = true;
    return RT_OK;
}

static int open_gguf(rt_model_file *f, const char *path) {
    RT_TRY(rt_gguf_open(path, &f->gguf));
    RT_TRY(rt_gguf_model_config(f->gguf, &f->config));
    RT_TRY(rt_gguf_model_weights(f->gguf, &f->config, &f->weights));
    f->weights_set = true;
    return RT_OK;
}

int rt_model_file_open(const char *path, rt_model_file **out) {
    *out = NULL;
    if (!path || !*path) return rt_error(RT_ERR_INVALID, "no model path given");
    if (!rt_is_dir(path) && !rt_is_file(path))
        return rt_error(RT_ERR_NOT_FOUND, "%s: no such model file or directory", path);
    rt_model_file *f = rt_calloc(1, sizeof *f);
    if (!f) return RT_ERR_NOMEM;
    f->path = rt_strdup(path);
    if (!f->path) {
        free(f);
        return RT_ERR_NOMEM;
    }
    int rc;
    if (rt_is_dir(path) || rt_path_has_suffix(path, ".safetensors")) {
        f->format = RT_MODEL_FORMAT_HF;
        rc = open_hf(f, path);
    } else if (has_gguf_magic(path) || rt_path_has_suffix(path, ".gguf")) {
        f->format = RT_MODEL_FORMAT_GGUF;
        rc = open_gguf(f, path);
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED,
                      "%s: not a GGUF file, a .safetensors file or a model "
                      "directory",
                      path);
    }
    if (rc < 0) {
        rt_model_file_close(f);
        return rc;
    }
    *out = f;
    return RT_OK;
}

void rt_model_file_close(rt_model_file *f) {
    if (!f) return;
    if (f->weights_set) rt_model_weights_free(&f->weights, f->config.n_layer);
    rt_hf_tensors_close(&f->hf);
    if (f->hf_config) json_decref(f->hf_config);
    rt_gguf_close(f->gguf);
    free(f->dir);
    free(f->path);
    free(f);
}

const rt_model_config *rt_model_file_config(const rt_model_file *f) {
    return &f->config;
}
const rt_model_weights *rt_model_file_weights(const rt_model_file *f) {
    return &f->weights;
}
rt_model_format rt_model_file_format(const rt_model_file *f) {
    return f->format;
}
const char *rt_model_file_path(const rt_model_file *f) {
    return f->path;
}
const char *rt_model_file_dir(const rt_model_file *f) {
    return f->dir;
}
const rt_gguf *rt_model_file_gguf(const rt_model_file *f) {
    return f->gguf;
}
const json_t *rt_model_file_hf_config(const rt_model_file *f) {
    return f->hf_config;
}

/* ---- describe ----------------------------------------------------------------------------------
 */

typedef struct dtype_stat {
    const char *name;
    int64_t tensors, params;
    uint64_t bytes;
} dtype_stat;

static void stat_add(dtype_stat *stats, size_t *n, const char *name, int64_t params,
                     uint64_t bytes) {
    size_t i = 0;
    while (i < *n && strcmp(stats[i].name, name))
        i++;
    if (i == *n) {
        if (*n >= 48) return;
        stats[i] = (dtype_stat){name, 0, 0, 0};
        (*n)++;
    }
    stats[i].tensors++;
    stats[i].params += params;
    stats[i].bytes += bytes;
}

static json_t *gguf_value_json(const rt_gguf_value *v) {
    switch (v->type) {
    case RT_GGUF_STRING: {
        if (v->len <= 120) return json_stringn(v->str, v->len);
        char buf[140];
        snprintf(buf, sizeof buf, "%.100s... (%zu bytes)", v->str, v->len);
        return json_string(buf);
    }
    case RT_GGUF_ARRAY: {
        char buf[64];
        snprintf(buf, sizeof buf, "[%s x %" PRIu64 "]", rt_gguf_type_name(v->arr_type), v->n);
        return json_string(buf);
    }
    case RT_GGUF_BOOL:
        return json_boolean(v->b);
    case RT_GGUF_FLOAT32:
    case RT_GGUF_FLOAT64:
        return json_real(v->f64);
    case RT_GGUF_INT8:
    case RT_GGUF_INT16:
    case RT_GGUF_INT32:
    case RT_GGUF_INT64:
        return json_integer(v->i64);
    default:
        return json_integer((json_int_t)v->u64);
    }
}

/* A float as the shortest decimal that reads back to it (1e-5f prints as 1e-05, not
 * 9.99999975e-06). */
static json_t *json_float(float x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)x);
    return json_real(strtod(buf, NULL));
}

static void config_to_json(json_t *j, const rt_model_config *c) {
    json_object_set_new(j, "architecture", json_string(rt_arch_name(c->arch)));
    json_object_set_new(j, "n_vocab", json_integer(c->n_vocab));
    json_object_set_new(j, "n_embd", json_integer(c->n_embd));
    json_object_set_new(j, "n_layer", json_integer(c->n_layer));
    json_object_set_new(j, "n_head", json_integer(c->n_head));
    json_object_set_new(j, "n_kv_head", json_integer(c->n_kv_head));
    json_object_set_new(j, "head_dim", json_integer(c->head_dim));
    json_object_set_new(j, "n_ff", json_integer(c->n_ff));
    json_object_set_new(j, "n_ctx_train", json_integer(c->n_ctx_train));
    json_object_set_new(j, "norm_eps", json_float(c->norm_eps));
    if (c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2) {
        json_object_set_new(j, "rope_theta", json_float(c->rope_theta));
        json_object_set_new(j, "rope_pairing",
                            json_string(c->rope_interleaved ? "interleaved" : "rotate_half"));
        if (c->rope_scaling_factor > 0)
            json_object_set_new(j, "rope_scaling_llama3_factor",
                                json_float(c->rope_scaling_factor));
    }
    if (c->arch == RT_ARCH_BERT) {
        json_object_set_new(j, "n_type_vocab", json_integer(c->n_type_vocab));
        json_object_set_new(j, "pooling",
                            json_string(c->pooling == RT_POOLING_CLS    ? "cls"
                                        : c->pooling == RT_POOLING_LAST ? "last"
                                                                        : "mean"));
        json_object_set_new(j, "normalize_embeddings", json_boolean(c->normalize_embeddings));
    } else {
        json_object_set_new(j, "tied_embeddings", json_boolean(c->tied_embeddings));
    }
    json_object_set_new(j, "attn_bias", json_boolean(c->attn_bias));
    json_object_set_new(j, "bos_token_id", json_integer(c->bos_token_id));
    json_object_set_new(j, "eos_token_id", json_integer(c->eos_token_id));
    json_object_set_new(j, "pad_token_id", json_integer(c->pad_token_id));
}

int rt_model_file_describe(const char *path, char **out) {
    *out = NULL;
    json_t *j = json_object();
    dtype_stat stats[48];
    size_t n_stats = 0;
    int64_t n_params = 0;
    uint64_t file_bytes = 0;
    int rc = RT_OK;
    json_object_set_new(j, "path", json_string(path));
    rt_model_file *f = NULL;
    int open_rc = rt_model_file_open(path, &f);
    char open_err[512];
    snprintf(open_err, sizeof open_err, "%s", rt_last_error());
    bool is_gguf = !rt_is_dir(path) && !rt_path_has_suffix(path, ".safetensors");
    if (is_gguf) {
        rt_gguf *g = NULL;
        rc = rt_gguf_open(path, &g);
        if (rc < 0) goto done;
        json_object_set_new(j, "format", json_string("gguf"));
        json_object_set_new(j, "gguf_version", json_integer(rt_gguf_version(g)));
        rt_model_config c;
        if (rt_gguf_model_config(g, &c) == RT_OK) config_to_json(j, &c);
        for (size_t i = 0; i < rt_gguf_n_tensors(g); i++) {
            const rt_gguf_tensor *t = rt_gguf_tensor_at(g, i);
            int64_t ne = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
            n_params += ne;
            stat_add(stats, &n_stats, rt_ggml_type_name(t->type), ne, t->nbytes);
        }
        file_bytes = rt_gguf_file_size(g);
        json_t *meta = json_object();
        for (size_t i = 0; i < rt_gguf_n_kv(g); i++)
            json_object_set_new(meta, rt_gguf_key(g, i), gguf_value_json(rt_gguf_kv_value(g, i)));
        json_object_set_new(j, "metadata", meta);
        json_object_set_new(j, "n_tensors", json_integer((json_int_t)rt_gguf_n_tensors(g)));
        rt_gguf_close(g);
    } else {
        if (open_rc < 0) {
            rc = open_rc;
            goto done;
        }
        json_object_set_new(j, "format", json_string("hf"));
        config_to_json(j, &f->config);
        size_t n_tensors = 0;
        for (size_t k = 0; k < f->hf.n_files; k++) {
            const rt_safetensors *st = &f->hf.files[k];
            file_bytes += st->map.size;
            for (size_t i = 0; i < st->n_tensors; i++) {
                const rt_safetensors_entry *e = &st->tensors[i];
                int64_t ne = rt_tensor_nelements(&e->t);
                n_params += ne;
                stat_add(stats, &n_stats, e->st_dtype, ne, e->t.nbytes);
                n_tensors++;
            }
        }
        json_object_set_new(j, "metadata", json_deep_copy(f->hf_config));
        json_object_set_new(j, "n_tensors", json_integer((json_int_t)n_tensors));
    }
    json_object_set_new(j, "n_params", json_integer(n_params));
    json_object_set_new(j, "file_bytes", json_integer((json_int_t)file_bytes));
    json_t *dts = json_object();
    for (size_t i = 0; i < n_stats; i++)
        json_object_set_new(dts, stats[i].name,
                            json_pack("{s:I, s:I, s:I}", "tensors", (json_int_t)stats[i].tensors,
                                      "params", (json_int_t)stats[i].params, "bytes",
                                      (json_int_t)stats[i].bytes));
    json_object_set_new(j, "dtypes", dts);
    json_object_set_new(j, "loadable", json_boolean(open_rc == RT_OK));
    if (open_rc < 0) json_object_set_new(j, "error", json_string(open_err));
    *out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
    if (!*out) rc = rt_error(RT_ERR_NOMEM, "%s: cannot serialize the description", path);
done:
    rt_model_file_close(f);
    json_decref(j);
    return rc;
}

/* ---- convert ----------------------------------------------------------------------------------
 */

rt_model_file_convert_params rt_model_file_convert_default_params(void) {
    return (rt_model_file_convert_params){.dtype = RT_DTYPE_F16};
}

/* A copy of w with every tensor in dtype (owned where converted, views otherwise). */
static int weights_as(const rt_model_config *c, const rt_model_weights *w, rt_dtype dtype,
                      rt_model_weights *out) {
    memset(out, 0, sizeof *out);
    out->layers = rt_calloc((size_t)c->n_layer, sizeof *out->layers);
    if (!out->layers) return RT_ERR_NOMEM;
    size_t n = rt_model_weights_list(c, w, NULL, 0);
    rt_weight_ref *src = rt_calloc(n + 1, sizeof *src);
    if (!src) return RT_ERR_NOMEM;
    rt_model_weights_list(c, w, src, n);
    /* Each source tensor's slot in `out` is found by its offset inside rt_model_weights or
     * inside the layer array. */
    int rc = RT_OK;
    for (size_t i = 0; i < n && rc == RT_OK; i++) {
        const rt_tensor *s = src[i].t;
        rt_tensor *d;
        const char *base = (const char *)w, *lbase = (const char *)w->layers;
        size_t lsize = (size_t)c->n_layer * sizeof *w->layers;
        if ((const char *)s >= lbase && (const char *)s < lbase + lsize)
            d = (rt_tensor *)((char *)out->layers + ((const char *)s - lbase));
        else
            d = (rt_tensor *)((char *)out + ((const char *)s - base));
        if (s->dtype == dtype) {
            *d = *s;
            d->owned = false;
            d->name = NULL;
        } else {
            rc = rt_tensor_convert(s, dtype, d);
        }
    }
    free(src);
    return rc;
}

static const char *const tokenizer_files[] = {
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "generation_config.json",
    "modules.json",
    "sentence_bert_config.json",
    "1_Pooling/config.json",
    "added_tokens.json",
};

int rt_model_file_save_as(const rt_model_file *f, const rt_model_config *cfg,
                          const rt_model_weights *w, const char *out, rt_dtype dtype) {
    bool to_gguf = rt_path_has_suffix(out, ".gguf");
    int rc = RT_OK;
    if (to_gguf) {
        rt_gguf_kv *extra = NULL;
        size_t n_extra = 0;
        rt_hf_gguf_tokenizer tok = {0};
        if (f->gguf) {
            extra = rt_calloc(rt_gguf_n_kv(f->gguf) + 1, sizeof *extra);
            if (!extra) rc = RT_ERR_NOMEM;
            for (size_t i = 0; rc == RT_OK && i < rt_gguf_n_kv(f->gguf); i++) {
                const char *k = rt_gguf_key(f->gguf, i);
                if (strncmp(k, "tokenizer.", 10) && strncmp(k, "general.", 8)) continue;
                extra[n_extra].key = k;
                extra[n_extra].value = *rt_gguf_kv_value(f->gguf, i);
                n_extra++;
            }
        } else if (f->dir) {
            int trc = rt_hf_gguf_tokenizer_load(f->dir, cfg->n_vocab, &tok);
            if (trc == RT_OK) {
                extra = tok.kvs;
                n_extra = tok.n_kvs;
            } else {
                rt_log_warn("%s: written without tokenizer metadata (%s); llama.cpp needs "
                            "tokenizer.ggml.*",
                            out, rt_last_error());
                rt_error_clear();
            }
        }
        const char *name = NULL;
        if (f->gguf) rt_gguf_get_str(f->gguf, "general.name", &name);
        rt_gguf_write_params gp = {
            .dtype = dtype, .extra = extra, .n_extra = n_extra, .name = name};
        if (rc == RT_OK) rc = rt_gguf_write(out, cfg, w, &gp);
        if (f->gguf) free(extra);
        rt_hf_gguf_tokenizer_free(&tok);
    } else {
        rt_model_weights conv;
        rc = weights_as(cfg, w, dtype, &conv);
        if (rc == RT_OK) rc = rt_hf_write(out, cfg, &conv);
        rt_model_weights_free(&conv, cfg->n_layer);
        for (size_t i = 0;
             rc == RT_OK && f->dir && i < sizeof tokenizer_files / sizeof tokenizer_files[0]; i++) {
            char *from = rt_path_join(f->dir, tokenizer_files[i]);
            char *to = rt_path_join(out, tokenizer_files[i]);
            if (!from || !to) rc = RT_ERR_NOMEM;
            if (rc == RT_OK && rt_is_file(from) && strcmp(from, to)) {
                if (strchr(tokenizer_files[i], '/')) {
                    char *slash = strrchr(to, '/');
                    *slash = '\0';
                    rc = rt_mkdir_p(to);
                    *slash = '/';
                }
                if (rc == RT_OK) rc = rt_file_copy(from, to);
            }
            free(from);
            free(to);
        }
    }
    return rc;
}

int rt_model_file_convert(const char *in, const char *out,
                          const rt_model_file_convert_params *params) {
    rt_model_file_convert_params p = params ? *params : rt_model_file_convert_default_params();
    bool to_gguf = rt_path_has_suffix(out, ".gguf");
    if (!to_gguf && (p.dtype == RT_DTYPE_Q8_0 || p.dtype == RT_DTYPE_Q4_0))
        return rt_error(RT_ERR_INVALID,
                        "%s: a Hugging Face directory cannot hold %s weights "
                        "(write a .gguf file, or use f32/f16/bf16)",
                        out, rt_dtype_name(p.dtype));
    if (p.dtype != RT_DTYPE_F32 && p.dtype != RT_DTYPE_F16 && p.dtype != RT_DTYPE_BF16 &&
        p.dtype != RT_DTYPE_Q8_0 && p.dtype != RT_DTYPE_Q4_0)
        return rt_error(RT_ERR_INVALID, "cannot convert to dtype %d", (int)p.dtype);
    rt_model_file *f;
    RT_TRY(rt_model_file_open(in, &f));
    int rc = rt_model_file_save_as(f, &f->config, &f->weights, out, p.dtype);
    rt_model_file_close(f);
    return rc;
}
