/*
 * schedule.h — learning-rate schedules with linear warmup, with the formulas of transformers'
 * get_constant_schedule_with_warmup, get_linear_schedule_with_warmup and
 * get_cosine_schedule_with_warmup (num_cycles 0.5). `step` is the number of optimizer steps
 * already taken (0 for the first update), as torch's LambdaLR counts.
 */
#ifndef RT_TRAIN_SCHEDULE_H
#define RT_TRAIN_SCHEDULE_H

#include <stdint.h>

typedef enum schedule_kind {
    SCHEDULE_CONSTANT = 0,
    SCHEDULE_LINEAR = 1,
    SCHEDULE_COSINE = 2,
} schedule_kind;

/* The multiplier of the base learning rate at step (in [0, 1]). */
double schedule_factor(schedule_kind kind, int64_t step, int64_t warmup, int64_t total);
/* "constant", "linear", "cosine" -> kind; returns 0 or -1 for an unknown name. */
int schedule_parse(const char *name, schedule_kind *out);

#endif
