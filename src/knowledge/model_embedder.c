/*
 * model_embedder.c — rt_embedder_open_model (ragtune.h): an rt_embedder backed by a model file,
 * whose tokenizer turns each text into ids (BERT: its pooling over a bidirectional pass;
 * decoders: mean pooling of the final hidden states), L2-normalized. One model, one tokenizer and
 * one context per embedder; calls are serialized by a mutex (the context holds the forward pass's
 * buffers). Texts longer than the context are truncated to its first n_ctx tokens, as
 * sentence-transformers truncates to max_seq_length. LoRA adapters, when given, are applied at
 * run time (rt_context_set_adapters) and named in the embedder's name.
 */
#include "ragtune.h"
#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct model_embedder {
    rt_model *model;
    rt_tokenizer *tokenizer;
    rt_context *ctx;
    rt_adapter **adapters; /* (n_adapters) applied at run time */
    int n_adapters;
    pthread_mutex_t lock;
    char *name;
} model_embedder;

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
        }
        free(ids);
    }
    pthread_mutex_unlock(&e->lock);
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

int rt_embedder_open_model(const char *model_path, int n_ctx, rt_embedder *out) {
    return rt_embedder_open_model_adapters(model_path, n_ctx, NULL, 0, out);
}

int rt_embedder_open_model_adapters(const char *model_path, int n_ctx,
                                    const char *const *adapter_specs, int n_adapters,
                                    rt_embedder *out) {
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
    if (status == RT_OK && !(e->name = embedder_name(model_path, adapter_specs, n_adapters)))
        status = RT_ERR_NOMEM;
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
