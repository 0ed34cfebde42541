/*
 * words.h — Unicode word splitting (utf8proc) shared by BM25, the chunkers and the default
 * token counter. A word is a maximal run of letters, combining marks and digits (Unicode
 * categories L*, M*, N*); everything else separates words. Invalid UTF-8 bytes separate words.
 * Folding is per code point lower-casing (utf8proc_tolower); no normalization form is applied.
 */
#ifndef RT_KNOWLEDGE_WORDS_H
#define RT_KNOWLEDGE_WORDS_H

#include <stddef.h>

/* Called for each word with its byte range [start, end) in text; a non-zero return stops the
 * walk and is returned by rt_words_split. */
typedef int (*rt_word_fn)(void *user, size_t start, size_t end);

/* Walks the words of text[0, len). Returns 0 or the first non-zero callback value. */
int rt_words_split(const char *text, size_t len, rt_word_fn fn, void *user);

/* Lower-cases word[0, len) into buf (capacity cap, NUL-terminated); returns the folded length,
 * or 0 if it does not fit. */
size_t rt_word_fold(const char *word, size_t len, char *buf, size_t cap);

/* The default token count: words plus other non-space characters (punctuation, symbols), each
 * counted as one token. An approximation of a subword tokenizer's count until a real tokenizer
 * is given through rt_chunker_params.count_tokens. Matches rt_token_count_fn. */
size_t rt_words_count_tokens(void *user, const char *text, size_t len);

#endif
