/*
 * pretokenizer.h — the pre-tokenizers of Hugging Face tokenizer.json files: they cut a
 * normalized string into words that the model encodes one by one. Supported: Split (literal
 * or regex, all five delimiter behaviours, invert), ByteLevel (GPT-2 regex, prefix space),
 * Metaspace (replacement, prepend scheme, split), BertPreTokenizer, Whitespace,
 * WhitespaceSplit, Punctuation, Digits and Sequence. Regexes run through PCRE2 with its JIT
 * (UTF + UCP mode, which matches \p{L}, \p{N}, \s and lookahead as the Rust library's Oniguruma
 * does). Words are delivered through a callback, so nothing is materialised per word.
 * Not here: the byte-to-unicode mapping itself (done inside the BPE model).
 */
#ifndef RT_TOKENIZER_PRETOKENIZER_H
#define RT_TOKENIZER_PRETOKENIZER_H

#include "tokenizer/utf8.h"

#include <jansson.h>
#include <stdbool.h>

typedef struct tk_pretok tk_pretok;
typedef struct tk_pretok_scratch tk_pretok_scratch;

/* Receives one word; returns RT_OK or an error (which stops the walk). */
typedef int (*tk_word_fn)(const char *word, size_t len, void *user);

/* Builds a pre-tokenizer from its tokenizer.json object (null gives *out = NULL: the whole
 * input is one word). */
int tk_pretok_from_json(const json_t *j, const char *where, tk_pretok **out);
/* A BertPreTokenizer (for vocab.txt tokenizers). */
int tk_pretok_bert(tk_pretok **out);
/* True if the pre-tokenizer (or one inside a Sequence) is ByteLevel. */
bool tk_pretok_is_byte_level(const tk_pretok *p);

/* Scratch memory for one thread's calls (created lazily; free with tk_pretok_scratch_free). */
tk_pretok_scratch *tk_pretok_scratch_new(void);
void tk_pretok_scratch_free(tk_pretok_scratch *s);

/* Splits s[0..len) into words. at_start: s begins the input text (Metaspace "first"). */
int tk_pretokenize(const tk_pretok *p, tk_pretok_scratch *scratch, const char *s, size_t len,
                   bool at_start, tk_word_fn fn, void *user);
void tk_pretok_free(tk_pretok *p);

/* Compiles a Hugging Face (Oniguruma) pattern with PCRE2 in UTF+UCP mode and JIT, rewriting
 * \s and \S to Oniguruma's set (the White_Space property). *out_code is a pcre2_code *. */
int tk_regex_compile(const char *pattern, size_t len, const char *where, void **out_code);

#endif
