/*
 * compare_opts.h — the option parser shared by `ragtune compare` and `ragtune eval`.
 */
#ifndef RT_CLI_COMPARE_OPTS_H
#define RT_CLI_COMPARE_OPTS_H

#include <stdbool.h>

/* Parses argv into an rt_compare_spec, runs it, writes the reports and prints the table and
 * recommendation (or the report JSON with --json). eval: one strategy chosen by --rag and
 * --adapter. Returns the process exit code. */
int cli_compare_main(const char *cmd, int argc, char **argv, bool eval);

#endif
