/*
 * generate.h — the generation loop behind rt_generate (declared in ragtune.h): prefix reuse,
 * batched prefill, token-by-token decode with sampling, stop tokens, stop strings (text held
 * back while it may still become a stop string) and a streaming callback.
 * This header exposes the stop-string matcher for tests.
 */
#ifndef RT_MODEL_GENERATE_H
#define RT_MODEL_GENERATE_H

#include "ragtune.h"

/* Streaming text with stop strings. Text is appended piece by piece; what can no longer be the
 * start of a stop string is released. */
typedef struct rt_stop_matcher {
    const char *const *stops;
    int n_stops;
    size_t max_stop_len;
    char *pending; /* held-back text */
    size_t n_pending, cap_pending;
} rt_stop_matcher;

int rt_stop_matcher_init(rt_stop_matcher *m, const char *const *stops, int n_stops);
void rt_stop_matcher_free(rt_stop_matcher *m);
/* Appends piece (len bytes). *released / *n_released: text now final (points into the
 * matcher; valid until the next call). Returns 1 when a stop string was found (the released
 * text ends just before it), 0 otherwise, negative on allocation failure. */
int rt_stop_matcher_push(rt_stop_matcher *m, const char *piece, size_t len, const char **released,
                         size_t *n_released);

#endif
