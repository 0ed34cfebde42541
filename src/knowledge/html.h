/*
 * html.h — HTML to plain text for ingestion. Markup is stripped; script, style, noscript and
 * template contents are dropped; headings h1..h6 become Markdown-style "#" lines so the
 * recursive chunker can split on them; block elements become line breaks, list items "- ";
 * character references (named common ones, decimal, hex) are decoded; runs of spaces collapse.
 * A tolerant parser: malformed markup yields text, never an error (only allocation fails).
 */
#ifndef RT_KNOWLEDGE_HTML_H
#define RT_KNOWLEDGE_HTML_H

#include <stddef.h>

/* Extracts the text of html[0, len) into a malloc'd NUL-terminated buffer (*out, *out_len). */
int rt_html_to_text(const char *html, size_t len, char **out, size_t *out_len);

#endif
