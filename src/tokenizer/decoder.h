/*
 * decoder.h — the decoders of Hugging Face tokenizer.json files, which turn token strings
 * back into text: ByteLevel, Metaspace, WordPiece (with cleanup), Replace, ByteFallback, Fuse,
 * Strip, BPEDecoder and Sequence. The result is raw bytes (possibly invalid UTF-8 for a slice
 * of a byte-level sequence); callers repair or hold back incomplete sequences themselves.
 */
#ifndef RT_TOKENIZER_DECODER_H
#define RT_TOKENIZER_DECODER_H

#include "tokenizer/utf8.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct tk_decoder tk_decoder;

/* A list of token strings stored back to back in one buffer. */
typedef struct tk_strlist {
    rt_strbuf text;
    size_t *offs; /* (n + 1) start offsets; offs[n] == text.len */
    size_t n, cap;
} tk_strlist;
int tk_strlist_push(tk_strlist *l, const char *s, size_t len);
void tk_strlist_clear(tk_strlist *l);
void tk_strlist_free(tk_strlist *l);

/* null gives *out = NULL (tokens are joined with single spaces, as Hugging Face does). */
int tk_decoder_from_json(const json_t *j, const char *where, tk_decoder **out);
/* A WordPiece decoder ("##", cleanup) for vocab.txt tokenizers. */
int tk_decoder_wordpiece(tk_decoder **out);
/* Decodes tokens into out (appended). tokens is consumed (used as working memory). */
int tk_decode_tokens(const tk_decoder *d, tk_strlist *tokens, rt_strbuf *out);
void tk_decoder_free(tk_decoder *d);

#endif
