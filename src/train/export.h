/*
 * export.h — writing a trained model as a Hugging Face directory (config.json +
 * model.safetensors) for llama and qwen2, whose tensor names ragtune's trainer already uses.
 * A stopgap: model/hf.h declares rt_hf_write (all architectures), which this delegates to once
 * the model layer implements it.
 */
#ifndef RT_TRAIN_EXPORT_H
#define RT_TRAIN_EXPORT_H

#include "train/tmodel.h"

/* Writes dir/config.json and dir/model.safetensors (f32) for m. Creates dir. */
int tmodel_save_hf(const tmodel *m, const char *dir);

#endif
