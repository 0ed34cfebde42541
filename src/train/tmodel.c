/*
 * tmodel.c — building a trainable transformer (parameter layout, initialization, LoRA) and its
 * forward and backward passes over the layers of train/ops.c.
 *
 * Initialization from scratch (documented contract of `ragtune train` without --model): every
 * embedding and linear weight ~ N(0, 0.02) (Hugging Face's initializer_range), gpt2's residual
 * projections (o_proj, down_proj) ~ N(0, 0.02 / sqrt(2 n_layer)) as GPT-2 does, norm weights 1,
 * biases 0; values are drawn in tensor order from one splitmix64 stream seeded by opt->seed.
 * LoRA: A ~ U(-1/sqrt(n_in), 1/sqrt(n_in)) (PEFT's kaiming_uniform(a=sqrt(5))), B = 0.
 *
 * Memory: the activations of one (B,T) batch are allocated once by reserve() and reused; with
 * recompute only the layer inputs (n_layer+1 residual streams) are kept and one layer's
 * activations are rebuilt during backward.
 */
#include "train/tmodel.h"
#include "train/tkern.h"

#include "train/ops.h"
#include "train/rng.h"
#include "core/error.h"
#include "core/matmul.h"
#include "core/quant.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_LIN = 7, LOSS_CHUNK = 256 };

typedef struct tm_layer_acts {
    float *ln1, *mean1, *rstd1; /* (N,C) scratch shared by all layers (recomputed), (N), (N) */
    float *q, *k, *v;           /* (N,H*D), (N,KV*D), (N,KV*D) after RoPE */
    float *lse;                 /* (B,H,T) attention log-sum-exp */
    float *att;                 /* (N,H*D); lean: shared, recomputed in backward */
    float *x_mid;               /* (N,C) residual after attention; lean: shared, recomputed */
    float *ln2, *mean2, *rstd2; /* ln2 is the same scratch as ln1 */
    float *fa, *fb;             /* (N,F): gate|fc, up (the activation output is recomputed) */
    float *xa[N_LIN];           /* (N,rank) LoRA x A^T per linear */
} tm_layer_acts;

typedef struct tm_acts {
    int B, T;
    size_t bytes;
    float *mem;
    float **x_res;        /* n_layer+1 of (N,C) */
    tm_layer_acts *slots; /* n_layer, or 1 with recompute */
    float *lnf, *meanf, *rstdf;
    /* Work buffers of the current layer, reused as the backward pass moves on (see layout_acts):
     * h and dup share one buffer, dh and dgate another; dq shares h's, dk and dv dh's; datt
     * and the final norm's input gradient dlnf share dln's. tmp exists only with dropout. */
    float *h, *dup, *dh, *dgate;
    float *dres, *dln, *dq, *dk, *dv, *datt, *dxa, *tmp;
    float *logits, *dlnf;
    float *cos_t, *sin_t; /* (T, D/2) */
    /* bf16 with an f32 head and several loss chunks: the head rounded and packed once per step
     * for all chunks, as op(B) of the logits (C,V) and then of their gradient (V,C); a frozen
     * head (LoRA: no dhead) only once, while these buffers live (the *_ready flags) */
    rt_gemm_bf16_panels head_fwd, head_bwd;
    bool head_fwd_ready, head_bwd_ready;
} tm_acts;

/* ---- parameter layout -------------------------------------------------------------------- */

typedef enum { K_EMBED, K_NORM_W, K_BIAS, K_LINEAR, K_RESID_LINEAR } spec_kind;

typedef struct spec {
    char name[112];
    int64_t rows, cols; /* cols = 0 for vectors */
    spec_kind kind;
    float **slot, **gslot; /* where the f32 pointer and its gradient go */
    tm_linear *lin;        /* linear weights */
    rt_tensor *view;       /* wte / head views */
    const rt_tensor *src;  /* from loaded weights, or NULL */
} spec;

typedef struct spec_list {
    spec *v;
    int n;
    size_t cap;
} spec_list;

static int add_spec(spec_list *l, const char *name, int64_t rows, int64_t cols, spec_kind kind,
                    float **slot, float **gslot, tm_linear *lin, rt_tensor *view,
                    const rt_tensor *src) {
    RT_TRY(RT_GROW(l->v, l->cap, l->n + 1));
    spec *s = &l->v[l->n++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->rows = rows;
    s->cols = cols;
    s->kind = kind;
    s->slot = slot;
    s->gslot = gslot;
    s->lin = lin;
    s->view = view;
    s->src = src && src->data ? src : NULL;
    return RT_OK;
}

static int64_t spec_n(const spec *s) {
    return s->rows * (s->cols ? s->cols : 1);
}

#define W(field) (weights ? &(field) : NULL)

static int build_specs(tmodel *m, const rt_model_weights *weights, spec_list *l) {
    const rt_model_config *c = &m->cfg;
    int64_t C = c->n_embd, F = c->n_ff, QD = (int64_t)c->n_head * c->head_dim;
    int64_t KD = (int64_t)c->n_kv_head * c->head_dim;
    bool gpt2 = m->is_gpt2, qkv_bias = c->attn_bias || gpt2;
    char nm[112];
    RT_TRY(add_spec(l, "model.embed_tokens.weight", c->n_vocab, C, K_EMBED, NULL, &m->dwte, NULL,
                    &m->wte, W(weights->token_embd)));
    if (gpt2)
        RT_TRY(add_spec(l, "model.embed_positions.weight", c->n_ctx_train, C, K_EMBED, &m->wpe,
                        &m->dwpe, NULL, NULL, W(weights->pos_embd)));
    for (int i = 0; i < c->n_layer; i++) {
        tm_layer *L = &m->layers[i];
        const rt_layer_weights *lw = weights ? &weights->layers[i] : NULL;
#define NAME(suffix) (snprintf(nm, sizeof nm, "model.layers.%d.%.48s", i, suffix), nm)
#define LW(field) (lw ? &lw->field : NULL)
        RT_TRY(add_spec(l, NAME("input_layernorm.weight"), C, 0, K_NORM_W, &L->ln1_w, &L->dln1_w,
                        NULL, NULL, LW(attn_norm)));
        if (gpt2)
            RT_TRY(add_spec(l, NAME("input_layernorm.bias"), C, 0, K_BIAS, &L->ln1_b, &L->dln1_b,
                            NULL, NULL, LW(attn_norm_b)));
        struct {
            const char *n;
            tm_linear *lin;
            int64_t out, in;
            const rt_tensor *w, *b;
            bool bias, resid;
        } lins[] = {
            {"self_attn.q_proj", &L->q, QD, C, LW(wq), LW(bq), qkv_bias, false},
            {"self_attn.k_proj", &L->k, KD, C, LW(wk), LW(bk), qkv_bias, false},
            {"self_attn.v_proj", &L->v, KD, C, LW(wv), LW(bv), qkv_bias, false},
            {"self_attn.o_proj", &L->o, C, QD, LW(wo), LW(bo), gpt2, true},
        };
        for (size_t j = 0; j < sizeof lins / sizeof lins[0]; j++) {
            char full[48];
            snprintf(full, sizeof full, "%s.weight", lins[j].n);
            lins[j].lin->n_in = (int)lins[j].in;
            lins[j].lin->n_out = (int)lins[j].out;
            RT_TRY(add_spec(l, NAME(full), lins[j].out, lins[j].in,
                            gpt2 && lins[j].resid ? K_RESID_LINEAR : K_LINEAR, NULL,
                            &lins[j].lin->dw, lins[j].lin, NULL, lins[j].w));
            if (lins[j].bias) {
                snprintf(full, sizeof full, "%s.bias", lins[j].n);
                RT_TRY(add_spec(l, NAME(full), lins[j].out, 0, K_BIAS, &lins[j].lin->b,
                                &lins[j].lin->db, NULL, NULL, lins[j].b));
            }
        }
        RT_TRY(add_spec(l, NAME("post_attention_layernorm.weight"), C, 0, K_NORM_W, &L->ln2_w,
                        &L->dln2_w, NULL, NULL, LW(ffn_norm)));
        if (gpt2)
            RT_TRY(add_spec(l, NAME("post_attention_layernorm.bias"), C, 0, K_BIAS, &L->ln2_b,
                            &L->dln2_b, NULL, NULL, LW(ffn_norm_b)));
        L->gate.n_in = L->up.n_in = (int)C;
        L->gate.n_out = L->up.n_out = (int)F;
        L->down.n_in = (int)F;
        L->down.n_out = (int)C;
        if (!gpt2)
            RT_TRY(add_spec(l, NAME("mlp.gate_proj.weight"), F, C, K_LINEAR, NULL, &L->gate.dw,
                            &L->gate, NULL, LW(ffn_gate)));
        RT_TRY(add_spec(l, NAME("mlp.up_proj.weight"), F, C, K_LINEAR, NULL, &L->up.dw, &L->up,
                        NULL, LW(ffn_up)));
        if (gpt2)
            RT_TRY(add_spec(l, NAME("mlp.up_proj.bias"), F, 0, K_BIAS, &L->up.b, &L->up.db, NULL,
                            NULL, LW(ffn_up_b)));
        RT_TRY(add_spec(l, NAME("mlp.down_proj.weight"), C, F, gpt2 ? K_RESID_LINEAR : K_LINEAR,
                        NULL, &L->down.dw, &L->down, NULL, LW(ffn_down)));
        if (gpt2)
            RT_TRY(add_spec(l, NAME("mlp.down_proj.bias"), C, 0, K_BIAS, &L->down.b, &L->down.db,
                            NULL, NULL, LW(ffn_down_b)));
#undef NAME
#undef LW
    }
    RT_TRY(add_spec(l, "model.norm.weight", C, 0, K_NORM_W, &m->lnf_w, &m->dlnf_w, NULL, NULL,
                    W(weights->output_norm)));
    if (gpt2)
        RT_TRY(add_spec(l, "model.norm.bias", C, 0, K_BIAS, &m->lnf_b, &m->dlnf_b, NULL, NULL,
                        W(weights->output_norm_b)));
    if (!c->tied_embeddings)
        RT_TRY(add_spec(l, "lm_head.weight", c->n_vocab, C, K_EMBED, NULL, &m->dhead, NULL,
                        &m->head, W(weights->output)));
    return RT_OK;
}

/* Fills dst (n) for spec s: from its source tensor, or by the documented initialization. */
static int fill_spec(tmodel *m, const spec *s, float *dst) {
    int64_t n = spec_n(s);
    if (s->src) {
        if (rt_tensor_nelements(s->src) != n || s->src->shape[0] != s->rows)
            return rt_error(RT_ERR_FORMAT, "tensor %s: shape does not match the configuration",
                            s->name);
        int64_t row = s->src->shape[s->src->n_dims - 1];
        size_t row_bytes = rt_tensor_row_bytes(s->src);
        for (int64_t r = 0; r < n / row; r++)
            rt_dequantize_row(s->src->dtype, (const char *)s->src->data + (size_t)r * row_bytes,
                              dst + r * row, row);
        return RT_OK;
    }
    float std = 0.02f;
    switch (s->kind) {
    case K_NORM_W:
        for (int64_t i = 0; i < n; i++)
            dst[i] = 1.0f;
        break;
    case K_BIAS:
        for (int64_t i = 0; i < n; i++)
            dst[i] = 0.0f;
        break;
    case K_RESID_LINEAR:
        std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
        /* fall through */
    default:
        for (int64_t i = 0; i < n; i++)
            dst[i] = std * rt_rng_normal(&m->rng);
    }
    return RT_OK;
}

static int check_config(const rt_model_config *c, const tm_options *o) {
    if (c->arch != RT_ARCH_LLAMA && c->arch != RT_ARCH_QWEN2 && c->arch != RT_ARCH_GPT2)
        return rt_error(RT_ERR_UNSUPPORTED, "training supports llama, qwen2 and gpt2, not %s",
                        rt_arch_name(c->arch) ? rt_arch_name(c->arch) : "this architecture");
    if (c->n_vocab <= 0 || c->n_embd <= 0 || c->n_layer <= 0 || c->n_head <= 0 ||
        c->n_kv_head <= 0 || c->head_dim <= 0 || c->n_ff <= 0 || c->n_head % c->n_kv_head ||
        c->head_dim % 2 || c->n_vocab > (1 << 24) || c->n_embd > (1 << 16) || c->n_ff > (1 << 18) ||
        c->n_layer > 1024 || c->n_head > 1024)
        return rt_error(RT_ERR_INVALID, "model configuration out of range for training");
    if (c->arch == RT_ARCH_GPT2 && c->n_ctx_train <= 0)
        return rt_error(RT_ERR_INVALID, "gpt2 needs n_ctx_train for its position embeddings");
    if (o->lora_rank < 0 || o->lora_rank > 4096 || o->lora_dropout < 0 || o->lora_dropout >= 1)
        return rt_error(RT_ERR_INVALID, "LoRA rank or dropout out of range");
    if (o->lora_rank && o->base_dtype != RT_DTYPE_F32 && o->base_dtype != RT_DTYPE_BF16 &&
        o->base_dtype != RT_DTYPE_Q8_0 && o->base_dtype != RT_DTYPE_F16)
        return rt_error(RT_ERR_UNSUPPORTED, "LoRA base dtype must be f32, f16, bf16 or q8_0");
    return RT_OK;
}

static int add_param(tmodel *m, const char *name, int64_t rows, int64_t cols, size_t offset,
                     bool decay) {
    tm_param *p = &m->params[m->n_params++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n_dims = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols ? cols : 1;
    p->offset = offset;
    p->n = (size_t)(rows * (cols ? cols : 1));
    p->decay = decay;
    return RT_OK;
}

tm_linear *tmodel_linear(const tmodel *m, int layer, int j) {
    tm_layer *L = &m->layers[layer];
    tm_linear *all[N_LIN] = {&L->q, &L->k, &L->v, &L->o, &L->gate, &L->up, &L->down};
    return all[j];
}

const char *const tm_linear_paths[N_LIN] = {
    "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
    "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

/* m->grad_bounds from the layout above: full training stores each layer's tensors together
 * (input_layernorm.weight first) before the final norm; LoRA stores each layer's pairs together,
 * layer after layer. */
static void set_grad_bounds(tmodel *m) {
    int n_layer = m->cfg.n_layer;
    if (m->grad_store) {
        for (int l = 0; l < n_layer; l++)
            m->grad_bounds[l] = (size_t)(m->layers[l].dln1_w - m->train_grad);
        m->grad_bounds[n_layer] = (size_t)(m->dlnf_w - m->train_grad);
        return;
    }
    m->grad_bounds[n_layer] = m->n_train;
    for (int l = n_layer - 1; l >= 0; l--) {
        m->grad_bounds[l] = m->grad_bounds[l + 1];
        for (int j = 0; j < N_LIN; j++) {
            const tm_linear *L = tmodel_linear(m, l, j);
            if (L->rank) {
                m->grad_bounds[l] = (size_t)(L->dlora_a - m->train_grad);
                break;
            }
        }
    }
}

/* bf16: the frozen f32 weights' panels (tm_linear.w_fwd, w_bwd), packed again when they exist
 * (after a merge). */
static void pack_frozen_panels(tm_linear *L) {
    if (!L->w_fwd.data) return;
    rt_gemm_bf16_pack_panels(&L->w_fwd, true, (const float *)L->w.data, L->n_in);
    rt_gemm_bf16_pack_panels(&L->w_bwd, false, (const float *)L->w.data, L->n_in);
}

/* Allocates and packs them for every frozen f32 weight whose products run in bf16. */
static int pack_frozen(tmodel *m) {
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = 0; j < N_LIN; j++) {
            tm_linear *L = tmodel_linear(m, i, j);
            if (!L->bf16 || L->dw || L->w.dtype != RT_DTYPE_F32 ||
                !op_gemm_is_bf16(true, INT_MAX, L->n_out, L->n_in))
                continue;
            L->w_fwd = (rt_gemm_bf16_panels){NULL, L->n_in, L->n_out};
            L->w_bwd = (rt_gemm_bf16_panels){NULL, L->n_out, L->n_in};
            size_t words = rt_gemm_bf16_panels_size(L->n_in, L->n_out);
            L->w_bwd.data =
                rt_malloc(rt_gemm_bf16_panels_size(L->n_out, L->n_in) * sizeof(uint32_t));
            L->w_fwd.data = L->w_bwd.data ? rt_malloc(words * sizeof(uint32_t)) : NULL;
            if (!L->w_fwd.data) return RT_ERR_NOMEM;
            pack_frozen_panels(L);
        }
    return RT_OK;
}

int tmodel_new(const rt_model_config *cfg, const rt_model_weights *weights, const tm_options *opt,
               tmodel **out) {
    *out = NULL;
    RT_TRY(check_config(cfg, opt));
    tmodel *m = rt_calloc(1, sizeof *m);
    if (!m) return RT_ERR_NOMEM;
    m->cfg = *cfg;
    m->opt = *opt;
    m->is_gpt2 = cfg->arch == RT_ARCH_GPT2;
    m->rng = opt->seed;
    bool lora = opt->lora_rank > 0;
    bool quant_base = lora && opt->base_dtype != RT_DTYPE_F32;
    spec_list l = {0};
    int st = RT_ERR_NOMEM;
    m->layers = rt_calloc((size_t)cfg->n_layer, sizeof *m->layers);
    if (!m->layers) goto fail;
    if ((st = build_specs(m, weights, &l)) < 0) goto fail;

    /* Sizes, then one allocation for the f32 store (and its gradients in full mode). */
    size_t n_store = 0;
    for (int i = 0; i < l.n; i++) {
        bool in_store = !(quant_base && l.v[i].lin);
        if (in_store && !rt_add_size(n_store, (size_t)spec_n(&l.v[i]), &n_store)) {
            st = rt_error(RT_ERR_RANGE, "model too large");
            goto fail;
        }
    }
    st = RT_ERR_NOMEM;
    m->n_store = n_store;
    if (!(m->store = rt_calloc(n_store, sizeof(float)))) goto fail;
    if (!lora && !(m->grad_store = rt_calloc(n_store, sizeof(float)))) goto fail;
    m->tensors = rt_calloc((size_t)l.n, sizeof *m->tensors);
    if (!m->tensors) goto fail;
    if (!lora) {
        m->params = rt_calloc((size_t)l.n, sizeof *m->params);
        if (!m->params) goto fail;
    }

    size_t off = 0;
    for (int i = 0; i < l.n; i++) {
        spec *s = &l.v[i];
        int64_t n = spec_n(s);
        tm_tensor *tt = &m->tensors[m->n_tensors++];
        snprintf(tt->name, sizeof tt->name, "%s", s->name);
        if (quant_base && s->lin) {
            float *tmp = rt_malloc((size_t)n * sizeof(float));
            if (!tmp) goto fail;
            rt_tensor view;
            rt_tensor_view_f32(&view, tmp, s->rows, s->cols);
            view.name = s->name;
            st = fill_spec(m, s, tmp);
            if (st == RT_OK) st = rt_tensor_convert(&view, opt->base_dtype, &s->lin->w);
            free(tmp);
            if (st < 0) goto fail;
            tt->t = &s->lin->w;
            continue;
        }
        float *data = m->store + off;
        if ((st = fill_spec(m, s, data)) < 0) goto fail;
        float *grad = lora ? NULL : m->grad_store + off;
        if (s->slot) *s->slot = data;
        if (s->gslot) *s->gslot = grad;
        if (s->lin) {
            rt_tensor_view_f32(&s->lin->w, data, s->rows, s->cols);
            tt->t = &s->lin->w;
        } else if (s->view) {
            rt_tensor_view_f32(s->view, data, s->rows, s->cols);
            tt->t = s->view;
        } else {
            rt_tensor_view_f32(&tt->vec, data, s->rows, s->cols ? s->cols : 1);
            tt->vec.n_dims = s->cols ? 2 : 1;
            tt->t = &tt->vec;
        }
        if (!lora) add_param(m, s->name, s->rows, s->cols, off, s->cols != 0);
        off += (size_t)n;
    }
    if (cfg->tied_embeddings) {
        m->head = m->wte;
        m->dhead = m->dwte;
    }

    if (lora) {
        /* LoRA matrices, PEFT order per layer: q, k, v, o, gate, up, down; A then B. */
        int r = opt->lora_rank;
        size_t n_lora = 0;
        int n_params = 0;
        for (int i = 0; i < cfg->n_layer; i++)
            for (int j = 0; j < N_LIN; j++) {
                if (!(opt->lora_targets & (1u << j)) || (m->is_gpt2 && j == 4)) continue;
                tm_linear *L = tmodel_linear(m, i, j);
                n_lora += (size_t)r * (size_t)(L->n_in + L->n_out);
                n_params += 2;
            }
        st = RT_ERR_NOMEM;
        m->n_lora = n_lora;
        m->lora_store = rt_calloc(n_lora ? n_lora : 1, sizeof(float));
        m->lora_grad = rt_calloc(n_lora ? n_lora : 1, sizeof(float));
        m->params = rt_calloc(n_params ? (size_t)n_params : 1, sizeof *m->params);
        if (!m->lora_store || !m->lora_grad || !m->params) goto fail;
        off = 0;
        for (int i = 0; i < cfg->n_layer; i++)
            for (int j = 0; j < N_LIN; j++) {
                if (!(opt->lora_targets & (1u << j)) || (m->is_gpt2 && j == 4)) continue;
                tm_linear *L = tmodel_linear(m, i, j);
                char nm[112];
                L->rank = r;
                L->scale = tm_lora_scale(opt->lora_alpha, r, opt->lora_rslora);
                L->lora_a = m->lora_store + off;
                L->dlora_a = m->lora_grad + off;
                snprintf(nm, sizeof nm, "model.layers.%d.%s.lora_A.weight", i, tm_linear_paths[j]);
                add_param(m, nm, r, L->n_in, off, true);
                float bound = 1.0f / sqrtf((float)L->n_in);
                for (size_t e = 0; e < (size_t)r * (size_t)L->n_in; e++)
                    L->lora_a[e] = bound * (2.0f * rt_rng_uniform(&m->rng) - 1.0f);
                off += (size_t)r * (size_t)L->n_in;
                L->lora_b = m->lora_store + off;
                L->dlora_b = m->lora_grad + off;
                snprintf(nm, sizeof nm, "model.layers.%d.%s.lora_B.weight", i, tm_linear_paths[j]);
                add_param(m, nm, L->n_out, r, off, true);
                off += (size_t)r * (size_t)L->n_out;
            }
        m->train_data = m->lora_store;
        m->train_grad = m->lora_grad;
        m->n_train = n_lora;
    } else {
        m->train_data = m->store;
        m->train_grad = m->grad_store;
        m->n_train = n_store;
    }
    for (int i = 0; i < cfg->n_layer; i++)
        for (int j = 0; j < N_LIN; j++)
            tmodel_linear(m, i, j)->bf16 = opt->bf16;
    if ((st = pack_frozen(m)) != RT_OK) goto fail;
    st = RT_ERR_NOMEM;
    if (!(m->grad_bounds = rt_calloc((size_t)cfg->n_layer + 1, sizeof *m->grad_bounds))) goto fail;
    set_grad_bounds(m);
    free(l.v);
    *out = m;
    return RT_OK;
fail:
    free(l.v);
    tmodel_free(m);
    return st;
}

static void free_acts(tmodel *m) {
    if (!m->acts) return;
    free(m->acts->mem);
    free(m->acts->head_fwd.data);
    free(m->acts->head_bwd.data);
    free(m->acts->x_res);
    free(m->acts->slots);
    free(m->acts);
    m->acts = NULL;
}

void tmodel_free(tmodel *m) {
    if (!m) return;
    free_acts(m);
    if (m->layers) {
        for (int i = 0; i < m->cfg.n_layer; i++)
            for (int j = 0; j < N_LIN; j++) {
                tm_linear *L = tmodel_linear(m, i, j);
                if (L->w.owned) rt_tensor_free(&L->w);
                free(L->w_fwd.data);
                free(L->w_bwd.data);
            }
    }
    free(m->layers);
    free(m->store);
    free(m->grad_store);
    free(m->lora_store);
    free(m->lora_grad);
    free(m->params);
    free(m->tensors);
    free(m->grad_bounds);
    free(m);
}

int tmodel_find_param(const tmodel *m, const char *name) {
    for (int i = 0; i < m->n_params; i++)
        if (!strcmp(m->params[i].name, name)) return i;
    return -1;
}

rt_tensor *tmodel_find_tensor(const tmodel *m, const char *name) {
    for (int i = 0; i < m->n_tensors; i++)
        if (!strcmp(m->tensors[i].name, name)) return m->tensors[i].t;
    return NULL;
}

size_t tmodel_activation_bytes(const tmodel *m) {
    return m->acts ? m->acts->bytes : 0;
}

/* ---- activations ------------------------------------------------------------------------- */

static float *carve(float *base, size_t *off, size_t n) {
    float *p = base ? base + *off : NULL;
    *off += n;
    return p;
}

/* Lean activation memory for LoRA (without --recompute): LoRA's step has no weight-gradient
 * products, so it spends some of that saving on memory: per layer it keeps q, k, v, the attention
 * log-sum-exp, the MLP inputs and the LoRA products, and recomputes in backward the attention
 * output (one attention forward) and the residual after attention (the o projection), which full
 * training keeps. Both modes recompute the norm outputs (cheap, elementwise). */
static bool lean_acts(const tmodel *m) {
    return m->opt.lora_rank > 0 && !m->opt.recompute;
}

static size_t max2(size_t a, size_t b) {
    return a > b ? a : b;
}

static void layout_acts(tmodel *m, tm_acts *a, float *base, size_t *total) {
    const rt_model_config *c = &m->cfg;
    size_t N = (size_t)a->B * a->T, C = (size_t)c->n_embd, F = (size_t)c->n_ff;
    size_t QD = (size_t)c->n_head * c->head_dim, KD = (size_t)c->n_kv_head * c->head_dim;
    size_t r = (size_t)m->opt.lora_rank, maxin = max2(max2(C, F), QD);
    bool lean = lean_acts(m);
    size_t off = 0;
    for (int i = 0; i <= c->n_layer; i++)
        a->x_res[i] = carve(base, &off, N * C);
    float *ln = carve(base, &off, N * C);
    float *att = lean ? carve(base, &off, N * QD) : NULL;
    float *x_mid = lean ? carve(base, &off, N * C) : NULL;
    int n_slots = m->opt.recompute ? 1 : c->n_layer;
    for (int s = 0; s < n_slots; s++) {
        tm_layer_acts *la = &a->slots[s];
        la->ln1 = la->ln2 = ln;
        la->mean1 = carve(base, &off, N);
        la->rstd1 = carve(base, &off, N);
        la->q = carve(base, &off, N * QD);
        la->k = carve(base, &off, N * KD);
        la->v = carve(base, &off, N * KD);
        la->lse = carve(base, &off, (size_t)a->B * c->n_head * a->T);
        la->att = lean ? att : carve(base, &off, N * QD);
        la->x_mid = lean ? x_mid : carve(base, &off, N * C);
        la->mean2 = carve(base, &off, N);
        la->rstd2 = carve(base, &off, N);
        la->fa = carve(base, &off, N * F);
        la->fb = m->is_gpt2 ? NULL : carve(base, &off, N * F);
        for (int j = 0; j < N_LIN; j++)
            la->xa[j] = r ? carve(base, &off, N * r) : NULL;
    }
    /* the final norm's output is needed only by the head, before and after the layers run */
    a->lnf = ln;
    a->meanf = carve(base, &off, N);
    a->rstdf = carve(base, &off, N);
    a->h = a->dup = a->dq = carve(base, &off, N * max2(F, QD));
    a->dh = a->dgate = a->dk = carve(base, &off, N * max2(F, 2 * KD));
    a->dv = a->dk ? a->dk + N * KD : NULL;
    a->dres = carve(base, &off, N * C);
    a->dln = a->datt = a->dlnf = carve(base, &off, N * max2(C, QD));
    a->dxa = carve(base, &off, N * (r ? r : 1));
    a->tmp = m->opt.lora_dropout > 0.0f ? carve(base, &off, N * maxin) : NULL;
    a->logits = carve(base, &off, (size_t)LOSS_CHUNK * c->n_vocab);
    a->cos_t = carve(base, &off, (size_t)a->T * c->head_dim / 2);
    a->sin_t = carve(base, &off, (size_t)a->T * c->head_dim / 2);
    *total = off;
}

static int reserve(tmodel *m, int B, int T) {
    if (m->acts && m->acts->B == B && m->acts->T == T) return RT_OK;
    if (m->acts && m->acts->mem) {
        /* A smaller shape fits the buffers already allocated: lay it out again (the contrastive
         * objective alternates between query and passage lengths every step). */
        tm_acts *a = m->acts;
        int oldB = a->B, oldT = a->T;
        size_t total;
        a->B = B;
        a->T = T;
        layout_acts(m, a, NULL, &total);
        if (total <= a->bytes / sizeof(float)) {
            layout_acts(m, a, a->mem, &total);
            const rt_model_config *c = &m->cfg;
            op_rope_tables(a->cos_t, a->sin_t, T, c->head_dim,
                           c->rope_theta > 0 ? c->rope_theta : 10000.0f, c->rope_scaling_factor,
                           c->rope_low_freq_factor, c->rope_high_freq_factor,
                           c->rope_original_ctx);
            return RT_OK;
        }
        a->B = oldB;
        a->T = oldT;
    }
    free_acts(m);
    tm_acts *a = rt_calloc(1, sizeof *a);
    if (!a) return RT_ERR_NOMEM;
    a->B = B;
    a->T = T;
    a->x_res = rt_calloc((size_t)m->cfg.n_layer + 1, sizeof *a->x_res);
    a->slots = rt_calloc(m->opt.recompute ? 1 : (size_t)m->cfg.n_layer, sizeof *a->slots);
    m->acts = a;
    if (!a->x_res || !a->slots) {
        free_acts(m);
        return RT_ERR_NOMEM;
    }
    size_t total;
    layout_acts(m, a, NULL, &total);
    if (total > ((size_t)1 << 40) / sizeof(float)) {
        free_acts(m);
        return rt_error(RT_ERR_RANGE, "activations for batch %d x %d are too large", B, T);
    }
    a->mem = rt_calloc(total, sizeof(float));
    if (!a->mem) {
        free_acts(m);
        return RT_ERR_NOMEM;
    }
    int C = m->cfg.n_embd, V = m->cfg.n_vocab;
    if (m->head.dtype == RT_DTYPE_F32 && (int64_t)B * T > LOSS_CHUNK &&
        op_gemm_is_bf16(m->opt.bf16, LOSS_CHUNK, V, C)) {
        a->head_fwd = (rt_gemm_bf16_panels){NULL, C, V};
        a->head_bwd = (rt_gemm_bf16_panels){NULL, V, C};
        a->head_fwd.data = rt_malloc(rt_gemm_bf16_panels_size(C, V) * sizeof(uint32_t));
        a->head_bwd.data = rt_malloc(rt_gemm_bf16_panels_size(V, C) * sizeof(uint32_t));
        if (!a->head_fwd.data || !a->head_bwd.data) {
            free_acts(m);
            return RT_ERR_NOMEM;
        }
    }
    a->bytes = total * sizeof(float);
    layout_acts(m, a, a->mem, &total);
    const rt_model_config *c = &m->cfg;
    op_rope_tables(a->cos_t, a->sin_t, T, c->head_dim, c->rope_theta > 0 ? c->rope_theta : 10000.0f,
                   c->rope_scaling_factor, c->rope_low_freq_factor, c->rope_high_freq_factor,
                   c->rope_original_ctx);
    return RT_OK;
}

/* ---- linear layers with LoRA ------------------------------------------------------------- */

/* Writes dropout(inp) (N,n_in) into dst with the mask of seed (inverted scaling 1/(1-p)). */
static void dropout_apply(float *dst, const float *inp, size_t n, uint64_t seed, float p) {
    float s = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        dst[i] = rt_rng_keep(seed, i, p) ? inp[i] * s : 0.0f;
}

// out (N,n_out), inp (N,n_in), xa (N,rank), tmp (N,n_in) scratch
static void lin_forward(const tm_linear *L, float *out, const float *inp, float *xa, float *tmp,
                        int N, bool training, float dropout, uint64_t seed) {
    if (L->w.dtype == RT_DTYPE_F32)
        op_linear_forward_packed(L->bf16, out, inp, (const float *)L->w.data, &L->w_fwd, L->b, N,
                                 L->n_in, L->n_out);
    else
        rt_matmul(out, inp, &L->w, L->b, N);
    if (!L->rank) return;
    const float *src = inp;
    if (training && dropout > 0.0f) {
        dropout_apply(tmp, inp, (size_t)N * L->n_in, seed, dropout);
        src = tmp;
    }
    op_gemm(L->bf16, false, true, N, L->rank, L->n_in, 1.0f, src, L->n_in, L->lora_a, L->n_in, 0.0f,
            xa, L->rank);
    op_gemm(L->bf16, false, true, N, L->n_out, L->rank, L->scale, xa, L->rank, L->lora_b, L->rank,
            1.0f, out, L->n_out);
}

// dinp (N,n_in) += (may be NULL), dout (N,n_out), inp (N,n_in), xa (N,rank), dxa (N,rank)
static void lin_backward(const tm_linear *L, float *dinp, const float *dout, const float *inp,
                         const float *xa, float *tmp, float *dxa, int N, float dropout,
                         uint64_t seed) {
    if (L->rank) {
        int r = L->rank;
        op_gemm(L->bf16, true, false, L->n_out, r, N, L->scale, dout, L->n_out, xa, r, 1.0f,
                L->dlora_b, r);
        op_gemm(L->bf16, false, false, N, r, L->n_out, L->scale, dout, L->n_out, L->lora_b, r, 0.0f,
                dxa, r);
        const float *src = inp;
        size_t n = (size_t)N * L->n_in;
        if (dropout > 0.0f) {
            dropout_apply(tmp, inp, n, seed, dropout);
            src = tmp;
        }
        op_gemm(L->bf16, true, false, r, L->n_in, N, 1.0f, dxa, r, src, L->n_in, 1.0f, L->dlora_a,
                L->n_in);
        if (dinp) {
            if (dropout > 0.0f) {
                op_gemm(L->bf16, false, false, N, L->n_in, r, 1.0f, dxa, r, L->lora_a, L->n_in,
                        0.0f, tmp, L->n_in);
                float s = 1.0f / (1.0f - dropout);
#pragma omp parallel for schedule(static)
                for (size_t i = 0; i < n; i++)
                    if (rt_rng_keep(seed, i, dropout)) dinp[i] += tmp[i] * s;
            } else {
                op_gemm(L->bf16, false, false, N, L->n_in, r, 1.0f, dxa, r, L->lora_a, L->n_in,
                        1.0f, dinp, L->n_in);
            }
        }
    }
    if (L->dw) {
        op_linear_backward(L->bf16, dinp, L->dw, L->db, dout, inp, (const float *)L->w.data, N,
                           L->n_in, L->n_out);
    } else {
        if (dinp && L->w.dtype == RT_DTYPE_F32)
            op_linear_backward_x_packed(L->bf16, dinp, dout, (const float *)L->w.data, &L->w_bwd, N,
                                        L->n_in, L->n_out);
        else if (dinp)
            op_linear_backward_x(dinp, dout, &L->w, N);
        if (L->db)
            op_linear_backward_f32(NULL, NULL, L->db, dout, NULL, NULL, N, L->n_in, L->n_out);
    }
}

/* ---- layers ------------------------------------------------------------------------------ */

static uint64_t lin_seed(const tmodel *m, int layer, int j) {
    uint64_t seed = rt_rng_mix(m->dropout_seed ^ ((uint64_t)layer * N_LIN + (uint64_t)j + 1));
    if (!m->dropout_row0) return seed;
    /* this process's rows start dropout_row0 rows into the global batch: its masks go on there */
    uint64_t skip = (uint64_t)m->dropout_row0 * (uint64_t)tmodel_linear(m, layer, j)->n_in;
    return rt_rng_keep_skip(seed, skip);
}

static void norm_forward(const tmodel *m, float *out, float *mean, float *rstd, const float *inp,
                         const float *w, const float *b, int N) {
    if (m->is_gpt2)
        op_layernorm_forward(out, mean, rstd, inp, w, b, N, m->cfg.n_embd, m->cfg.norm_eps);
    else
        op_rmsnorm_forward(out, rstd, inp, w, N, m->cfg.n_embd, m->cfg.norm_eps);
}

static void norm_backward(const tmodel *m, float *dinp, float *dw, float *db, const float *dout,
                          const float *inp, const float *w, const float *mean, const float *rstd,
                          int N) {
    if (m->is_gpt2)
        op_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, m->cfg.n_embd);
    else
        op_rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, m->cfg.n_embd);
}

/* From q, k, v of layer l: the attention output and x_mid = x + o(att). Part of the forward
 * pass, and the lean layout's rebuild in backward. */
static void attention_and_residual(tmodel *m, int l, bool training) {
    tm_acts *a = m->acts;
    tm_layer_acts *s = &a->slots[m->opt.recompute ? 0 : l];
    const rt_model_config *c = &m->cfg;
    int N = a->B * a->T;
    const float *x = a->x_res[l];
    op_attention_forward(m->opt.bf16, s->att, s->lse, s->q, s->k, s->v, a->B, a->T, c->n_head,
                         c->n_kv_head, c->head_dim);
    lin_forward(&m->layers[l].o, s->x_mid, s->att, s->xa[3], a->tmp, N, training,
                m->opt.lora_dropout, lin_seed(m, l, 3));
    size_t NC = (size_t)N * c->n_embd;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NC; i++)
        s->x_mid[i] += x[i];
}

static void layer_forward(tmodel *m, int l, bool training) {
    tm_acts *a = m->acts;
    tm_layer *L = &m->layers[l];
    tm_layer_acts *s = &a->slots[m->opt.recompute ? 0 : l];
    const rt_model_config *c = &m->cfg;
    int B = a->B, T = a->T, N = B * T, C = c->n_embd;
    float p = m->opt.lora_dropout;
    const float *x = a->x_res[l];
    float *y = a->x_res[l + 1];
    norm_forward(m, s->ln1, s->mean1, s->rstd1, x, L->ln1_w, L->ln1_b, N);
    lin_forward(&L->q, s->q, s->ln1, s->xa[0], a->tmp, N, training, p, lin_seed(m, l, 0));
    lin_forward(&L->k, s->k, s->ln1, s->xa[1], a->tmp, N, training, p, lin_seed(m, l, 1));
    lin_forward(&L->v, s->v, s->ln1, s->xa[2], a->tmp, N, training, p, lin_seed(m, l, 2));
    if (!m->is_gpt2) {
        op_rope(s->q, a->cos_t, a->sin_t, N, T, c->n_head, c->head_dim, c->rope_interleaved, false);
        op_rope(s->k, a->cos_t, a->sin_t, N, T, c->n_kv_head, c->head_dim, c->rope_interleaved,
                false);
    }
    attention_and_residual(m, l, training);
    norm_forward(m, s->ln2, s->mean2, s->rstd2, s->x_mid, L->ln2_w, L->ln2_b, N);
    size_t NF = (size_t)N * c->n_ff;
    if (m->is_gpt2) {
        lin_forward(&L->up, s->fa, s->ln2, s->xa[5], a->tmp, N, training, p, lin_seed(m, l, 5));
        op_gelu_forward(a->h, s->fa, (int64_t)NF);
    } else {
        lin_forward(&L->gate, s->fa, s->ln2, s->xa[4], a->tmp, N, training, p, lin_seed(m, l, 4));
        lin_forward(&L->up, s->fb, s->ln2, s->xa[5], a->tmp, N, training, p, lin_seed(m, l, 5));
        op_swiglu_forward(a->h, s->fa, s->fb, (int64_t)NF);
    }
    lin_forward(&L->down, y, a->h, s->xa[6], a->tmp, N, training, p, lin_seed(m, l, 6));
    size_t NC = (size_t)N * C;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < NC; i++)
        y[i] += s->x_mid[i];
}

/* a->dres holds d(x_res[l+1]) on entry and d(x_res[l]) on return. */
static void layer_backward(tmodel *m, int l) {
    tm_acts *a = m->acts;
    tm_layer *L = &m->layers[l];
    tm_layer_acts *s = &a->slots[m->opt.recompute ? 0 : l];
    const rt_model_config *c = &m->cfg;
    int B = a->B, T = a->T, N = B * T, C = c->n_embd;
    float p = m->opt.lora_dropout;
    size_t NC = (size_t)N * C, NF = (size_t)N * c->n_ff;
    size_t NQ = (size_t)N * c->n_head * c->head_dim, NK = (size_t)N * c->n_kv_head * c->head_dim;

    /* rebuild what the lean layout did not keep: the attention output and x_mid */
    if (lean_acts(m)) attention_and_residual(m, l, true);

    /* MLP block: dres is d(y) and flows unchanged into d(x_mid) through the residual. */
    norm_forward(m, s->ln2, s->mean2, s->rstd2, s->x_mid, L->ln2_w, L->ln2_b, N);
    if (m->is_gpt2)
        op_gelu_forward(a->h, s->fa, (int64_t)NF);
    else
        op_swiglu_forward(a->h, s->fa, s->fb, (int64_t)NF);
    memset(a->dh, 0, NF * sizeof(float));
    lin_backward(&L->down, a->dh, a->dres, a->h, s->xa[6], a->tmp, a->dxa, N, p, lin_seed(m, l, 6));
    /* h is dead from here: dup takes its buffer; dgate overwrites dh in place */
    memset(a->dln, 0, NC * sizeof(float));
    if (m->is_gpt2) {
        op_gelu_backward(a->dgate, a->dh, s->fa, (int64_t)NF);
        lin_backward(&L->up, a->dln, a->dgate, s->ln2, s->xa[5], a->tmp, a->dxa, N, p,
                     lin_seed(m, l, 5));
    } else {
        op_swiglu_backward(a->dgate, a->dup, a->dh, s->fa, s->fb, (int64_t)NF);
        lin_backward(&L->gate, a->dln, a->dgate, s->ln2, s->xa[4], a->tmp, a->dxa, N, p,
                     lin_seed(m, l, 4));
        lin_backward(&L->up, a->dln, a->dup, s->ln2, s->xa[5], a->tmp, a->dxa, N, p,
                     lin_seed(m, l, 5));
    }
    norm_backward(m, a->dres, L->dln2_w, L->dln2_b, a->dln, s->x_mid, L->ln2_w, s->mean2, s->rstd2,
                  N);

    /* Attention block: dres is now d(x_mid); datt takes dln's buffer, dq/dk/dv the MLP's. */
    memset(a->datt, 0, NQ * sizeof(float));
    lin_backward(&L->o, a->datt, a->dres, s->att, s->xa[3], a->tmp, a->dxa, N, p,
                 lin_seed(m, l, 3));
    memset(a->dq, 0, NQ * sizeof(float));
    memset(a->dk, 0, NK * sizeof(float));
    memset(a->dv, 0, NK * sizeof(float));
    op_attention_backward(m->opt.bf16, a->dq, a->dk, a->dv, a->datt, s->q, s->k, s->v, s->lse, B, T,
                          c->n_head, c->n_kv_head, c->head_dim);
    if (!m->is_gpt2) {
        op_rope(a->dq, a->cos_t, a->sin_t, N, T, c->n_head, c->head_dim, c->rope_interleaved, true);
        op_rope(a->dk, a->cos_t, a->sin_t, N, T, c->n_kv_head, c->head_dim, c->rope_interleaved,
                true);
    }
    norm_forward(m, s->ln1, s->mean1, s->rstd1, a->x_res[l], L->ln1_w, L->ln1_b, N);
    memset(a->dln, 0, NC * sizeof(float));
    lin_backward(&L->q, a->dln, a->dq, s->ln1, s->xa[0], a->tmp, a->dxa, N, p, lin_seed(m, l, 0));
    lin_backward(&L->k, a->dln, a->dk, s->ln1, s->xa[1], a->tmp, a->dxa, N, p, lin_seed(m, l, 1));
    lin_backward(&L->v, a->dln, a->dv, s->ln1, s->xa[2], a->tmp, a->dxa, N, p, lin_seed(m, l, 2));
    norm_backward(m, a->dres, L->dln1_w, L->dln1_b, a->dln, a->x_res[l], L->ln1_w, s->mean1,
                  s->rstd1, N);
}

/* ---- loss -------------------------------------------------------------------------------- */

/* Cross-entropy over the lm head in chunks of LOSS_CHUNK rows, so the (N, V) logits never
 * exist at once; with backward, fills a->dlnf and the head gradient. Returns the loss sum. */
static double head_loss(tmodel *m, const int32_t *targets, int N, int64_t n_valid, bool backward,
                        float grad_scale) {
    tm_acts *a = m->acts;
    const tkern_table *kern = tkern_get();
    int V = m->cfg.n_vocab, C = m->cfg.n_embd;
    double total = 0.0;
    float g = n_valid ? grad_scale / (float)n_valid : 0.0f;
    if (backward) memset(a->dlnf, 0, (size_t)N * C * sizeof(float));
    /* bf16: the head packed once for all chunks (reserve allocated the panels when N spans
     * several); a short last chunk (under op_gemm's bf16 minimum) still goes to op_gemm */
    bool panels = a->head_fwd.data && N > LOSS_CHUNK;
    if (panels && !a->head_fwd_ready) {
        rt_gemm_bf16_pack_panels(&a->head_fwd, true, (const float *)m->head.data, C);
        a->head_fwd_ready = !m->dhead;
    }
    if (panels && backward && !a->head_bwd_ready) {
        rt_gemm_bf16_pack_panels(&a->head_bwd, false, (const float *)m->head.data, C);
        a->head_bwd_ready = !m->dhead;
    }
    for (int i0 = 0; i0 < N; i0 += LOSS_CHUNK) {
        int rows = N - i0 < LOSS_CHUNK ? N - i0 : LOSS_CHUNK;
        const float *x = a->lnf + (size_t)i0 * C;
        bool any = false;
        for (int r = 0; r < rows; r++)
            any |= targets[i0 + r] >= 0;
        if (!any) continue;
        bool rows_panels = panels && op_gemm_is_bf16(true, rows, V, C);
        if (rows_panels)
            rt_gemm_bf16_panels_mul(false, rows, V, C, 1.0f, x, C, &a->head_fwd, 0.0f, a->logits,
                                    V);
        else if (m->head.dtype == RT_DTYPE_F32)
            op_gemm(m->opt.bf16, false, true, rows, V, C, 1.0f, x, C, (const float *)m->head.data,
                    C, 0.0f, a->logits, V);
        else
            rt_matmul(a->logits, x, &m->head, NULL, rows);
        double chunk_loss = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : chunk_loss)
        for (int r = 0; r < rows; r++) {
            float *lg = a->logits + (size_t)r * V;
            int tgt = targets[i0 + r];
            if (tgt < 0) {
                if (backward) memset(lg, 0, (size_t)V * sizeof(float));
                continue;
            }
            float maxv = kern->max(lg, V);
            float target_logit = lg[tgt];
            float sum = kern->exp_shift_sum(lg, V, maxv);
            chunk_loss += (double)maxv + log((double)sum) - (double)target_logit;
            if (backward) {
                kern->scale(lg, V, g / sum);
                lg[tgt] -= g;
            }
        }
        total += chunk_loss;
        if (backward) {
            if (rows_panels)
                rt_gemm_bf16_panels_mul(false, rows, C, V, 1.0f, a->logits, V, &a->head_bwd, 1.0f,
                                        a->dlnf + (size_t)i0 * C, C);
            else if (m->head.dtype == RT_DTYPE_F32)
                op_linear_backward(m->opt.bf16, a->dlnf + (size_t)i0 * C, NULL, NULL, a->logits,
                                   NULL, (const float *)m->head.data, rows, C, V);
            else
                op_linear_backward_x(a->dlnf + (size_t)i0 * C, a->logits, &m->head, rows);
            if (m->dhead)
                op_gemm(m->opt.bf16, true, false, V, C, rows, 1.0f, a->logits, V, x, C, 1.0f,
                        m->dhead, C);
        }
    }
    return total;
}

/* ---- step -------------------------------------------------------------------------------- */

/* Embeddings, the layers and the final norm: a->lnf holds the final-normed hidden states. */
static void forward_hidden(tmodel *m, const int32_t *inputs, int N, int T, bool training) {
    tm_acts *a = m->acts;
    const rt_model_config *c = &m->cfg;
    op_embedding_forward(a->x_res[0], inputs, &m->wte, m->wpe, N, T, c->n_embd);
    for (int l = 0; l < c->n_layer; l++)
        layer_forward(m, l, training);
    norm_forward(m, a->lnf, a->meanf, a->rstdf, a->x_res[c->n_layer], m->lnf_w, m->lnf_b, N);
}

/* From a->dlnf = d(final-normed hidden states) back to the embeddings, adding into the
 * gradients (after forward_hidden of the same inputs). */
static void backward_from_dlnf(tmodel *m, const int32_t *inputs, int N, int T) {
    tm_acts *a = m->acts;
    const rt_model_config *c = &m->cfg;
    memset(a->dres, 0, (size_t)N * c->n_embd * sizeof(float));
    norm_backward(m, a->dres, m->dlnf_w, m->dlnf_b, a->dlnf, a->x_res[c->n_layer], m->lnf_w,
                  a->meanf, a->rstdf, N);
    if (m->grad_final) m->grad_final(m->grad_final_user, m->grad_bounds[c->n_layer]);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        if (m->opt.recompute && l != c->n_layer - 1) layer_forward(m, l, true);
        layer_backward(m, l);
        if (m->grad_final) m->grad_final(m->grad_final_user, m->grad_bounds[l]);
    }
    if (m->dwte || m->dwpe)
        op_embedding_backward(m->dwte, m->dwpe, a->dres, inputs, N, T, c->n_embd);
    if (m->grad_final) m->grad_final(m->grad_final_user, 0);
}

static int step_impl(tmodel *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     bool backward, float grad_scale, float *loss, int64_t *n_targets);

int tmodel_step(tmodel *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                bool backward, float grad_scale, float *loss, int64_t *n_targets) {
    int blas = op_threads_begin();
    int st = step_impl(m, inputs, targets, B, T, backward, grad_scale, loss, n_targets);
    op_threads_end(blas);
    return st;
}

static int step_impl(tmodel *m, const int32_t *inputs, const int32_t *targets, int B, int T,
                     bool backward, float grad_scale, float *loss, int64_t *n_targets) {
    const rt_model_config *c = &m->cfg;
    if (B <= 0 || T <= 0 || (int64_t)B * T > (1 << 24))
        return rt_error(RT_ERR_INVALID, "batch %d x %d out of range", B, T);
    if (m->is_gpt2 && T > c->n_ctx_train)
        return rt_error(RT_ERR_INVALID, "sequence length %d exceeds the model's %d positions", T,
                        c->n_ctx_train);
    int N = B * T;
    int64_t n_valid = 0;
    for (int i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= c->n_vocab)
            return rt_error(RT_ERR_INVALID, "token id %d at position %d outside the vocabulary",
                            inputs[i], i);
        if (targets[i] >= c->n_vocab || targets[i] < -1)
            return rt_error(RT_ERR_INVALID, "target id %d at position %d outside the vocabulary",
                            targets[i], i);
        n_valid += targets[i] >= 0;
    }
    RT_TRY(reserve(m, B, T));
    if (backward && m->opt.lora_dropout > 0.0f) m->dropout_seed = rt_rng_next(&m->rng);

    forward_hidden(m, inputs, N, T, backward);
    double sum = head_loss(m, targets, N, n_valid, backward, grad_scale);
    if (loss) *loss = n_valid ? (float)(sum / (double)n_valid) : 0.0f;
    if (n_targets) *n_targets = n_valid;
    if (!backward || !n_valid) return RT_OK;

    backward_from_dlnf(m, inputs, N, T);
    return RT_OK;
}

int tmodel_hidden(tmodel *m, const int32_t *inputs, int B, int T, bool training,
                  const float **hidden) {
    const rt_model_config *c = &m->cfg;
    *hidden = NULL;
    if (B <= 0 || T <= 0 || (int64_t)B * T > (1 << 24))
        return rt_error(RT_ERR_INVALID, "batch %d x %d out of range", B, T);
    if (m->is_gpt2 && T > c->n_ctx_train)
        return rt_error(RT_ERR_INVALID, "sequence length %d exceeds the model's %d positions", T,
                        c->n_ctx_train);
    int N = B * T;
    for (int i = 0; i < N; i++)
        if (inputs[i] < 0 || inputs[i] >= c->n_vocab)
            return rt_error(RT_ERR_INVALID, "token id %d at position %d outside the vocabulary",
                            inputs[i], i);
    RT_TRY(reserve(m, B, T));
    if (training && m->opt.lora_dropout > 0.0f) m->dropout_seed = rt_rng_next(&m->rng);
    int blas = op_threads_begin();
    forward_hidden(m, inputs, N, T, training);
    op_threads_end(blas);
    *hidden = m->acts->lnf;
    return RT_OK;
}

int tmodel_hidden_backward(tmodel *m, const int32_t *inputs, int B, int T, const float *dhidden) {
    tm_acts *a = m->acts;
    if (!a || a->B != B || a->T != T)
        return rt_error(RT_ERR_INVALID, "hidden backward without a forward pass of %d x %d", B, T);
    int N = B * T;
    memcpy(a->dlnf, dhidden, (size_t)N * m->cfg.n_embd * sizeof(float));
    int blas = op_threads_begin();
    backward_from_dlnf(m, inputs, N, T);
    op_threads_end(blas);
    return RT_OK;
}

/* ---- export ------------------------------------------------------------------------------ */

static void view_of(const tmodel *m, rt_tensor *dst, const char *name) {
    rt_tensor *t = tmodel_find_tensor(m, name);
    if (t) {
        *dst = *t;
        dst->name = NULL;
        dst->owned = false;
    }
}

int tmodel_weights(const tmodel *m, rt_model_weights *w) {
    memset(w, 0, sizeof *w);
    w->layers = rt_calloc((size_t)m->cfg.n_layer, sizeof *w->layers);
    if (!w->layers) return RT_ERR_NOMEM;
    view_of(m, &w->token_embd, "model.embed_tokens.weight");
    view_of(m, &w->pos_embd, "model.embed_positions.weight");
    view_of(m, &w->output_norm, "model.norm.weight");
    view_of(m, &w->output_norm_b, "model.norm.bias");
    view_of(m, &w->output, "lm_head.weight");
    for (int i = 0; i < m->cfg.n_layer; i++) {
        rt_layer_weights *l = &w->layers[i];
        char nm[112];
#define V(field, suffix)                                                                           \
    (snprintf(nm, sizeof nm, "model.layers.%d.%s", i, suffix), view_of(m, &l->field, nm))
        V(attn_norm, "input_layernorm.weight");
        V(attn_norm_b, "input_layernorm.bias");
        V(wq, "self_attn.q_proj.weight");
        V(wk, "self_attn.k_proj.weight");
        V(wv, "self_attn.v_proj.weight");
        V(wo, "self_attn.o_proj.weight");
        V(bq, "self_attn.q_proj.bias");
        V(bk, "self_attn.k_proj.bias");
        V(bv, "self_attn.v_proj.bias");
        V(bo, "self_attn.o_proj.bias");
        V(ffn_norm, "post_attention_layernorm.weight");
        V(ffn_norm_b, "post_attention_layernorm.bias");
        V(ffn_gate, "mlp.gate_proj.weight");
        V(ffn_up, "mlp.up_proj.weight");
        V(ffn_down, "mlp.down_proj.weight");
        V(ffn_up_b, "mlp.up_proj.bias");
        V(ffn_down_b, "mlp.down_proj.bias");
#undef V
    }
    return RT_OK;
}

int tmodel_merge_lora(tmodel *m) {
    for (int i = 0; i < m->cfg.n_layer; i++)
        for (int j = 0; j < N_LIN; j++) {
            tm_linear *L = tmodel_linear(m, i, j);
            if (!L->rank) continue;
            if (L->w.dtype != RT_DTYPE_F32)
                return rt_error(RT_ERR_UNSUPPORTED, "merging needs an f32 base");
            /* W (n_out, n_in) += scale * B (n_out, r) A (r, n_in) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, L->n_out, L->n_in, L->rank,
                        L->scale, L->lora_b, L->rank, L->lora_a, L->n_in, 1.0f, (float *)L->w.data,
                        L->n_in);
            memset(L->lora_b, 0, (size_t)L->n_out * L->rank * sizeof(float));
            pack_frozen_panels(L);
        }
    return RT_OK;
}
