/*
 * cmd_embed.c — `ragtune embed`: the pooled, L2-normalized embedding of a text (through the
 * model's tokenizer, as `ingest --embed-model` embeds chunks) or of a list of token ids, printed
 * as JSON (bert: its pooling; decoders: mean of the final hidden states), optionally with LoRA
 * adapters applied at run time (--adapter, repeatable).
 */
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune embed --model PATH (--text TEXT | --ids IDS) [--adapter PATH[:SCALE]]...\n"
    "                     [--threads N]\n"
    "\n"
    "Prints {\"model\": arch, \"n_tokens\": n, \"embedding\": [...]} for the text (tokenized\n"
    "with the model's tokenizer, truncated to 512 tokens, as ingest --embed-model does) or the\n"
    "token ids (\"101,2023,102\"): the pooled last hidden states, L2-normalized.\n"
    "--adapter applies a LoRA adapter (PEFT directory or GGUF LoRA file) at run time, its\n"
    "scale multiplying alpha/r (default 1); repeat it to apply several at once.\n";

enum { MAX_ADAPTERS = 16 };

/* Loads the adapters of specs for model and sets them on ctx; frees nothing on failure (the
 * caller frees adapters[0..*n_loaded)). */
static int apply_adapters(rt_model *model, rt_context *ctx, const char *const *specs, int n,
                          rt_adapter **adapters, int *n_loaded) {
    float scales[MAX_ADAPTERS];
    *n_loaded = 0;
    for (int i = 0; i < n; i++) {
        char *path;
        if (rt_adapter_spec_parse(specs[i], &path, &scales[i]) != RT_OK) return RT_ERR_INVALID;
        int st = rt_adapter_load(model, path, &adapters[i]);
        free(path);
        if (st != RT_OK) return st;
        *n_loaded = i + 1;
    }
    return rt_context_set_adapters(ctx, adapters, scales, n);
}

/* --text: the library's model embedder, so the vector is exactly what a collection stores. */
static int embed_text(const char *model_path, const char *text, const char *const *specs,
                      int n_specs) {
    rt_embedder e;
    if (rt_embedder_open_model_adapters(model_path, 0, specs, n_specs, &e) != RT_OK)
        return cli_runtime_error("embed");
    float *vec = malloc((size_t)e.dim * sizeof *vec);
    size_t len = strlen(text);
    int rc = CLI_OK;
    if (!vec || e.embed(e.user, &text, &len, 1, vec) != RT_OK) {
        rc = cli_runtime_error("embed");
    } else {
        json_t *arr = json_array();
        for (int i = 0; i < e.dim; i++)
            json_array_append_new(arr, json_real(vec[i]));
        json_t *obj = json_pack("{s:s, s:o}", "model", model_path, "embedding", arr);
        char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(7));
        if (s) puts(s);
        free(s);
        json_decref(obj);
    }
    free(vec);
    rt_embedder_close_model(&e);
    return rc;
}

int cmd_embed(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model_path = NULL, *ids_arg = NULL, *text = NULL;
    const char *specs[MAX_ADAPTERS];
    int n_specs = 0;
    long long threads = 0;
    for (int i = 1; i < argc; i += 2) { /* every option takes a value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v)
            model_path = v;
        else if (!strcmp(argv[i], "--ids") && v)
            ids_arg = v;
        else if (!strcmp(argv[i], "--text") && v)
            text = v;
        else if (!strcmp(argv[i], "--adapter") && v) {
            char *path;
            float scale;
            if (n_specs == MAX_ADAPTERS)
                return cli_usage_error("embed", "at most %d --adapter options", MAX_ADAPTERS);
            if (rt_adapter_spec_parse(v, &path, &scale) != RT_OK)
                return cli_usage_error("embed", "%s", rt_last_error());
            free(path);
            specs[n_specs++] = v;
        }
        else if (!strcmp(argv[i], "--threads") && v) {
            if (!cli_parse_int(v, 1, 4096, &threads))
                return cli_usage_error("embed", "bad --threads");
        } else
            return cli_usage_error("embed", "unknown or incomplete option '%s'", argv[i]);
    }
    if (!model_path || !ids_arg == !text)
        return cli_usage_error("embed", "--model and one of --text or --ids are required");
    if (text && !*text) return cli_usage_error("embed", "--text is empty: nothing to embed");
    rt_set_threads((int)threads);
    if (text) return embed_text(model_path, text, specs, n_specs);
    int32_t *ids = NULL;
    int n_ids = 0;
    if (cli_parse_token_ids(ids_arg, &ids, &n_ids) != 0)
        return cli_usage_error("embed", "--ids must be comma-separated token ids");
    rt_model *model = NULL;
    rt_context *ctx = NULL;
    float *vec = NULL;
    rt_adapter *adapters[MAX_ADAPTERS];
    int n_adapters = 0;
    int rc = CLI_OK;
    rt_context_params cp = rt_context_default_params();
    if (rt_model_load(model_path, NULL, &model) != RT_OK) {
        rc = cli_runtime_error("embed");
        goto done;
    }
    if (rt_model_n_ctx_train(model) > 0 && n_ids > rt_model_n_ctx_train(model)) {
        fprintf(stderr, "ragtune embed: %d ids, more than the model's context of %d\n", n_ids,
                rt_model_n_ctx_train(model));
        rc = CLI_RUNTIME;
        goto done;
    }
    cp.n_ctx = n_ids; /* one pass; learned-position models reject more than they were trained on */
    vec = malloc((size_t)rt_model_n_embd(model) * sizeof *vec);
    if (!vec || rt_context_new(model, &cp, &ctx) != RT_OK ||
        (n_specs && apply_adapters(model, ctx, specs, n_specs, adapters, &n_adapters) != RT_OK) ||
        rt_model_embed(ctx, ids, n_ids, vec) != RT_OK) {
        rc = cli_runtime_error("embed");
        goto done;
    }
    for (int i = 0; i < rt_model_n_embd(model); i++)
        if (!isfinite(vec[i])) {
            fprintf(stderr,
                    "ragtune embed: %s: the model's output is not finite (NaN or infinite): its "
                    "weights are damaged or come from a diverged training\n",
                    model_path);
            rc = CLI_RUNTIME;
            goto done;
        }
    json_t *arr = json_array();
    for (int i = 0; i < rt_model_n_embd(model); i++)
        json_array_append_new(arr, json_real(vec[i]));
    json_t *obj = json_pack("{s:s, s:i, s:o}", "model", rt_model_arch(model), "n_tokens", n_ids,
                            "embedding", arr);
    char *s = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(7));
    if (s) puts(s);
    free(s);
    json_decref(obj);
done:
    rt_context_free(ctx);
    for (int i = 0; i < n_adapters; i++)
        rt_adapter_free(adapters[i]);
    rt_model_free(model);
    free(vec);
    free(ids);
    return rc;
}
