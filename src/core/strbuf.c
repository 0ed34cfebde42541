/*
 * strbuf.c — growable byte buffer (see strbuf.h). Doubling growth with overflow checks.
 */
#include "core/strbuf.h"

#include "core/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rt_strbuf_reserve(rt_strbuf *b, size_t extra) {
    size_t need;
    if (!rt_add_size(b->len, extra, &need) || !rt_add_size(need, 1, &need))
        return rt_error(RT_ERR_RANGE, "text buffer: size overflow");
    if (need <= b->cap) return RT_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *p = rt_realloc(b->data, cap);
    if (!p) return RT_ERR_NOMEM;
    if (!b->data) p[0] = '\0';
    b->data = p;
    b->cap = cap;
    return RT_OK;
}

int rt_strbuf_append(rt_strbuf *b, const void *data, size_t len) {
    RT_TRY(rt_strbuf_reserve(b, len));
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return RT_OK;
}

int rt_strbuf_puts(rt_strbuf *b, const char *s) { return rt_strbuf_append(b, s, strlen(s)); }

int rt_strbuf_vprintf(rt_strbuf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) return rt_error(RT_ERR_INVALID, "text buffer: bad format");
    RT_TRY(rt_strbuf_reserve(b, (size_t)n));
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return RT_OK;
}

int rt_strbuf_printf(rt_strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int st = rt_strbuf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

int rt_strbuf_json_string(rt_strbuf *b, const char *s, size_t len) {
    RT_TRY(rt_strbuf_append(b, "\"", 1));
    size_t run = 0; /* bytes copied verbatim in one append */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char tmp[8];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c < 0x20) {
            snprintf(tmp, sizeof tmp, "\\u%04x", c);
            esc = tmp;
        }
        if (!esc) continue;
        RT_TRY(rt_strbuf_append(b, s + run, i - run));
        RT_TRY(rt_strbuf_puts(b, esc));
        run = i + 1;
    }
    RT_TRY(rt_strbuf_append(b, s + run, len - run));
    return rt_strbuf_append(b, "\"", 1);
}

char *rt_strbuf_take(rt_strbuf *b) {
    char *p = b->data;
    if (!p) p = rt_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void rt_strbuf_free(rt_strbuf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
