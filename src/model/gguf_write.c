/*
 * gguf_write.c — the GGUF writer (see gguf.h): a plan of tensors in llama.cpp's names and
 * layouts (wq/wk rows permuted for llama, q/k/v fused into attn_qkv for GPT-2, rope_freqs for
 * Llama 3 scaling), then core/gguf_writer's header, then the data tensor by tensor, so only one
 * converted tensor is in memory at a time. The file is written atomically.
 */
#include "model/gguf.h"
#include "model/arch.h"
#include "model/model_file.h"
#include "core/error.h"
#include "core/gguf_writer.h"
#include "core/quant.h"

#include <stdlib.h>
#include <string.h>

void rt_rope_permute_rows(const void *src, void *dst, int64_t n_rows, size_t row_bytes, int n_heads,
                          bool to_interleaved) {
    int64_t D = n_rows / n_heads, half = D / 2;
    const uint8_t *s = src;
    uint8_t *d = dst;
    for (int64_t h = 0; h < n_heads; h++)
        for (int64_t p = 0; p < 2; p++)
            for (int64_t i = 0; i < half; i++) {
                int64_t hf = h * D + p * half + i, il = h * D + 2 * i + p;
                int64_t from = to_interleaved ? hf : il, to = to_interleaved ? il : hf;
                memcpy(d + (size_t)to * row_bytes, s + (size_t)from * row_bytes, row_bytes);
            }
}

typedef enum plan_kind { PLAN_VIEW, PLAN_PERMUTE, PLAN_FUSE_QKV, PLAN_ROPE_FREQS } plan_kind;

typedef struct plan_item {
    char name[64];
    plan_kind kind;
    const rt_tensor *src[3];
    int n_heads; /* PLAN_PERMUTE */
    bool to_interleaved;
    rt_dtype dtype; /* stored type */
    int n_dims;
    int64_t shape[2]; /* row-major */
} plan_item;

/* Adds a KV unless the key is set already: the first writer of a key wins (the tokenizer's own
 * special ids over config.json's, the model's keys over extra ones). */
static int kv_add(rt_gguf_writer *w, const char *key, rt_gguf_value v) {
    if (rt_gguf_writer_has_key(w, key)) return RT_OK;
    return rt_gguf_writer_set(w, key, &v);
}

/* "<arch>.<suffix>" (or suffix alone when arch is NULL) as a UINT32 or FLOAT32 KV. */
static int kv_num(rt_gguf_writer *w, const char *arch, const char *suffix, rt_gguf_type type,
                  double v) {
    char key[128];
    snprintf(key, sizeof key, "%s%s%s", arch ? arch : "", arch ? "." : "", suffix);
    rt_gguf_value val = {.type = type};
    if (type == RT_GGUF_UINT32)
        val.u64 = (uint64_t)v;
    else
        val.f64 = v;
    return kv_add(w, key, val);
}
static int kv_u32(rt_gguf_writer *w, const char *arch, const char *suffix, uint64_t v) {
    return kv_num(w, arch, suffix, RT_GGUF_UINT32, (double)v);
}
static int kv_f32(rt_gguf_writer *w, const char *arch, const char *suffix, double v) {
    return kv_num(w, arch, suffix, RT_GGUF_FLOAT32, v);
}
static int kv_bool(rt_gguf_writer *w, const char *key, bool b) {
    rt_gguf_value val = {.type = RT_GGUF_BOOL};
    val.b = b;
    return kv_add(w, key, val);
}
static int kv_str(rt_gguf_writer *w, const char *key, const char *s) {
    rt_gguf_value val = {.type = RT_GGUF_STRING, .str = s, .len = strlen(s)};
    return kv_add(w, key, val);
}

static int model_kvs(rt_gguf_writer *l, const rt_model_config *c, const rt_gguf_write_params *p) {
    const rt_arch_info *ai = rt_arch_get(c->arch);
    if (!ai) return rt_error(RT_ERR_UNSUPPORTED, "gguf: unknown architecture");
    const char *a = ai->name;
    RT_TRY(kv_str(l, "general.architecture", a));
    if (p->name) RT_TRY(kv_str(l, "general.name", p->name));
    uint32_t ft = p->dtype == RT_DTYPE_F32    ? 0
                  : p->dtype == RT_DTYPE_F16  ? 1
                  : p->dtype == RT_DTYPE_Q4_0 ? 2
                  : p->dtype == RT_DTYPE_Q8_0 ? 7
                                              : 32;
    RT_TRY(kv_u32(l, NULL, "general.file_type", ft));
    if (p->dtype == RT_DTYPE_Q8_0 || p->dtype == RT_DTYPE_Q4_0)
        RT_TRY(kv_u32(l, NULL, "general.quantization_version", 2));
    RT_TRY(kv_u32(l, a, "context_length", (uint64_t)c->n_ctx_train));
    RT_TRY(kv_u32(l, a, "embedding_length", (uint64_t)c->n_embd));
    RT_TRY(kv_u32(l, a, "block_count", (uint64_t)c->n_layer));
    RT_TRY(kv_u32(l, a, "feed_forward_length", (uint64_t)c->n_ff));
    RT_TRY(kv_u32(l, a, "attention.head_count", (uint64_t)c->n_head));
    if (ai->pos == RT_ARCH_POS_ROPE) {
        RT_TRY(kv_u32(l, a, "attention.head_count_kv", (uint64_t)c->n_kv_head));
        RT_TRY(kv_u32(l, a, "rope.dimension_count", (uint64_t)c->head_dim));
        RT_TRY(kv_f32(l, a, "rope.freq_base", c->rope_theta));
        RT_TRY(kv_f32(l, a, ai->gguf_norm_eps_key, c->norm_eps));
        if (c->head_dim * c->n_head != c->n_embd) {
            RT_TRY(kv_u32(l, a, "attention.key_length", (uint64_t)c->head_dim));
            RT_TRY(kv_u32(l, a, "attention.value_length", (uint64_t)c->head_dim));
        }
        RT_TRY(kv_u32(l, a, "vocab_size", (uint64_t)c->n_vocab));
        if (c->rope_scaling_factor > 0) {
            RT_TRY(kv_f32(l, "ragtune", "rope.llama3.factor", c->rope_scaling_factor));
            RT_TRY(kv_f32(l, "ragtune", "rope.llama3.low_freq_factor", c->rope_low_freq_factor));
            RT_TRY(kv_f32(l, "ragtune", "rope.llama3.high_freq_factor", c->rope_high_freq_factor));
            RT_TRY(kv_u32(l, "ragtune", "rope.llama3.original_context_length",
                          (uint64_t)c->rope_original_ctx));
        }
    } else {
        RT_TRY(kv_f32(l, a, ai->gguf_norm_eps_key, c->norm_eps));
    }
    if (ai->encoder) {
        RT_TRY(kv_bool(l, "bert.attention.causal", false));
        RT_TRY(kv_u32(l, a, "pooling_type",
                      c->pooling == RT_POOLING_CLS    ? 2
                      : c->pooling == RT_POOLING_LAST ? 3
                                                      : 1));
        RT_TRY(kv_u32(l, NULL, "tokenizer.ggml.token_type_count", (uint64_t)c->n_type_vocab));
        RT_TRY(kv_bool(l, "ragtune.embeddings.normalize", c->normalize_embeddings));
    }
    /* The tokenizer's own special ids (extra tokenizer.* keys) win over config.json's. */
    for (size_t i = 0; i < p->n_extra; i++)
        if (p->extra[i].key && !strncmp(p->extra[i].key, "tokenizer.", 10))
            RT_TRY(kv_add(l, p->extra[i].key, p->extra[i].value));
    if (c->bos_token_id >= 0)
        RT_TRY(kv_u32(l, NULL, "tokenizer.ggml.bos_token_id", (uint64_t)c->bos_token_id));
    if (c->eos_token_id >= 0)
        RT_TRY(kv_u32(l, NULL, "tokenizer.ggml.eos_token_id", (uint64_t)c->eos_token_id));
    if (c->pad_token_id >= 0)
        RT_TRY(kv_u32(l, NULL, "tokenizer.ggml.padding_token_id", (uint64_t)c->pad_token_id));
    for (size_t i = 0; i < p->n_extra; i++) {
        if (!p->extra[i].key || !strcmp(p->extra[i].key, "general.alignment")) continue;
        RT_TRY(kv_add(l, p->extra[i].key, p->extra[i].value));
    }
    return RT_OK;
}

/* Stored type of a tensor: 2-D weights take the requested type (f16 when a quantized type's
 * block does not divide the row), everything else f32. */
static rt_dtype target_dtype(rt_dtype want, int n_dims, int64_t row) {
    if (n_dims < 2) return RT_DTYPE_F32;
    if ((want == RT_DTYPE_Q8_0 || want == RT_DTYPE_Q4_0) && row % RT_QK) return RT_DTYPE_F16;
    return want;
}

static int plan_add(plan_item **items, size_t *n, size_t *cap, plan_item it) {
    RT_TRY(RT_GROW(*items, *cap, *n + 1));
    (*items)[(*n)++] = it;
    return RT_OK;
}

static int build_plan(const rt_model_config *c, const rt_model_weights *w, rt_dtype dtype,
                      plan_item **out, size_t *n_out) {
    const rt_arch_info *ai = rt_arch_get(c->arch);
    if (!ai) return rt_error(RT_ERR_UNSUPPORTED, "gguf: unknown architecture");
    size_t n_refs = rt_model_weights_list(c, w, NULL, 0);
    rt_weight_ref *refs = rt_calloc(n_refs + 1, sizeof *refs);
    if (!refs) return RT_ERR_NOMEM;
    rt_model_weights_list(c, w, refs, n_refs);
    plan_item *items = NULL;
    size_t n = 0, cap = 0;
    int rc = RT_OK;
    bool gguf_interleaved = ai->gguf_rope_interleaved;
    bool permute = c->rope_interleaved != gguf_interleaved;
    for (size_t i = 0; i < n_refs && rc == RT_OK; i++) {
        const rt_tensor *t = refs[i].t;
        plan_item it = {0};
        snprintf(it.name, sizeof it.name, "%s", refs[i].name);
        it.kind = PLAN_VIEW;
        it.src[0] = t;
        it.n_dims = t->n_dims;
        it.shape[0] = t->shape[0];
        it.shape[1] = t->n_dims > 1 ? t->shape[1] : 1;
        if (ai->gguf_fused_qkv && (strstr(it.name, ".attn_k.") || strstr(it.name, ".attn_v.")))
            continue; /* fused into attn_qkv with attn_q */
        if (ai->gguf_fused_qkv && strstr(it.name, ".attn_q.")) {
            int il = atoi(it.name + 4);
            const rt_layer_weights *l = &w->layers[il];
            bool bias = strstr(it.name, ".bias") != NULL;
            snprintf(it.name, sizeof it.name, "blk.%d.%s.%s", il, ai->gguf_linear[RT_LIN_Q],
                     bias ? "bias" : "weight");
            it.kind = PLAN_FUSE_QKV;
            it.src[0] = bias ? &l->bq : &l->wq;
            it.src[1] = bias ? &l->bk : &l->wk;
            it.src[2] = bias ? &l->bv : &l->wv;
            it.shape[0] = it.src[0]->shape[0] + it.src[1]->shape[0] + it.src[2]->shape[0];
        }
        if (permute && (strstr(it.name, ".attn_q.") || strstr(it.name, ".attn_k."))) {
            it.kind = PLAN_PERMUTE;
            it.n_heads = strstr(it.name, ".attn_q.") ? c->n_head : c->n_kv_head;
            it.to_interleaved = gguf_interleaved;
        }
        it.dtype = target_dtype(dtype, it.n_dims, it.shape[1]);
        rc = plan_add(&items, &n, &cap, it);
        /* llama.cpp's converter keeps GPT-2's tied output as a copy of the embedding. */
        if (rc == RT_OK && ai->gguf_tied_output_copy && c->tied_embeddings &&
            !strcmp(it.name, "token_embd.weight")) {
            snprintf(it.name, sizeof it.name, "output.weight");
            rc = plan_add(&items, &n, &cap, it);
        }
    }
    /* Only llama.cpp's llama loads rope_freqs (a tensor it does not load fails the file); for
     * other architectures the ragtune.rope.llama3.* keys alone carry the scaling. */
    if (rc == RT_OK && c->rope_scaling_factor > 0 && c->arch == RT_ARCH_LLAMA) {
        plan_item it = {.kind = PLAN_ROPE_FREQS, .dtype = RT_DTYPE_F32, .n_dims = 1};
        snprintf(it.name, sizeof it.name, "rope_freqs.weight");
        it.shape[0] = c->head_dim / 2;
        it.shape[1] = 1;
        rc = plan_add(&items, &n, &cap, it);
    }
    free(refs);
    if (rc < 0) {
        free(items);
        return rc;
    }
    *out = items;
    *n_out = n;
    return RT_OK;
}

/* src as dtype: a view when it already is, else a new owned tensor. */
static int as_dtype(const rt_tensor *src, rt_dtype dtype, rt_tensor *out) {
    if (src->dtype == dtype) {
        *out = *src;
        out->name = NULL;
        out->owned = false;
        return RT_OK;
    }
    return rt_tensor_convert(src, dtype, out);
}

/* The bytes of one planned tensor in *out (owned or a view). */
static int produce(const rt_model_config *c, const plan_item *it, rt_tensor *out) {
    memset(out, 0, sizeof *out);
    if (it->kind == PLAN_ROPE_FREQS) {
        int64_t shape[1] = {it->shape[0]};
        RT_TRY(rt_tensor_alloc(out, NULL, RT_DTYPE_F32, 1, shape));
        rt_llama3_rope_freq_factors(c, out->data);
        return RT_OK;
    }
    if (it->kind == PLAN_FUSE_QKV) {
        int64_t shape[2] = {it->shape[0], it->shape[1]};
        RT_TRY(rt_tensor_alloc(out, NULL, it->dtype, it->n_dims, shape));
        size_t off = 0;
        for (int j = 0; j < 3; j++) {
            rt_tensor part;
            int rc = as_dtype(it->src[j], it->dtype, &part);
            if (rc < 0) {
                rt_tensor_free(out);
                return rc;
            }
            if (off + part.nbytes > out->nbytes) {
                rt_tensor_free(&part);
                rt_tensor_free(out);
                return rt_error(RT_ERR_INTERNAL, "%s: fused size mismatch", it->name);
            }
            memcpy((uint8_t *)out->data + off, part.data, part.nbytes);
            off += part.nbytes;
            rt_tensor_free(&part);
        }
        return RT_OK;
    }
    RT_TRY(as_dtype(it->src[0], it->dtype, out));
    if (it->kind == PLAN_PERMUTE) {
        void *dst = rt_malloc(out->nbytes);
        if (!dst) {
            rt_tensor_free(out);
            return RT_ERR_NOMEM;
        }
        size_t row_bytes =
            out->n_dims == 1 ? rt_dtype_block_bytes(out->dtype) : rt_tensor_row_bytes(out);
        rt_rope_permute_rows(out->data, dst, out->shape[0], row_bytes, it->n_heads,
                             it->to_interleaved);
        rt_tensor_free(out);
        out->data = dst;
        out->owned = true;
        out->dtype = it->dtype;
        out->n_dims = it->n_dims;
        for (int i = 0; i < RT_MAX_DIMS; i++)
            out->shape[i] = 1;
        out->shape[0] = it->shape[0];
        out->shape[1] = it->shape[1];
        RT_TRY(rt_dtype_nbytes(it->dtype, it->shape[0] * it->shape[1], &out->nbytes, it->name));
    }
    return RT_OK;
}

int rt_gguf_write(const char *path, const rt_model_config *cfg, const rt_model_weights *w,
                  const rt_gguf_write_params *params) {
    rt_gguf_write_params p = {.dtype = RT_DTYPE_F32};
    if (params) p = *params;
    if (p.dtype != RT_DTYPE_F32 && p.dtype != RT_DTYPE_F16 && p.dtype != RT_DTYPE_BF16 &&
        p.dtype != RT_DTYPE_Q8_0 && p.dtype != RT_DTYPE_Q4_0)
        return rt_error(RT_ERR_INVALID, "%s: cannot write dtype %d", path, (int)p.dtype);
    RT_TRY(rt_model_config_check(cfg, path));
    rt_gguf_writer *gw;
    RT_TRY(rt_gguf_writer_new(&gw));
    plan_item *plan = NULL;
    size_t n_plan = 0;
    int rc = model_kvs(gw, cfg, &p);
    if (rc == RT_OK) rc = build_plan(cfg, w, p.dtype, &plan, &n_plan);
    for (size_t i = 0; i < n_plan && rc == RT_OK; i++) {
        const plan_item *it = &plan[i];
        int64_t ne[2] = {it->n_dims > 1 ? it->shape[1] : it->shape[0], it->shape[0]};
        rc = rt_gguf_writer_add_tensor(gw, it->name, (uint32_t)it->dtype, it->n_dims, ne, NULL);
    }
    if (rc == RT_OK) rc = rt_gguf_writer_begin(gw, path);
    for (size_t i = 0; i < n_plan && rc == RT_OK; i++) {
        rt_tensor t;
        rc = produce(cfg, &plan[i], &t);
        if (rc < 0) break;
        rc = rt_gguf_writer_write_tensor(gw, t.data, t.nbytes);
        rt_tensor_free(&t);
    }
    if (rc == RT_OK) rc = rt_gguf_writer_finish(gw);
    rt_gguf_writer_free(gw);
    free(plan);
    return rc;
}

int rt_gguf_write_metadata(const char *path, const rt_gguf_kv *kvs, size_t n) {
    rt_gguf_writer *gw;
    RT_TRY(rt_gguf_writer_new(&gw));
    int rc = RT_OK;
    for (size_t i = 0; i < n && rc == RT_OK; i++)
        rc = rt_gguf_writer_set(gw, kvs[i].key, &kvs[i].value);
    if (rc == RT_OK) rc = rt_gguf_writer_write_file(gw, path);
    rt_gguf_writer_free(gw);
    return rc;
}
