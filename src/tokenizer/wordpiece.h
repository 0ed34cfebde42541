/*
 * wordpiece.h — the WordPiece model (BERT): each word is cut greedily into the longest
 * vocabulary pieces from the left, continuation pieces carrying a prefix ("##"); a word with
 * more than max_chars characters, or with a part no piece matches, becomes the unknown token.
 * Not here: BERT's normalizer and pre-tokenizer (normalizer.h, pretokenizer.h).
 */
#ifndef RT_TOKENIZER_WORDPIECE_H
#define RT_TOKENIZER_WORDPIECE_H

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

typedef struct tk_wordpiece {
    int32_t unk_id;
    char prefix[16]; /* continuing_subword_prefix */
    size_t prefix_len;
    size_t max_chars; /* max_input_chars_per_word */
} tk_wordpiece;

/* Appends the ids of word[0..len) to out; scratch is working memory. */
int tk_wordpiece_encode_word(const tk_wordpiece *wp, const tk_vocab *vocab, rt_strbuf *scratch,
                             const char *word, size_t len, tk_ids *out);

#endif
