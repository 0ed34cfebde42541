/*
 * opts.h — the one option parser of the CLI commands: a table of `--name value` options (string,
 * integer in a range, number in a range, flag) that each command declares next to its params
 * struct, matched one argv entry at a time so that a command can still handle its few special
 * options (repeatable ones, files read at once) in plain code after the table. Bad or missing
 * values print one usage message format for every command ("ragtune <cmd>: bad value ...").
 */
#ifndef RT_CLI_OPTS_H
#define RT_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum cli_opt_kind { CLI_OPT_STR, CLI_OPT_INT, CLI_OPT_FLOAT, CLI_OPT_FLAG } cli_opt_kind;

/* One option. field points to a const char * (STR), an integer of 1, 2, 4 or 8 bytes (INT), a
 * float or double (FLOAT) or a bool (FLAG); size is its sizeof. Build entries with the macros
 * below; a table ends with an entry whose name is NULL. */
typedef struct cli_opt {
    const char *name; /* "--steps" */
    cli_opt_kind kind;
    void *field;
    size_t size;
    long long int_lo, int_hi; /* INT: inclusive range */
    double lo, hi;            /* FLOAT: inclusive range */
    bool flag_value;          /* FLAG: the value stored */
} cli_opt;

#define CLI_STR(name, field)                                                                       \
    { (name), CLI_OPT_STR, &(field), sizeof(field), 0, 0, 0, 0, false }
#define CLI_INT(name, field, lo, hi)                                                               \
    { (name), CLI_OPT_INT, &(field), sizeof(field), (lo), (hi), 0, 0, false }
/* Any finite number. */
#define CLI_FLOAT(name, field)                                                                     \
    { (name), CLI_OPT_FLOAT, &(field), sizeof(field), 0, 0, -1e300, 1e300, false }
#define CLI_FLOAT_IN(name, field, lo, hi)                                                          \
    { (name), CLI_OPT_FLOAT, &(field), sizeof(field), 0, 0, (lo), (hi), false }
#define CLI_FLAG(name, field, value)                                                               \
    { (name), CLI_OPT_FLAG, &(field), sizeof(field), 0, 0, 0, 0, (value) }
#define CLI_OPT_END                                                                                \
    { NULL, CLI_OPT_STR, NULL, 0, 0, 0, 0, 0, false }

/* If argv[*i] is one of opts, stores its value (advancing *i past it) and returns 1; returns 0
 * when it is none of them; prints "ragtune <cmd>: ..." and returns -1 for a missing or bad
 * value (the caller exits with CLI_USAGE). */
int cli_opt_match(const char *cmd, const cli_opt *opts, int argc, char **argv, int *i);

/* The whole of argv[1..] through opts; an argument in no table is a usage error. Returns CLI_OK
 * or CLI_USAGE (message printed). */
int cli_opt_parse_all(const char *cmd, const cli_opt *opts, int argc, char **argv);

#endif
