/*
 * test_gguf_writer.c — core/gguf_writer: a file with metadata of every type and tensors of
 * every writable type is read back with core/gguf.c and compared field by field and byte by
 * byte; offsets are aligned (default and general.alignment); streaming equals write_file; what
 * the reader would reject (duplicate keys and names, long names, bad shapes) is refused; and an
 * interrupted or failed write leaves the old file untouched and no temporary file behind.
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "core/gguf_writer.h"
#include "core/tensor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill_bytes(uint8_t *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u);
}

/* The tensors of the test file: f32 (5), f16 (3 x 4), q8_0 (64 x 2), q4_0 (32), bf16 (2x1x3). */
typedef struct tspec {
    const char *name;
    uint32_t type;
    int n_dims;
    int64_t ne[4];
} tspec;
static const tspec tensors[] = {
    {"a.f32", RT_DTYPE_F32, 1, {5}},         {"b.f16", RT_DTYPE_F16, 2, {4, 3}},
    {"c.q8_0", RT_DTYPE_Q8_0, 2, {64, 2}},   {"d.q4_0", RT_DTYPE_Q4_0, 1, {32}},
    {"e.bf16", RT_DTYPE_BF16, 3, {3, 1, 2}},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

typedef struct fixture {
    uint8_t *data[N_TENSORS];
    size_t nbytes[N_TENSORS];
    const char *strs[3];
    int32_t ints[4];
    rt_gguf_value nested_items[2];
} fixture;

static void fixture_init(fixture *f) {
    for (size_t i = 0; i < N_TENSORS; i++) {
        int64_t n = 1;
        for (int d = 0; d < tensors[i].n_dims; d++)
            n *= tensors[i].ne[d];
        assert_int_equal(rt_dtype_nbytes((rt_dtype)tensors[i].type, n, &f->nbytes[i], "t"), RT_OK);
        f->data[i] = malloc(f->nbytes[i]);
        fill_bytes(f->data[i], f->nbytes[i], (unsigned)i + 1);
    }
    f->strs[0] = "alpha";
    f->strs[1] = "";
    f->strs[2] = "gamma";
    for (int i = 0; i < 4; i++)
        f->ints[i] = -3 + 2 * i;
    for (int i = 0; i < 2; i++)
        f->nested_items[i] = (rt_gguf_value){
            .type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_INT32, .n = 2, .data = f->ints + 2 * i};
}

static void fixture_free(fixture *f) {
    for (size_t i = 0; i < N_TENSORS; i++)
        free(f->data[i]);
}

/* A writer holding the fixture's KVs and tensors (with data pointers unless streaming). */
static rt_gguf_writer *make_writer(fixture *f, bool with_data, uint32_t alignment) {
    rt_gguf_writer *w;
    assert_int_equal(rt_gguf_writer_new(&w), RT_OK);
    if (alignment) assert_int_equal(rt_gguf_writer_set_u32(w, "general.alignment", alignment), 0);
    assert_int_equal(rt_gguf_writer_set_str(w, "general.architecture", "llama"), RT_OK);
    assert_int_equal(rt_gguf_writer_set_u32(w, "test.u32", 4000000000u), RT_OK);
    assert_int_equal(rt_gguf_writer_set_f32(w, "test.f32", 0.25f), RT_OK);
    assert_int_equal(rt_gguf_writer_set_bool(w, "test.bool", true), RT_OK);
    rt_gguf_value v = {.type = RT_GGUF_INT64};
    v.i64 = -5000000000LL;
    assert_int_equal(rt_gguf_writer_set(w, "test.i64", &v), RT_OK);
    v = (rt_gguf_value){.type = RT_GGUF_FLOAT64};
    v.f64 = 1.0 / 3.0;
    assert_int_equal(rt_gguf_writer_set(w, "test.f64", &v), RT_OK);
    v = (rt_gguf_value){.type = RT_GGUF_INT8};
    v.u64 = (uint64_t)(uint8_t)-7;
    assert_int_equal(rt_gguf_writer_set(w, "test.i8", &v), RT_OK);
    v = (rt_gguf_value){.type = RT_GGUF_UINT16};
    v.u64 = 65535;
    assert_int_equal(rt_gguf_writer_set(w, "test.u16", &v), RT_OK);
    v = (rt_gguf_value){.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_STRING, .n = 3, .strs = f->strs};
    assert_int_equal(rt_gguf_writer_set(w, "test.strs", &v), RT_OK);
    v = (rt_gguf_value){.type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_INT32, .n = 4, .data = f->ints};
    assert_int_equal(rt_gguf_writer_set(w, "test.ints", &v), RT_OK);
    v = (rt_gguf_value){
        .type = RT_GGUF_ARRAY, .arr_type = RT_GGUF_ARRAY, .n = 2, .items = f->nested_items};
    assert_int_equal(rt_gguf_writer_set(w, "test.nested", &v), RT_OK);
    for (size_t i = 0; i < N_TENSORS; i++)
        assert_int_equal(rt_gguf_writer_add_tensor(w, tensors[i].name, tensors[i].type,
                                                   tensors[i].n_dims, tensors[i].ne,
                                                   with_data ? f->data[i] : NULL),
                         RT_OK);
    assert_int_equal(rt_gguf_writer_n_tensors(w), N_TENSORS);
    return w;
}

/* Reads path back and compares everything with the fixture. */
static void check_file(const char *path, const fixture *f, size_t alignment) {
    rt_gguf *g;
    assert_int_equal(rt_gguf_open(path, &g), RT_OK);
    assert_int_equal(rt_gguf_version(g), 3);
    assert_int_equal(rt_gguf_alignment(g), alignment);
    assert_int_equal(rt_gguf_n_kv(g), alignment != 32 ? 12 : 11);
    const char *s;
    assert_int_equal(rt_gguf_get_str(g, "general.architecture", &s), RT_OK);
    assert_string_equal(s, "llama");
    const rt_gguf_value *v = rt_gguf_find(g, "test.u32");
    assert_non_null(v);
    assert_int_equal(v->type, RT_GGUF_UINT32);
    assert_true(v->u64 == 4000000000u);
    v = rt_gguf_find(g, "test.f32");
    assert_int_equal(v->type, RT_GGUF_FLOAT32);
    assert_true(v->f64 == 0.25);
    bool b = false;
    assert_int_equal(rt_gguf_get_bool(g, "test.bool", &b), RT_OK);
    assert_true(b);
    int64_t i64;
    assert_int_equal(rt_gguf_get_i64(g, "test.i64", &i64), RT_OK);
    assert_true(i64 == -5000000000LL);
    assert_int_equal(rt_gguf_get_i64(g, "test.i8", &i64), RT_OK);
    assert_int_equal(i64, -7);
    assert_int_equal(rt_gguf_get_i64(g, "test.u16", &i64), RT_OK);
    assert_int_equal(i64, 65535);
    double f64;
    assert_int_equal(rt_gguf_get_f64(g, "test.f64", &f64), RT_OK);
    assert_true(f64 == 1.0 / 3.0);
    v = rt_gguf_find(g, "test.strs");
    assert_int_equal(v->arr_type, RT_GGUF_STRING);
    assert_int_equal(v->n, 3);
    for (int i = 0; i < 3; i++)
        assert_string_equal(v->strs[i], f->strs[i]);
    v = rt_gguf_find(g, "test.ints");
    assert_int_equal(v->n, 4);
    for (uint64_t i = 0; i < 4; i++)
        assert_int_equal(rt_gguf_arr_i64(v, i), f->ints[i]);
    v = rt_gguf_find(g, "test.nested");
    assert_int_equal(v->arr_type, RT_GGUF_ARRAY);
    assert_int_equal(v->n, 2);
    assert_int_equal(rt_gguf_arr_i64(&v->items[1], 1), f->ints[3]);
    assert_int_equal(rt_gguf_n_tensors(g), N_TENSORS);
    for (size_t i = 0; i < N_TENSORS; i++) {
        const rt_gguf_tensor *t = rt_gguf_tensor_at(g, i);
        assert_string_equal(t->name, tensors[i].name);
        assert_int_equal(t->type, tensors[i].type);
        assert_int_equal(t->n_dims, tensors[i].n_dims);
        for (int d = 0; d < t->n_dims; d++)
            assert_int_equal(t->ne[d], tensors[i].ne[d]);
        assert_int_equal(t->offset % alignment, 0);
        assert_int_equal(t->nbytes, f->nbytes[i]);
        assert_memory_equal(t->data, f->data[i], f->nbytes[i]);
    }
    /* every tensor, the last included, is padded to the alignment, as ggml writes */
    assert_int_equal(rt_gguf_file_size(g) % alignment, 0);
    rt_gguf_close(g);
}

static void test_round_trip(void **state) {
    (void)state;
    char *dir = tu_tmpdir("gguf_writer");
    char *path = rt_path_join(dir, "all.gguf");
    fixture f;
    fixture_init(&f);

    rt_gguf_writer *w = make_writer(&f, true, 0);
    assert_int_equal(rt_gguf_writer_write_file(w, path), RT_OK);
    rt_gguf_writer_free(w);
    check_file(path, &f, 32);
    size_t len1;
    char *bytes1;
    assert_int_equal(rt_file_read_all(path, 1 << 20, &bytes1, &len1), RT_OK);

    /* streaming gives the same bytes */
    char *path2 = rt_path_join(dir, "stream.gguf");
    w = make_writer(&f, false, 0);
    assert_int_equal(rt_gguf_writer_begin(w, path2), RT_OK);
    for (size_t i = 0; i < N_TENSORS; i++)
        assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[i], f.nbytes[i]), RT_OK);
    assert_int_equal(rt_gguf_writer_finish(w), RT_OK);
    /* calls after finish are refused */
    assert_int_equal(rt_gguf_writer_finish(w), RT_ERR_INVALID);
    rt_gguf_writer_free(w);
    size_t len2;
    char *bytes2;
    assert_int_equal(rt_file_read_all(path2, 1 << 20, &bytes2, &len2), RT_OK);
    assert_int_equal(len1, len2);
    assert_memory_equal(bytes1, bytes2, len1);

    /* another alignment */
    w = make_writer(&f, true, 64);
    assert_int_equal(rt_gguf_writer_write_file(w, path2), RT_OK);
    rt_gguf_writer_free(w);
    check_file(path2, &f, 64);
    assert_int_equal(tu_count_files(dir), 2);

    free(bytes1);
    free(bytes2);
    free(path2);
    fixture_free(&f);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_metadata_only(void **state) {
    (void)state;
    char *dir = tu_tmpdir("gguf_writer_meta");
    char *path = rt_path_join(dir, "meta.gguf");
    rt_gguf_writer *w;
    assert_int_equal(rt_gguf_writer_new(&w), RT_OK);
    assert_int_equal(rt_gguf_writer_set_str(w, "general.name", "x"), RT_OK);
    assert_int_equal(rt_gguf_writer_write_file(w, path), RT_OK);
    rt_gguf_writer_free(w);
    rt_gguf *g;
    assert_int_equal(rt_gguf_open(path, &g), RT_OK);
    assert_int_equal(rt_gguf_n_tensors(g), 0);
    assert_int_equal(rt_gguf_n_kv(g), 1);
    rt_gguf_close(g);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_refused(void **state) {
    (void)state;
    rt_gguf_writer *w;
    assert_int_equal(rt_gguf_writer_new(&w), RT_OK);
    int64_t ne[2] = {32, 2};
    assert_int_equal(rt_gguf_writer_set_u32(w, "k", 1), RT_OK);
    assert_true(rt_gguf_writer_has_key(w, "k"));
    assert_false(rt_gguf_writer_has_key(w, "j"));
    assert_int_equal(rt_gguf_writer_set_u32(w, "k", 2), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "duplicate key k"));
    assert_int_equal(rt_gguf_writer_set_u32(w, "general.alignment", 24), RT_ERR_INVALID);
    rt_gguf_value bad = {.type = (rt_gguf_type)13};
    assert_int_equal(rt_gguf_writer_set(w, "bad", &bad), RT_ERR_INVALID);
    assert_int_equal(rt_gguf_writer_add_tensor(w, "t", RT_DTYPE_Q8_0, 2, ne, NULL), RT_OK);
    assert_int_equal(rt_gguf_writer_add_tensor(w, "t", RT_DTYPE_F32, 2, ne, NULL), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "duplicate tensor t"));
    char long_name[80];
    memset(long_name, 'x', 64);
    long_name[64] = '\0';
    assert_int_equal(rt_gguf_writer_add_tensor(w, long_name, RT_DTYPE_F32, 2, ne, NULL),
                     RT_ERR_INVALID);
    long_name[63] = '\0'; /* 63 bytes fit */
    assert_int_equal(rt_gguf_writer_add_tensor(w, long_name, RT_DTYPE_F32, 2, ne, NULL), RT_OK);
    int64_t odd[2] = {31, 2};
    assert_int_equal(rt_gguf_writer_add_tensor(w, "q", RT_DTYPE_Q8_0, 2, odd, NULL),
                     RT_ERR_INVALID);
    int64_t zero[2] = {0, 2};
    assert_int_equal(rt_gguf_writer_add_tensor(w, "z", RT_DTYPE_F32, 2, zero, NULL),
                     RT_ERR_INVALID);
    assert_int_equal(rt_gguf_writer_add_tensor(w, "u", 3, 2, ne, NULL), RT_ERR_UNSUPPORTED);
    assert_int_equal(rt_gguf_writer_add_tensor(w, "d", RT_DTYPE_F32, 5, ne, NULL), RT_ERR_INVALID);
    /* write_file needs every tensor's data; tensor data needs begin */
    assert_int_equal(rt_gguf_writer_write_file(w, "unused.gguf"), RT_ERR_INVALID);
    assert_int_equal(rt_gguf_writer_write_tensor(w, ne, 8), RT_ERR_INVALID);
    assert_int_equal(rt_gguf_writer_finish(w), RT_ERR_INVALID);
    rt_gguf_writer_free(w);
}

/* The old file survives every way a new write can fail, and no temporary file is left. */
static void test_interrupted(void **state) {
    (void)state;
    char *dir = tu_tmpdir("gguf_writer_cut");
    char *path = rt_path_join(dir, "model.gguf");
    fixture f;
    fixture_init(&f);
    rt_gguf_writer *w = make_writer(&f, true, 0);
    assert_int_equal(rt_gguf_writer_write_file(w, path), RT_OK);
    rt_gguf_writer_free(w);
    size_t len0;
    char *bytes0;
    assert_int_equal(rt_file_read_all(path, 1 << 20, &bytes0, &len0), RT_OK);

    for (int how = 0; how < 4; how++) {
        w = make_writer(&f, false, 0);
        assert_int_equal(rt_gguf_writer_begin(w, path), RT_OK);
        assert_int_equal(tu_count_files(dir), 2); /* the temporary file beside the old one */
        assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[0], f.nbytes[0]), RT_OK);
        if (how == 1) { /* a tensor of the wrong size */
            assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[1], f.nbytes[1] - 1),
                             RT_ERR_INVALID);
            assert_non_null(strstr(rt_last_error(), "b.f16"));
            /* the writer stays failed */
            assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[1], f.nbytes[1]),
                             RT_ERR_INVALID);
        } else if (how == 2) { /* finish with tensors missing */
            assert_int_equal(rt_gguf_writer_finish(w), RT_ERR_INVALID);
            assert_non_null(strstr(rt_last_error(), "1 of 5 tensors"));
        } else if (how == 3) { /* more data than tensors */
            for (size_t i = 1; i < N_TENSORS; i++)
                assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[i], f.nbytes[i]), RT_OK);
            assert_int_equal(rt_gguf_writer_write_tensor(w, f.data[0], f.nbytes[0]),
                             RT_ERR_INVALID);
        }
        /* how == 0: abandoned half way (free without finish) */
        rt_gguf_writer_free(w);
        assert_int_equal(tu_count_files(dir), 1);
        size_t len;
        char *bytes;
        assert_int_equal(rt_file_read_all(path, 1 << 20, &bytes, &len), RT_OK);
        assert_int_equal(len, len0);
        assert_memory_equal(bytes, bytes0, len0);
        free(bytes);
    }
    /* a failed begin (no such directory) creates nothing */
    char *missing = rt_path_join(dir, "no/such/dir.gguf");
    w = make_writer(&f, true, 0);
    assert_int_not_equal(rt_gguf_writer_write_file(w, missing), RT_OK);
    rt_gguf_writer_free(w);
    assert_int_equal(tu_count_files(dir), 1);
    free(missing);

    free(bytes0);
    fixture_free(&f);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_metadata_only),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_interrupted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
