/*
 * cmd_tokenize.c — `ragtune tokenize`: text to token ids and pieces with a model's tokenizer.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *usage =
    "usage: ragtune tokenize (--model PATH | --tokenizer PATH) [options] [TEXT]\n"
    "\n"
    "Tokenizes TEXT (or the file given with --file, or standard input) and prints one token per\n"
    "line: the id, a tab, and the vocabulary string (control bytes escaped as \\xNN).\n"
    "PATH is a tokenizer.json, a WordPiece vocab.txt, a GGUF file or a model directory.\n"
    "\n"
    "options:\n"
    "  --model PATH        model directory or file whose tokenizer to use\n"
    "  --tokenizer PATH    tokenizer file or directory (same as --model)\n"
    "  --file FILE         read the text from FILE\n"
    "  --no-special        do not add BOS/CLS/SEP (the post-processor's special tokens)\n"
    "  --ids               print only the ids, space-separated, on one line\n"
    "  --count             print only the number of tokens\n"
    "Invalid UTF-8 in the input is replaced by U+FFFD before tokenizing.\n";

static void print_escaped(const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 32 || *p == 127 || *p == '\\')
            printf("\\x%02x", *p);
        else
            putchar(*p);
    }
}

static char *read_stream(FILE *fp, size_t *len) {
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += r;
        if (n == cap) {
            char *p = realloc(buf, cap * 2);
            if (!p) {
                free(buf);
                return NULL;
            }
            buf = p;
            cap *= 2;
        }
    }
    *len = n;
    return buf;
}

int cmd_tokenize(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        fputs(usage, stdout);
        return CLI_OK;
    }
    const char *path = NULL, *file = NULL, *text = NULL;
    bool special = true, ids_only = false, count = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "--model") || !strcmp(a, "--tokenizer")) && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(a, "--file") && i + 1 < argc)
            file = argv[++i];
        else if (!strcmp(a, "--no-special"))
            special = false;
        else if (!strcmp(a, "--ids"))
            ids_only = true;
        else if (!strcmp(a, "--count"))
            count = true;
        else if (a[0] == '-' && a[1])
            return cli_usage_error("tokenize", "unknown option %s", a);
        else if (!text)
            text = a;
        else
            return cli_usage_error("tokenize", "more than one TEXT argument (quote it)");
    }
    if (!path) return cli_usage_error("tokenize", "--model or --tokenizer is required");
    if (text && file) return cli_usage_error("tokenize", "give TEXT or --file, not both");
    rt_tokenizer *tok;
    if (rt_tokenizer_load(path, &tok) != RT_OK) return cli_runtime_error("tokenize");
    char *buf = NULL;
    size_t len = 0;
    if (text) {
        len = strlen(text);
    } else {
        struct stat sb;
        if (file && (stat(file, &sb) != 0 || S_ISDIR(sb.st_mode))) {
            fprintf(stderr, "ragtune tokenize: %s: %s\n", file,
                    errno == ENOENT ? "no such file" : "not a regular file");
            rt_tokenizer_free(tok);
            return CLI_RUNTIME;
        }
        FILE *fp = file ? fopen(file, "rb") : stdin;
        if (!fp) {
            fprintf(stderr, "ragtune tokenize: cannot open %s\n", file);
            rt_tokenizer_free(tok);
            return CLI_RUNTIME;
        }
        buf = read_stream(fp, &len);
        if (file) fclose(fp);
        if (!buf) {
            fprintf(stderr, "ragtune tokenize: out of memory reading the input\n");
            rt_tokenizer_free(tok);
            return CLI_RUNTIME;
        }
        text = buf;
    }
    int32_t *ids;
    size_t n;
    int rc = rt_tokenizer_encode(tok, text, len, special, &ids, &n);
    free(buf);
    if (rc != RT_OK) {
        rt_tokenizer_free(tok);
        return cli_runtime_error("tokenize");
    }
    if (count) {
        printf("%zu\n", n);
    } else if (ids_only) {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    } else {
        for (size_t i = 0; i < n; i++) {
            printf("%d\t", ids[i]);
            print_escaped(rt_tokenizer_id_to_token(tok, ids[i]));
            putchar('\n');
        }
    }
    free(ids);
    rt_tokenizer_free(tok);
    return CLI_OK;
}
