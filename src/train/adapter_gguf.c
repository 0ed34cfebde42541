/*
 * adapter_gguf.c — LoRA adapters in llama.cpp's GGUF LoRA format (what convert_lora_to_gguf.py
 * writes and llama.cpp's --lora loads): GGUF v3 with general.architecture, general.type
 * "adapter", adapter.type "lora", adapter.lora.alpha, and per adapted linear layer two f32
 * tensors "blk.N.<module>.weight.lora_a" (GGUF ne [n_in, r]) and ".lora_b" (ne [r, n_out]).
 * For q and k, B's rows are permuted to llama.cpp's interleaved RoPE pairing when the model was
 * trained with Hugging Face's rotate_half (as llama.cpp's converter does for the base).
 * gpt2: llama.cpp fuses q, k, v into blk.N.attn_qkv; the pair is the rank-3r c_attn LoRA of
 * adapter.c (A stacked, B block-diagonal) and the other pairs are zero-padded to rank 3r.
 *
 * Reading (adapter_gguf_each) takes any such file for llama, qwen2 or gpt2 — f32/f16/bf16/q8_0
 * tensors, any rank, alpha 0 meaning scale 1 as in llama.cpp — and hands each pair to the
 * caller in the model's q/k row order.
 *
 * Only this small, fixed layout is written (through core/gguf_writer.h, as models are).
 * It satisfies llama.cpp's loader (llama-adapter.cpp, gguf.cpp): alpha is a FLOAT32 KV, names are
 * "<base tensor>.lora_a/_b" under 64 bytes, offsets are consecutive and 32-byte aligned;
 * tests/reference/ref_lora_gguf.c checks this with an independent reader.
 */
#include "train/adapter.h"

#include "core/error.h"
#include "core/gguf_writer.h"
#include "core/quant.h"
#include "model/arch.h"
#include "model/gguf.h"
#include "model/lora.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The GGUF module name of split linear j ("attn_q", ...; model/arch.c): llama's, which every
 * architecture uses but for gpt2's fused attn_qkv. */
static const char *split_module(int j) {
    return rt_arch_get(RT_ARCH_LLAMA)->gguf_linear[j];
}

/* One tensor of the file: A (rank, n_in) or B (n_out, rank) of a pair, built from one linear
 * or, for gpt2's attn_qkv, from q, k and v (A stacked, B block-diagonal, as in adapter.c). */
typedef struct lt {
    char name[96];
    const tm_linear *lin[3];
    int n_lin;
    bool is_b;
    int rank;           /* as written; every linear's rank r fills the first r of it */
    int64_t rows, cols; /* A (rank, n_in), B (n_out, rank) */
    bool permute;       /* lora_b of q/k: rows to interleaved pairing */
    int n_heads;
} lt;

/* The matrix t as written (rows x cols floats into dst); zero where no linear contributes. */
static void fill(const lt *t, float *dst) {
    memset(dst, 0, (size_t)(t->rows * t->cols) * sizeof(float));
    int64_t row0 = 0;
    for (int k = 0; k < t->n_lin; k++) {
        const tm_linear *L = t->lin[k];
        int r = L->rank;
        if (t->is_b) {
            for (int o = 0; r && o < L->n_out; o++)
                memcpy(dst + (size_t)(row0 + o) * t->rank + (size_t)k * r,
                       L->lora_b + (size_t)o * r, (size_t)r * sizeof(float));
            row0 += L->n_out;
        } else if (r) {
            memcpy(dst + (size_t)k * r * L->n_in, L->lora_a, (size_t)r * L->n_in * sizeof(float));
        }
    }
}

/* The file's tensors in order (layer, module, A then B); *n of them. */
static int list_tensors(const tmodel *m, int rank, lt **out, int *n) {
    lt *ts = rt_calloc((size_t)m->cfg.n_layer * 14, sizeof *ts);
    if (!ts) return RT_ERR_NOMEM;
    /* llama GGUF files use interleaved RoPE (permuted wq/wk); qwen2 ones keep HF's order. */
    const rt_arch_info *a = rt_arch_get(m->cfg.arch);
    bool need_permute = a->gguf_rope_interleaved && !m->cfg.rope_interleaved;
    bool fused = a->gguf_fused_qkv;
    int k = 0;
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = fused ? 2 : 0; j < 7; j++) {
            const tm_linear *lins[3] = {tmodel_linear(m, i, j)};
            int n_lin = 1;
            const char *module = a->gguf_linear[j];
            if (fused && j == 2) { /* gpt2: q, k, v as attn_qkv */
                for (int q = 0; q < 3; q++)
                    lins[q] = tmodel_linear(m, i, q);
                n_lin = 3;
                if (!lins[0]->rank && !lins[1]->rank && !lins[2]->rank) continue;
            } else if (!lins[0]->rank) {
                continue;
            }
            int64_t n_out = 0;
            for (int q = 0; q < n_lin; q++)
                n_out += lins[q]->n_out;
            for (int b = 0; b < 2; b++, k++) {
                lt *t = &ts[k];
                snprintf(t->name, sizeof t->name, "blk.%d.%s.weight.lora_%c", i, module,
                         b ? 'b' : 'a');
                memcpy(t->lin, lins, sizeof lins);
                t->n_lin = n_lin;
                t->is_b = b;
                t->rank = rank;
                t->rows = b ? n_out : rank;
                t->cols = b ? rank : lins[0]->n_in;
                t->permute = need_permute && b && j <= 1;
                t->n_heads = j == 0 ? m->cfg.n_head : m->cfg.n_kv_head;
            }
        }
    *out = ts;
    *n = k;
    return RT_OK;
}

int adapter_save_gguf(const tmodel *m, const char *path) {
    if (m->opt.lora_rank <= 0) return rt_error(RT_ERR_INVALID, "the model has no LoRA adapter");
    const rt_arch_info *ai = rt_arch_get(m->cfg.arch);
    if (!ai || !ai->lora_targets)
        return rt_error(RT_ERR_UNSUPPORTED,
                        "GGUF LoRA adapters are written for llama, qwen2 and gpt2");
    /* llama.cpp has one adapter.lora.alpha and scales each pair by alpha / rank with
     * rank = lora_b ne[0] (llama-graph.cpp build_lora_mm): per-module scales (a PEFT
     * alpha_pattern) do not fit. */
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = 0; j < 7; j++) {
            const tm_linear *L = tmodel_linear(m, i, j);
            if (L->rank &&
                L->scale != tm_lora_scale(m->opt.lora_alpha, L->rank, m->opt.lora_rslora))
                return rt_error(RT_ERR_UNSUPPORTED,
                                "layer %d: a LoRA scale other than alpha/rank cannot be written "
                                "as a GGUF LoRA adapter (one alpha per file)",
                                i);
        }
    /* gpt2's attn_qkv pair has rank 3r; every other pair is padded with zeros to 3r and alpha
     * written as 3 alpha, so that llama.cpp's alpha / rank is alpha / r for all: exact. */
    int r = m->opt.lora_rank;
    bool fused = m->is_gpt2 && (m->opt.lora_targets & (RT_LORA_Q | RT_LORA_K | RT_LORA_V));
    int rank = fused ? 3 * r : r;
    /* llama.cpp scales by alpha / rank: write the alpha that gives our scale at this rank (with
     * rsLoRA, alpha / sqrt(r) = alpha_gguf / rank) */
    float alpha = tm_lora_scale(m->opt.lora_alpha, r, m->opt.lora_rslora) * (float)rank;
    lt *ts;
    int n;
    RT_TRY(list_tensors(m, rank, &ts, &n));
    rt_gguf_writer *gw = NULL;
    int st = rt_gguf_writer_new(&gw);
    if (st == RT_OK)
        st = rt_gguf_writer_set_str(gw, "general.architecture", rt_arch_name(m->cfg.arch));
    if (st == RT_OK) st = rt_gguf_writer_set_str(gw, "general.type", "adapter");
    if (st == RT_OK) st = rt_gguf_writer_set_str(gw, "adapter.type", "lora");
    if (st == RT_OK) st = rt_gguf_writer_set_f32(gw, "adapter.lora.alpha", alpha);
    if (st == RT_OK)
        st = rt_gguf_writer_set_u32(gw, "general.alignment", RT_GGUF_DEFAULT_ALIGNMENT);
    size_t max_n = 0;
    for (int i = 0; i < n && st == RT_OK; i++) {
        size_t nel = (size_t)(ts[i].rows * ts[i].cols);
        int64_t ne[2] = {ts[i].cols, ts[i].rows}; /* ne[0]: the contiguous dimension */
        st = rt_gguf_writer_add_tensor(gw, ts[i].name, RT_DTYPE_F32, 2, ne, NULL);
        max_n = nel > max_n ? nel : max_n;
    }
    float *data = NULL;
    if (st == RT_OK) {
        data = rt_malloc(2 * max_n * sizeof(float));
        if (!data) st = RT_ERR_NOMEM;
    }
    if (st == RT_OK) st = rt_gguf_writer_begin(gw, path);
    for (int i = 0; i < n && st == RT_OK; i++) {
        const lt *t = &ts[i];
        float *out = data;
        fill(t, data);
        if (t->permute) {
            out = data + max_n;
            rt_rope_permute_rows(data, out, t->rows, (size_t)t->cols * sizeof(float), t->n_heads,
                                 true);
        }
        st = rt_gguf_writer_write_tensor(gw, out, (size_t)(t->rows * t->cols) * sizeof(float));
    }
    if (st == RT_OK) st = rt_gguf_writer_finish(gw);
    rt_gguf_writer_free(gw);
    free(data);
    free(ts);
    return st;
}

/* ---- reading ----------------------------------------------------------------------------- */

/* A lora_a / lora_b tensor of the file as an f32 matrix (rows, cols) (malloc'd into *out). */
static int read_gguf_matrix(const rt_gguf *g, const rt_gguf_tensor *t, int64_t rows, int64_t cols,
                            float **out) {
    *out = NULL;
    const char *path = rt_gguf_path(g);
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows)
        return rt_error(RT_ERR_INVALID,
                        "%s: tensor %s has GGUF shape [%lld, %lld], the model needs [%lld, %lld]",
                        path, t->name, (long long)t->ne[0],
                        (long long)(t->n_dims > 1 ? t->ne[1] : 1), (long long)cols,
                        (long long)rows);
    if (!t->nbytes || !rt_dtype_valid((int)t->type) || t->type == RT_DTYPE_I32)
        return rt_error(RT_ERR_UNSUPPORTED, "%s: tensor %s has type %s", path, t->name,
                        rt_ggml_type_name(t->type));
    size_t need;
    RT_TRY(rt_dtype_nbytes((rt_dtype)t->type, rows * cols, &need, t->name));
    if (t->nbytes < need)
        return rt_error(RT_ERR_FORMAT, "%s: tensor %s is truncated", path, t->name);
    *out = rt_malloc((size_t)(rows * cols) * sizeof(float));
    if (!*out) return RT_ERR_NOMEM;
    rt_dequantize_row((rt_dtype)t->type, t->data, *out, rows * cols);
    return RT_OK;
}

/* The pair of module `module` of layer i, if the file has it: calls fn for each of the linears
 * it covers (attn_qkv: q, k, v). used[] marks the tensors read. */
static int gguf_pair(const rt_gguf *g, const rt_model_config *cfg, int i, const char *module,
                     float alpha, bool *used, adapter_pair_fn fn, void *user) {
    char name_a[96], name_b[96];
    snprintf(name_a, sizeof name_a, "blk.%d.%s.weight.lora_a", i, module);
    snprintf(name_b, sizeof name_b, "blk.%d.%s.weight.lora_b", i, module);
    const rt_gguf_tensor *ta = rt_gguf_find_tensor(g, name_a), *tb = rt_gguf_find_tensor(g, name_b);
    if (!ta && !tb) return RT_OK;
    const char *path = rt_gguf_path(g);
    if (!ta || !tb)
        return rt_error(RT_ERR_FORMAT, "%s: %s has no partner %s", path, ta ? name_a : name_b,
                        ta ? name_b : name_a);
    bool fused = !strcmp(module, rt_arch_get(RT_ARCH_GPT2)->gguf_linear[RT_LIN_Q]); /* qkv */
    int j0 = 0, n_lin = 1;
    if (fused) {
        n_lin = 3;
    } else {
        while (j0 < 7 && strcmp(split_module(j0), module))
            j0++;
    }
    int64_t n_out_all = 0, row0[4] = {0, 0, 0, 0};
    int n_in = 0;
    for (int k = 0; k < n_lin; k++) {
        int n_out;
        rt_lora_linear_shape(cfg, j0 + k, &n_out, &n_in);
        if (!n_out)
            return rt_error(RT_ERR_INVALID, "%s: tensor %s: %s has no %s", path, name_a,
                            rt_arch_name(cfg->arch), module);
        n_out_all += n_out;
        row0[k + 1] = n_out_all;
    }
    bool qkv = fused || j0 <= 2;
    if (qkv && fused != rt_arch_get(cfg->arch)->gguf_fused_qkv)
        return rt_error(RT_ERR_INVALID, "%s: tensor %s does not fit a %s model", path, name_a,
                        rt_arch_name(cfg->arch));
    int64_t rank = tb->ne[0];
    if (rank <= 0 || rank > 4096)
        return rt_error(RT_ERR_FORMAT, "%s: tensor %s has rank %lld", path, name_b,
                        (long long)rank);
    float *a = NULL, *b = NULL;
    int st = read_gguf_matrix(g, ta, rank, n_in, &a);
    if (st == RT_OK) st = read_gguf_matrix(g, tb, n_out_all, rank, &b);
    /* q/k rows: llama GGUF files pair RoPE dimensions interleaved (llama.cpp's converter
     * permutes them, for adapters as for the base); the model may be either */
    bool file_interleaved = rt_arch_get(cfg->arch)->gguf_rope_interleaved;
    if (st == RT_OK && !fused && j0 <= 1 && file_interleaved != cfg->rope_interleaved) {
        float *perm = rt_malloc((size_t)(n_out_all * rank) * sizeof(float));
        if (!perm)
            st = RT_ERR_NOMEM;
        else
            rt_rope_permute_rows(b, perm, n_out_all, (size_t)rank * sizeof(float),
                                 j0 == 0 ? cfg->n_head : cfg->n_kv_head, cfg->rope_interleaved);
        free(b);
        b = perm;
    }
    /* llama.cpp: scale = alpha / rank (rank = lora_b ne[0]), or 1 when alpha is 0 */
    float scale = alpha != 0.0f ? alpha / (float)rank : 1.0f;
    for (int k = 0; k < n_lin && st == RT_OK; k++) {
        adapter_pair p = {.layer = i,
                          .j = j0 + k,
                          .module = name_a,
                          .path = path,
                          .a = a,
                          .rank = rank,
                          .b = b + row0[k] * rank,
                          .fused = fused,
                          .scale = scale};
        st = fn(user, &p);
    }
    free(a);
    free(b);
    for (size_t k = 0; k < rt_gguf_n_tensors(g); k++) {
        const rt_gguf_tensor *t = rt_gguf_tensor_at(g, k);
        if (t == ta || t == tb) used[k] = true;
    }
    return st;
}

int adapter_gguf_each(const rt_model_config *cfg, const char *path, adapter_pair_fn fn,
                      void *user) {
    rt_gguf *g;
    RT_TRY(rt_gguf_open(path, &g));
    const char *type = NULL, *atype = NULL, *arch = NULL;
    double alpha = 0.0;
    int st = rt_gguf_get_str(g, "general.type", &type);
    if (st == RT_OK) st = rt_gguf_get_str(g, "adapter.type", &atype);
    if (st == RT_OK && (strcmp(type, "adapter") || strcmp(atype, "lora")))
        st = rt_error(RT_ERR_FORMAT, "%s: not a LoRA adapter (general.type '%s', adapter.type '%s')",
                      path, type, atype);
    else if (st == RT_ERR_NOT_FOUND)
        st = rt_error(RT_ERR_FORMAT, "%s: not a LoRA adapter (no general.type / adapter.type)",
                      path);
    if (st == RT_OK) st = rt_gguf_get_str(g, "general.architecture", &arch);
    if (st == RT_OK && strcmp(arch, rt_arch_name(cfg->arch)))
        st = rt_error(RT_ERR_INVALID, "%s: a LoRA adapter for %s, the model is %s", path, arch,
                      rt_arch_name(cfg->arch));
    if (st == RT_OK) {
        int a = rt_gguf_get_f64(g, "adapter.lora.alpha", &alpha);
        if (a < 0 && a != RT_ERR_NOT_FOUND) st = a;
    }
    size_t n_t = rt_gguf_n_tensors(g);
    bool *used = NULL;
    if (st == RT_OK) {
        used = rt_calloc(n_t ? n_t : 1, sizeof *used);
        if (!used) st = RT_ERR_NOMEM;
    }
    const char *fused_qkv = rt_arch_get(RT_ARCH_GPT2)->gguf_linear[RT_LIN_Q];
    for (int i = 0; i < cfg->n_layer && st == RT_OK; i++)
        for (int k = 0; k < 8 && st == RT_OK; k++) /* the split modules, then attn_qkv */
            st = gguf_pair(g, cfg, i, k < 7 ? split_module(k) : fused_qkv, (float)alpha, used,
                           fn, user);
    for (size_t k = 0; st == RT_OK && k < n_t; k++)
        if (!used[k])
            st = rt_error(RT_ERR_INVALID, "%s: tensor %s has no linear in the model (%s, %d layers)",
                          path, rt_gguf_tensor_at(g, k)->name, rt_arch_name(cfg->arch),
                          cfg->n_layer);
    free(used);
    rt_gguf_close(g);
    return st;
}
