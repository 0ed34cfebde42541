/*
 * train_opts.h — the option parser shared by `ragtune train` and `ragtune finetune`.
 */
#ifndef RT_CLI_TRAIN_OPTS_H
#define RT_CLI_TRAIN_OPTS_H

#include <stdbool.h>

/* Parses argv into rt_train_params and runs the trainer. finetune: --model is required and
 * --lora selects LoRA. Returns the process exit code. */
int cli_train_main(const char *cmd, int argc, char **argv, bool finetune);

#endif
