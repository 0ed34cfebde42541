/*
 * tokenizer.h — the rt_tokenizer object shared by the tokenizer layer's modules: the model
 * (BPE or WordPiece), normalizer, pre-tokenizer, decoder, added tokens, post-processor and
 * special ids. loader.c fills it from files; tokenizer.c runs the encode/decode pipeline:
 *   text -> split on added tokens -> normalize -> pre-tokenize -> model -> post-process.
 */
#ifndef RT_TOKENIZER_TOKENIZER_H
#define RT_TOKENIZER_TOKENIZER_H

#include "ragtune.h"
#include "tokenizer/bpe.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wordpiece.h"

typedef struct tk_added {
    int32_t id;
    char *content;
    size_t len;
    bool special, normalized, lstrip, rstrip, single_word;
} tk_added;

struct rt_tokenizer {
    rt_tokenizer_type type;
    tk_vocab vocab; /* model vocabulary; added tokens also mapped here (id -> string) */
    tk_bpe bpe;
    tk_wordpiece wp;
    tk_normalizer *normalizer;
    tk_pretok *pretok;
    tk_decoder *decoder;
    /* Added tokens, matched leftmost-longest before normalization (normalized == false) or
     * after it (normalized == true). */
    tk_added *added;
    size_t n_added, cap_added;
    tk_vocab added_map[2]; /* [normalized] content -> index into added */
    uint8_t added_first[2][256];
    uint32_t added_lens[2][64]; /* distinct lengths, longest first */
    size_t n_added_lens[2];
    uint8_t *is_special; /* (n_vocab) */
    /* Post-processor for a single sequence. */
    int32_t *post_prefix, *post_suffix;
    size_t n_post_prefix, n_post_suffix;
    /* Post-processor for a pair: items in order, each a special id (>= 0) or the first (-1) /
     * second (-2) sequence, with its token type id. n_post_pair 0: no pair template. */
    int32_t *post_pair;
    uint8_t *post_pair_type;
    size_t n_post_pair;
    int32_t special_ids[5]; /* rt_special_token -> id or -1 */
    rt_chat_template chat_template;
    char *chat_template_source;
};

/* Finishes a loaded tokenizer: special-token table, added-token index, BPE tables. */
int tk_tokenizer_finish(rt_tokenizer *tok);
/* Registers an added token (replacing the vocabulary entry of its id). */
int tk_tokenizer_add_token(rt_tokenizer *tok, int32_t id, const char *content, size_t len,
                           bool special, bool normalized, bool lstrip, bool rstrip,
                           bool single_word);
/* Reads bos/eos/pad/unk names and the chat template from a tokenizer_config.json. Missing
 * file is fine. */
int tk_tokenizer_read_config(rt_tokenizer *tok, const char *path);
/* Loads the tokenizer.ggml.* metadata of a GGUF file (gguf_vocab.c). */
int tk_tokenizer_load_gguf(const char *path, rt_tokenizer **out);
/* An empty tokenizer of the given type. */
int tk_tokenizer_new(rt_tokenizer_type type, rt_tokenizer **out);

#endif
