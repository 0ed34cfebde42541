/*
 * schedule.c — warmup + constant / linear / cosine decay (transformers' formulas).
 */
#include "train/schedule.h"

#include <math.h>
#include <string.h>

double schedule_factor(schedule_kind kind, int64_t step, int64_t warmup, int64_t total) {
    if (step < warmup) return (double)step / (double)(warmup > 1 ? warmup : 1);
    int64_t span = total - warmup > 1 ? total - warmup : 1;
    double progress = (double)(step - warmup) / (double)span;
    switch (kind) {
    case SCHEDULE_LINEAR: {
        double f = (double)(total - step) / (double)span;
        return f > 0.0 ? f : 0.0;
    }
    case SCHEDULE_COSINE: {
        double f = 0.5 * (1.0 + cos(M_PI * 0.5 * 2.0 * progress));
        return f > 0.0 ? f : 0.0;
    }
    default:
        return 1.0;
    }
}

int schedule_parse(const char *name, schedule_kind *out) {
    if (!strcmp(name, "constant"))
        *out = SCHEDULE_CONSTANT;
    else if (!strcmp(name, "linear"))
        *out = SCHEDULE_LINEAR;
    else if (!strcmp(name, "cosine"))
        *out = SCHEDULE_COSINE;
    else
        return -1;
    return 0;
}
