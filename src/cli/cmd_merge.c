/*
 * cmd_merge.c — `ragtune merge --model PATH --adapter DIR --out PATH`: folds a PEFT LoRA
 * adapter into its base model and writes a Hugging Face directory or a .gguf file.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cmd_merge(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *out = NULL;
    if (cli_wants_help(argc, argv)) {
        puts("usage: ragtune merge --model PATH --adapter DIR --out PATH\n\n"
             "Folds a LoRA adapter (PEFT: adapter_config.json + adapter_model.safetensors) into\n"
             "the base model (W += alpha/r * B A) and writes --out: a directory (config.json +\n"
             "model.safetensors) or, when it ends in .gguf, a GGUF file (f32).");
        return CLI_OK;
    }
    for (int i = 1; i < argc; i++) {
        const char **dst = !strcmp(argv[i], "--model")     ? &model
                           : !strcmp(argv[i], "--adapter") ? &adapter
                           : !strcmp(argv[i], "--out")     ? &out
                                                           : NULL;
        if (!dst) return cli_usage_error("merge", "unknown option %s", argv[i]);
        if (i + 1 >= argc) return cli_usage_error("merge", "%s needs a value", argv[i]);
        *dst = argv[++i];
    }
    if (!model || !adapter || !out)
        return cli_usage_error("merge", "--model, --adapter and --out are required");
    if (rt_lora_merge(model, adapter, out) != RT_OK) return cli_runtime_error("merge");
    printf("merged %s into %s -> %s\n", adapter, model, out);
    return CLI_OK;
}
