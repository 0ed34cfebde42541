/*
 * gguf_vocab.c — tokenizers stored in GGUF metadata (tokenizer.ggml.model, .tokens, .scores,
 * .token_type, .merges, special ids, .chat_template), as llama.cpp writes them.
 */
#include "tokenizer/tokenizer.h"

#include "core/error.h"

int tk_tokenizer_load_gguf(const char *path, rt_tokenizer **out) {
    *out = NULL;
    return rt_error(RT_ERR_UNSUPPORTED, "%s: reading tokenizers from GGUF is not available yet",
                    path);
}
