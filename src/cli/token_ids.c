/*
 * token_ids.c — parsing "1,2,3" lists of token ids on the command line (generate, embed).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

int cli_parse_token_ids(const char *s, int32_t **out, int *n_out) {
    *out = NULL;
    *n_out = 0;
    if (!s || !*s) return -1;
    /* "1,,2", ",1" and "1," have an empty id: refused, not skipped */
    for (const char *p = s; *p; p++)
        if (*p == ',') {
            const char *q = p + 1;
            while (*q == ' ')
                q++;
            const char *b = p;
            while (b > s && b[-1] == ' ')
                b--;
            if (b == s || !*q || *q == ',') return -1;
        }
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    int32_t *ids = malloc(cap * sizeof *ids);
    char *copy = strdup(s);
    if (!ids || !copy) {
        free(ids);
        free(copy);
        return -1;
    }
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        long long v;
        if (!cli_parse_int(tok, 0, INT32_MAX, &v)) {
            free(ids);
            free(copy);
            return -1;
        }
        ids[n++] = (int32_t)v;
    }
    free(copy);
    if (n == 0) {
        free(ids);
        return -1;
    }
    *out = ids;
    *n_out = n;
    return 0;
}
