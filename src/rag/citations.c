/*
 * citations.c — parsing and cleaning citation markers (rules in citations.h).
 */
#include "rag/citations.h"

#include "rag/sentences.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int push_int(int **v, size_t *n, size_t *cap, int x) {
    RT_TRY(RT_GROW(*v, *cap, *n + 1));
    (*v)[(*n)++] = x;
    return RT_OK;
}

int rt_citations_clean(const char *answer, size_t len, int n_sources, char **clean,
                       rt_cite_mark **marks, size_t *n_marks, int **invalid, size_t *n_invalid) {
    *clean = NULL;
    *marks = NULL;
    *n_marks = 0;
    *invalid = NULL;
    *n_invalid = 0;
    rt_strbuf b = {0};
    size_t marks_cap = 0, inv_cap = 0;
    int st = rt_strbuf_reserve(&b, len + 1);
    for (size_t i = 0; st == RT_OK && i < len;) {
        size_t m = answer[i] == '[' ? rt_marker_len(answer + i, len - i) : 0;
        if (!m) {
            st = rt_strbuf_append(&b, answer + i, 1);
            i++;
            continue;
        }
        int nums[64], nn = 0;
        for (size_t j = i + 1; j < i + m && st == RT_OK;) {
            if (answer[j] < '0' || answer[j] > '9') {
                j++;
                continue;
            }
            int x = 0;
            while (answer[j] >= '0' && answer[j] <= '9')
                x = x * 10 + (answer[j++] - '0');
            if (x >= 1 && x <= n_sources) {
                bool dup = false;
                for (int k = 0; k < nn; k++)
                    dup |= nums[k] == x;
                if (!dup && nn < 64) nums[nn++] = x;
            } else {
                bool dup = false;
                for (size_t k = 0; k < *n_invalid; k++)
                    dup |= (*invalid)[k] == x;
                if (!dup) st = push_int(invalid, n_invalid, &inv_cap, x);
            }
        }
        if (st != RT_OK) break;
        if (nn == 0) {
            if (b.len && b.data[b.len - 1] == ' ') b.data[--b.len] = '\0';
        } else {
            size_t pos = b.len;
            st = rt_strbuf_puts(&b, "[");
            for (int k = 0; k < nn && st == RT_OK; k++) {
                st = rt_strbuf_printf(&b, k ? ", %d" : "%d", nums[k]);
                if (st == RT_OK) st = RT_GROW(*marks, marks_cap, *n_marks + 1);
                if (st == RT_OK) (*marks)[(*n_marks)++] = (rt_cite_mark){nums[k], pos};
            }
            if (st == RT_OK) st = rt_strbuf_puts(&b, "]");
        }
        i += m;
    }
    if (st == RT_OK) {
        *clean = rt_strbuf_take(&b);
        if (!*clean) st = RT_ERR_NOMEM;
    }
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        free(*marks);
        free(*invalid);
        *marks = NULL;
        *invalid = NULL;
        *n_marks = *n_invalid = 0;
    }
    return st;
}

char *rt_citations_strip(const char *text, size_t len) {
    char *out = rt_malloc(len + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t m = text[i] == '[' ? rt_marker_len(text + i, len - i) : 0;
        if (m) {
            i += m;
            continue;
        }
        out[o++] = text[i++];
    }
    out[o] = '\0';
    return out;
}
