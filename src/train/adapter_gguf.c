/*
 * adapter_gguf.c — LoRA adapters in llama.cpp's GGUF LoRA format (what convert_lora_to_gguf.py
 * writes and llama.cpp's --lora loads): GGUF v3 with general.architecture, general.type
 * "adapter", adapter.type "lora", adapter.lora.alpha, and per adapted linear layer two f32
 * tensors "blk.N.<module>.weight.lora_a" (GGUF ne [n_in, r]) and ".lora_b" (ne [r, n_out]).
 * For q and k, B's rows are permuted to llama.cpp's interleaved RoPE pairing when the model was
 * trained with Hugging Face's rotate_half (as llama.cpp's converter does for the base).
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
static const char *const hf_module[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                         "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                                         "mlp.down_proj"};

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

typedef struct lt {
    char name[96];
    const tm_param *p;
    bool permute; /* lora_b of q/k: rows to interleaved pairing */
    int n_heads;
} lt;

int adapter_save_gguf(const tmodel *m, const char *path) {
    if (m->opt.lora_rank <= 0) return rt_error(RT_ERR_INVALID, "the model has no LoRA adapter");
    if (m->cfg.arch != RT_ARCH_LLAMA && m->cfg.arch != RT_ARCH_QWEN2)
        return rt_error(RT_ERR_UNSUPPORTED, "GGUF LoRA adapters are written for llama and qwen2 "
                                            "(llama.cpp fuses gpt2's q/k/v)");
    /* llama.cpp has one adapter.lora.alpha and scales each pair by alpha / rank
     * (llama-graph.cpp build_lora_mm): per-module scales (a PEFT alpha_pattern) do not fit. */
    for (int i = 0; i < m->cfg.n_layer; i++) {
        const tm_layer *y = &m->layers[i];
        const tm_linear *lins[7] = {&y->q, &y->k, &y->v, &y->o, &y->gate, &y->up, &y->down};
        for (int j = 0; j < 7; j++)
            if (lins[j]->rank && lins[j]->scale != m->opt.lora_alpha / (float)lins[j]->rank)
                return rt_error(RT_ERR_UNSUPPORTED,
                                "layer %d: a LoRA scale other than alpha/rank cannot be written "
                                "as a GGUF LoRA adapter (one alpha per file)",
                                i);
    }
    /* llama GGUF files use interleaved RoPE (permuted wq/wk); qwen2 ones keep HF's order. */
    bool need_permute = m->cfg.arch == RT_ARCH_LLAMA && !m->cfg.rope_interleaved;
    lt *ts = rt_calloc((size_t)m->n_params, sizeof *ts);
    if (!ts) return RT_ERR_NOMEM;
    for (int i = 0; i < m->n_params; i++) {
        const tm_param *p = &m->params[i];
        int layer = -1, j = -1;
        char which = 0;
        for (int k = 0; k < 7 && j < 0; k++) {
            char pat[96];
            snprintf(pat, sizeof pat, ".%s.lora_", hf_module[k]);
            const char *at = strstr(p->name, pat);
            if (at && sscanf(p->name, "model.layers.%d.", &layer) == 1) {
                j = k;
                which = at[strlen(pat)];
            }
        }
        if (j < 0 || layer < 0 || (which != 'A' && which != 'B')) {
            free(ts);
            return rt_error(RT_ERR_INTERNAL, "unexpected LoRA parameter %s", p->name);
        }
        snprintf(ts[i].name, sizeof ts[i].name, "blk.%d.%s.weight.lora_%c", layer, gguf_module[j],
                 which == 'A' ? 'a' : 'b');
        ts[i].p = p;
        ts[i].permute = need_permute && which == 'B' && j <= 1;
        ts[i].n_heads = j == 0 ? m->cfg.n_head : m->cfg.n_kv_head;
    }
    rt_atomic_file f;
    int st = rt_atomic_file_open(&f, path);
    if (st < 0) {
        free(ts);
        return st;
    }
    gw w = {f.fp, path, 0, RT_OK};
    raw(&w, "GGUF", 4);
    u32(&w, 3);
    u64(&w, (uint64_t)m->n_params);
    u64(&w, 5);
    kv_str(&w, "general.architecture", rt_arch_name(m->cfg.arch));
    kv_str(&w, "general.type", "adapter");
    kv_str(&w, "adapter.type", "lora");
    str(&w, "adapter.lora.alpha");
    u32(&w, GGUF_TYPE_F32);
    raw(&w, &m->opt.lora_alpha, 4);
    str(&w, "general.alignment");
    u32(&w, GGUF_TYPE_U32);
    u32(&w, GGUF_ALIGN);
    uint64_t off = 0;
    for (int i = 0; i < m->n_params; i++) {
        const tm_param *p = ts[i].p;
        str(&w, ts[i].name);
        u32(&w, 2);
        u64(&w, (uint64_t)p->shape[1]); /* ne[0]: the contiguous dimension */
        u64(&w, (uint64_t)p->shape[0]);
        u32(&w, 0); /* f32 */
        u64(&w, off);
        off += (p->n * sizeof(float) + GGUF_ALIGN - 1) / GGUF_ALIGN * GGUF_ALIGN;
    }
    pad(&w);
    float *tmp = NULL;
    for (int i = 0; i < m->n_params && w.st == RT_OK; i++) {
        const tm_param *p = ts[i].p;
        const float *data = m->train_data + p->offset;
        if (ts[i].permute) {
            float *t2 = rt_realloc(tmp, p->n * sizeof(float));
            if (!t2) {
                w.st = RT_ERR_NOMEM;
                break;
            }
            tmp = t2;
            rt_rope_permute_rows(data, tmp, p->shape[0], (size_t)p->shape[1] * sizeof(float),
                                 ts[i].n_heads, true);
            data = tmp;
        }
        raw(&w, data, p->n * sizeof(float));
        pad(&w);
    }
    free(tmp);
    free(ts);
    if (w.st < 0) {
        rt_atomic_file_abort(&f);
        return w.st;
    }
    return rt_atomic_file_commit(&f);
}
