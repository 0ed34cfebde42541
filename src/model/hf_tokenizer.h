/*
 * hf_tokenizer.h — a Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) as the
 * tokenizer.ggml.* metadata llama.cpp's convert_hf_to_gguf writes, so a GGUF made by
 * `ragtune convert` carries its tokenizer:
 *   byte-level BPE   -> model "gpt2", pre "llama-bpe" / "qwen2" / "gpt-2" / "default", merges
 *   BPE with byte fallback (SentencePiece) -> model "llama", scores ranking the merges
 *   WordPiece        -> model "bert", tokens in llama.cpp's "▁word" / bare-continuation form
 * plus token types, special token ids, add_bos/add_eos and the chat template. The vocabulary is
 * padded with "[PAD<i>]" (type unused) up to the model's n_vocab, as llama.cpp does.
 *
 * This module only translates metadata; tokenizing text is src/tokenizer's job.
 */
#ifndef RT_MODEL_HF_TOKENIZER_H
#define RT_MODEL_HF_TOKENIZER_H

#include "model/gguf.h"

typedef struct rt_hf_gguf_tokenizer {
    rt_gguf_kv *kvs; /* point into the storage below */
    size_t n_kvs;
    void *storage; /* private */
} rt_hf_gguf_tokenizer;

/* Reads dir/tokenizer.json (and tokenizer_config.json when present). n_vocab is the model's
 * vocabulary size (the token list is padded to it). RT_ERR_NOT_FOUND when there is no
 * tokenizer.json; RT_ERR_UNSUPPORTED for tokenizer models other than BPE and WordPiece. */
int rt_hf_gguf_tokenizer_load(const char *dir, int n_vocab, rt_hf_gguf_tokenizer *out);
/* The same from JSON text in memory (cfg_json may be NULL); `what` names it in errors. */
int rt_hf_gguf_tokenizer_parse(const char *tok_json, size_t tok_len, const char *cfg_json,
                               size_t cfg_len, int n_vocab, const char *what,
                               rt_hf_gguf_tokenizer *out);
void rt_hf_gguf_tokenizer_free(rt_hf_gguf_tokenizer *t);

#endif
