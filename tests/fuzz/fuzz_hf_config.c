/*
 * fuzz_hf_config.c — libFuzzer target: config.json parsing (rt_hf_config_parse) on arbitrary
 * bytes; accepted configs must also pass rt_model_config_check.
 */
#include "model/hf.h"
#include "model/model_file.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rt_model_config c;
    if (rt_hf_config_parse((const char *)data, size, "fuzz/config.json", &c) == 0 &&
        rt_model_config_check(&c, "fuzz") != 0)
        abort(); /* parse accepted what check rejects: a bug */
    return 0;
}
