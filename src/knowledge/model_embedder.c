/*
 * model_embedder.c — rt_embedder_open_model (ragtune.h): an rt_embedder backed by a model file,
 * whose tokenizer turns each text into ids (BERT: its pooling over a bidirectional pass;
 * decoders: mean pooling of the final hidden states), L2-normalized. One model, one tokenizer and
 * one context per embedder; calls are serialized by a mutex (the context holds the forward pass's
 * buffers). The texts of one call are embedded together by rt_model_embed_batch. Texts longer than the context are truncated to its first n_ctx tokens, as
 * sentence-transformers truncates to max_seq_length. LoRA adapters, when given, are applied at
 * run time (rt_context_set_adapters) and named in the embedder's name.
 *
 * The name "default" means the embedder ragtune ships (models/embedder/embedder.gguf, built by
 * scripts/train-embedder.sh), looked up in $RAGTUNE_MODELS, then beside the executable
 * (<exe dir>/../models, <exe dir>/../../models for a build directory inside the source tree,
 * <exe dir>/../share/ragtune/models); the collection records the name "default".
 */
#include "knowledge/model_embedder.h"
#include "core/error.h"
#include "core/file.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_EMBEDDER_FILE "embedder/embedder.gguf"
#define DEFAULT_EMBEDDER_RECIPE "scripts/train-embedder.sh"

typedef struct model_embedder {
    rt_model *model;
    rt_tokenizer *tokenizer;
    rt_context *ctx;
    rt_adapter **adapters; /* (n_adapters) applied at run time */
    int n_adapters;
    pthread_mutex_t lock;
    char *name;
    char content_id[33];
} model_embedder;

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The content fingerprint of a model: a GGUF or safetensors file's bytes, or a directory's
 * configuration, tokenizer and weight files (every *.safetensors, in name order). */
static int model_content_id(const char *path, char out[33]) {
    if (!rt_is_dir(path)) return rt_content_hash(path, NULL, out);
    static const char *const fixed[] = {"config.json",  "tokenizer.json",
                                        "vocab.txt",    "tokenizer_config.json",
                                        "modules.json", "1_Pooling/config.json",
                                        "tokenizer.gguf"};
    enum { N_FIXED = sizeof fixed / sizeof *fixed, MAX_NAMES = 256 };
    const char *names[N_FIXED + MAX_NAMES + 1];
    char *owned[MAX_NAMES];
    size_t n = 0, n_owned = 0;
    for (size_t i = 0; i < N_FIXED; i++)
        names[n++] = fixed[i];
    DIR *d = opendir(path);
    if (!d) return rt_error(RT_ERR_IO, "%s: cannot open directory", path);
    struct dirent *e;
    int st = RT_OK;
    while ((e = readdir(d)) && n_owned < MAX_NAMES) {
        if (!rt_path_has_suffix(e->d_name, ".safetensors")) continue;
        if (!(owned[n_owned] = rt_strdup(e->d_name))) {
            st = RT_ERR_NOMEM;
            break;
        }
        n_owned++;
    }
    closedir(d);
    qsort(owned, n_owned, sizeof *owned, cmp_str);
    for (size_t i = 0; i < n_owned; i++)
        names[n++] = owned[i];
    names[n] = NULL;
    if (!st) st = rt_content_hash(path, names, out);
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    return st;
}

/* Checks that the n vectors in out (n, dim) are finite. */
static int check_finite(const model_embedder *e, const float *out, size_t n, int dim) {
    for (size_t k = 0; k < n * (size_t)dim; k++)
        if (!isfinite(out[k]))
            return rt_error(RT_ERR_FORMAT,
                            "%s: the model's output is not finite (NaN or infinite): its weights "
                            "are damaged or come from a diverged training",
                            e->name);
    return RT_OK;
}

/* Tokenizes every text (truncated to n_ctx tokens), then embeds the non-empty ones in one
 * rt_model_embed_batch call (packed passes, one per thread); an empty text embeds as the zero
 * vector. */
static int embed_texts(void *user, const char *const *texts, const size_t *lens, int n,
                       float *out) {
    model_embedder *e = user;
    int dim = rt_model_n_embd(e->model), n_ctx = rt_context_n_ctx(e->ctx);
    if (n <= 0) return RT_OK;
    int32_t **ids = rt_calloc((size_t)n, sizeof *ids);
    int *len = rt_calloc((size_t)n, sizeof *len), *which = rt_calloc((size_t)n, sizeof *which);
    float *vecs = rt_malloc((size_t)n * (size_t)dim * sizeof *vecs);
    int status = ids && len && which && vecs ? RT_OK : RT_ERR_NOMEM, m = 0;
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < n && status == RT_OK; i++) {
        size_t n_ids = 0;
        status = rt_tokenizer_encode(e->tokenizer, texts[i], lens[i], true, &ids[m], &n_ids);
        if (status != RT_OK) break;
        if (n_ids == 0) {
            memset(out + (size_t)i * dim, 0, (size_t)dim * sizeof(float));
            free(ids[m]);
            ids[m] = NULL;
            continue;
        }
        len[m] = n_ids > (size_t)n_ctx ? n_ctx : (int)n_ids;
        which[m++] = i;
    }
    if (status == RT_OK && m > 0)
        status = rt_model_embed_batch(e->ctx, (const int32_t *const *)ids, len, m, vecs);
    pthread_mutex_unlock(&e->lock);
    if (status == RT_OK) status = check_finite(e, vecs, (size_t)m, dim);
    for (int k = 0; status == RT_OK && k < m; k++)
        memcpy(out + (size_t)which[k] * dim, vecs + (size_t)k * dim, (size_t)dim * sizeof(float));
    for (int k = 0; ids && k < n; k++)
        free(ids[k]);
    free(ids);
    free(len);
    free(which);
    free(vecs);
    return status;
}

/* Loads the adapters of specs ("PATH[:SCALE]") for e's model and sets them on its context. */
static int set_adapters(model_embedder *e, const char *const *specs, int n) {
    float *scales = rt_calloc((size_t)n, sizeof *scales);
    e->adapters = rt_calloc((size_t)n, sizeof *e->adapters);
    int status = scales && e->adapters ? RT_OK : RT_ERR_NOMEM;
    for (int i = 0; i < n && status == RT_OK; i++) {
        char *path = NULL;
        status = rt_adapter_spec_parse(specs[i], &path, &scales[i]);
        if (status == RT_OK) status = rt_adapter_load(e->model, path, &e->adapters[i]);
        if (status == RT_OK) e->n_adapters = i + 1;
        free(path);
    }
    if (status == RT_OK) status = rt_context_set_adapters(e->ctx, e->adapters, scales, n);
    free(scales);
    return status;
}

/* "model_path+spec+spec...": a collection embedded with one set of adapters refuses another. */
static char *embedder_name(const char *model_path, const char *const *specs, int n) {
    size_t len = strlen(model_path) + 1;
    for (int i = 0; i < n; i++)
        len += strlen(specs[i]) + 1;
    char *name = rt_malloc(len);
    if (!name) return NULL;
    strcpy(name, model_path);
    for (int i = 0; i < n; i++) {
        strcat(name, "+");
        strcat(name, specs[i]);
    }
    return name;
}

/* Finds the shipped embedder: a malloc'd path in *out, or RT_ERR_NOT_FOUND naming where it
 * looked and the recipe that rebuilds it. */
static int default_embedder_path(char **out) {
    *out = NULL;
    char exe[PATH_MAX] = "", tried[2048] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
    }
    const char *env = getenv("RAGTUNE_MODELS");
    const char *rel[] = {"../models", "../../models", "../share/ragtune/models"};
    char cand[PATH_MAX + 64];
    for (int i = -1; i < 3; i++) {
        if (i < 0 && (!env || !*env)) continue;
        if (i >= 0 && !exe[0]) break;
        if (i < 0)
            snprintf(cand, sizeof cand, "%s/%s", env, DEFAULT_EMBEDDER_FILE);
        else
            snprintf(cand, sizeof cand, "%s/%s/%s", exe, rel[i], DEFAULT_EMBEDDER_FILE);
        if (access(cand, F_OK) == 0) {
            *out = rt_strdup(cand);
            return *out ? RT_OK : RT_ERR_NOMEM;
        }
        size_t used = strlen(tried), len = strlen(cand);
        if (used + len + 3 < sizeof tried) {
            if (used) {
                memcpy(tried + used, ", ", 2);
                used += 2;
            }
            memcpy(tried + used, cand, len + 1);
        }
    }
    return rt_error(RT_ERR_NOT_FOUND,
                    "default embedder not found (looked for %s; set RAGTUNE_MODELS to the "
                    "directory holding %s); rebuild it with %s",
                    tried[0] ? tried : "no candidate: executable path unknown",
                    DEFAULT_EMBEDDER_FILE, DEFAULT_EMBEDDER_RECIPE);
}

static int open_model(const char *model_path, const char *name, int n_ctx,
                      const char *const *adapter_specs, int n_adapters, rt_embedder *out);

int rt_embedder_open_model(const char *model_path, int n_ctx, rt_embedder *out) {
    return rt_embedder_open_model_adapters(model_path, n_ctx, NULL, 0, out);
}

int rt_embedder_open_model_adapters(const char *model_path, int n_ctx,
                                    const char *const *adapter_specs, int n_adapters,
                                    rt_embedder *out) {
    memset(out, 0, sizeof *out);
    if (!model_path || strcmp(model_path, "default"))
        return open_model(model_path, model_path, n_ctx, adapter_specs, n_adapters, out);
    char *path;
    RT_TRY(default_embedder_path(&path));
    /* the collection records "default", whichever directory it was found in */
    int st = open_model(path, "default", n_ctx, adapter_specs, n_adapters, out);
    if (st != RT_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", rt_last_error());
        st = rt_error(st, "default embedder %s is missing or corrupt (%s); rebuild it with %s",
                      path, msg, DEFAULT_EMBEDDER_RECIPE);
    }
    free(path);
    return st;
}

static int open_model(const char *model_path, const char *name, int n_ctx,
                      const char *const *adapter_specs, int n_adapters, rt_embedder *out) {
    memset(out, 0, sizeof *out);
    if (n_adapters < 0 || (n_adapters > 0 && !adapter_specs))
        return rt_error(RT_ERR_INVALID, "embedder: bad adapter list");
    model_embedder *e = rt_calloc(1, sizeof *e);
    if (!e) return RT_ERR_NOMEM;
    pthread_mutex_init(&e->lock, NULL);
    rt_model_params mp = rt_model_default_params();
    int status = rt_model_load(model_path, &mp, &e->model);
    if (status == RT_OK) status = rt_tokenizer_load(model_path, &e->tokenizer);
    if (status == RT_OK && rt_tokenizer_n_vocab(e->tokenizer) > (size_t)rt_model_n_vocab(e->model))
        status =
            rt_error(RT_ERR_FORMAT, "%s: tokenizer has %zu ids but the model only %d", model_path,
                     rt_tokenizer_n_vocab(e->tokenizer), rt_model_n_vocab(e->model));
    if (status == RT_OK) {
        rt_context_params cp = rt_context_default_params();
        cp.n_ctx = n_ctx > 0 ? n_ctx : 512;
        if (cp.n_ctx > rt_model_n_ctx_train(e->model) && rt_model_n_ctx_train(e->model) > 0)
            cp.n_ctx = rt_model_n_ctx_train(e->model);
        status = rt_context_new(e->model, &cp, &e->ctx);
    }
    if (status == RT_OK && n_adapters > 0) status = set_adapters(e, adapter_specs, n_adapters);
    if (status == RT_OK && !(e->name = embedder_name(name, adapter_specs, n_adapters)))
        status = RT_ERR_NOMEM;
    if (status == RT_OK) status = model_content_id(model_path, e->content_id);
    if (status != RT_OK) {
        rt_embedder_close_model(&(rt_embedder){.user = e});
        return status;
    }
    out->name = e->name;
    out->dim = rt_model_n_embd(e->model);
    out->embed = embed_texts;
    out->user = e;
    return RT_OK;
}

void rt_embedder_close_model(rt_embedder *embedder) {
    model_embedder *e = embedder ? embedder->user : NULL;
    if (e) {
        if (e->ctx) rt_context_free(e->ctx);
        for (int i = 0; i < e->n_adapters; i++)
            rt_adapter_free(e->adapters[i]);
        free(e->adapters);
        if (e->tokenizer) rt_tokenizer_free(e->tokenizer);
        if (e->model) rt_model_free(e->model);
        pthread_mutex_destroy(&e->lock);
        free(e->name);
        free(e);
    }
    if (embedder) memset(embedder, 0, sizeof *embedder);
}

const char *rt_model_embedder_content_id(const rt_embedder *e) {
    if (!e || e->embed != embed_texts || !e->user) return NULL;
    const model_embedder *m = e->user;
    return m->content_id[0] ? m->content_id : NULL;
}
