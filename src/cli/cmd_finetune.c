/*
 * cmd_finetune.c — `ragtune finetune --model PATH --lora ...`: LoRA (or full) fine-tuning of an
 * existing model; the options are those of `ragtune train` (cmd_train.c).
 */
#include "cli.h"
#include "train_opts.h"

int cmd_finetune(int argc, char **argv) {
    return cli_train_main("finetune", argc, argv, true);
}
