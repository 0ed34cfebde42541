/*
 * adapter_runtime.c — rt_adapter_load: a PEFT directory or a llama.cpp GGUF LoRA file read with
 * the parsers of adapter.c / adapter_gguf.c into the run-time adapter of model/lora.h, checked
 * against the model it will be applied to. It lives in train/ because the parsers do; the
 * forward pass (model/) only sees the matrices.
 */
#include "core/error.h"
#include "core/file.h"
#include "model/arch.h"
#include "model/lora.h"
#include "model/model.h"
#include "train/adapter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_pair(void *user, const adapter_pair *p) {
    return rt_adapter_set_linear(user, p->layer, p->j, (int)p->rank, p->scale, p->a, p->b);
}

int rt_adapter_load(const rt_model *model, const char *path, rt_adapter **out) {
    *out = NULL;
    if (!model || !path) return rt_error(RT_ERR_INVALID, "adapter: no model or path");
    const rt_model_config *cfg = &model->config;
    const rt_arch_info *ai = rt_arch_get(cfg->arch);
    if (!ai || !ai->lora_targets) /* LoRA is for the decoders */
        return rt_error(RT_ERR_UNSUPPORTED,
                        "%s: LoRA adapters apply to llama, qwen2 and gpt2, "
                        "not %s",
                        path, rt_arch_name(cfg->arch));
    rt_adapter *ad;
    RT_TRY(rt_adapter_alloc(cfg, path, &ad));
    int st;
    if (rt_is_dir(path) == 1) {
        tm_options opt;
        st = adapter_read_config(path, &opt);
        if (st == RT_OK) st = adapter_peft_each(cfg, opt.lora_targets, path, true, add_pair, ad);
    } else if (rt_is_file(path) == 1) {
        st = adapter_gguf_each(cfg, path, add_pair, ad);
    } else {
        st =
            rt_error(RT_ERR_IO, "%s: no such adapter (a PEFT directory or a GGUF LoRA file)", path);
    }
    if (st == RT_ERR_NOT_FOUND || st == RT_ERR_INVALID) {
        /* a tensor the model needs is missing, or one does not fit: made for another base */
        char why[512];
        snprintf(why, sizeof why, "%s", rt_last_error());
        st = rt_error(RT_ERR_INVALID, "adapter %s does not fit this %s model: %s", path,
                      rt_arch_name(cfg->arch), why);
    }
    if (st < 0) {
        rt_adapter_free(ad);
        return st;
    }
    if (!ad->max_rank) {
        rt_adapter_free(ad);
        return rt_error(RT_ERR_FORMAT, "%s: the adapter changes no linear of the model", path);
    }
    *out = ad;
    return RT_OK;
}
