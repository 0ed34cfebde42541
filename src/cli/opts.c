/*
 * opts.c — the table-driven option parser (see opts.h).
 */
#include "opts.h"

#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void store_int(const cli_opt *o, long long v) {
    switch (o->size) {
    case 1:
        *(int8_t *)o->field = (int8_t)v;
        break;
    case 2:
        *(int16_t *)o->field = (int16_t)v;
        break;
    case 4:
        *(int32_t *)o->field = (int32_t)v;
        break;
    default:
        *(int64_t *)o->field = (int64_t)v;
        break;
    }
}

static void bad_choice(const char *cmd, const cli_opt *o, const char *a, const char *v) {
    char names[256];
    size_t n = 0;
    names[0] = 0;
    for (const cli_choice *c = o->choices; c->name && n < sizeof names; c++)
        n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", c == o->choices ? "" : ", ",
                              c->name);
    cli_usage_error(cmd, "bad value '%s' for %s (%s)", v, a, names);
}

static int set_value(const char *cmd, const cli_opt *o, const char *a, const char *v) {
    long long n;
    double x;
    switch (o->kind) {
    case CLI_OPT_STR:
        *(const char **)o->field = v;
        return 1;
    case CLI_OPT_INT:
        if (!cli_parse_int(v, o->int_lo, o->int_hi, &n)) {
            cli_usage_error(cmd, "bad value '%s' for %s (an integer, %lld to %lld)", v, a,
                            o->int_lo, o->int_hi);
            return -1;
        }
        store_int(o, n);
        return 1;
    case CLI_OPT_FLOAT:
        if (!cli_parse_float(v, &x) || x < o->lo || x > o->hi) {
            if (o->lo <= -1e300)
                cli_usage_error(cmd, "bad value '%s' for %s (a finite number)", v, a);
            else
                cli_usage_error(cmd, "bad value '%s' for %s (a number, %g to %g)", v, a, o->lo,
                                o->hi);
            return -1;
        }
        if (o->size == sizeof(float))
            *(float *)o->field = (float)x;
        else
            *(double *)o->field = x;
        return 1;
    case CLI_OPT_FLAG:
        *(bool *)o->field = o->flag_value;
        return 1;
    case CLI_OPT_CHOICE:
        for (const cli_choice *c = o->choices; c->name; c++)
            if (!strcmp(v, c->name)) {
                store_int(o, c->value);
                return 1;
            }
        bad_choice(cmd, o, a, v);
        return -1;
    }
    return 0;
}

int cli_opt_match(const char *cmd, const cli_opt *opts, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    for (const cli_opt *o = opts; o->name; o++) {
        if (strcmp(a, o->name)) continue;
        if (o->kind == CLI_OPT_FLAG) return set_value(cmd, o, a, NULL);
        if (*i + 1 >= argc) {
            cli_usage_error(cmd, "%s needs a value", a);
            return -1;
        }
        (*i)++;
        return set_value(cmd, o, a, argv[*i]);
    }
    return 0;
}

bool cli_opt_unknown(const char *cmd, const char *arg) {
    if (arg[0] != '-' || !arg[1]) return false;
    cli_usage_error(cmd, "unknown option '%s'", arg);
    return true;
}

int cli_opt_parse_positional(const char *cmd, const cli_opt *opts, int argc, char **argv,
                             int first, const char **pos, int max_pos, int *n_pos) {
    *n_pos = 0;
    for (int i = first; i < argc; i++) {
        int r = cli_opt_match(cmd, opts, argc, argv, &i);
        if (r < 0 || (r == 0 && cli_opt_unknown(cmd, argv[i]))) return CLI_USAGE;
        if (r > 0) continue;
        if (*n_pos == max_pos) return cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        pos[(*n_pos)++] = argv[i];
    }
    return CLI_OK;
}

int cli_opt_parse_all(const char *cmd, const cli_opt *opts, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        int r = cli_opt_match(cmd, opts, argc, argv, &i);
        if (r < 0) return CLI_USAGE;
        if (r == 0) {
            if (!cli_opt_unknown(cmd, argv[i]))
                cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
            return CLI_USAGE;
        }
    }
    return CLI_OK;
}
