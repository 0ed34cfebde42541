/*
 * fuzz_adapter_config.c — libFuzzer target: PEFT adapter_config.json parsing
 * (adapter_config_parse) on arbitrary bytes; an accepted config must give options tmodel_new
 * accepts (rank 1..4096, dropout in [0, 1), a nonempty subset of the LoRA targets).
 */
#include "train/adapter.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tm_options o;
    if (adapter_config_parse((const char *)data, size, "fuzz/adapter_config.json", &o) != 0)
        return 0;
    if (o.lora_rank < 1 || o.lora_rank > 4096 || !(o.lora_dropout >= 0.0f) ||
        !(o.lora_dropout < 1.0f) || !o.lora_targets || (o.lora_targets & ~(unsigned)RT_LORA_ALL))
        abort(); /* accepted what training would reject: a bug */
    return 0;
}
