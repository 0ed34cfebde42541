/*
 * sentences.h — splits text into sentences (for groundedness scores, citation quotes and the
 * answer's per-sentence record). A rule-based splitter, not a trained one: good enough for
 * model answers and dictionary-style passages, wrong on some abbreviations ("e.g. Foo"). Unlike
 * the chunkers' rt_split_sentences it keeps a citation marker after the full stop ("... end.
 * [2]") with its sentence, and ends a sentence at every line break (answers use lists).
 */
#ifndef RT_RAG_SENTENCES_H
#define RT_RAG_SENTENCES_H

#include "knowledge/chunker.h" /* rt_span */

#include <stddef.h>

/* Sentences of text[0, len): a sentence ends after '.', '!' or '?' (with any closing quotes,
 * brackets and citation markers such as "[1]" that follow) when whitespace and then something
 * other than a lower-case ASCII letter follows, or at a line break, or at the end. Spans are
 * trimmed of surrounding whitespace; empty ones are dropped. *spans is malloc'd (NULL when
 * *n == 0); the caller frees it. Returns RT_OK or RT_ERR_NOMEM. */
int rt_sentences_split(const char *text, size_t len, rt_span **spans, size_t *n);

/* Length of a citation marker "[n]", "[n, m]", "[n; m]" (1 to 3 digits each, spaces allowed)
 * starting at text[0], or 0 when text does not start with one. */
size_t rt_marker_len(const char *text, size_t len);

#endif
