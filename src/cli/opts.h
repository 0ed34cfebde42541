/*
 * opts.h — the one option parser of the CLI commands: a table of `--name value` options (string,
 * integer in a range, number in a range, flag, one of named values) that each command declares
 * next to its params struct, matched one argv entry at a time so that a command can still handle
 * its few special options (repeatable ones, files read at once) and its positional arguments in
 * plain code around the table. Bad or missing values and unknown options print one usage message
 * format for every command ("ragtune <cmd>: bad value ...", "unknown option '...'").
 */
#ifndef RT_CLI_OPTS_H
#define RT_CLI_OPTS_H

#include "ragtune.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum cli_opt_kind {
    CLI_OPT_STR,
    CLI_OPT_INT,
    CLI_OPT_FLOAT,
    CLI_OPT_FLAG,
    CLI_OPT_CHOICE
} cli_opt_kind;

/* One named value of a CHOICE option ("--mode bm25"); a list ends with a NULL name. */
typedef struct cli_choice {
    const char *name;
    int value;
} cli_choice;

/* One option. field points to a const char * (STR), an integer of 1, 2, 4 or 8 bytes (INT, or
 * an enum for CHOICE), a float or double (FLOAT) or a bool (FLAG); size is its sizeof. Build entries with the macros
 * below; a table ends with an entry whose name is NULL. */
typedef struct cli_opt {
    const char *name; /* "--steps" */
    cli_opt_kind kind;
    void *field;
    size_t size;
    long long int_lo, int_hi; /* INT: inclusive range */
    double lo, hi;            /* FLOAT: inclusive range */
    bool flag_value;          /* FLAG: the value stored */
    const cli_choice *choices; /* CHOICE: the accepted names and the values stored */
} cli_opt;

#define CLI_STR(name, field)                                                                       \
    { (name), CLI_OPT_STR, &(field), sizeof(field), 0, 0, 0, 0, false, NULL }
#define CLI_INT(name, field, lo, hi)                                                               \
    { (name), CLI_OPT_INT, &(field), sizeof(field), (lo), (hi), 0, 0, false, NULL }
/* Any finite number. */
#define CLI_FLOAT(name, field)                                                                     \
    { (name), CLI_OPT_FLOAT, &(field), sizeof(field), 0, 0, -1e300, 1e300, false, NULL }
#define CLI_FLOAT_IN(name, field, lo, hi)                                                          \
    { (name), CLI_OPT_FLOAT, &(field), sizeof(field), 0, 0, (lo), (hi), false, NULL }
#define CLI_FLAG(name, field, value)                                                               \
    { (name), CLI_OPT_FLAG, &(field), sizeof(field), 0, 0, 0, 0, (value), NULL }
#define CLI_CHOICE(name, field, choices)                                                           \
    { (name), CLI_OPT_CHOICE, &(field), sizeof(field), 0, 0, 0, 0, false, (choices) }
#define CLI_OPT_END                                                                                \
    { NULL, CLI_OPT_STR, NULL, 0, 0, 0, 0, 0, false, NULL }

/* If argv[*i] is one of opts, stores its value (advancing *i past it) and returns 1; returns 0
 * when it is none of them; prints "ragtune <cmd>: ..." and returns -1 for a missing or bad
 * value (the caller exits with CLI_USAGE). */
int cli_opt_match(const char *cmd, const cli_opt *opts, int argc, char **argv, int *i);

/* For the argument no table matched: an unknown option ("-x", "--x"; not "-", which names
 * stdin) prints the usage error and returns true; a positional argument returns false. */
bool cli_opt_unknown(const char *cmd, const char *arg);

/* argv[first..] through opts, with up to max_pos positional arguments stored in pos[] (their
 * count in *n_pos); an unknown option or one positional argument too many is a usage error.
 * Returns CLI_OK or CLI_USAGE (message printed). */
int cli_opt_parse_positional(const char *cmd, const cli_opt *opts, int argc, char **argv,
                             int first, const char **pos, int max_pos, int *n_pos);

/* Shared by the retrieval commands (search, ask, chat, compare; defined in cmd_search.c): the
 * names of rt_search_mode, and the repeatable --filter EXPR at argv[*i] (advancing *i past the
 * value) parsed into filters[*n_filters] (at most max_filters); CLI_OK or CLI_USAGE (printed). */
extern const cli_choice cli_search_modes[];
int cli_filter_option(const char *cmd, int argc, char **argv, int *i, rt_filter *filters,
                      int *n_filters, int max_filters);

/* The whole of argv[1..] through opts; an argument in no table is a usage error. Returns CLI_OK
 * or CLI_USAGE (message printed). */
int cli_opt_parse_all(const char *cmd, const cli_opt *opts, int argc, char **argv);

#endif
