/*
 * embed_model.c — see embed_model.h: the library's model embedder behind --embed-model.
 */
#include "embed_model.h"

int cli_embedder_open(const char *model_path, rt_embedder *out) {
    return rt_embedder_open_model(model_path, 0, out);
}

void cli_embedder_close(rt_embedder *e) {
    rt_embedder_close_model(e);
}
