/*
 * strbuf.h — the one growable byte buffer of ragtune (text builders, JSON writers, response
 * bodies). Always NUL-terminated after a successful append; on allocation failure the buffer
 * keeps its old contents and the call returns RT_ERR_NOMEM. Not for hot loops that must not
 * allocate (size it once there).
 */
#ifndef RT_CORE_STRBUF_H
#define RT_CORE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct rt_strbuf {
    char *data; /* NUL-terminated once anything was appended; NULL before */
    size_t len; /* bytes, without the NUL */
    size_t cap; /* bytes allocated */
} rt_strbuf;

/* Makes room for `extra` more bytes plus the NUL. */
int rt_strbuf_reserve(rt_strbuf *b, size_t extra);
int rt_strbuf_append(rt_strbuf *b, const void *data, size_t len);
int rt_strbuf_puts(rt_strbuf *b, const char *s);
int rt_strbuf_printf(rt_strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int rt_strbuf_vprintf(rt_strbuf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal (quotes included; control characters escaped). */
int rt_strbuf_json_string(rt_strbuf *b, const char *s, size_t len);
/* Hands the text to the caller (malloc'd, "" when empty; NULL on allocation failure) and
 * empties the buffer. */
char *rt_strbuf_take(rt_strbuf *b);
void rt_strbuf_free(rt_strbuf *b);

#endif
