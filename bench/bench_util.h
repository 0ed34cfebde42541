/*
 * bench_util.h — small helpers shared by the benchmark programs (header-only: each bench_*.c
 * is its own executable; the C++ peers include it too).
 */
#ifndef RT_BENCH_UTIL_H
#define RT_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Process CPU time in seconds (the benches time one thread; on a shared machine this does not
 * count time spent waiting for a core). */
static inline double bench_cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Resident set size of this process in MB (0 when /proc is unavailable). */
static inline double bench_rss_mb(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6;
}

/* Anonymous memory of this process in transparent huge pages, in MB (0 when not reported). */
static inline double bench_anon_huge_mb(void) {
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1) break;
    if (f) fclose(f);
    return (double)kb / 1e3;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorts v in place). */
static inline double bench_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Path of a peer program built beside the running bench (CMake puts bench_* and peer_* in one
 * directory) into buf; returns whether it exists and is executable. */
static inline int bench_peer_path(const char *name, char *buf, size_t cap) {
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    snprintf(buf, cap, "%s/%s", slash ? exe : ".", name);
    return access(buf, X_OK) == 0;
}

#endif
