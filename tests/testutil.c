/*
 * testutil.c — see testutil.h.
 */
#include "testutil.h"
#include "model/lora.h"

#include "core/error.h"
#include "model/model.h"
#include "model/model_file.h"
#include "train/tmodel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h>
#include <sys/wait.h>
#include <dirent.h>

char *tu_tmpdir(const char *tag) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/rt-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *p = mkdtemp(tmpl);
    if (!p) return NULL;
    return strdup(p);
}

void tu_rmtree(const char *path) {
    if (!path || !*path || strcmp(path, "/") == 0) return;
    tu_system("rm -rf '%s'", path);
}

size_t tu_count_files(const char *dir) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

char *tu_source_path(const char *rel) {
    const char *src = getenv("RT_SOURCE_DIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", src && *src ? src : ".", rel);
    return strdup(buf);
}

int tu_system(const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int tu_run_python(const char *script_rel, const char *args_fmt, ...) {
    char args[8192];
    va_list ap;
    va_start(ap, args_fmt);
    vsnprintf(args, sizeof args, args_fmt, ap);
    va_end(ap);
    const char *py = getenv("RT_PYTHON");
    char *script = tu_source_path(script_rel);
    int st = tu_system("'%s' '%s' %s", py && *py ? py : "python3", script, args);
    free(script);
    return st;
}

double tu_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (isnan(d)) return INFINITY;
        if (d > m) m = d;
    }
    return m;
}

float *tu_read_f32(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    float *buf = malloc(len > 0 ? (size_t)len : 1);
    size_t got = fread(buf, 1, (size_t)len, fp);
    fclose(fp);
    if (got != (size_t)len) {
        free(buf);
        return NULL;
    }
    *n = (size_t)len / sizeof(float);
    return buf;
}

float tu_frand(unsigned *state, float lo, float hi) {
    *state = *state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(*state >> 8) / 16777216.0f;
}

rt_model_config tu_tiny_config(rt_arch arch, int n_vocab, int n_ff, int n_ctx) {
    rt_model_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.n_vocab = n_vocab;
    c.n_embd = 32;
    c.n_layer = 2;
    c.n_head = 4;
    c.n_kv_head = 2;
    c.head_dim = 8;
    c.n_ff = n_ff;
    c.n_ctx_train = n_ctx;
    c.norm_eps = 1e-5f;
    c.rope_theta = 10000.0f;
    return c;
}

struct rt_adapter *tu_random_adapter(const rt_model_config *c, unsigned seed) {
    rt_adapter *ad;
    assert_int_equal(rt_adapter_alloc(c, "random", &ad), RT_OK);
    float a[2 * 256], b[256 * 2];
    for (int l = 0; l < c->n_layer; l++)
        for (int j = 0; j < RT_LORA_N_LINEAR; j++) {
            int n_out, n_in;
            rt_lora_linear_shape(c, j, &n_out, &n_in);
            if (!n_out) continue;
            for (int i = 0; i < 2 * n_in; i++)
                a[i] = tu_frand(&seed, -0.3f, 0.3f);
            for (int i = 0; i < 2 * n_out; i++)
                b[i] = tu_frand(&seed, -0.3f, 0.3f);
            assert_int_equal(rt_adapter_set_linear(ad, l, j, 2, 0.5f, a, b), RT_OK);
        }
    return ad;
}

int tu_toy_embed(void *user, const char *const *texts, const size_t *lens, int n, float *out) {
    (void)user;
    for (int i = 0; i < n; i++) {
        float *v = out + i * 16;
        memset(v, 0, 16 * sizeof *v);
        uint32_t h = 2166136261u;
        for (size_t j = 0; j <= lens[i]; j++) {
            char ch = j < lens[i] ? texts[i][j] : ' ';
            if (ch == ' ' || ch == '\n' || ch == '.') {
                if (h != 2166136261u) v[h % 16] += 1;
                h = 2166136261u;
            } else {
                h = (h ^ (uint8_t)(ch | 32)) * 16777619u;
            }
        }
        v[15] += 0.01f;
    }
    return 0;
}

void tu_random_model_open(tu_model *m, rt_arch arch, int n_vocab, int n_ff, int n_ctx,
                          int weight_dtype, unsigned seed) {
    memset(m, 0, sizeof *m);
    rt_model_config c = tu_tiny_config(arch, n_vocab, n_ff, n_ctx);
    tm_options o = {.base_dtype = RT_DTYPE_F32, .seed = 3};
    assert_int_equal(tmodel_new(&c, NULL, &o, &m->tm), 0);
    for (size_t i = 0; i < m->tm->n_store; i++)
        m->tm->store[i] = tu_frand(&seed, -0.3f, 0.3f);
    assert_int_equal(tmodel_weights(m->tm, &m->w), 0);
    rt_model_params mp = rt_model_default_params();
    mp.weight_dtype = weight_dtype;
    if (rt_model_from_weights(&m->tm->cfg, &m->w, &mp, NULL, NULL, &m->model) != RT_OK)
        fail_msg("model: %s", rt_last_error());
}

void tu_random_model_close(tu_model *m) {
    rt_model_free(m->model);
    rt_model_weights_free(&m->w, m->tm->cfg.n_layer);
    tmodel_free(m->tm);
}
