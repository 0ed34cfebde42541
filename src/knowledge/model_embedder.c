/*
 * model_embedder.c — rt_embedder_open_model (ragtune.h): an rt_embedder backed by a model file,
 * whose tokenizer turns each text into ids (BERT: its pooling over a bidirectional pass;
 * decoders: mean pooling of the final hidden states), L2-normalized. One model, one tokenizer and
 * one context per embedder; calls are serialized by a mutex (the context holds the forward pass's
 * buffers). Texts longer than the context are truncated to its first n_ctx tokens, as
 * sentence-transformers truncates to max_seq_length.
 */
#include "knowledge/model_embedder.h"
#include "core/error.h"
#include "core/file.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct model_embedder {
    rt_model *model;
    rt_tokenizer *tokenizer;
    rt_context *ctx;
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

static int embed_texts(void *user, const char *const *texts, const size_t *lens, int n,
                       float *out) {
    model_embedder *e = user;
    int dim = rt_model_n_embd(e->model), n_ctx = rt_context_n_ctx(e->ctx);
    int status = RT_OK;
    pthread_mutex_lock(&e->lock);
    for (int i = 0; i < n && status == RT_OK; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        status = rt_tokenizer_encode(e->tokenizer, texts[i], lens[i], true, &ids, &n_ids);
        if (status != RT_OK) break;
        if (n_ids == 0) { /* an empty text embeds as the zero vector */
            memset(out + (size_t)i * dim, 0, (size_t)dim * sizeof(float));
        } else {
            if (n_ids > (size_t)n_ctx) n_ids = (size_t)n_ctx;
            status = rt_model_embed(e->ctx, ids, (int)n_ids, out + (size_t)i * dim);
            for (int k = 0; status == RT_OK && k < dim; k++)
                if (!isfinite(out[(size_t)i * dim + k]))
                    status = rt_error(RT_ERR_FORMAT,
                                      "%s: the model's output is not finite (NaN or infinite): "
                                      "its weights are damaged or come from a diverged training",
                                      e->name);
        }
        free(ids);
    }
    pthread_mutex_unlock(&e->lock);
    return status;
}

int rt_embedder_open_model(const char *model_path, int n_ctx, rt_embedder *out) {
    memset(out, 0, sizeof *out);
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
    if (status == RT_OK && !(e->name = rt_strdup(model_path))) status = RT_ERR_NOMEM;
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
