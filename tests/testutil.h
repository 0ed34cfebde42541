/*
 * testutil.h — helpers shared by the cmocka tests: temporary directories, running the
 * reference Python (Debian's python3 with torch, path in $RT_PYTHON), and comparing arrays.
 */
#ifndef RT_TESTUTIL_H
#define RT_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "model/config.h"

/* Creates a fresh temporary directory; returns a malloc'd path. */
char *tu_tmpdir(const char *tag);
/* Removes a directory tree (rm -rf). */
void tu_rmtree(const char *path);
/* Entries of a directory whose names do not start with '.'. */
size_t tu_count_files(const char *dir);
/* Path under the source tree ($RT_SOURCE_DIR or the compile-time source dir); malloc'd. */
char *tu_source_path(const char *rel);
/* Runs `$RT_PYTHON <source>/<script> args...` (a shell-quoted string); returns exit status. */
int tu_run_python(const char *script_rel, const char *args_fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Runs a shell command; returns its exit status. */
int tu_system(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Largest |a[i] - b[i]|. */
double tu_max_abs_diff(const float *a, const float *b, size_t n);
/* Writes / reads a raw little-endian float32 file (what the reference scripts emit with
 * numpy's tofile). tu_read_f32 returns a malloc'd array and its length. */
float *tu_read_f32(const char *path, size_t *n);
/* A reproducible float in [lo, hi) from a linear congruential state. */
float tu_frand(unsigned *state, float lo, float hi);
/* The tiny llama most training tests use: n_embd 32, 2 layers, 4 heads of 8, 2 KV heads,
 * eps 1e-5, theta 1e4; vocabulary, n_ff and context as given. */
rt_model_config tu_tiny_config(rt_arch arch, int n_vocab, int n_ff, int n_ctx);

/* An adapter for c with random rank-2 pairs (values in [-0.3, 0.3], alpha 0.5) on every linear
 * of every layer (c's widths at most 256). */
struct rt_adapter *tu_random_adapter(const rt_model_config *c, unsigned seed);
/* A deterministic embedder for rt_embedder (hashed bag of words, dim 16; thread-safe): a
 * stand-in for a model in tests of plumbing, not a retrieval model. */
int tu_toy_embed(void *user, const char *const *texts, const size_t *lens, int n, float *out);

/* A tiny random decoder: tu_tiny_config(arch, n_vocab, n_ff, n_ctx) with every weight uniform in
 * [-0.3, 0.3) from seed, stored as weight_dtype (-1: f32). Fails the test on error. */
struct tmodel;
typedef struct tu_model {
    struct tmodel *tm;
    rt_model_weights w;
    struct rt_model *model;
} tu_model;
void tu_random_model_open(tu_model *m, rt_arch arch, int n_vocab, int n_ff, int n_ctx,
                          int weight_dtype, unsigned seed);
void tu_random_model_close(tu_model *m);

#endif
