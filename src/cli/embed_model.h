/*
 * embed_model.h — the hook behind `--embed-model PATH` of `ragtune ingest` and `ragtune search`:
 * it turns a model file (GGUF or Hugging Face directory of an encoder such as BERT, or a decoder
 * used with mean pooling) into an rt_embedder. The knowledge layer only sees rt_embedder.
 *
 * It wraps rt_embedder_open_model() of the library (model + its tokenizer, pooled and
 * L2-normalized).
 */
#ifndef RT_CLI_EMBED_MODEL_H
#define RT_CLI_EMBED_MODEL_H

#include "ragtune.h"

/* Fills *out (name = the model path, dim, embed callback, user state). */
int cli_embedder_open(const char *model_path, rt_embedder *out);
/* Releases what cli_embedder_open allocated. */
void cli_embedder_close(rt_embedder *e);

#endif
