/*
 * sentences.c — the rule-based sentence splitter and the citation-marker scanner (see
 * sentences.h for the rules).
 */
#include "rag/sentences.h"

#include "core/error.h"

#include <stdbool.h>
#include <stdlib.h>

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

size_t rt_marker_len(const char *t, size_t len) {
    if (len < 3 || t[0] != '[') return 0;
    size_t i = 1;
    for (;;) {
        while (i < len && t[i] == ' ')
            i++;
        size_t d = 0;
        while (i < len && is_digit(t[i]) && d < 4) {
            i++;
            d++;
        }
        if (d == 0 || d > 3) return 0;
        while (i < len && t[i] == ' ')
            i++;
        if (i >= len) return 0;
        if (t[i] == ']') return i + 1;
        if (t[i] != ',' && t[i] != ';') return 0;
        i++;
    }
}

static int push(rt_span **spans, size_t *n, size_t *cap, const char *text, size_t s, size_t e) {
    while (s < e && is_space(text[s]))
        s++;
    while (e > s && is_space(text[e - 1]))
        e--;
    if (s == e) return RT_OK;
    RT_TRY(RT_GROW(*spans, *cap, *n + 1));
    (*spans)[(*n)++] = (rt_span){s, e};
    return RT_OK;
}

int rt_sentences_split(const char *text, size_t len, rt_span **spans, size_t *n) {
    *spans = NULL;
    *n = 0;
    size_t cap = 0, start = 0, i = 0;
    while (i < len) {
        char c = text[i];
        if (c == '\n') {
            if (push(spans, n, &cap, text, start, i) != RT_OK) goto nomem;
            start = ++i;
            continue;
        }
        if (c != '.' && c != '!' && c != '?') {
            i++;
            continue;
        }
        /* the end of a sentence takes repeated marks, closing quotes/brackets and markers */
        size_t j = i + 1;
        for (;;) {
            while (j < len && (text[j] == '.' || text[j] == '!' || text[j] == '?' ||
                               text[j] == '"' || text[j] == '\'' || text[j] == ')'))
                j++;
            size_t k = j;
            while (k < len && text[k] == ' ')
                k++;
            size_t m = rt_marker_len(text + k, len - k);
            if (!m) break;
            j = k + m;
        }
        if (j >= len) break;
        if (!is_space(text[j])) {
            i = j;
            continue;
        }
        size_t k = j;
        while (k < len && (text[k] == ' ' || text[k] == '\t'))
            k++;
        if (k < len && text[k] >= 'a' && text[k] <= 'z') {
            i = k;
            continue;
        }
        if (push(spans, n, &cap, text, start, j) != RT_OK) goto nomem;
        start = i = j;
    }
    if (push(spans, n, &cap, text, start, len) != RT_OK) goto nomem;
    return RT_OK;
nomem:
    free(*spans);
    *spans = NULL;
    *n = 0;
    return RT_ERR_NOMEM;
}
