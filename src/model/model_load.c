/*
 * model_load.c — rt_model_load: opens a model file (model_file.c: GGUF or Hugging Face) and
 * builds an rt_model over its weights. The model owns the file and closes it when freed.
 */
#include "core/error.h"
#include "model/model.h"
#include "model/model_file.h"

static void close_model_file(void *file) {
    rt_model_file_close(file);
}

int rt_model_load(const char *path, const rt_model_params *params, rt_model **out) {
    *out = NULL;
    if (!path) return rt_error(RT_ERR_INVALID, "model: no path");
    rt_model_file *file = NULL;
    RT_TRY(rt_model_file_open(path, &file));
    int st = rt_model_from_weights(rt_model_file_config(file), rt_model_file_weights(file), params,
                                   file, close_model_file, out);
    if (st < 0) {
        rt_error_wrap("%s", path);
        rt_model_file_close(file);
    }
    return st;
}
