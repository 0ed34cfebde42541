/*
 * ingest.h — turning sources into documents: format detection by extension, UTF-8 clean-up,
 * JSONL records ({"id","text","metadata"}), and the one-transaction-per-document write (the
 * public rt_collection_ingest_* functions are defined in ingest.c).
 */
#ifndef RT_KNOWLEDGE_INGEST_H
#define RT_KNOWLEDGE_INGEST_H

#include "ragtune.h"

#include <stddef.h>

typedef enum rt_doc_format {
    RT_FORMAT_UNKNOWN = 0,
    RT_FORMAT_TXT,
    RT_FORMAT_MD,
    RT_FORMAT_HTML,
    RT_FORMAT_JSONL,
} rt_doc_format;

/* Format from a file name's extension (.txt .text .md .markdown .html .htm .jsonl). */
rt_doc_format rt_format_from_path(const char *path);
/* Format from a name ("txt", "md", "html", "jsonl"). */
rt_doc_format rt_format_from_name(const char *name);

/* Copies text into a malloc'd NUL-terminated buffer with invalid UTF-8 sequences replaced by
 * U+FFFD and NUL bytes dropped. */
int rt_utf8_sanitize(const char *text, size_t len, char **out, size_t *out_len);

/* One parsed JSONL record; strings are malloc'd (free with rt_jsonl_record_free). */
typedef struct rt_jsonl_record {
    char *id; /* NULL when the record has none */
    char *text;
    size_t len;
    char *metadata; /* compact JSON object or NULL */
} rt_jsonl_record;

/* Parses one line. name and line_no go into error messages ("file:12: ..."). A blank line
 * gives RT_ERR_NOT_FOUND (skip it). */
int rt_jsonl_parse_line(const char *line, size_t len, const char *name, size_t line_no,
                        rt_jsonl_record *out);
void rt_jsonl_record_free(rt_jsonl_record *r);

#endif
