/*
 * main.c — the ragtune program: dispatches `ragtune <command> [options]`.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>
#include <unistd.h>

static const cli_command commands[] = {
    {"version", cmd_version, "print the version (--runtime: and the runtime environment)"},
    {"generate", cmd_generate, "generate text (or token ids) from a model"},
    {"embed", cmd_embed, "embed token ids with a model (JSON vector)"},
    {"info", cmd_info, "show what a model file holds"},
    {"convert", cmd_convert, "convert a model between GGUF and Hugging Face formats"},
    {"tokenize", cmd_tokenize, "text to token ids with a model's tokenizer"},
    {"detokenize", cmd_detokenize, "token ids back to text"},
    {"tokenizer", cmd_tokenizer, "train a BPE tokenizer, or describe one"},
    {"ingest", cmd_ingest, "add documents to a collection"},
    {"search", cmd_search, "search a collection (BM25, dense, hybrid)"},
    {"rm", cmd_rm, "delete documents from a collection"},
    {"stats", cmd_stats, "show a collection's size and settings"},
    {"train", cmd_train, "train a model (from scratch or continued)"},
    {"finetune", cmd_finetune, "fine-tune a model (--lora for adapters)"},
    {"merge", cmd_merge, "fold a LoRA adapter into its base model"},
    {"ask", cmd_ask, "answer a question from a collection, with citations"},
    {"chat", cmd_chat, "ask questions about a collection interactively"},
    {"qa", cmd_qa, "generate or check a QA set (questions with ground truth)"},
    {"eval", cmd_eval, "measure one strategy (closed-book, RAG, an adapter) on a QA set"},
    {"compare", cmd_compare, "RAG vs fine-tuning vs both, head to head, with a report"},
    {"serve", cmd_serve, "OpenAI-compatible HTTP server with RAG, adapters, fine-tuning jobs"},
    {"train-embedder", cmd_train_embedder, "train a text embedder on (query, passage) pairs"},
    {"raft-data", cmd_raft_data, "build reader (RAFT) training data in the reader prompt format"},
};

static const size_t n_commands = sizeof commands / sizeof commands[0];

static void print_help(FILE *out) {
    fputs("ragtune — RAG, fine-tuning, or both: measured on your own documents.\n\n"
          "usage: ragtune <command> [options]\n       ragtune <command> --help\n\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < n_commands; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fputs("  help         this text\n\nexit codes: 0 ok, 1 runtime error, 2 usage error\n", out);
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    if (rt_dist_rank() != 0) return CLI_USAGE; /* under mpirun: rank 0 says it, once */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ragtune %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see 'ragtune %s --help')\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_runtime_error(const char *cmd) {
    if (rt_dist_rank() != 0) { /* under mpirun: rank 0 says it, once (dist.c) */
        cli_dist_keep_error(rt_last_error());
        return CLI_RUNTIME;
    }
    fprintf(stderr, "ragtune %s: %s\n", cmd, rt_last_error());
    return CLI_RUNTIME;
}

bool cli_parse_int(const char *s, long long min, long long max, long long *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return false;
    *out = v;
    return true;
}

bool cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return true;
    return false;
}

/* `ragtune version --runtime` also prints the environment rt_runtime_setup gave this process,
 * as shell assignments (the benchmarks run their peers under the same). */
int cmd_version(int argc, char **argv) {
    printf("ragtune %s\n", rt_version());
    if (argc > 1 && !strcmp(argv[1], "--runtime")) {
        const char *vars[] = {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT",
                              "OPENBLAS_CORETYPE"};
        for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
            if (getenv(vars[i])) printf("%s=%s\n", vars[i], getenv(vars[i]));
        printf("RT_MPI=%s\n", rt_dist_has_mpi() ? "yes" : "no"); /* scale-out built in */
    }
    return CLI_OK;
}

int main(int argc, char **argv) {
    rt_runtime_setup(argv);
    if (argc < 2) {
        print_help(stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
        if (argc > 2) {
            for (size_t i = 0; i < n_commands; i++) {
                if (!strcmp(commands[i].name, argv[2])) {
                    char *help_argv[] = {argv[2], "--help", NULL};
                    return commands[i].run(2, help_argv);
                }
            }
        }
        print_help(stdout);
        return CLI_OK;
    }
    if (!strcmp(name, "--version")) return cmd_version(argc - 1, argv + 1);
    for (size_t i = 0; i < n_commands; i++) {
        if (strcmp(commands[i].name, name)) continue;
        int rc = cli_dist_begin(name); /* under mpirun: see dist.c */
        if (rc == CLI_OK) rc = commands[i].run(argc - 1, argv + 1);
        return cli_dist_end(name, rc);
    }
    fprintf(stderr, "ragtune: unknown command '%s'\n\n", name);
    print_help(stderr);
    return CLI_USAGE;
}
