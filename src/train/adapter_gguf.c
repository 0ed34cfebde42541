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
 * Only this small, fixed layout is written; general GGUF models are model/gguf_write.c's job.
 * It satisfies llama.cpp's loader (llama-adapter.cpp, gguf.cpp): alpha is a FLOAT32 KV, names are
 * "<base tensor>.lora_a/_b" under 64 bytes, offsets are consecutive and 32-byte aligned;
 * tests/reference/ref_lora_gguf.c checks this with an independent reader.
 */
#include "train/adapter.h"

#include "core/error.h"
#include "core/file.h"
#include "model/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GGUF_ALIGN = 32, GGUF_TYPE_U32 = 4, GGUF_TYPE_F32 = 6, GGUF_TYPE_STRING = 8 };

static const char *const gguf_module[7] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                           "ffn_gate", "ffn_up", "ffn_down"};

typedef struct gw {
    FILE *fp;
    const char *path;
    size_t pos;
    int st;
} gw;

static void raw(gw *w, const void *p, size_t n) {
    if (w->st < 0) return;
    w->st = rt_fwrite_all(w->fp, p, n, w->path);
    w->pos += n;
}
static void u32(gw *w, uint32_t v) {
    raw(w, &v, 4);
}
static void u64(gw *w, uint64_t v) {
    raw(w, &v, 8);
}
static void str(gw *w, const char *s) {
    u64(w, strlen(s));
    raw(w, s, strlen(s));
}
static void kv_str(gw *w, const char *k, const char *v) {
    str(w, k);
    u32(w, GGUF_TYPE_STRING);
    str(w, v);
}
static void pad(gw *w) {
    static const char zeros[GGUF_ALIGN];
    raw(w, zeros, (GGUF_ALIGN - w->pos % GGUF_ALIGN) % GGUF_ALIGN);
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
    bool need_permute = m->cfg.arch == RT_ARCH_LLAMA && !m->cfg.rope_interleaved;
    bool fused = m->is_gpt2;
    int k = 0;
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = fused ? 2 : 0; j < 7; j++) {
            const tm_linear *lins[3] = {tmodel_linear(m, i, j)};
            int n_lin = 1;
            const char *module = gguf_module[j];
            if (fused && j == 2) { /* gpt2: q, k, v as attn_qkv */
                for (int q = 0; q < 3; q++)
                    lins[q] = tmodel_linear(m, i, q);
                n_lin = 3;
                module = "attn_qkv";
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
    if (m->cfg.arch != RT_ARCH_LLAMA && m->cfg.arch != RT_ARCH_QWEN2 && !m->is_gpt2)
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
    rt_atomic_file f;
    int st = rt_atomic_file_open(&f, path);
    if (st < 0) {
        free(ts);
        return st;
    }
    gw w = {f.fp, path, 0, RT_OK};
    raw(&w, "GGUF", 4);
    u32(&w, 3);
    u64(&w, (uint64_t)n);
    u64(&w, 5);
    kv_str(&w, "general.architecture", rt_arch_name(m->cfg.arch));
    kv_str(&w, "general.type", "adapter");
    kv_str(&w, "adapter.type", "lora");
    str(&w, "adapter.lora.alpha");
    u32(&w, GGUF_TYPE_F32);
    raw(&w, &alpha, 4);
    str(&w, "general.alignment");
    u32(&w, GGUF_TYPE_U32);
    u32(&w, GGUF_ALIGN);
    uint64_t off = 0;
    size_t max_n = 0;
    for (int i = 0; i < n; i++) {
        size_t nel = (size_t)(ts[i].rows * ts[i].cols);
        str(&w, ts[i].name);
        u32(&w, 2);
        u64(&w, (uint64_t)ts[i].cols); /* ne[0]: the contiguous dimension */
        u64(&w, (uint64_t)ts[i].rows);
        u32(&w, 0); /* f32 */
        u64(&w, off);
        off += (nel * sizeof(float) + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
        max_n = nel > max_n ? nel : max_n;
    }
    pad(&w);
    float *data = rt_malloc(2 * max_n * sizeof(float));
    if (!data) w.st = RT_ERR_NOMEM;
    for (int i = 0; i < n && w.st == RT_OK; i++) {
        const lt *t = &ts[i];
        float *out = data;
        fill(t, data);
        if (t->permute) {
            out = data + max_n;
            rt_rope_permute_rows(data, out, t->rows, (size_t)t->cols * sizeof(float), t->n_heads,
                                 true);
        }
        raw(&w, out, (size_t)(t->rows * t->cols) * sizeof(float));
        pad(&w);
    }
    free(data);
    free(ts);
    if (w.st < 0) {
        rt_atomic_file_abort(&f);
        return w.st;
    }
    return rt_atomic_file_commit(&f);
}
