/*
 * test_safetensors.c — the safetensors writer round trip and hand-made corrupt files, each of
 * which must fail with the right code and a message naming the file.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "model/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_round_trip(void **state) {
    (void)state;
    char *dir = tu_tmpdir("st");
    char *path = rt_path_join(dir, "t.safetensors");
    rt_tensor t[3];
    int64_t s0[2] = {3, 5}, s1[1] = {7}, s2[3] = {2, 1, 3};
    assert_int_equal(rt_tensor_alloc(&t[0], "a.weight", RT_DTYPE_BF16, 2, s0), RT_OK);
    assert_int_equal(rt_tensor_alloc(&t[1], "b", RT_DTYPE_F32, 1, s1), RT_OK);
    assert_int_equal(rt_tensor_alloc(&t[2], "c", RT_DTYPE_F16, 3, s2), RT_OK);
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < t[k].nbytes; i++)
            ((uint8_t *)t[k].data)[i] = (uint8_t)(i * 7 + k);
    const char *meta[] = {"format", "pt", "note", "hello"};
    assert_int_equal(rt_safetensors_write(path, t, 3, meta, 2), RT_OK);
    rt_safetensors st;
    if (rt_safetensors_open(path, &st) != RT_OK) fail_msg("%s", rt_last_error());
    assert_int_equal(st.n_tensors, 3);
    assert_string_equal(rt_safetensors_meta(&st, "note"), "hello");
    assert_null(rt_safetensors_meta(&st, "missing"));
    for (int k = 0; k < 3; k++) {
        const rt_safetensors_entry *e = rt_safetensors_find(&st, t[k].name);
        assert_non_null(e);
        assert_int_equal(e->t.dtype, t[k].dtype);
        assert_int_equal(e->t.n_dims, t[k].n_dims);
        for (int d = 0; d < t[k].n_dims; d++)
            assert_int_equal(e->t.shape[d], t[k].shape[d]);
        assert_int_equal(e->t.nbytes, t[k].nbytes);
        assert_memory_equal(e->t.data, t[k].data, t[k].nbytes);
        assert_int_equal((uintptr_t)e->t.data % rt_dtype_block_bytes(e->t.dtype), 0);
    }
    assert_null(rt_safetensors_find(&st, "zzz"));
    /* Header length is a multiple of 8. */
    const uint8_t *base = st.map.data;
    assert_int_equal(base[0] % 8, 0);
    rt_safetensors_close(&st);
    /* q8_0 cannot be stored. */
    rt_tensor q;
    int64_t sq[1] = {32};
    assert_int_equal(rt_tensor_alloc(&q, "q", RT_DTYPE_Q8_0, 1, sq), RT_OK);
    assert_int_equal(rt_safetensors_write(path, &q, 1, NULL, 0), RT_ERR_UNSUPPORTED);
    rt_tensor_free(&q);
    for (int k = 0; k < 3; k++)
        rt_tensor_free(&t[k]);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* Writes an 8-byte length (hlen, or strlen(json) when hlen is UINT64_MAX), json and data. */
static void write_raw(const char *path, uint64_t hlen, const char *json, size_t data_len) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (hlen == UINT64_MAX) hlen = strlen(json);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(hlen >> (8 * i));
    fwrite(b, 1, 8, fp);
    fwrite(json, 1, strlen(json), fp);
    for (size_t i = 0; i < data_len; i++)
        fputc((int)i, fp);
    fclose(fp);
}

static void test_corrupt(void **state) {
    (void)state;
    char *dir = tu_tmpdir("st-bad");
    char *path = rt_path_join(dir, "bad.safetensors");
    struct {
        uint64_t hlen;
        const char *json;
        size_t data;
        int code;
        const char *msg;
    } cases[] = {
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, RT_OK,
         NULL},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
         RT_ERR_FORMAT, "outside the data section"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 16,
         RT_ERR_FORMAT, "needs 12"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 16,
         RT_ERR_FORMAT, "data_offsets"},
        {UINT64_MAX,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         16, RT_ERR_FORMAT, "overlap"},
        {UINT64_MAX,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
         16, RT_ERR_FORMAT, "duplicate"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
         RT_ERR_UNSUPPORTED, "dtype"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
         RT_ERR_FORMAT, "shape"},
        {UINT64_MAX,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,8]}}",
         8, RT_ERR_RANGE, "overflow"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
         RT_ERR_UNSUPPORTED, "dimensions"},
        {UINT64_MAX, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, RT_ERR_FORMAT, "expected"},
        {UINT64_MAX, "{\"__metadata__\":{\"x\":1}}", 0, RT_ERR_FORMAT, "__metadata__"},
        {UINT64_MAX, "{\"a\":", 0, RT_ERR_FORMAT, "JSON"},
        {UINT64_MAX, "[1,2]", 0, RT_ERR_FORMAT, "JSON object"},
        {1000, "{}", 0, RT_ERR_FORMAT, "past the end"},
        {(uint64_t)1 << 40, "{}", 0, RT_ERR_RANGE, "limit"},
        {UINT64_MAX, "{\"pos\":{\"dtype\":\"I64\",\"shape\":[1,2],\"data_offsets\":[0,16]}}", 16,
         RT_OK, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_raw(path, cases[i].hlen, cases[i].json, cases[i].data);
        rt_safetensors st;
        int rc = rt_safetensors_open(path, &st);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d (%s), expected %d", i, rc, rt_last_error(), cases[i].code);
        if (rc == RT_OK) {
            rt_safetensors_close(&st);
            continue;
        }
        assert_non_null(strstr(rt_last_error(), "bad.safetensors"));
        if (!strstr(rt_last_error(), cases[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, rt_last_error(), cases[i].msg);
    }
    /* Shorter than the length field. */
    FILE *fp = fopen(path, "wb");
    fputs("abc", fp);
    fclose(fp);
    rt_safetensors st;
    assert_int_equal(rt_safetensors_open(path, &st), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "bad.safetensors"));
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
