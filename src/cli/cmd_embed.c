/*
 * cmd_embed.c — `ragtune embed`: the pooled, L2-normalized embedding of a list of token ids,
 * printed as a JSON array (bert: its pooling; decoders: mean of the final hidden states).
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune embed --model PATH --ids IDS [--threads N]\n"
    "\n"
    "Prints {\"model\": arch, \"n_tokens\": n, \"embedding\": [...]} for the token ids\n"
    "(\"101,2023,102\"): the pooled last hidden states, L2-normalized.\n";

int cmd_embed(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model_path = NULL, *ids_arg = NULL;
    long long threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(argv[i], "--model") && v)
            model_path = v;
        else if (!strcmp(argv[i], "--ids") && v)
            ids_arg = v;
        else if (!strcmp(argv[i], "--threads") && v) {
            if (!cli_parse_int(v, 1, 4096, &threads))
                return cli_usage_error("embed", "bad --threads");
        } else
            return cli_usage_error("embed", "unknown or incomplete option '%s'", argv[i]);
        i++;
    }
    if (!model_path || !ids_arg) return cli_usage_error("embed", "--model and --ids are required");
    int32_t *ids = NULL;
    int n_ids = 0;
    if (cli_parse_token_ids(ids_arg, &ids, &n_ids) != 0)
        return cli_usage_error("embed", "--ids must be comma-separated token ids");
    rt_set_threads((int)threads);
    rt_model *model = NULL;
    rt_context *ctx = NULL;
    float *vec = NULL;
    int rc = CLI_OK;
    rt_context_params cp = rt_context_default_params();
    if (rt_model_load(model_path, NULL, &model) != RT_OK) {
        rc = cli_runtime_error("embed");
        goto done;
    }
    cp.n_ctx = n_ids; /* one pass; learned-position models reject more than they were trained on */
    vec = malloc((size_t)rt_model_n_embd(model) * sizeof *vec);
    if (!vec || rt_context_new(model, &cp, &ctx) != RT_OK ||
        rt_model_embed(ctx, ids, n_ids, vec) != RT_OK) {
        rc = cli_runtime_error("embed");
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
    rt_model_free(model);
    free(vec);
    free(ids);
    return rc;
}
