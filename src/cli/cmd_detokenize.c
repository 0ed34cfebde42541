/*
 * cmd_detokenize.c — `ragtune detokenize`: token ids back to text.
 */
#include "cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: ragtune detokenize (--model PATH | --tokenizer PATH) [--skip-special] [IDS...]\n"
    "\n"
    "Decodes token ids (arguments, or standard input; separated by spaces, commas or newlines)\n"
    "and prints the text followed by a newline. Invalid UTF-8 that the ids spell is printed as\n"
    "U+FFFD.\n"
    "\n"
    "options:\n"
    "  --model PATH, --tokenizer PATH   tokenizer file or model directory\n"
    "  --skip-special                   leave out special tokens (BOS, EOS, ...)\n";

static int push(int32_t **ids, size_t *n, size_t *cap, const char *tok) {
    long long v;
    if (!cli_parse_int(tok, 0, INT32_MAX, &v)) return -1;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        int32_t *p = realloc(*ids, *cap * sizeof *p);
        if (!p) return -1;
        *ids = p;
    }
    (*ids)[(*n)++] = (int32_t)v;
    return 0;
}

int cmd_detokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *path = NULL;
    bool skip = false, from_args = false;
    int32_t *ids = NULL;
    size_t n = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--model") || !strcmp(a, "--tokenizer")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(a, "--skip-special"))
            skip = true;
        else if (a[0] == '-' && a[1]) {
            free(ids);
            return cli_usage_error("detokenize", "unknown option %s", a);
        } else {
            from_args = true;
            char *copy = strdup(a);
            for (char *t = strtok(copy, " ,\n\t"); t; t = strtok(NULL, " ,\n\t")) {
                if (push(&ids, &n, &cap, t) < 0) {
                    int rc = cli_usage_error("detokenize", "not a token id: %s", t);
                    free(copy);
                    free(ids);
                    return rc;
                }
            }
            free(copy);
        }
    }
    if (!path) {
        free(ids);
        return cli_usage_error("detokenize", "--model or --tokenizer is required");
    }
    if (!from_args) {
        char word[64];
        size_t k = 0;
        int c;
        do {
            c = getchar();
            if (c != EOF && (isdigit(c) || c == '-') && k + 1 < sizeof word) {
                word[k++] = (char)c;
                continue;
            }
            if (c != EOF && !isspace(c) && c != ',') {
                free(ids);
                return cli_usage_error("detokenize", "unexpected character '%c' in the ids", c);
            }
            if (k) {
                word[k] = 0;
                k = 0;
                if (push(&ids, &n, &cap, word) < 0) {
                    free(ids);
                    return cli_usage_error("detokenize", "not a token id: %s", word);
                }
            }
        } while (c != EOF);
    }
    rt_tokenizer *tok;
    if (rt_tokenizer_load(path, &tok) != RT_OK) {
        free(ids);
        return cli_runtime_error("detokenize");
    }
    char *text;
    size_t len;
    int rc = rt_tokenizer_decode(tok, ids, n, skip, &text, &len);
    free(ids);
    rt_tokenizer_free(tok);
    if (rc != RT_OK) return cli_runtime_error("detokenize");
    fwrite(text, 1, len, stdout);
    putchar('\n');
    free(text);
    return CLI_OK;
}
