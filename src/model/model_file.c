/*
 * model_file.c — see model_file.h. Decides the format from the path (directory, magic bytes),
 * delegates to hf.c or gguf.c, and owns whatever they opened.
 */
#include "model/model_file.h"
#include "model/gguf.h"
#include "model/hf.h"
#include "core/error.h"

#include <stdlib.h>
#include <string.h>

struct rt_model_file {
    rt_model_format format;
    char *path;
    char *dir;          /* HF only */
    rt_model_config config;
    rt_model_weights weights;
    bool weights_set;
    rt_hf_tensors hf;   /* HF only */
    json_t *hf_config;  /* HF only */
    rt_gguf *gguf;      /* GGUF only */
};

/* ---- configuration check ---------------------------------------------------------------------- */

int rt_model_config_check(const rt_model_config *c, const char *what) {
    if (c->arch == RT_ARCH_UNKNOWN)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: unknown architecture", what);
    struct { const char *name; int v, lo, hi; } dims[] = {
        {"n_vocab", c->n_vocab, 1, 1 << 22},   {"n_embd", c->n_embd, 1, 1 << 16},
        {"n_layer", c->n_layer, 1, 1024},      {"n_head", c->n_head, 1, 1 << 12},
        {"n_kv_head", c->n_kv_head, 1, 1 << 12}, {"head_dim", c->head_dim, 1, 4096},
        {"n_ff", c->n_ff, 1, 1 << 20},         {"n_ctx_train", c->n_ctx_train, 1, 1 << 24},
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

/* ---- weights ------------------------------------------------------------------------------------ */

static void weights_tensors(const rt_model_config *cfg, const rt_model_weights *w, int il,
                            const char **names, rt_tensor **ts, size_t *n) {
    rt_layer_weights *l = &w->layers[il];
    bool bert = cfg->arch == RT_ARCH_BERT;
    const char *an = bert ? "attn_output_norm" : "attn_norm";
    const char *fn = bert ? "layer_output_norm" : "ffn_norm";
    struct { const char *base, *kind; rt_tensor *t; } all[] = {
        {an, "weight", &l->attn_norm},     {an, "bias", &l->attn_norm_b},
        {"attn_q", "weight", &l->wq},      {"attn_q", "bias", &l->bq},
        {"attn_k", "weight", &l->wk},      {"attn_k", "bias", &l->bk},
        {"attn_v", "weight", &l->wv},      {"attn_v", "bias", &l->bv},
        {"attn_output", "weight", &l->wo}, {"attn_output", "bias", &l->bo},
        {fn, "weight", &l->ffn_norm},      {fn, "bias", &l->ffn_norm_b},
        {"ffn_gate", "weight", &l->ffn_gate}, {"ffn_up", "weight", &l->ffn_up},
        {"ffn_up", "bias", &l->ffn_up_b},  {"ffn_down", "weight", &l->ffn_down},
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
    for (size_t i = 0; i < n; i++) total += rt_tensor_nelements(refs[i].t);
    free(refs);
    return total;
}

void rt_model_weights_free(rt_model_weights *w, int n_layer) {
    rt_tensor *top[] = {&w->token_embd, &w->pos_embd,    &w->type_embd,     &w->embd_norm,
                        &w->embd_norm_b, &w->output_norm, &w->output_norm_b, &w->output};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++) rt_tensor_free(top[i]);
    for (int il = 0; w->layers && il < n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
        rt_tensor *ts[] = {&l->attn_norm, &l->attn_norm_b, &l->wq, &l->wk, &l->wv, &l->wo,
                           &l->bq, &l->bk, &l->bv, &l->bo, &l->ffn_norm, &l->ffn_norm_b,
                           &l->ffn_gate, &l->ffn_up, &l->ffn_down, &l->ffn_up_b, &l->ffn_down_b};
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) rt_tensor_free(ts[i]);
    }
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* ---- opening ------------------------------------------------------------------------------------ */

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

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
    RT_TRY(rt_hf_tensors_open(path, &f->hf));
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
    if (rt_is_dir(path) || ends_with(path, ".safetensors")) {
        f->format = RT_MODEL_FORMAT_HF;
        rc = open_hf(f, path);
    } else if (has_gguf_magic(path) || ends_with(path, ".gguf")) {
        f->format = RT_MODEL_FORMAT_GGUF;
        rc = open_gguf(f, path);
    } else {
        rc = rt_error(RT_ERR_UNSUPPORTED, "%s: not a GGUF file, a .safetensors file or a model "
                      "directory", path);
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

const rt_model_config *rt_model_file_config(const rt_model_file *f) { return &f->config; }
const rt_model_weights *rt_model_file_weights(const rt_model_file *f) { return &f->weights; }
rt_model_format rt_model_file_format(const rt_model_file *f) { return f->format; }
const char *rt_model_file_path(const rt_model_file *f) { return f->path; }
const char *rt_model_file_dir(const rt_model_file *f) { return f->dir; }
const rt_gguf *rt_model_file_gguf(const rt_model_file *f) { return f->gguf; }
const json_t *rt_model_file_hf_config(const rt_model_file *f) { return f->hf_config; }
