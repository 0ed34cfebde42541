/*
 * lora.c — see lora.h: the run-time adapter object, a context's set of active adapters, and
 * the LoRA branch of the forward pass. The branch runs as two products through core/matmul:
 * u (T, r) = in A^T (rt_matmul), then out += (scale u) Bt (rt_matmul_backward_x, which
 * accumulates), so the base projection, whatever its dtype, is computed exactly as without
 * adapters and the branch is added to it.
 */
#include "model/lora.h"
#include "core/error.h"
#include "core/matmul.h"
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void rt_lora_linear_shape(const rt_model_config *c, int j, int *n_out, int *n_in) {
    int C = c->n_embd, q_dim = c->n_head * c->head_dim, kv_dim = c->n_kv_head * c->head_dim;
    bool gated = c->arch == RT_ARCH_LLAMA || c->arch == RT_ARCH_QWEN2;
    static const int none[2] = {0, 0};
    int shapes[RT_LORA_N_LINEAR][2] = {{q_dim, C},   {kv_dim, C},  {kv_dim, C}, {C, q_dim},
                                       {c->n_ff, C}, {c->n_ff, C}, {C, c->n_ff}};
    const int *s = (j == 4 && !gated) ? none : shapes[j];
    *n_out = s[0];
    *n_in = s[1];
}

int rt_adapter_alloc(const rt_model_config *config, const char *path, rt_adapter **out) {
    *out = NULL;
    rt_adapter *a = rt_calloc(1, sizeof *a);
    if (!a) return RT_ERR_NOMEM;
    a->config = *config;
    a->path = rt_strdup(path ? path : "");
    a->linears = rt_calloc((size_t)config->n_layer * RT_LORA_N_LINEAR, sizeof *a->linears);
    if (!a->path || !a->linears) {
        rt_adapter_free(a);
        return RT_ERR_NOMEM;
    }
    *out = a;
    return RT_OK;
}

void rt_adapter_free(rt_adapter *a) {
    if (!a) return;
    if (a->linears)
        for (int i = 0; i < a->config.n_layer * RT_LORA_N_LINEAR; i++) {
            free(a->linears[i].a);
            free(a->linears[i].bt);
        }
    free(a->linears);
    free(a->path);
    free(a);
}

const char *rt_adapter_path(const rt_adapter *a) {
    return a->path;
}

rt_lora_linear *rt_adapter_linear(rt_adapter *a, int layer, int j) {
    return &a->linears[(size_t)layer * RT_LORA_N_LINEAR + j];
}

int rt_adapter_set_linear(rt_adapter *ad, int layer, int j, int rank, float scale, const float *a,
                          const float *b) {
    int n_out, n_in;
    rt_lora_linear_shape(&ad->config, j, &n_out, &n_in);
    rt_lora_linear *L = rt_adapter_linear(ad, layer, j);
    if (rank <= 0 || n_out <= 0 || L->rank)
        return rt_error(RT_ERR_INTERNAL, "adapter: bad pair for layer %d linear %d", layer, j);
    L->a = rt_malloc((size_t)rank * n_in * sizeof(float));
    L->bt = rt_malloc((size_t)rank * n_out * sizeof(float));
    if (!L->a || !L->bt) return RT_ERR_NOMEM;
    memcpy(L->a, a, (size_t)rank * n_in * sizeof(float));
    for (int o = 0; o < n_out; o++)
        for (int k = 0; k < rank; k++)
            L->bt[(size_t)k * n_out + o] = b[(size_t)o * rank + k];
    L->rank = rank;
    L->scale = scale;
    if (rank > ad->max_rank) ad->max_rank = rank;
    return RT_OK;
}

/* True when an adapter checked against config a also fits config b (same linears, same q/k
 * row order). */
static bool same_shapes(const rt_model_config *a, const rt_model_config *b) {
    return a->arch == b->arch && a->n_layer == b->n_layer && a->n_embd == b->n_embd &&
           a->n_head == b->n_head && a->n_kv_head == b->n_kv_head && a->head_dim == b->head_dim &&
           a->n_ff == b->n_ff && a->rope_interleaved == b->rope_interleaved;
}

int rt_context_set_adapters(rt_context *ctx, rt_adapter *const *adapters, const float *scales,
                            int n) {
    if (!ctx || n < 0 || (n > 0 && !adapters))
        return rt_error(RT_ERR_INVALID, "adapters: bad arguments");
    const rt_model_config *c = &ctx->model->config;
    int max_rank = 0;
    for (int i = 0; i < n; i++) {
        if (!adapters[i]) return rt_error(RT_ERR_INVALID, "adapters: adapter %d is NULL", i);
        float s = scales ? scales[i] : 1.0f;
        if (!isfinite(s))
            return rt_error(RT_ERR_INVALID, "adapters: scale of %s is not finite",
                            adapters[i]->path);
        if (!same_shapes(&adapters[i]->config, c))
            return rt_error(RT_ERR_INVALID,
                            "adapters: %s was loaded for another base (%s, %d layers, n_embd %d) "
                            "than this context's model (%s, %d layers, n_embd %d)",
                            adapters[i]->path, rt_arch_name(adapters[i]->config.arch),
                            adapters[i]->config.n_layer, adapters[i]->config.n_embd,
                            rt_arch_name(c->arch), c->n_layer, c->n_embd);
        if (adapters[i]->max_rank > max_rank) max_rank = adapters[i]->max_rank;
    }
    bool same = n == ctx->n_adapters;
    for (int i = 0; same && i < n; i++)
        same = adapters[i] == ctx->adapters[i] &&
               (scales ? scales[i] : 1.0f) == ctx->adapter_scales[i];
    if (same) return RT_OK;
    rt_adapter **list = NULL;
    float *sc = NULL, *tmp = NULL;
    if (n > 0) {
        list = rt_malloc((size_t)n * sizeof *list);
        sc = rt_malloc((size_t)n * sizeof *sc);
        tmp = rt_malloc((size_t)ctx->n_batch * (size_t)(max_rank ? max_rank : 1) * sizeof *tmp);
        if (!list || !sc || !tmp) {
            free(list);
            free(sc);
            free(tmp);
            return RT_ERR_NOMEM;
        }
        for (int i = 0; i < n; i++) {
            list[i] = adapters[i];
            sc[i] = scales ? scales[i] : 1.0f;
        }
    }
    free(ctx->adapters);
    free(ctx->adapter_scales);
    free(ctx->lora_tmp);
    ctx->adapters = list;
    ctx->adapter_scales = sc;
    ctx->lora_tmp = tmp;
    ctx->n_adapters = n;
    /* the cached keys and values were computed with the old set */
    ctx->n_past = 0;
    ctx->has_logits = false;
    return RT_OK;
}

// in (T, n_in), out (T, n_out); u = ctx->lora_tmp (T, rank)
void rt_lora_apply(rt_context *ctx, int layer, int j, float *out, const float *in, int T) {
    for (int i = 0; i < ctx->n_adapters; i++) {
        const rt_lora_linear *L = rt_adapter_linear(ctx->adapters[i], layer, j);
        if (!L->rank) continue;
        int n_out, n_in;
        rt_lora_linear_shape(&ctx->model->config, j, &n_out, &n_in);
        rt_tensor a, bt;
        rt_tensor_view_f32(&a, L->a, L->rank, n_in);
        rt_tensor_view_f32(&bt, L->bt, L->rank, n_out);
        float *u = ctx->lora_tmp;
        rt_matmul(u, in, &a, NULL, T);
        float s = L->scale * ctx->adapter_scales[i];
        size_t n = (size_t)T * L->rank;
        for (size_t k = 0; k < n; k++)
            u[k] *= s;
        rt_matmul_backward_x(out, u, &bt, T);
    }
}

int rt_adapter_spec_parse(const char *spec, char **path, float *scale) {
    *path = NULL;
    *scale = 1.0f;
    if (!spec || !*spec) return rt_error(RT_ERR_INVALID, "--adapter: empty adapter spec");
    const char *colon = strrchr(spec, ':');
    size_t len = strlen(spec);
    if (colon && colon[1]) {
        char *end;
        errno = 0;
        double v = strtod(colon + 1, &end);
        /* a colon followed by a number is a scale; anything else belongs to the path */
        if (*end == '\0' && end != colon + 1) {
            if (errno || !isfinite(v))
                return rt_error(RT_ERR_INVALID, "--adapter %s: bad scale '%s'", spec, colon + 1);
            *scale = (float)v;
            len = (size_t)(colon - spec);
        }
    }
    if (len == 0) return rt_error(RT_ERR_INVALID, "--adapter %s: no path before the scale", spec);
    *path = malloc(len + 1);
    if (!*path) return rt_error(RT_ERR_NOMEM, "out of memory");
    memcpy(*path, spec, len);
    (*path)[len] = '\0';
    return RT_OK;
}
