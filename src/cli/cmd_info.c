/*
 * cmd_info.c — `ragtune info MODEL [--json]`: what a model file holds (architecture, sizes,
 * parameter count, storage types, file size, metadata keys), via rt_model_file_describe.
 */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune info MODEL [--json]\n\n"
    "Shows what a model holds: architecture, hyper-parameters, number of parameters, storage\n"
    "types, file size and metadata keys. MODEL is a .gguf file, a .safetensors file with\n"
    "config.json beside it, or a Hugging Face model directory.\n\n"
    "  --json   print the description as JSON\n";

static void human_bytes(double b, char *buf, size_t n) {
    const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (b >= 1024 && i < 4) {
        b /= 1024;
        i++;
    }
    snprintf(buf, n, i ? "%.2f %s" : "%.0f %s", b, u[i]);
}

static void print_human(json_t *j) {
    const char *keys[] = {"architecture",
                          "n_vocab",
                          "n_embd",
                          "n_layer",
                          "n_head",
                          "n_kv_head",
                          "head_dim",
                          "n_ff",
                          "n_ctx_train",
                          "norm_eps",
                          "rope_theta",
                          "rope_pairing",
                          "rope_scaling_llama3_factor",
                          "tied_embeddings",
                          "attn_bias",
                          "n_type_vocab",
                          "pooling",
                          "normalize_embeddings",
                          "bos_token_id",
                          "eos_token_id",
                          "pad_token_id"};
    printf("%-27s %s\n", "path", json_string_value(json_object_get(j, "path")));
    json_t *fmt = json_object_get(j, "format");
    printf("%-27s %s", "format", json_string_value(fmt));
    if (json_object_get(j, "gguf_version"))
        printf(" v%lld", (long long)json_integer_value(json_object_get(j, "gguf_version")));
    printf("\n");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get(j, keys[i]);
        if (!v) continue;
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(6));
        if (json_is_string(v))
            printf("%-27s %s\n", keys[i], json_string_value(v));
        else
            printf("%-27s %s\n", keys[i], s ? s : "?");
        free(s);
    }
    double np = (double)json_integer_value(json_object_get(j, "n_params"));
    printf("%-27s %.0f (%.2f M)\n", "n_params", np, np / 1e6);
    char b[32];
    human_bytes((double)json_integer_value(json_object_get(j, "file_bytes")), b, sizeof b);
    printf("%-27s %s\n", "file size", b);
    printf("%-27s %lld\n", "tensors",
           (long long)json_integer_value(json_object_get(j, "n_tensors")));
    const char *dt;
    json_t *st;
    json_object_foreach(json_object_get(j, "dtypes"), dt, st) {
        human_bytes((double)json_integer_value(json_object_get(st, "bytes")), b, sizeof b);
        printf("  %-20s %lld tensors, %lld params, %s\n", dt,
               (long long)json_integer_value(json_object_get(st, "tensors")),
               (long long)json_integer_value(json_object_get(st, "params")), b);
    }
    printf("%-27s %s\n", "loadable", json_is_true(json_object_get(j, "loadable")) ? "yes" : "no");
    if (json_object_get(j, "error"))
        printf("%-27s %s\n", "error", json_string_value(json_object_get(j, "error")));
    json_t *meta = json_object_get(j, "metadata");
    printf("metadata (%zu keys):\n", json_object_size(meta));
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("  %-40s %.100s\n", k, s ? s : "?");
        free(s);
    }
}

int cmd_info(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *model = NULL;
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            as_json = true;
        else if (argv[i][0] == '-')
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        else if (!model)
            model = argv[i];
        else
            return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
    }
    if (!model) return cli_usage_error("info", "no MODEL given");
    char *text;
    if (rt_model_file_describe(model, &text) != RT_OK) return cli_runtime_error("info");
    if (as_json) {
        printf("%s\n", text);
    } else {
        json_error_t err;
        json_t *j = json_loads(text, 0, &err);
        if (j) print_human(j);
        json_decref(j);
    }
    free(text);
    return CLI_OK;
}
