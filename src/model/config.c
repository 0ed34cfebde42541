/*
 * config.c — architecture names.
 */
#include "model/config.h"

#include <string.h>

const char *rt_arch_name(rt_arch arch) {
    switch (arch) {
    case RT_ARCH_LLAMA:
        return "llama";
    case RT_ARCH_QWEN2:
        return "qwen2";
    case RT_ARCH_GPT2:
        return "gpt2";
    case RT_ARCH_BERT:
        return "bert";
    default:
        return "unknown";
    }
}

rt_arch rt_arch_from_name(const char *name) {
    if (!name) return RT_ARCH_UNKNOWN;
    if (!strcmp(name, "llama") || !strcmp(name, "mistral")) return RT_ARCH_LLAMA;
    if (!strcmp(name, "qwen2")) return RT_ARCH_QWEN2;
    if (!strcmp(name, "gpt2")) return RT_ARCH_GPT2;
    if (!strcmp(name, "bert")) return RT_ARCH_BERT;
    return RT_ARCH_UNKNOWN;
}
