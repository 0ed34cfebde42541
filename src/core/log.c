/*
 * log.c — log sink, progress sink and their defaults (stderr).
 */
#include "core/log.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static rt_log_callback log_callback;
static void *log_user;
static rt_log_level log_level = RT_LOG_INFO;

void rt_log_set(rt_log_callback callback, void *user) {
    log_callback = callback;
    log_user = user;
}

void rt_log_set_level(rt_log_level level) {
    log_level = level;
}

static const char *level_name(rt_log_level level) {
    switch (level) {
    case RT_LOG_DEBUG:
        return "debug";
    case RT_LOG_INFO:
        return "info";
    case RT_LOG_WARN:
        return "warning";
    default:
        return "error";
    }
}

void rt_log(rt_log_level level, const char *fmt, ...) {
    if (level < log_level) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (log_callback) {
        log_callback(level, line, log_user);
        return;
    }
    fputs("ragtune: ", stderr);
    if (level != RT_LOG_INFO) {
        fputs(level_name(level), stderr);
        fputs(": ", stderr);
    }
    fputs(line, stderr);
    fputc('\n', stderr);
}

double rt_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *buf, size_t n) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

/* The default sink: a redrawn bar on a terminal, plain lines otherwise. */
static void default_progress(const rt_progress_info *info) {
    static int tty = -1;
    if (tty < 0) tty = isatty(STDERR_FILENO);
    char eta[32], elapsed[32], line[512];
    format_duration(info->eta, eta, sizeof eta);
    format_duration(info->elapsed, elapsed, sizeof elapsed);
    if (tty) {
        char bar[32];
        int width = 24, fill = 0;
        if (info->total) fill = (int)((double)info->done / (double)info->total * width + 0.5);
        if (fill > width) fill = width;
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : (info->total ? '.' : ' ');
        bar[width] = '\0';
        if (info->total)
            snprintf(line, sizeof line, "\r%s [%s] %llu/%llu %s %.1f %s/s ETA %s %s\x1b[K",
                     info->task, bar, (unsigned long long)info->done,
                     (unsigned long long)info->total, info->unit, info->rate, info->unit,
                     info->final ? elapsed : eta, info->detail ? info->detail : "");
        else
            snprintf(line, sizeof line, "\r%s %llu %s %.1f %s/s %s %s\x1b[K", info->task,
                     (unsigned long long)info->done, info->unit, info->rate, info->unit, elapsed,
                     info->detail ? info->detail : "");
        fputs(line, stderr);
        if (info->final) fputc('\n', stderr);
    } else {
        if (info->total)
            snprintf(line, sizeof line, "%s: %llu/%llu %s (%.0f%%), %.1f %s/s, %s %s%s%s\n",
                     info->task, (unsigned long long)info->done, (unsigned long long)info->total,
                     info->unit, 100.0 * (double)info->done / (double)info->total, info->rate,
                     info->unit, info->final ? "took" : "ETA", info->final ? elapsed : eta,
                     info->detail ? ", " : "", info->detail ? info->detail : "");
        else
            snprintf(line, sizeof line, "%s: %llu %s, %.1f %s/s, %s%s%s\n", info->task,
                     (unsigned long long)info->done, info->unit, info->rate, info->unit, elapsed,
                     info->detail ? ", " : "", info->detail ? info->detail : "");
        fputs(line, stderr);
    }
    fflush(stderr);
}

static void emit(rt_progress *p, const char *detail, bool final,
                 const rt_train_step_info *train_step) {
    double now = rt_time_now();
    double elapsed = now - p->start;
    rt_progress_info info = {
        .task = p->task,
        .unit = p->unit,
        .done = p->done,
        .total = p->total,
        .rate = elapsed > 0 && p->done >= p->first ? (double)(p->done - p->first) / elapsed : 0.0,
        .eta = -1.0,
        .elapsed = elapsed,
        .detail = detail,
        .final = final,
        .train_step = train_step,
    };
    if (p->total && p->done > p->first && p->done <= p->total)
        info.eta = elapsed / (double)(p->done - p->first) * (double)(p->total - p->done);
    p->last_report = now;
    if (p->callbacks && p->callbacks->progress)
        p->callbacks->progress(&info, p->callbacks->progress_user);
    else
        default_progress(&info);
}

void rt_progress_begin(rt_progress *p, const char *task, const char *unit, uint64_t total) {
    rt_progress_begin_with(p, NULL, task, unit, total);
}

void rt_progress_begin_with(rt_progress *p, const rt_run_callbacks *callbacks, const char *task,
                            const char *unit, uint64_t total) {
    memset(p, 0, sizeof *p);
    p->callbacks = callbacks;
    p->task = task;
    p->unit = unit;
    p->total = total;
    p->start = rt_time_now();
    p->last_report = 0;
}

void rt_progress_update(rt_progress *p, uint64_t done, const char *detail) {
    static int tty = -1;
    if (tty < 0) tty = isatty(STDERR_FILENO);
    p->done = done;
    bool callback = p->callbacks && p->callbacks->progress;
    double interval = callback ? 0.5 : (tty ? 0.2 : 5.0);
    if (rt_time_now() - p->last_report >= interval) emit(p, detail, false, NULL);
}

void rt_progress_train_step(rt_progress *p, uint64_t done, const char *detail,
                            const rt_train_step_info *step) {
    if (p->callbacks && p->callbacks->progress) {
        p->done = done;
        emit(p, detail, false, step);
    } else {
        rt_progress_update(p, done, detail);
    }
}

void rt_progress_end(rt_progress *p, const char *detail) {
    emit(p, detail, true, NULL);
}

int rt_progress_check_cancel(const rt_progress *p) {
    const rt_run_callbacks *cb = p->callbacks;
    if (cb && cb->should_cancel && cb->should_cancel(cb->cancel_user))
        return rt_error(RT_ERR_CANCELLED, "%s: cancelled at %llu %s", p->task,
                        (unsigned long long)p->done, p->unit);
    return RT_OK;
}
