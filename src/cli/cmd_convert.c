/*
 * cmd_convert.c — `ragtune convert IN OUT [--dtype T]`: between GGUF and Hugging Face
 * directories, or re-quantizing GGUF, via rt_model_file_convert.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *usage =
    "usage: ragtune convert IN OUT [--dtype f32|f16|bf16|q8_0|q4_0]\n\n"
    "Converts a model. IN is a .gguf file, a .safetensors file with config.json beside it, or a\n"
    "Hugging Face directory. OUT ending in .gguf is written as GGUF v3 (readable by llama.cpp;\n"
    "norms and biases stay f32); any other OUT is a Hugging Face directory (config.json +\n"
    "model.safetensors, tokenizer files copied from an HF input).\n\n"
    "  --dtype T   storage type of the weight matrices (default f16; q8_0/q4_0 only for GGUF)\n";

int cmd_convert(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *in = NULL, *out = NULL;
    rt_model_file_convert_params p = rt_model_file_convert_default_params();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dtype")) {
            if (i + 1 >= argc) return cli_usage_error("convert", "--dtype needs a value");
            rt_dtype d;
            if (rt_dtype_parse(argv[++i], &d) != RT_OK || d == RT_DTYPE_I32)
                return cli_usage_error("convert", "unknown dtype '%s'", argv[i]);
            p.dtype = d;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("convert", "unknown option '%s'", argv[i]);
        } else if (!in) {
            in = argv[i];
        } else if (!out) {
            out = argv[i];
        } else {
            return cli_usage_error("convert", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!in || !out) return cli_usage_error("convert", "IN and OUT are required");
    size_t n = strlen(out);
    bool to_gguf = n >= 5 && !strcmp(out + n - 5, ".gguf");
    if (!to_gguf && (p.dtype == RT_DTYPE_Q8_0 || p.dtype == RT_DTYPE_Q4_0))
        return cli_usage_error("convert", "%s weights need a .gguf OUT", rt_dtype_name(p.dtype));
    if (rt_model_file_convert(in, out, &p) != RT_OK) return cli_runtime_error("convert");
    fprintf(stderr, "wrote %s (%s)\n", out, rt_dtype_name(p.dtype));
    return CLI_OK;
}
