/*
 * log.h — logging and progress reporting for library code. Lines go to the sink set by
 * rt_log_set() (stderr by default). Progress of long work goes through rt_progress_*: a bar with
 * rate and ETA on a terminal, plain lines in logs. Nothing here writes to stdout.
 */
#ifndef RT_CORE_LOG_H
#define RT_CORE_LOG_H

#include "ragtune.h"

void rt_log(rt_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define rt_log_debug(...) rt_log(RT_LOG_DEBUG, __VA_ARGS__)
#define rt_log_info(...) rt_log(RT_LOG_INFO, __VA_ARGS__)
#define rt_log_warn(...) rt_log(RT_LOG_WARN, __VA_ARGS__)
#define rt_log_error(...) rt_log(RT_LOG_ERROR, __VA_ARGS__)

/* Seconds on a monotonic clock. */
double rt_time_now(void);

/* A progress tracker for one task. Usage:
 *     rt_progress p; rt_progress_begin(&p, "ingest", "docs", n_docs);
 *     for (...) { ...; rt_progress_update(&p, i + 1, NULL); }
 *     rt_progress_end(&p, NULL);
 * Updates are rate-limited (a few per second on a terminal, one per 5 s otherwise), so calling
 * rt_progress_update in a loop is cheap. */
typedef struct rt_progress {
    const rt_run_callbacks *callbacks; /* the call's sink and cancel check; NULL: default bar */
    const char *task;
    const char *unit;
    uint64_t total;
    uint64_t done;
    uint64_t first; /* done when the work (re)started: rates count from here (resume) */
    double start;
    double last_report;
} rt_progress;

void rt_progress_begin(rt_progress *p, const char *task, const char *unit, uint64_t total);
/* The same, reporting to the call's callbacks (NULL or a NULL progress: the default bar). */
void rt_progress_begin_with(rt_progress *p, const rt_run_callbacks *callbacks, const char *task,
                            const char *unit, uint64_t total);
/* RT_ERR_CANCELLED (message naming the task) when the call's should_cancel returns true. */
int rt_progress_check_cancel(const rt_progress *p);
void rt_progress_update(rt_progress *p, uint64_t done, const char *detail);
/* A training step done: to the call's progress callback every time (with info.train_step),
 * otherwise as rt_progress_update. */
void rt_progress_train_step(rt_progress *p, uint64_t done, const char *detail,
                            const rt_train_step_info *step);
void rt_progress_end(rt_progress *p, const char *detail);

#endif
