/*
 * test_core.c — errors, atomic files, dtype table, scalar f16/bf16 conversion.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "core/tensor.h"

#include <string.h>
#include <math.h>

static void test_error_message(void **state) {
    (void)state;
    rt_error_clear();
    assert_string_equal(rt_last_error(), "");
    int rc = rt_error(RT_ERR_FORMAT, "%s: offset %d: bad magic", "x.gguf", 0);
    assert_int_equal(rc, RT_ERR_FORMAT);
    assert_int_equal(rt_last_error_code(), RT_ERR_FORMAT);
    assert_string_equal(rt_last_error(), "x.gguf: offset 0: bad magic");
    rt_error_wrap("loading model");
    assert_string_equal(rt_last_error(), "loading model: x.gguf: offset 0: bad magic");
}

static void test_atomic_write(void **state) {
    (void)state;
    char *dir = tu_tmpdir("core");
    char *path = rt_path_join(dir, "f.bin");
    assert_int_equal(rt_file_write_atomic(path, "hello", 5), RT_OK);
    char *buf;
    size_t n;
    assert_int_equal(rt_file_read_all(path, 100, &buf, &n), RT_OK);
    assert_int_equal(n, 5);
    assert_string_equal(buf, "hello");
    free(buf);
    /* An aborted write leaves the old content. */
    rt_atomic_file f;
    assert_int_equal(rt_atomic_file_open(&f, path), RT_OK);
    fputs("garbage", f.fp);
    rt_atomic_file_abort(&f);
    assert_int_equal(rt_file_read_all(path, 100, &buf, &n), RT_OK);
    assert_string_equal(buf, "hello");
    free(buf);
    /* Size limit. */
    assert_int_equal(rt_file_read_all(path, 4, &buf, &n), RT_ERR_RANGE);
    assert_non_null(strstr(rt_last_error(), "f.bin"));
    assert_int_equal(rt_file_read_all("/nonexistent/x", 4, &buf, &n), RT_ERR_IO);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_dtype_sizes(void **state) {
    (void)state;
    size_t n;
    assert_int_equal(rt_dtype_nbytes(RT_DTYPE_Q8_0, 64, &n, "t"), RT_OK);
    assert_int_equal(n, 68);
    assert_int_equal(rt_dtype_nbytes(RT_DTYPE_Q4_0, 64, &n, "t"), RT_OK);
    assert_int_equal(n, 36);
    assert_int_equal(rt_dtype_nbytes(RT_DTYPE_Q4_0, 33, &n, "t"), RT_ERR_FORMAT);
    assert_int_equal(rt_dtype_nbytes(RT_DTYPE_F32, INT64_MAX, &n, "t"), RT_ERR_RANGE);
    rt_dtype d;
    assert_int_equal(rt_dtype_parse("bf16", &d), RT_OK);
    assert_int_equal(d, RT_DTYPE_BF16);
    assert_int_equal(rt_dtype_parse("q3_k", &d), RT_ERR_INVALID);
}

/* Hand-computed IEEE half values. */
static void test_f16(void **state) {
    (void)state;
    struct {
        float f;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {65504.0f, 0x7bff},
        {0.5f, 0x3800},
        {5.9604645e-8f, 0x0001} /* smallest subnormal */,
        {6.1035156e-5f, 0x0400} /* smallest normal */,
        {1e6f, 0x7c00} /* overflow -> inf */,
        {0.33325195f, 0x3555},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(rt_f32_to_f16(cases[i].f), cases[i].h);
        if (cases[i].h != 0x7c00) assert_true(rt_f16_to_f32(cases[i].h) == cases[i].f);
    }
    /* Round trip of every finite half. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) continue;
        assert_int_equal(rt_f32_to_f16(rt_f16_to_f32((uint16_t)h)), h);
    }
    /* Round to nearest even: 1 + 2^-11 is halfway between 1 and 1+2^-10 -> 1. */
    assert_int_equal(rt_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    assert_int_equal(rt_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    assert_true(isnan(rt_f16_to_f32(rt_f32_to_f16(NAN))));
    assert_int_equal(rt_f32_to_bf16(1.0f), 0x3f80);
    assert_true(rt_bf16_to_f32(0x3f80) == 1.0f);
    assert_int_equal(rt_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80); /* tie -> even */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_atomic_write),
        cmocka_unit_test(test_dtype_sizes),
        cmocka_unit_test(test_f16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
