/*
 * bpe.h — the BPE model of Hugging Face tokenizers: a word (one pre-token) is split into
 * initial symbols and adjacent pairs are merged by rank (lowest first, leftmost on ties) until
 * no pair of the merge table remains. Two flavours of initial symbols:
 *   - byte-level (GPT-2, Llama-3, Qwen): one symbol per byte, written in the GPT-2 byte alphabet;
 *   - character-level (SentencePiece-style Llama-2 / Mistral files): one symbol per character,
 *     with <0xXX> byte tokens for characters missing from the vocabulary (byte_fallback), else
 *     the unknown token (consecutive unknowns fused when fuse_unk).
 * ignore_merges emits a word that is itself a vocabulary token as that token. Words up to 256
 * bytes are cached. Not here: pre-tokenization, normalization, added tokens (tokenizer.c).
 */
#ifndef RT_TOKENIZER_BPE_H
#define RT_TOKENIZER_BPE_H

#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

#include <pthread.h>
#include <stdbool.h>

typedef struct tk_merge {
    uint64_t key;   /* (left id << 32) | right id; UINT64_MAX when the slot is empty */
    uint32_t rank;  /* position in the merges list */
    int32_t merged; /* id of the merged token */
} tk_merge;

typedef struct tk_bpe_cache_entry {
    uint64_t hash;
    uint32_t word_off, word_len; /* into word_arena */
    uint32_t ids_off, n_ids;     /* into ids_arena */
} tk_bpe_cache_entry;

typedef struct tk_bpe {
    tk_merge *merges; /* (mask + 1) */
    size_t mask;
    size_t n_merges;
    bool byte_level;
    bool byte_fallback;
    bool fuse_unk;
    bool ignore_merges;
    int32_t unk_id;        /* -1 when none */
    int32_t byte_ids[256]; /* byte-level: id of the byte's character; fallback: id of <0xXX> */
    char *cont_prefix;     /* continuing_subword_prefix, "" when none */
    size_t cont_prefix_len;
    /* Word cache (direct-mapped; cleared when its arenas fill). */
    pthread_mutex_t cache_lock;
    tk_bpe_cache_entry *cache; /* (cache_mask + 1) */
    size_t cache_mask;
    char *word_arena;
    size_t word_arena_len, word_arena_cap;
    int32_t *ids_arena;
    size_t ids_arena_len, ids_arena_cap;
} tk_bpe;

/* Per-call working memory, reused across words. */
typedef struct tk_bpe_scratch {
    int32_t *sym, *prev, *next;
    uint32_t *rank;
    int32_t *merged;
    size_t cap;
    uint64_t *heap;
    size_t heap_len, heap_cap;
    rt_strbuf str;
} tk_bpe_scratch;

/* Prepares an empty model (no merges). */
int tk_bpe_init(tk_bpe *bpe);
/* Adds merge (left, right) -> merged with the given rank; a later duplicate pair overrides. */
int tk_bpe_add_merge(tk_bpe *bpe, int32_t left, int32_t right, int32_t merged, uint32_t rank);
/* Looks up the initial symbol ids (byte alphabet or <0xXX> tokens) in vocab. */
int tk_bpe_finish(tk_bpe *bpe, const tk_vocab *vocab);
/* Appends the ids of word[0..len) to out. use_cache: the caller holds cache_lock. */
int tk_bpe_encode_word(tk_bpe *bpe, const tk_vocab *vocab, tk_bpe_scratch *scratch,
                       const char *word, size_t len, bool use_cache, tk_ids *out);
/* The merge (rank and merged id) of a pair, or NULL. */
const tk_merge *tk_bpe_find_merge(const tk_bpe *bpe, int32_t left, int32_t right);
void tk_bpe_scratch_free(tk_bpe_scratch *s);
void tk_bpe_free(tk_bpe *bpe);

#endif
