/*
 * adapter.c — PEFT LoRA adapters: save, load, and rt_lora_merge.
 */
#include "train/adapter.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "core/quant.h"
#include "model/gguf.h"
#include "model/hf.h"
#include "model/model_file.h"
#include "model/safetensors.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const module_names[7] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                            "gate_proj", "up_proj", "down_proj"};

int adapter_save_peft(const tmodel *m, const char *dir, const char *base_model) {
    if (m->opt.lora_rank <= 0) return rt_error(RT_ERR_INVALID, "the model has no LoRA adapter");
    RT_TRY(rt_mkdir_p(dir));
    if (m->is_gpt2)
        rt_log_warn("gpt2 adapter written with split q/k/v module names (not PEFT's c_attn)");
    json_t *cfg = json_object();
    json_t *targets = json_array();
    for (int j = 0; j < 7; j++)
        if (m->opt.lora_targets & (1u << j))
            json_array_append_new(targets, json_string(module_names[j]));
    json_object_set_new(cfg, "peft_type", json_string("LORA"));
    json_object_set_new(cfg, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(cfg, "r", json_integer(m->opt.lora_rank));
    json_object_set_new(cfg, "lora_alpha", json_real(m->opt.lora_alpha));
    json_object_set_new(cfg, "lora_dropout", json_real(m->opt.lora_dropout));
    json_object_set_new(cfg, "target_modules", targets);
    json_object_set_new(cfg, "bias", json_string("none"));
    json_object_set_new(cfg, "fan_in_fan_out", json_false());
    json_object_set_new(cfg, "inference_mode", json_true());
    json_object_set_new(cfg, "use_rslora", json_false());
    json_object_set_new(cfg, "base_model_name_or_path",
                        base_model ? json_string(base_model) : json_null());
    char *text = json_dumps(cfg, JSON_INDENT(2));
    json_decref(cfg);
    if (!text) return RT_ERR_NOMEM;
    char *path = rt_path_join(dir, "adapter_config.json");
    int st = path ? rt_file_write_atomic(path, text, strlen(text)) : RT_ERR_NOMEM;
    free(path);
    free(text);
    RT_TRY(st);

    rt_tensor *ts = rt_calloc((size_t)m->n_params, sizeof *ts);
    if (!ts) return RT_ERR_NOMEM;
    st = RT_OK;
    for (int i = 0; i < m->n_params && st == RT_OK; i++) {
        const tm_param *p = &m->params[i];
        char name[160];
        snprintf(name, sizeof name, "base_model.model.%s", p->name);
        ts[i].dtype = RT_DTYPE_F32;
        ts[i].n_dims = 2;
        ts[i].shape[0] = p->shape[0];
        ts[i].shape[1] = p->shape[1];
        ts[i].shape[2] = ts[i].shape[3] = 1;
        ts[i].data = m->train_data + p->offset;
        ts[i].nbytes = p->n * sizeof(float);
        if (!(ts[i].name = rt_strdup(name))) st = RT_ERR_NOMEM;
    }
    path = rt_path_join(dir, "adapter_model.safetensors");
    const char *meta[] = {"format", "pt"};
    if (st == RT_OK)
        st = path ? rt_safetensors_write(path, ts, (size_t)m->n_params, meta, 1) : RT_ERR_NOMEM;
    free(path);
    for (int i = 0; i < m->n_params; i++)
        free(ts[i].name);
    free(ts);
    return st;
}

int adapter_read_config(const char *dir, tm_options *opt) {
    char *path = rt_path_join(dir, "adapter_config.json");
    if (!path) return RT_ERR_NOMEM;
    char *text;
    size_t len;
    int st = rt_file_read_all(path, 1 << 20, &text, &len);
    if (st < 0) {
        free(path);
        return st;
    }
    json_error_t jerr;
    json_t *cfg = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    st = RT_OK;
    if (!json_is_object(cfg)) {
        st = rt_error(RT_ERR_FORMAT, "%s: not a JSON object (%s)", path, cfg ? "" : jerr.text);
        goto out;
    }
    const char *type = json_string_value(json_object_get(cfg, "peft_type"));
    json_t *r = json_object_get(cfg, "r"), *alpha = json_object_get(cfg, "lora_alpha");
    json_t *targets = json_object_get(cfg, "target_modules");
    if (!type || strcmp(type, "LORA") || !json_is_integer(r) || !json_is_number(alpha)) {
        st = rt_error(RT_ERR_FORMAT, "%s: needs peft_type LORA, integer r and lora_alpha", path);
        goto out;
    }
    if (json_is_true(json_object_get(cfg, "use_rslora")) ||
        json_is_true(json_object_get(cfg, "use_dora")) ||
        json_is_true(json_object_get(cfg, "fan_in_fan_out"))) {
        st = rt_error(RT_ERR_UNSUPPORTED, "%s: rsLoRA, DoRA and fan_in_fan_out are not supported",
                      path);
        goto out;
    }
    memset(opt, 0, sizeof *opt);
    opt->lora_rank = (int)json_integer_value(r);
    opt->lora_alpha = (float)json_number_value(alpha);
    opt->lora_dropout = (float)json_number_value(json_object_get(cfg, "lora_dropout"));
    opt->base_dtype = RT_DTYPE_F32;
    if (opt->lora_rank <= 0 || opt->lora_rank > 4096) {
        st = rt_error(RT_ERR_FORMAT, "%s: rank %d out of range", path, opt->lora_rank);
        goto out;
    }
    if (json_is_string(targets) && !strcmp(json_string_value(targets), "all-linear")) {
        opt->lora_targets = RT_LORA_ALL;
    } else if (json_is_array(targets)) {
        size_t i;
        json_t *v;
        json_array_foreach(targets, i, v) {
            const char *s = json_string_value(v);
            int found = -1;
            for (int j = 0; s && j < 7; j++)
                if (!strcmp(s, module_names[j])) found = j;
            if (found < 0) {
                st = rt_error(RT_ERR_UNSUPPORTED, "%s: target module '%s' not supported", path,
                              s ? s : "?");
                goto out;
            }
            opt->lora_targets |= 1u << found;
        }
    }
    if (!opt->lora_targets) st = rt_error(RT_ERR_FORMAT, "%s: no target_modules", path);
out:
    json_decref(cfg);
    free(path);
    return st;
}

int adapter_load_peft(tmodel *m, const char *dir) {
    char *path = rt_path_join(dir, "adapter_model.safetensors");
    if (!path) return RT_ERR_NOMEM;
    rt_safetensors st_file;
    int st = rt_safetensors_open(path, &st_file);
    if (st < 0) {
        free(path);
        return st;
    }
    for (int i = 0; i < m->n_params && st == RT_OK; i++) {
        const tm_param *p = &m->params[i];
        char name[160];
        snprintf(name, sizeof name, "base_model.model.%s", p->name);
        const rt_safetensors_entry *e = rt_safetensors_find(&st_file, name);
        if (!e) {
            st = rt_error(RT_ERR_NOT_FOUND, "%s: no tensor %s", path, name);
            break;
        }
        const rt_tensor *t = &e->t;
        if (t->n_dims != 2 || t->shape[0] != p->shape[0] || t->shape[1] != p->shape[1] ||
            (t->dtype != RT_DTYPE_F32 && t->dtype != RT_DTYPE_F16 && t->dtype != RT_DTYPE_BF16)) {
            st = rt_error(RT_ERR_FORMAT, "%s: tensor %s must be a float matrix (%lld, %lld)", path,
                          name, (long long)p->shape[0], (long long)p->shape[1]);
            break;
        }
        rt_dequantize_row(t->dtype, t->data, m->train_data + p->offset, (int64_t)p->n);
    }
    rt_safetensors_close(&st_file);
    free(path);
    return st;
}

int rt_lora_merge(const char *model_path, const char *adapter_dir, const char *out_path) {
    tm_options opt;
    RT_TRY(adapter_read_config(adapter_dir, &opt));
    opt.lora_dropout = 0.0f;
    rt_model_file *mf;
    RT_TRY(rt_model_file_open(model_path, &mf));
    rt_model_config cfg = *rt_model_file_config(mf);
    tmodel *m;
    int st = tmodel_new(&cfg, rt_model_file_weights(mf), &opt, &m);
    if (st != RT_OK) {
        rt_model_file_close(mf);
        return st;
    }
    st = adapter_load_peft(m, adapter_dir);
    if (st == RT_OK) st = tmodel_merge_lora(m);
    rt_model_weights w;
    if (st == RT_OK) st = tmodel_weights(m, &w);
    if (st == RT_OK) {
        /* the base's tokenizer goes with the merged model */
        st = rt_model_file_save_as(mf, &cfg, &w, out_path, RT_DTYPE_F32);
        rt_model_weights_free(&w, cfg.n_layer);
    }
    tmodel_free(m);
    rt_model_file_close(mf);
    return st;
}
