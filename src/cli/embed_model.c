/*
 * embed_model.c — see embed_model.h. A stub until the model layer provides embeddings.
 */
#include "embed_model.h"

#include <stdio.h>
#include <string.h>

int cli_embedder_open(const char *model_path, rt_embedder *out) {
    memset(out, 0, sizeof *out);
    fprintf(stderr,
            "ragtune: %s: embedding with a model is not wired in yet "
            "(src/cli/embed_model.c); run without --embed-model for BM25-only search\n",
            model_path);
    return RT_ERR_UNSUPPORTED;
}

void cli_embedder_close(rt_embedder *e) {
    if (e) memset(e, 0, sizeof *e);
}
