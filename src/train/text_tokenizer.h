/*
 * text_tokenizer.h — the trainer's view of a tokenizer (rt_text_tokenizer, declared in
 * ragtune.h) made from a real rt_tokenizer: encode without special tokens (the dataset adds
 * bos/eos itself), chats rendered with the tokenizer's chat template; and copying a
 * tokenizer's files next to a trained model so the model can be used with text right away.
 */
#ifndef RT_TRAIN_TEXT_TOKENIZER_H
#define RT_TRAIN_TEXT_TOKENIZER_H

#include "ragtune.h"

/* Copies the tokenizer files found at src (a tokenizer.json / vocab.txt file, or a model
 * directory: tokenizer.json, tokenizer_config.json, special_tokens_map.json, vocab.txt) into
 * dir. A GGUF source's vocabulary travels in its tokenizer.* metadata: those keys are written to
 * dir/tokenizer.gguf (metadata only), which rt_tokenizer_load finds in a directory. */
int rt_tokenizer_copy_files(const char *src, const char *dir);

#endif
