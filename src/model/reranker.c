/*
 * reranker.c — a cross-encoder reranker: a Hugging Face BertForSequenceClassification directory
 * (config.json with num_labels, the BERT encoder under "bert.", the pooler bert.pooler.dense and
 * the head classifier) scoring (query, passage) pairs. Each pair is encoded as the tokenizer's
 * pair template gives it ([CLS] query [SEP] passage [SEP], token types 0 then 1), run through
 * one bidirectional pass, and the [CLS] hidden state goes through the pooler (dense + tanh) and
 * the classifier, as transformers' BertForSequenceClassification does (dropout is off at
 * inference).
 *
 * The score is the single logit when num_labels is 1 (ms-marco MiniLM / bge-reranker style),
 * and logit[1] - logit[0] when it is 2 (the log-odds of "relevant"); more labels are refused.
 * Not here: the BERT encoder itself (forward.c) and the choice of what to rerank (rag/).
 */
#include "core/error.h"
#include "core/file.h"
#include "core/quant.h"
#include "model/forward.h"
#include "model/hf.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rt_reranker {
    rt_model *model;
    rt_tokenizer *tokenizer;
    rt_context *ctx;
    int n_labels;
    float *pool_w, *pool_b; /* (n_embd, n_embd), (n_embd) */
    float *cls_w, *cls_b;   /* (n_labels, n_embd), (n_labels) */
    float *pooled;          /* (n_embd) */
};

/* Copies tensor name (any float dtype) of shape (d0) or (d0, d1) into a malloc'd f32 array. */
static int head_tensor(const rt_hf_tensors *ts, const char *name, int64_t d0, int64_t d1,
                       float **out) {
    const rt_safetensors_entry *e = rt_hf_tensors_find(ts, name);
    if (!e) return rt_error(RT_ERR_NOT_FOUND, "%s: no tensor %s", ts->what, name);
    const rt_tensor *t = &e->t;
    int dims = d1 ? 2 : 1;
    bool ok = t->n_dims == dims && t->shape[0] == d0 && (!d1 || t->shape[1] == d1) &&
              (t->dtype == RT_DTYPE_F32 || t->dtype == RT_DTYPE_F16 || t->dtype == RT_DTYPE_BF16);
    if (!ok)
        return rt_error(RT_ERR_FORMAT, "%s: tensor %s must be a float tensor of shape (%lld%s%lld)",
                        ts->what, name, (long long)d0, d1 ? ", " : "", (long long)(d1 ? d1 : 0));
    int64_t n = d0 * (d1 ? d1 : 1);
    *out = rt_malloc((size_t)n * sizeof(float));
    if (!*out) return RT_ERR_NOMEM;
    rt_dequantize_row(t->dtype, t->data, *out, n);
    return RT_OK;
}

/* num_labels of config.json: "num_labels", else the size of "id2label", else the classifier's
 * rows (0 = unknown). */
static int config_labels(const json_t *raw) {
    const json_t *n = json_object_get(raw, "num_labels");
    if (json_is_integer(n)) return (int)json_integer_value(n);
    const json_t *id2label = json_object_get(raw, "id2label");
    if (json_is_object(id2label)) return (int)json_object_size(id2label);
    return 0;
}

static int load_head(rt_reranker *r, const char *path) {
    rt_model_config cfg;
    json_t *raw = NULL;
    RT_TRY(rt_hf_config_load(path, &cfg, &raw));
    int n_labels = config_labels(raw);
    json_decref(raw);
    rt_hf_tensors ts;
    RT_TRY(rt_hf_tensors_open(path, &ts));
    int C = rt_model_n_embd(r->model);
    const char *pool_w = rt_hf_tensors_find(&ts, "bert.pooler.dense.weight")
                             ? "bert.pooler.dense.weight"
                             : "pooler.dense.weight";
    const char *pool_b = pool_w[0] == 'b' ? "bert.pooler.dense.bias" : "pooler.dense.bias";
    const rt_safetensors_entry *cw = rt_hf_tensors_find(&ts, "classifier.weight");
    int st = RT_OK;
    if (!cw)
        st = rt_error(RT_ERR_FORMAT,
                      "%s: no classifier.weight: not a BertForSequenceClassification model (a "
                      "cross-encoder reranker)",
                      ts.what);
    if (st == RT_OK && n_labels == 0) n_labels = (int)cw->t.shape[0];
    if (st == RT_OK && n_labels != 1 && n_labels != 2)
        st = rt_error(RT_ERR_UNSUPPORTED,
                      "%s/config.json: num_labels %d; a reranker has 1 (a relevance logit) or 2 "
                      "(not relevant / relevant)",
                      path, n_labels);
    if (st == RT_OK) st = head_tensor(&ts, pool_w, C, C, &r->pool_w);
    if (st == RT_OK) st = head_tensor(&ts, pool_b, C, 0, &r->pool_b);
    if (st == RT_OK) st = head_tensor(&ts, "classifier.weight", n_labels, C, &r->cls_w);
    if (st == RT_OK) st = head_tensor(&ts, "classifier.bias", n_labels, 0, &r->cls_b);
    r->n_labels = n_labels;
    rt_hf_tensors_close(&ts);
    return st;
}

int rt_reranker_open(const char *path, int n_ctx, rt_reranker **out) {
    *out = NULL;
    if (!path) return rt_error(RT_ERR_INVALID, "reranker: no path");
    if (rt_is_dir(path) != 1)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: a reranker is a Hugging Face BertForSequenceClassification "
                        "directory",
                        path);
    rt_reranker *r = rt_calloc(1, sizeof *r);
    if (!r) return RT_ERR_NOMEM;
    int st = rt_model_load(path, NULL, &r->model);
    if (st == RT_OK && !rt_model_is_encoder(r->model))
        st = rt_error(RT_ERR_UNSUPPORTED, "%s: a reranker must be a BERT encoder, not %s", path,
                      rt_model_arch(r->model));
    if (st == RT_OK) st = load_head(r, path);
    if (st == RT_OK) st = rt_tokenizer_load(path, &r->tokenizer);
    if (st == RT_OK && rt_tokenizer_n_vocab(r->tokenizer) > (size_t)rt_model_n_vocab(r->model))
        st = rt_error(RT_ERR_FORMAT, "%s: tokenizer has %zu ids but the model only %d", path,
                      rt_tokenizer_n_vocab(r->tokenizer), rt_model_n_vocab(r->model));
    if (st == RT_OK) {
        rt_context_params cp = rt_context_default_params();
        int n_train = rt_model_n_ctx_train(r->model);
        cp.n_ctx = n_ctx > 0 ? n_ctx : 512;
        if (cp.n_ctx > n_train) cp.n_ctx = n_train;
        st = rt_context_new(r->model, &cp, &r->ctx);
    }
    if (st == RT_OK) {
        r->pooled = rt_malloc((size_t)rt_model_n_embd(r->model) * sizeof(float));
        if (!r->pooled) st = RT_ERR_NOMEM;
    }
    if (st != RT_OK) {
        rt_reranker_close(r);
        return st;
    }
    *out = r;
    return RT_OK;
}

void rt_reranker_close(rt_reranker *r) {
    if (!r) return;
    rt_context_free(r->ctx);
    rt_tokenizer_free(r->tokenizer);
    rt_model_free(r->model);
    free(r->pool_w);
    free(r->pool_b);
    free(r->cls_w);
    free(r->cls_b);
    free(r->pooled);
    free(r);
}

int rt_reranker_n_ctx(const rt_reranker *r) {
    return rt_context_n_ctx(r->ctx);
}

/* The score of one encoded pair. */
static int score_ids(rt_reranker *r, const int32_t *ids, const int32_t *types, int n,
                     float *score) {
    const rt_model_config *c = &r->model->config;
    int C = c->n_embd;
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->n_vocab)
            return rt_error(RT_ERR_INVALID, "reranker: token %d outside the vocabulary", ids[i]);
        if (types[i] < 0 || types[i] >= (c->n_type_vocab > 0 ? c->n_type_vocab : 1))
            return rt_error(RT_ERR_INVALID, "reranker: token type %d but the model has %d",
                            types[i], c->n_type_vocab);
    }
    r->ctx->n_past = 0;
    r->ctx->has_logits = false;
    rt_forward_chunk(r->ctx, ids, types, n);
    const float *h = r->ctx->xb; /* row 0: [CLS] */
    for (int o = 0; o < C; o++) {
        const float *w = r->pool_w + (size_t)o * C;
        float acc = 0.0f;
        for (int i = 0; i < C; i++)
            acc += w[i] * h[i];
        r->pooled[o] = tanhf(acc + r->pool_b[o]);
    }
    float logits[2];
    for (int k = 0; k < r->n_labels; k++) {
        const float *w = r->cls_w + (size_t)k * C;
        float acc = 0.0f;
        for (int i = 0; i < C; i++)
            acc += w[i] * r->pooled[i];
        logits[k] = acc + r->cls_b[k];
    }
    *score = r->n_labels == 1 ? logits[0] : logits[1] - logits[0];
    return RT_OK;
}

int rt_reranker_score(rt_reranker *r, const char *query, const char *const *passages, int n,
                      float *scores) {
    if (!r || !query || n < 0 || (n > 0 && (!passages || !scores)))
        return rt_error(RT_ERR_INVALID, "reranker: bad arguments");
    int st = RT_OK;
    for (int i = 0; i < n && st == RT_OK; i++) {
        if (!passages[i]) return rt_error(RT_ERR_INVALID, "reranker: passage %d is NULL", i);
        int32_t *ids = NULL, *types = NULL;
        size_t n_ids = 0;
        st = rt_tokenizer_encode_pair(r->tokenizer, query, strlen(query), passages[i],
                                      strlen(passages[i]), (size_t)rt_context_n_ctx(r->ctx), &ids,
                                      &types, &n_ids);
        if (st == RT_OK) st = score_ids(r, ids, types, (int)n_ids, &scores[i]);
        free(ids);
        free(types);
    }
    return st;
}
