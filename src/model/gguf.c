/*
 * gguf.c — see gguf.h. (Milestone 1 placeholder: the reader and writer follow.)
 */
#include "model/gguf.h"
#include "core/error.h"

int rt_gguf_open(const char *path, rt_gguf **out) {
    *out = NULL;
    return rt_error(RT_ERR_UNSUPPORTED, "%s: GGUF reading is not implemented yet", path);
}

void rt_gguf_close(rt_gguf *g) { (void)g; }

int rt_gguf_model_config(const rt_gguf *g, rt_model_config *cfg) {
    (void)g;
    (void)cfg;
    return rt_error(RT_ERR_UNSUPPORTED, "GGUF is not implemented yet");
}

int rt_gguf_model_weights(const rt_gguf *g, const rt_model_config *cfg, rt_model_weights *w) {
    (void)g;
    (void)cfg;
    (void)w;
    return rt_error(RT_ERR_UNSUPPORTED, "GGUF is not implemented yet");
}
