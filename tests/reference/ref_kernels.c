/*
 * ref_kernels.c — quantization and matmul against independent references (ref_kernels.py):
 *   - f16 / bf16 / q8_0 / q4_0 conversion of the same floats: bit-exact against numpy's float16,
 *     torch's bfloat16 (round to nearest even) and numpy implementations of the GGUF formulas;
 *   - rt_matmul for every weight dtype and n_tokens in 1..17, 64, 70 against torch's matmul
 * (float64) on the dequantized weights, within 1e-4 * sum|w x| (plus the q8_0
 * activation-quantization bound for q8_0/q4_0 weights; see the script), and for bf16 weights also
 * with rt_matmul_set_bf16_activations(true) within the bf16 rounding bound of the activations;
 *   - rt_matmul_backward_x against torch, within 1e-4 * sum|dy w|.
 * Run at the CPU's level, then again in child processes at every lower level (RT_CPU).
 */
#include "testutil.h"
#include "core/cpu.h"
#include "core/matmul.h"
#include "core/quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N_OUT = 67, N_IN = 160, T_MAX = 70, N_CONV = 1024 };

static const rt_dtype dtypes[] = {RT_DTYPE_F32, RT_DTYPE_F16, RT_DTYPE_BF16, RT_DTYPE_Q8_0,
                                  RT_DTYPE_Q4_0};
static char *dir;
static float conv[N_CONV], w[N_OUT * N_IN], x[T_MAX * N_IN], dy[T_MAX * N_OUT], dx0[T_MAX * N_IN];

static uint64_t rng = 0x2545f4914f6cdd1dull;
static float rnd(float scale) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((float)(rng >> 40) / 16777216.0f * 2.0f - 1.0f) * scale;
}

static void write_f32(const char *name, const float *v, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(v, sizeof(float), n, fp), n);
    fclose(fp);
}

static void *read_file(const char *name, size_t *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) fail_msg("missing %s", path);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    void *buf = malloc(len > 0 ? (size_t)len : 1);
    assert_int_equal(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

static int setup(void **state) {
    (void)state;
    dir = tu_tmpdir("refkernels");
    if (!dir) return -1;
    /* conversion values: halfway cases, f16 subnormals/overflow in the first half (also
     * quantized), infinities and extremes in the second half (float conversions only) */
    for (int i = 0; i < N_CONV; i++)
        conv[i] = rnd(i % 5 == 0 ? 100.0f : 1.0f);
    const float halfway[] = {1.00048828125f,
                             -1.00146484375f,
                             6.103515625e-05f,
                             2.98023224e-08f,
                             1.0f + 1.0f / 256,
                             1.0f + 3.0f / 256,
                             65519.0f,
                             65520.0f,
                             0.5f,
                             0.0f,
                             -0.0f,
                             1e-40f};
    for (size_t i = 0; i < sizeof halfway / sizeof halfway[0]; i++)
        conv[i * 7] = halfway[i];
    conv[64] = 127.0f; /* a block whose scale is 1: x = k + 0.5 tests rounding of ties */
    for (int j = 1; j < 32; j++)
        conv[64 + j] = (float)(j % 9) - 4.5f;
    for (int j = 0; j < 32; j++)
        conv[128 + j] = 0.0f; /* an all-zero block */
    const float wild[] = {INFINITY, -INFINITY, 3.4e38f, -1e30f, 65536.0f, 1e-45f};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++)
        conv[N_CONV / 2 + i * 11] = wild[i];
    for (int i = 0; i < N_OUT * N_IN; i++)
        w[i] = rnd(0.3f);
    for (int i = 0; i < T_MAX * N_IN; i++)
        x[i] = rnd(2.0f);
    for (int i = 0; i < T_MAX * N_OUT; i++)
        dy[i] = rnd(1.0f);
    for (int i = 0; i < T_MAX * N_IN; i++)
        dx0[i] = rnd(0.5f);
    write_f32("conv.bin", conv, N_CONV);
    write_f32("w.bin", w, N_OUT * N_IN);
    write_f32("x.bin", x, T_MAX * N_IN);
    write_f32("dy.bin", dy, T_MAX * N_OUT);
    write_f32("dx0.bin", dx0, T_MAX * N_IN);
    int rc =
        tu_run_python("tests/reference/ref_kernels.py", "'%s' %d %d %d", dir, N_OUT, N_IN, T_MAX);
    if (rc != 0) print_error("ref_kernels.py failed (%d)\n", rc);
    return rc == 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    tu_rmtree(dir);
    free(dir);
    return 0;
}

static void test_conversions(void **state) {
    (void)state;
    for (size_t d = 1; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        rt_dtype dt = dtypes[d];
        char name[64];
        snprintf(name, sizeof name, "conv_%s.bin", rt_dtype_name(dt));
        size_t n_want;
        unsigned char *want = read_file(name, &n_want);
        int64_t n = (dt == RT_DTYPE_F16 || dt == RT_DTYPE_BF16) ? N_CONV : N_CONV / 2;
        size_t nbytes;
        assert_int_equal(rt_dtype_nbytes(dt, n, &nbytes, "conv"), RT_OK);
        assert_int_equal(nbytes, n_want);
        unsigned char *got = malloc(nbytes);
        rt_quantize_row(dt, conv, got, n);
        for (size_t i = 0; i < nbytes; i++)
            if (got[i] != want[i]) fail_msg("%s: byte %zu differs from numpy/torch", name, i);
        free(got);
        free(want);
    }
}

static void check(const char *what, const float *got, const float *want, const float *tol,
                  size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!(fabsf(got[i] - want[i]) <= tol[i]))
            fail_msg("%s [%zu]: got %.9g want %.9g tol %.3g", what, i, got[i], want[i], tol[i]);
    }
}

static void test_matmul_vs_torch(void **state) {
    (void)state;
    const int tokens[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 64, 70};
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        rt_dtype dt = dtypes[d];
        const char *dn = rt_dtype_name(dt);
        char name[64];
        size_t nb;
        snprintf(name, sizeof name, "w_%s.bin", dn);
        void *wraw = read_file(name, &nb);
        int64_t shape[2] = {N_OUT, N_IN};
        rt_tensor wt = {
            .dtype = dt, .n_dims = 2, .shape = {N_OUT, N_IN}, .data = wraw, .nbytes = nb};
        size_t want_bytes;
        assert_int_equal(rt_dtype_nbytes(dt, shape[0] * shape[1], &want_bytes, "w"), RT_OK);
        assert_int_equal(nb, want_bytes);
        /* our quantization of w is bit-identical to the script's */
        void *mine = malloc(nb);
        size_t rb = rt_tensor_row_bytes(&wt);
        for (int o = 0; o < N_OUT; o++)
            rt_quantize_row(dt, w + o * N_IN, (char *)mine + o * rb, N_IN);
        assert_memory_equal(mine, wraw, nb);
        free(mine);

        float *want, *tol, *dxw, *dxtol;
        snprintf(name, sizeof name, "out_%s.bin", dn);
        want = read_file(name, &nb);
        snprintf(name, sizeof name, "tol_%s.bin", dn);
        tol = read_file(name, &nb);
        snprintf(name, sizeof name, "dx_%s.bin", dn);
        dxw = read_file(name, &nb);
        snprintf(name, sizeof name, "dxtol_%s.bin", dn);
        dxtol = read_file(name, &nb);
        float out[T_MAX * N_OUT], dx[T_MAX * N_IN];
        for (size_t t = 0; t < sizeof tokens / sizeof tokens[0]; t++) {
            int T = tokens[t];
            char what[64];
            snprintf(what, sizeof what, "rt_matmul %s T=%d", dn, T);
            rt_matmul(out, x, &wt, NULL, T);
            check(what, out, want, tol, (size_t)T * N_OUT);
            if (dt == RT_DTYPE_BF16) {
                size_t nl;
                float *loose = read_file("tol_bf16act.bin", &nl);
                rt_matmul_set_bf16_activations(true);
                rt_matmul(out, x, &wt, NULL, T);
                rt_matmul_set_bf16_activations(false);
                snprintf(what, sizeof what, "rt_matmul bf16 activations T=%d", T);
                check(what, out, want, loose, (size_t)T * N_OUT);
                free(loose);
            }
            memcpy(dx, dx0, sizeof(float) * T * N_IN);
            rt_matmul_backward_x(dx, dy, &wt, T);
            snprintf(what, sizeof what, "rt_matmul_backward_x %s T=%d", dn, T);
            check(what, dx, dxw, dxtol, (size_t)T * N_IN);
        }
        free(want);
        free(tol);
        free(dxw);
        free(dxtol);
        free(wraw);
    }
}

/* The same checks at every lower kernel level, each in a child process with RT_CPU set. */
static void test_lower_levels(void **state) {
    (void)state;
    if (getenv("RT_CPU")) skip(); /* already a child */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(len > 0);
    self[len] = 0;
    for (int l = RT_CPU_SCALAR; l < (int)rt_cpu_level_get(); l++) {
        const char *name = rt_cpu_level_name((rt_cpu_level)l);
        print_message("level %s\n", name);
        assert_int_equal(tu_system("RT_CPU=%s '%s'", name, self), 0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_matmul_vs_torch),
        cmocka_unit_test(test_lower_levels),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
