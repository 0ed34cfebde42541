/*
 * normalizer.h — the normalizers of Hugging Face tokenizer.json files, through utf8proc:
 * NFC, NFD, NFKC, NFKD, Lowercase (Rust's str::to_lowercase, including final sigma and
 * U+0130), BertNormalizer (clean text, CJK spacing, accent stripping, lowercase), StripAccents,
 * Strip, Prepend, Replace (literal or PCRE2 pattern) and Sequence. Offsets are not tracked
 * (ragtune does not need alignments). Unknown types (Precompiled, Nmt, ...) are rejected with
 * RT_ERR_UNSUPPORTED at load. Also the character classes the pre-tokenizers share.
 */
#ifndef RT_TOKENIZER_NORMALIZER_H
#define RT_TOKENIZER_NORMALIZER_H

#include "tokenizer/utf8.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct tk_normalizer tk_normalizer;

/* Builds a normalizer from its tokenizer.json object (NULL/null gives *out = NULL, meaning
 * none). `where` names the file for error messages. */
int tk_normalizer_from_json(const json_t *j, const char *where, tk_normalizer **out);
/* A BertNormalizer with the given flags (strip_accents: -1 = follow lowercase). */
int tk_normalizer_bert(bool clean_text, bool chinese, int strip_accents, bool lowercase,
                       tk_normalizer **out);
/* Normalizes s[0..len) (valid UTF-8) into out (cleared first). */
int tk_normalize(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out);
/* The same with a caller-owned temporary buffer (kept between calls to avoid allocations). */
int tk_normalize_with(const tk_normalizer *n, const char *s, size_t len, rt_strbuf *out,
                      rt_strbuf *tmp);
void tk_normalizer_free(tk_normalizer *n);

/* Character classes as Rust's char methods define them. */
bool tk_is_whitespace(int32_t cp);  /* White_Space property (char::is_whitespace) */
bool tk_is_punctuation(int32_t cp); /* ASCII punctuation or a P* category */
bool tk_is_cjk(int32_t cp);         /* the CJK ranges BERT puts spaces around */
bool tk_is_control(int32_t cp);     /* C* categories except \t \n \r (BERT's is_control) */

#endif
