/*
 * cmd_eval.c — `ragtune eval --collection C --qa QA --model M [--adapter A] [--rag]`: one
 * strategy (closed-book, RAG, a given LoRA adapter, or both) measured on the test split; the
 * options and reports are those of `ragtune compare` (cmd_compare.c).
 */
#include "cli.h"
#include "compare_opts.h"

int cmd_eval(int argc, char **argv) {
    return cli_compare_main("eval", argc, argv, true);
}
