/*
 * gguf_model.c — see model/gguf.h: llama.cpp's metadata keys and tensor names mapped onto
 * config.h (the container itself is read by core/gguf.c).
 */
#include "model/gguf.h"
#include "model/arch.h"
#include "model/model_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/quant.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The tensor types ragtune computes with (ggml ids equal rt_dtype values). */
static bool supported_dtype(uint32_t type) {
    return type == RT_DTYPE_F32 || type == RT_DTYPE_F16 || type == RT_DTYPE_BF16 ||
           type == RT_DTYPE_Q8_0 || type == RT_DTYPE_Q4_0;
}

/* ---- llama.cpp metadata -> config -------------------------------------------------------------
 */

/* {arch}.<suffix> as an int in [lo, hi]; dflt when absent (INT32_MIN: required). */
static int arch_int(const rt_gguf *g, const char *arch, const char *suffix, int dflt, int lo,
                    int hi, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    int rc = rt_gguf_get_i64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) {
        if (dflt == INT32_MIN)
            return rt_error(RT_ERR_FORMAT, "%s: missing metadata key '%s'", rt_gguf_path(g), key);
        *out = dflt;
        return RT_OK;
    }
    if (rc < 0) {
        const rt_gguf_value *val = rt_gguf_find(g, key);
        if (val && val->type == RT_GGUF_ARRAY)
            return rt_error(RT_ERR_UNSUPPORTED,
                            "%s: '%s' varies per layer, which is not "
                            "supported",
                            rt_gguf_path(g), key);
        return rc;
    }
    if (v < lo || v > hi)
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %" PRId64 " is outside [%d, %d]", rt_gguf_path(g),
                        key, v, lo, hi);
    *out = (int)v;
    return RT_OK;
}

static int arch_float(const rt_gguf *g, const char *arch, const char *suffix, float dflt,
                      float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    int rc = rt_gguf_get_f64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) {
        *out = dflt;
        return RT_OK;
    }
    RT_TRY(rc);
    if (!(v >= 0 && v < 1e30))
        return rt_error(RT_ERR_RANGE, "%s: '%s' = %g is out of range", rt_gguf_path(g), key, v);
    *out = (float)v;
    return RT_OK;
}

static int token_id(const rt_gguf *g, const char *key, int *out) {
    int64_t v;
    int rc = rt_gguf_get_i64(g, key, &v);
    if (rc == RT_ERR_NOT_FOUND) return RT_OK;
    RT_TRY(rc);
    if (v < 0 || v > INT32_MAX)
        return rt_error(RT_ERR_RANGE, "%s: '%s' is out of range", rt_gguf_path(g), key);
    *out = (int)v;
    return RT_OK;
}

void rt_llama3_rope_freq_factors(const rt_model_config *c, float *out) {
    int half = c->head_dim / 2;
    double lo_wl = c->rope_original_ctx / c->rope_low_freq_factor;
    double hi_wl = c->rope_original_ctx / c->rope_high_freq_factor;
    for (int i = 0; i < half; i++) {
        double freq = 1.0 / pow(c->rope_theta, (2.0 * i) / c->head_dim);
        double wl = 2 * M_PI / freq;
        if (wl < hi_wl) {
            out[i] = 1.0f;
        } else if (wl > lo_wl) {
            out[i] = c->rope_scaling_factor;
        } else {
            double smooth = (c->rope_original_ctx / wl - c->rope_low_freq_factor) /
                            (c->rope_high_freq_factor - c->rope_low_freq_factor);
            out[i] = (float)(1.0 / ((1 - smooth) / c->rope_scaling_factor + smooth));
        }
    }
}

/* Recovers the llama3 rope parameters: from ragtune's own keys when present, else by matching
 * rope_freqs.weight against the Llama 3.1 defaults (low 1, high 4, original context 8192). */
static int read_llama3_scaling(const rt_gguf *g, const char *arch, rt_model_config *c) {
    const rt_gguf_tensor *rf = rt_gguf_find_tensor(g, "rope_freqs.weight");
    float factor = 0;
    RT_TRY(arch_float(g, "ragtune", "rope.llama3.factor", 0, &factor));
    if (factor > 0) {
        c->rope_scaling_factor = factor;
        RT_TRY(
            arch_float(g, "ragtune", "rope.llama3.low_freq_factor", 1, &c->rope_low_freq_factor));
        RT_TRY(
            arch_float(g, "ragtune", "rope.llama3.high_freq_factor", 4, &c->rope_high_freq_factor));
        RT_TRY(arch_int(g, "ragtune", "rope.llama3.original_context_length", 8192, 1, 1 << 24,
                        &c->rope_original_ctx));
        if (c->rope_scaling_factor < 1 || c->rope_high_freq_factor <= c->rope_low_freq_factor)
            return rt_error(RT_ERR_FORMAT, "%s: ragtune.rope.llama3.* factors are inconsistent",
                            rt_gguf_path(g));
        return RT_OK;
    }
    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    const char *type = NULL;
    float lin = 1;
    RT_TRY(arch_float(g, arch, "rope.scaling.factor", 1, &lin));
    if (rt_gguf_get_str(g, key, &type) == RT_OK && strcmp(type, "none") &&
        !(!strcmp(type, "linear") && lin == 1)) /* linear by 1 is no scaling */
        return rt_error(RT_ERR_UNSUPPORTED, "%s: rope scaling '%s' is not supported",
                        rt_gguf_path(g), type);
    if (!rf) return RT_OK;
    int half = c->head_dim / 2;
    if (rf->type != RT_DTYPE_F32 || rf->n_dims != 1 || rf->ne[0] != half)
        return rt_error(RT_ERR_FORMAT, "%s: rope_freqs.weight must be f32 (%d)", rt_gguf_path(g),
                        half);
    float *got = rt_malloc((size_t)half * sizeof *got), *want = rt_malloc((size_t)half * 4);
    if (!got || !want) {
        free(got);
        free(want);
        return RT_ERR_NOMEM;
    }
    memcpy(got, rf->data, (size_t)half * 4);
    float maxf = 1;
    for (int i = 0; i < half; i++)
        maxf = got[i] > maxf ? got[i] : maxf;
    c->rope_scaling_factor = maxf;
    c->rope_low_freq_factor = 1;
    c->rope_high_freq_factor = 4;
    c->rope_original_ctx = 8192;
    rt_llama3_rope_freq_factors(c, want);
    bool same = maxf > 1;
    for (int i = 0; i < half && same; i++)
        same = fabsf(got[i] - want[i]) <= 1e-4f * want[i];
    free(got);
    free(want);
    if (!same)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: rope_freqs.weight does not match Llama 3 "
                        "scaling with the default parameters",
                        rt_gguf_path(g));
    return RT_OK;
}

int rt_gguf_model_config(const rt_gguf *g, rt_model_config *c) {
    memset(c, 0, sizeof *c);
    c->bos_token_id = c->eos_token_id = c->pad_token_id = -1;
    const char *arch = NULL;
    int rc = rt_gguf_get_str(g, "general.architecture", &arch);
    if (rc == RT_ERR_NOT_FOUND)
        return rt_error(RT_ERR_FORMAT, "%s: missing general.architecture", rt_gguf_path(g));
    RT_TRY(rc);
    c->arch = rt_arch_from_name(arch);
    const rt_arch_info *ai = rt_arch_get(c->arch);
    if (!ai || strcmp(arch, ai->name))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: architecture '%s' is not supported (llama, "
                        "qwen2, gpt2, bert)",
                        rt_gguf_path(g), arch);
    const int REQ = INT32_MIN;
    RT_TRY(arch_int(g, arch, "embedding_length", REQ, 1, 1 << 16, &c->n_embd));
    RT_TRY(arch_int(g, arch, "block_count", REQ, 1, 1024, &c->n_layer));
    RT_TRY(arch_int(g, arch, "feed_forward_length", REQ, 1, 1 << 20, &c->n_ff));
    RT_TRY(arch_int(g, arch, "attention.head_count", REQ, 1, 1 << 12, &c->n_head));
    RT_TRY(arch_int(g, arch, "attention.head_count_kv", c->n_head, 1, 1 << 12, &c->n_kv_head));
    RT_TRY(arch_int(g, arch, "context_length", REQ, 1, 1 << 24, &c->n_ctx_train));
    char klkey[128];
    snprintf(klkey, sizeof klkey, "%s.attention.key_length", arch);
    if (c->n_embd % c->n_head && !rt_gguf_find(g, klkey))
        return rt_error(RT_ERR_FORMAT,
                        "%s: embedding_length %d is not a multiple of head_count "
                        "%d",
                        rt_gguf_path(g), c->n_embd, c->n_head);
    RT_TRY(arch_int(g, arch, "attention.key_length", c->n_embd / c->n_head, 1, 4096, &c->head_dim));
    int vlen;
    RT_TRY(arch_int(g, arch, "attention.value_length", c->head_dim, 1, 4096, &vlen));
    if (vlen != c->head_dim)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: key_length %d != value_length %d", rt_gguf_path(g),
                        c->head_dim, vlen);
    const rt_gguf_tensor *te = rt_gguf_find_tensor(g, "token_embd.weight");
    if (!te || te->n_dims != 2)
        return rt_error(RT_ERR_FORMAT, "%s: missing 2-D tensor 'token_embd.weight'",
                        rt_gguf_path(g));
    if (te->ne[1] < 1 || te->ne[1] > (1 << 22))
        return rt_error(RT_ERR_RANGE, "%s: vocabulary of %" PRId64 " tokens", rt_gguf_path(g),
                        te->ne[1]);
    c->n_vocab = (int)te->ne[1];
    RT_TRY(token_id(g, "tokenizer.ggml.bos_token_id", &c->bos_token_id));
    RT_TRY(token_id(g, "tokenizer.ggml.eos_token_id", &c->eos_token_id));
    RT_TRY(token_id(g, "tokenizer.ggml.padding_token_id", &c->pad_token_id));
    const rt_gguf_tensor *out = rt_gguf_find_tensor(g, "output.weight");
    c->tied_embeddings = out == NULL;
    if (out && ai->gguf_tied_output_copy && out->type == te->type && out->nbytes == te->nbytes &&
        !memcmp(out->data, te->data, te->nbytes))
        c->tied_embeddings = true; /* llama.cpp's converter stores GPT-2's tied copy */
    RT_TRY(arch_float(g, arch, ai->gguf_norm_eps_key, ai->norm_eps_default, &c->norm_eps));
    switch (c->arch) {
    case RT_ARCH_LLAMA:
    case RT_ARCH_QWEN2: {
        RT_TRY(arch_float(g, arch, "rope.freq_base", 10000.0f, &c->rope_theta));
        int rot;
        RT_TRY(arch_int(g, arch, "rope.dimension_count", c->head_dim, 1, 4096, &rot));
        if (rot != c->head_dim)
            return rt_error(RT_ERR_UNSUPPORTED,
                            "%s: partial rotary embeddings (%d of %d) are "
                            "not supported",
                            rt_gguf_path(g), rot, c->head_dim);
        c->rope_interleaved = ai->gguf_rope_interleaved; /* llama.cpp permutes llama's wq/wk */
        c->attn_bias = ai->attn_bias || rt_gguf_find_tensor(g, "blk.0.attn_q.bias");
        RT_TRY(read_llama3_scaling(g, arch, c));
        break;
    }
    case RT_ARCH_GPT2:
        c->attn_bias = true;
        break;
    case RT_ARCH_BERT: {
        c->attn_bias = true;
        c->tied_embeddings = false;
        const rt_gguf_tensor *tt = rt_gguf_find_tensor(g, "token_types.weight");
        c->n_type_vocab = tt && tt->n_dims == 2 && tt->ne[1] <= (1 << 16) ? (int)tt->ne[1] : 0;
        int pool;
        RT_TRY(arch_int(g, arch, "pooling_type", 1, 0, 4, &pool));
        c->pooling = pool == 2 ? RT_POOLING_CLS : pool == 3 ? RT_POOLING_LAST : RT_POOLING_MEAN;
        bool norm = true;
        rc = rt_gguf_get_bool(g, "ragtune.embeddings.normalize", &norm);
        if (rc < 0 && rc != RT_ERR_NOT_FOUND) return rc;
        c->normalize_embeddings = norm;
        break;
    }
    default:
        break;
    }
    return rt_model_config_check(c, rt_gguf_path(g));
}

/* ---- llama.cpp tensor names -> weights ----------------------------------------------------------
 */

static void shape_text(char *buf, size_t n, int n_dims, const int64_t *shape) {
    size_t o = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < n_dims && o < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (o < n) snprintf(buf + o, n - o, ")");
}

/* View of tensor `name` with row-major shape (d0[, d1]) (d1 < 0: a vector); rows [r0, r0+d0) of
 * a larger matrix when full_rows > 0 (GPT-2's attn_qkv). Missing and optional: zeroed, RT_OK. */
static int gguf_take(const rt_gguf *g, const char *name, int64_t d0, int64_t d1, bool optional,
                     int64_t full_rows, int64_t r0, rt_tensor *out) {
    memset(out, 0, sizeof *out);
    int n_dims = d1 < 0 ? 1 : 2;
    int64_t want[2] = {full_rows > 0 ? full_rows : d0, d1};
    char ws[64];
    shape_text(ws, sizeof ws, n_dims, want);
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, name);
    if (!t) {
        if (optional) return RT_OK;
        return rt_error(RT_ERR_NOT_FOUND, "%s: missing tensor '%s' (expected shape %s)",
                        rt_gguf_path(g), name, ws);
    }
    if (!supported_dtype(t->type))
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has type %s (supported: f32, f16, "
                        "bf16, q8_0, q4_0)",
                        rt_gguf_path(g), name, rt_ggml_type_name(t->type));
    int64_t got[4];
    for (int i = 0; i < t->n_dims; i++)
        got[i] = t->ne[t->n_dims - 1 - i];
    if (t->n_dims != n_dims || got[0] != want[0] || (n_dims == 2 && got[1] != want[1])) {
        char gs[64];
        shape_text(gs, sizeof gs, t->n_dims, got);
        return rt_error(RT_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected %s", rt_gguf_path(g),
                        name, gs, ws);
    }
    rt_dtype dt = (rt_dtype)t->type;
    size_t skip = 0; /* bytes before row (or element) r0 */
    RT_TRY(rt_dtype_nbytes(dt, n_dims == 2 ? r0 * d1 : r0, &skip, name));
    const uint8_t *src = (const uint8_t *)t->data + skip;
    int64_t shape[2] = {d0, d1};
    size_t nbytes;
    RT_TRY(rt_dtype_nbytes(dt, n_dims == 2 ? d0 * d1 : d0, &nbytes, name));
    size_t align = dt == RT_DTYPE_F32 ? 4 : 2;
    if ((uintptr_t)src % align) {
        RT_TRY(rt_tensor_alloc(out, name, dt, n_dims, shape));
        memcpy(out->data, src, nbytes);
        return RT_OK;
    }
    out->dtype = dt;
    out->n_dims = n_dims;
    for (int i = 0; i < RT_MAX_DIMS; i++)
        out->shape[i] = 1;
    out->shape[0] = d0;
    if (n_dims == 2) out->shape[1] = d1;
    out->data = (void *)src;
    out->nbytes = nbytes;
    out->name = rt_strdup(name);
    return out->name ? RT_OK : RT_ERR_NOMEM;
}

static int map_weights(const rt_gguf *g, const rt_model_config *c, rt_model_weights *w) {
    int64_t E = c->n_embd, Q = (int64_t)c->n_head * c->head_dim,
            KV = (int64_t)c->n_kv_head * c->head_dim, F = c->n_ff, V = c->n_vocab;
    const rt_arch_info *a = rt_arch_get(c->arch);
    bool ln = a->norm == RT_ARCH_NORM_LAYER; /* LayerNorm with bias */
    RT_TRY(gguf_take(g, "token_embd.weight", V, E, false, 0, 0, &w->token_embd));
    if (a->pos == RT_ARCH_POS_LEARNED)
        RT_TRY(gguf_take(g, "position_embd.weight", c->n_ctx_train, E, false, 0, 0, &w->pos_embd));
    if (a->token_types) {
        if (c->n_type_vocab)
            RT_TRY(
                gguf_take(g, "token_types.weight", c->n_type_vocab, E, false, 0, 0, &w->type_embd));
        RT_TRY(gguf_take(g, "token_embd_norm.weight", E, -1, false, 0, 0, &w->embd_norm));
        RT_TRY(gguf_take(g, "token_embd_norm.bias", E, -1, false, 0, 0, &w->embd_norm_b));
    } else {
        RT_TRY(gguf_take(g, "output_norm.weight", E, -1, false, 0, 0, &w->output_norm));
        if (ln) RT_TRY(gguf_take(g, "output_norm.bias", E, -1, false, 0, 0, &w->output_norm_b));
        if (!c->tied_embeddings)
            RT_TRY(gguf_take(g, "output.weight", V, E, false, 0, 0, &w->output));
    }
    const char *an = a->gguf_attn_norm, *fn = a->gguf_ffn_norm;
    const char *const *lin = a->gguf_linear;
    char n[96];
    for (int il = 0; il < c->n_layer; il++) {
        rt_layer_weights *l = &w->layers[il];
#define T(field, base, kind, d0, d1, opt)                                                          \
    snprintf(n, sizeof n, "blk.%d.%s.%s", il, base, kind);                                         \
    RT_TRY(gguf_take(g, n, d0, d1, opt, 0, 0, &l->field))
        T(attn_norm, an, "weight", E, -1, false);
        if (ln) {
            T(attn_norm_b, an, "bias", E, -1, false);
        }
        if (a->gguf_fused_qkv) {
            for (int j = 0; j < 3; j++) {
                rt_tensor *wt = j == 0 ? &l->wq : j == 1 ? &l->wk : &l->wv;
                rt_tensor *bt = j == 0 ? &l->bq : j == 1 ? &l->bk : &l->bv;
                snprintf(n, sizeof n, "blk.%d.%s.weight", il, lin[RT_LIN_Q]);
                RT_TRY(gguf_take(g, n, E, E, false, 3 * E, j * E, wt));
                snprintf(n, sizeof n, "blk.%d.%s.bias", il, lin[RT_LIN_Q]);
                RT_TRY(gguf_take(g, n, E, -1, false, 3 * E, j * E, bt));
            }
        } else {
            T(wq, lin[RT_LIN_Q], "weight", Q, E, false);
            T(wk, lin[RT_LIN_K], "weight", KV, E, false);
            T(wv, lin[RT_LIN_V], "weight", KV, E, false);
            if (c->attn_bias) {
                T(bq, lin[RT_LIN_Q], "bias", Q, -1, false);
                T(bk, lin[RT_LIN_K], "bias", KV, -1, false);
                T(bv, lin[RT_LIN_V], "bias", KV, -1, false);
            }
        }
        T(wo, lin[RT_LIN_O], "weight", E, Q, false);
        T(bo, lin[RT_LIN_O], "bias", E, -1, !a->out_bias);
        T(ffn_norm, fn, "weight", E, -1, false);
        if (ln) {
            T(ffn_norm_b, fn, "bias", E, -1, false);
        }
        if (lin[RT_LIN_GATE]) {
            T(ffn_gate, lin[RT_LIN_GATE], "weight", F, E, false);
        }
        T(ffn_up, lin[RT_LIN_UP], "weight", F, E, false);
        T(ffn_down, lin[RT_LIN_DOWN], "weight", E, F, false);
        if (a->out_bias) {
            T(ffn_up_b, lin[RT_LIN_UP], "bias", F, -1, false);
            T(ffn_down_b, lin[RT_LIN_DOWN], "bias", E, -1, false);
        }
#undef T
    }
    return RT_OK;
}

int rt_gguf_model_weights(const rt_gguf *g, const rt_model_config *c, rt_model_weights *w) {
    memset(w, 0, sizeof *w);
    w->layers = rt_calloc((size_t)c->n_layer, sizeof *w->layers);
    if (!w->layers) return RT_ERR_NOMEM;
    int rc = map_weights(g, c, w);
    if (rc < 0) rt_model_weights_free(w, c->n_layer);
    return rc;
}
