/*
 * cmd_tokenizer.c — `ragtune tokenizer`: train a byte-level BPE tokenizer, or describe one.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune tokenizer train --vocab-size N [options] FILES... -o tokenizer.json\n"
    "       ragtune tokenizer info (--model PATH | --tokenizer PATH)\n"
    "\n"
    "train: learns a byte-level BPE (GPT-2/Llama-3 pre-tokenizer, 256 byte tokens, merges,\n"
    "       then special tokens) from text files and writes a Hugging Face tokenizer.json.\n"
    "  --vocab-size N      total ids including the special tokens (>= 256 + specials)\n"
    "  --min-frequency N   merge only pairs seen at least N times (default 2)\n"
    "  --special TOKEN     add a special token (repeatable; default <|endoftext|>)\n"
    "  --max-bytes N       read at most N bytes of the input files\n"
    "  -o, --output FILE   where to write tokenizer.json (required)\n"
    "info: prints the type, vocabulary size, special ids and chat template.\n";

static int train(int argc, char **argv) {
    rt_bpe_train_params p = rt_bpe_train_default_params();
    const char *out = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    const char **specials = calloc((size_t)argc, sizeof *specials);
    size_t n_files = 0, n_special = 0;
    bool have_vocab = false;
    int rc = CLI_OK;
    for (int i = 2; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i];
        long long v;
        if (!strcmp(a, "--vocab-size") && i + 1 < argc) {
            if (!cli_parse_int(argv[++i], 257, 1 << 24, &v))
                rc = cli_usage_error("tokenizer", "--vocab-size must be 257..16777216");
            p.vocab_size = (size_t)v;
            have_vocab = true;
        } else if (!strcmp(a, "--min-frequency") && i + 1 < argc) {
            if (!cli_parse_int(argv[++i], 1, 1LL << 40, &v))
                rc = cli_usage_error("tokenizer", "--min-frequency must be >= 1");
            p.min_frequency = (size_t)v;
        } else if (!strcmp(a, "--max-bytes") && i + 1 < argc) {
            if (!cli_parse_int(argv[++i], 1, 1LL << 50, &v))
                rc = cli_usage_error("tokenizer", "--max-bytes must be >= 1");
            p.max_bytes = (size_t)v;
        } else if (!strcmp(a, "--special") && i + 1 < argc) {
            specials[n_special++] = argv[++i];
            if (!*specials[n_special - 1])
                rc = cli_usage_error("tokenizer", "--special needs a non-empty token");
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && i + 1 < argc) {
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("tokenizer", "unknown option %s", a);
        } else {
            files[n_files++] = a;
        }
    }
    if (rc == CLI_OK && !have_vocab) rc = cli_usage_error("tokenizer", "--vocab-size is required");
    if (rc == CLI_OK && !out) rc = cli_usage_error("tokenizer", "-o tokenizer.json is required");
    if (rc == CLI_OK && !n_files) rc = cli_usage_error("tokenizer", "no input files");
    if (rc == CLI_OK) {
        static const char *const default_special[] = {"<|endoftext|>"};
        if (n_special) {
            p.special = specials;
            p.n_special = n_special;
        } else {
            p.special = default_special;
            p.n_special = 1;
        }
        if (rt_bpe_train(files, n_files, &p, out) != RT_OK) rc = cli_runtime_error("tokenizer");
    }
    free(files);
    free(specials);
    return rc;
}

static int info(int argc, char **argv) {
    const char *path = NULL;
    for (int i = 2; i < argc; i++) {
        if ((!strcmp(argv[i], "--model") || !strcmp(argv[i], "--tokenizer")) && i + 1 < argc)
            path = argv[++i];
        else
            return cli_usage_error("tokenizer", "unknown argument %s", argv[i]);
    }
    if (!path) return cli_usage_error("tokenizer", "--model or --tokenizer is required");
    rt_tokenizer *tok;
    if (rt_tokenizer_load(path, &tok) != RT_OK) return cli_runtime_error("tokenizer");
    static const char *const types[] = {"bpe (byte-level)", "spm-bpe (byte fallback)", "wordpiece"};
    static const char *const names[] = {"bos", "eos", "pad", "unk", "eot"};
    printf("type           %s\n", types[rt_tokenizer_get_type(tok)]);
    printf("n_vocab        %zu\n", rt_tokenizer_n_vocab(tok));
    for (int k = 0; k < 5; k++) {
        int32_t id = rt_tokenizer_special_id(tok, (rt_special_token)k);
        if (id >= 0)
            printf("%-14s %d %s\n", names[k], id, rt_tokenizer_id_to_token(tok, id));
        else
            printf("%-14s none\n", names[k]);
    }
    printf("chat_template  %s\n", rt_chat_template_name(rt_tokenizer_chat_template(tok)));
    rt_tokenizer_free(tok);
    return CLI_OK;
}

int cmd_tokenizer(int argc, char **argv) {
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "train")) return train(argc, argv);
    if (!strcmp(argv[1], "info")) return info(argc, argv);
    return cli_usage_error("tokenizer", "unknown subcommand %s (train, info)", argv[1]);
}
