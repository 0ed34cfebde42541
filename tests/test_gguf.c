/*
 * test_gguf.c — the GGUF reader on hand-made valid and corrupt files (each corruption must fail
 * with the right code and a message naming the file), metadata of every type, and writer round
 * trips: HF model -> GGUF (f32/f16/q8_0/q4_0) -> read back, against the source tensors (f32:
 * bit-exact after llama.cpp's wq/wk row permutation; quantized: bit-exact against
 * rt_quantize_row of the same rows).
 */
#include "testutil.h"
#include "core/error.h"
#include "core/file.h"
#include "core/quant.h"
#include "model/gguf.h"
#include "model/hf.h"
#include "model/model_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a tiny GGUF builder ----------------------------------------------------------------------
 */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *d, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void put_u32(buf *b, uint32_t v) {
    put(b, &v, 4);
}
static void put_u64(buf *b, uint64_t v) {
    put(b, &v, 8);
}
static void put_str(buf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}

typedef struct spec {
    const char *magic;
    uint32_t version;
    uint64_t n_tensors_override; /* 0: real count */
    bool dup_key, dup_tensor, bad_value_type;
    uint32_t n_dims;           /* of tensor 'b' (default 1) */
    uint32_t type_b;           /* ggml type of tensor 'b' (default f32) */
    uint64_t offset_b;         /* default 32 */
    uint64_t str_len_override; /* of general.name (0: real) */
    int64_t cut;               /* bytes removed from the end */
} spec;

/* KVs: general.architecture "llama", general.name, an array of strings, a nested array, one of
 * each scalar type; tensors: a (f32, 8), b (type_b, 32 elements). */
static buf build(spec s) {
    buf b = {0};
    put(&b, s.magic ? s.magic : "GGUF", 4);
    put_u32(&b, s.version ? s.version : 3);
    uint64_t n_t = s.dup_tensor ? 3 : 2;
    put_u64(&b, s.n_tensors_override ? s.n_tensors_override : n_t);
    put_u64(&b, s.dup_key ? 16 : 15);
    put_str(&b, "general.architecture");
    put_u32(&b, RT_GGUF_STRING);
    put_str(&b, "llama");
    put_str(&b, "general.name");
    put_u32(&b, RT_GGUF_STRING);
    if (s.str_len_override) {
        put_u64(&b, s.str_len_override);
        put(&b, "tiny", 4);
    } else {
        put_str(&b, "tiny");
    }
    put_str(&b, "tokenizer.ggml.tokens");
    put_u32(&b, RT_GGUF_ARRAY);
    put_u32(&b, RT_GGUF_STRING);
    put_u64(&b, 3);
    put_str(&b, "<s>");
    put_str(&b, "");
    put_str(&b, "hello");
    put_str(&b, "nested");
    put_u32(&b, RT_GGUF_ARRAY);
    put_u32(&b, RT_GGUF_ARRAY);
    put_u64(&b, 2);
    for (int i = 0; i < 2; i++) {
        put_u32(&b, RT_GGUF_INT32);
        put_u64(&b, 2);
        put_u32(&b, (uint32_t)(10 * i + 1));
        put_u32(&b, (uint32_t)(10 * i + 2));
    }
    struct {
        const char *k;
        uint32_t t;
        uint64_t v;
        size_t n;
    } sc[] = {
        {"t.u8", RT_GGUF_UINT8, 200, 1},
        {"t.i8", RT_GGUF_INT8, (uint64_t)-5, 1},
        {"t.u16", RT_GGUF_UINT16, 60000, 2},
        {"t.i16", RT_GGUF_INT16, (uint64_t)-300, 2},
        {"t.u32", RT_GGUF_UINT32, 4000000000u, 4},
        {"t.i32", RT_GGUF_INT32, (uint64_t)-7, 4},
        {"t.u64", RT_GGUF_UINT64, 1ull << 40, 8},
        {"t.i64", RT_GGUF_INT64, (uint64_t)-9, 8},
        {"t.bool", RT_GGUF_BOOL, 1, 1},
    };
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        put_str(&b, sc[i].k);
        put_u32(&b, s.bad_value_type && i == 0 ? 13 : sc[i].t);
        put(&b, &sc[i].v, sc[i].n);
    }
    put_str(&b, "t.f32");
    put_u32(&b, RT_GGUF_FLOAT32);
    float f = 1.5f;
    put(&b, &f, 4);
    put_str(&b, "t.f64");
    put_u32(&b, RT_GGUF_FLOAT64);
    double d = -2.25;
    put(&b, &d, 8);
    if (s.dup_key) {
        put_str(&b, "t.u8");
        put_u32(&b, RT_GGUF_UINT8);
        uint8_t x = 1;
        put(&b, &x, 1);
    }
    /* tensor infos */
    put_str(&b, "a");
    put_u32(&b, 1);
    put_u64(&b, 8);
    put_u32(&b, 0);
    put_u64(&b, 0);
    put_str(&b, "b");
    uint32_t nd = s.n_dims ? s.n_dims : 1;
    put_u32(&b, nd);
    put_u64(&b, 32);
    for (uint32_t i = 1; i < nd && i < 8; i++)
        put_u64(&b, 1);
    put_u32(&b, s.type_b);
    put_u64(&b, s.offset_b ? s.offset_b : 32);
    if (s.dup_tensor) {
        put_str(&b, "a");
        put_u32(&b, 1);
        put_u64(&b, 8);
        put_u32(&b, 0);
        put_u64(&b, 192);
    }
    while (b.n % 32)
        put(&b, "", 1);
    uint8_t data[256];
    for (int i = 0; i < 256; i++)
        data[i] = (uint8_t)i;
    put(&b, data, 32 + 128 + (s.dup_tensor ? 64 : 0));
    if (s.cut > 0) b.n -= (size_t)s.cut;
    return b;
}

static int open_spec(spec s, const char *path, rt_gguf **g) {
    buf b = build(s);
    assert_int_equal(rt_file_write_atomic(path, b.p, b.n), RT_OK);
    free(b.p);
    return rt_gguf_open(path, g);
}

static void test_valid_metadata(void **state) {
    (void)state;
    char *dir = tu_tmpdir("gguf");
    char *path = rt_path_join(dir, "ok.gguf");
    rt_gguf *g;
    if (open_spec((spec){0}, path, &g) != RT_OK) fail_msg("%s", rt_last_error());
    assert_int_equal(rt_gguf_version(g), 3);
    assert_int_equal(rt_gguf_n_kv(g), 15);
    assert_int_equal(rt_gguf_n_tensors(g), 2);
    const char *s;
    assert_int_equal(rt_gguf_get_str(g, "general.name", &s), RT_OK);
    assert_string_equal(s, "tiny");
    const rt_gguf_value *v = rt_gguf_find(g, "tokenizer.ggml.tokens");
    assert_non_null(v);
    assert_int_equal(v->n, 3);
    assert_string_equal(v->strs[2], "hello");
    assert_int_equal(v->lens[1], 0);
    v = rt_gguf_find(g, "nested");
    assert_int_equal(v->arr_type, RT_GGUF_ARRAY);
    assert_int_equal(rt_gguf_arr_i64(&v->items[1], 1), 12);
    int64_t i;
    assert_int_equal(rt_gguf_get_i64(g, "t.u8", &i), RT_OK);
    assert_int_equal(i, 200);
    assert_int_equal(rt_gguf_get_i64(g, "t.i8", &i), RT_OK);
    assert_int_equal(i, -5);
    assert_int_equal(rt_gguf_get_i64(g, "t.i16", &i), RT_OK);
    assert_int_equal(i, -300);
    assert_int_equal(rt_gguf_get_i64(g, "t.u32", &i), RT_OK);
    assert_int_equal(i, 4000000000ll);
    assert_int_equal(rt_gguf_get_i64(g, "t.i64", &i), RT_OK);
    assert_int_equal(i, -9);
    double f;
    assert_int_equal(rt_gguf_get_f64(g, "t.f32", &f), RT_OK);
    assert_true(f == 1.5);
    assert_int_equal(rt_gguf_get_f64(g, "t.f64", &f), RT_OK);
    assert_true(f == -2.25);
    bool bv;
    assert_int_equal(rt_gguf_get_bool(g, "t.bool", &bv), RT_OK);
    assert_true(bv);
    assert_int_equal(rt_gguf_get_str(g, "t.u8", &s), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "ok.gguf"));
    assert_int_equal(rt_gguf_get_str(g, "nope", &s), RT_ERR_NOT_FOUND);
    const rt_gguf_tensor *t = rt_gguf_find_tensor(g, "b");
    assert_non_null(t);
    assert_int_equal(t->nbytes, 128);
    assert_int_equal(((const uint8_t *)t->data)[0], 32);
    /* No model keys: the config mapping reports the missing key. */
    rt_model_config c;
    assert_int_equal(rt_gguf_model_config(g, &c), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "llama.embedding_length"));
    rt_gguf_close(g);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_corrupt(void **state) {
    (void)state;
    char *dir = tu_tmpdir("gguf-bad");
    char *path = rt_path_join(dir, "bad.gguf");
    struct {
        spec s;
        int code;
        const char *msg;
    } cases[] = {
        {{.magic = "GGML"}, RT_ERR_FORMAT, "bad magic"},
        {{.version = 4}, RT_ERR_FORMAT, "version 4"},
        {{.version = 1}, RT_ERR_UNSUPPORTED, "version 1"},
        {{.version = 0x03000000u}, RT_ERR_UNSUPPORTED, "big-endian"},
        {{.cut = 200 + 160}, RT_ERR_FORMAT, "truncated"},
        {{.cut = 10}, RT_ERR_FORMAT, "out of range"},
        {{.offset_b = 4096}, RT_ERR_FORMAT, "out of range"},
        {{.offset_b = 36}, RT_ERR_FORMAT, "alignment"},
        {{.offset_b = 16 + 16}, RT_OK, NULL},
        {{.n_dims = 5}, RT_ERR_FORMAT, "n_dims 5"},
        {{.n_tensors_override = 1ull << 40}, RT_ERR_RANGE, "tensor count"},
        {{.dup_key = true}, RT_ERR_FORMAT, "duplicate metadata key 't.u8'"},
        {{.dup_tensor = true}, RT_ERR_FORMAT, "duplicate tensor name 'a'"},
        {{.str_len_override = 1ull << 33}, RT_ERR_FORMAT, "runs past the end"},
        {{.str_len_override = 1000}, RT_ERR_FORMAT, "truncated"},
        {{.bad_value_type = true}, RT_ERR_FORMAT, "unknown value type 13"},
        {{.type_b = 99}, RT_ERR_FORMAT, "unknown ggml type 99"},
        {{.type_b = 2}, RT_OK, NULL}, /* 32 q4_0 elements = 18 bytes: fits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_gguf *g = (rt_gguf *)1;
        int rc = open_spec(cases[i].s, path, &g);
        if (rc != cases[i].code)
            fail_msg("case %zu: got %d (%s), expected %d", i, rc, rt_last_error(), cases[i].code);
        if (rc == RT_OK) {
            rt_gguf_close(g);
            continue;
        }
        assert_null(g);
        assert_non_null(strstr(rt_last_error(), "bad.gguf"));
        if (!strstr(rt_last_error(), cases[i].msg))
            fail_msg("case %zu: message '%s' lacks '%s'", i, rt_last_error(), cases[i].msg);
    }
    /* Every truncation of a valid file fails cleanly (or, cut in the padding, still parses). */
    buf b = build((spec){0});
    for (size_t cut = 0; cut < b.n; cut++) {
        rt_gguf *g;
        if (rt_gguf_parse(b.p, cut, "cut.gguf", &g) == RT_OK)
            rt_gguf_close(g);
        else
            assert_non_null(strstr(rt_last_error(), "cut.gguf"));
    }
    free(b.p);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ---- writer round trips ------------------------------------------------------------------------
 */

/* All models are made by one Python run (torch's import dominates the cost). */
static char *g_base;

static int setup_models(void **state) {
    (void)state;
    g_base = tu_tmpdir("gguf-models");
    int rc = tu_run_python("tests/python/tiny_hf.py",
                           "many '%s' 'llama llama' 'llama_bf16 llama --dtype bf16' "
                           "'llama_tied llama --tied' 'qwen2 qwen2' 'qwen2_tied qwen2 --tied' "
                           "'gpt2 gpt2' 'bert bert' 'bert_p bert --prefix bert.'",
                           g_base);
    return rc == 0 ? 0 : -1;
}

static int teardown_models(void **state) {
    (void)state;
    tu_rmtree(g_base);
    free(g_base);
    return 0;
}

/* A temporary directory holding a copy of model `name` as "m". */
static char *tiny_hf(const char *tag, const char *name) {
    char *dir = tu_tmpdir(tag);
    assert_int_equal(tu_system("cp -r '%s/%s' '%s/m'", g_base, name, dir), 0);
    return dir;
}

/* Checks that b equals a converted to b's dtype, with q/k rows permuted when `perm_heads`. */
static void check_tensor(const char *name, const rt_tensor *a, const rt_tensor *b, int perm_heads,
                         bool to_interleaved) {
    if (a->n_dims != b->n_dims || a->shape[0] != b->shape[0] || a->shape[1] != b->shape[1])
        fail_msg("%s: shape differs", name);
    rt_tensor conv;
    assert_int_equal(rt_tensor_convert(a, b->dtype, &conv), RT_OK);
    void *want = conv.data;
    void *perm = NULL;
    if (perm_heads) {
        perm = malloc(conv.nbytes);
        size_t rb =
            conv.n_dims == 1 ? rt_dtype_block_bytes(conv.dtype) : rt_tensor_row_bytes(&conv);
        rt_rope_permute_rows(conv.data, perm, conv.shape[0], rb, perm_heads, to_interleaved);
        want = perm;
    }
    if (conv.nbytes != b->nbytes || memcmp(want, b->data, b->nbytes))
        fail_msg("%s: data differs (dtype %s)", name, rt_dtype_name(b->dtype));
    free(perm);
    rt_tensor_free(&conv);
}

static void round_trip(const char *arch_args, rt_dtype dtype) {
    char *dir = tiny_hf("gguf-rt", arch_args);
    char *m = rt_path_join(dir, "m");
    char *out = rt_path_join(dir, "m.gguf");
    rt_model_file *hf, *gf;
    if (rt_model_file_open(m, &hf) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_model_config *hc = rt_model_file_config(hf);
    const char *toks[] = {"a", "b"};
    size_t lens[] = {1, 1};
    rt_gguf_kv extra[1] = {{"tokenizer.ggml.tokens", {.type = RT_GGUF_ARRAY}}};
    extra[0].value.arr_type = RT_GGUF_STRING;
    extra[0].value.n = 2;
    extra[0].value.strs = toks;
    extra[0].value.lens = lens;
    rt_gguf_write_params p = {.dtype = dtype, .extra = extra, .n_extra = 1, .name = "tiny"};
    if (rt_gguf_write(out, hc, rt_model_file_weights(hf), &p) != RT_OK)
        fail_msg("%s", rt_last_error());
    if (rt_model_file_open(out, &gf) != RT_OK) fail_msg("%s", rt_last_error());
    const rt_model_config *gc = rt_model_file_config(gf);
    assert_non_null(rt_model_file_gguf(gf));
    assert_null(rt_model_file_dir(gf));
    const rt_gguf_value *tv = rt_gguf_find(rt_model_file_gguf(gf), "tokenizer.ggml.tokens");
    assert_non_null(tv);
    assert_string_equal(tv->strs[1], "b");
    /* Same configuration except the rope pairing of llama. */
    rt_model_config expect = *hc;
    if (hc->arch == RT_ARCH_LLAMA) expect.rope_interleaved = true;
    if (hc->arch == RT_ARCH_BERT) expect.normalize_embeddings = gc->normalize_embeddings;
    assert_memory_equal(&expect, gc, sizeof expect);
    size_t n = rt_model_weights_list(hc, rt_model_file_weights(hf), NULL, 0);
    assert_int_equal(rt_model_weights_list(gc, rt_model_file_weights(gf), NULL, 0), n);
    rt_weight_ref *ra = calloc(n, sizeof *ra), *rb = calloc(n, sizeof *rb);
    rt_model_weights_list(hc, rt_model_file_weights(hf), ra, n);
    rt_model_weights_list(gc, rt_model_file_weights(gf), rb, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(ra[i].name, rb[i].name);
        int heads = 0;
        if (hc->arch == RT_ARCH_LLAMA && strstr(ra[i].name, ".attn_q.")) heads = hc->n_head;
        if (hc->arch == RT_ARCH_LLAMA && strstr(ra[i].name, ".attn_k.")) heads = hc->n_kv_head;
        rt_dtype want = ra[i].t->n_dims == 2 ? dtype : RT_DTYPE_F32;
        assert_int_equal(rb[i].t->dtype, want);
        check_tensor(ra[i].name, ra[i].t, rb[i].t, heads, true);
    }
    /* GGUF -> GGUF at the same dtype is byte-identical in every tensor. */
    char *out2 = rt_path_join(dir, "m2.gguf");
    p.dtype = dtype;
    if (rt_gguf_write(out2, gc, rt_model_file_weights(gf), &p) != RT_OK)
        fail_msg("%s", rt_last_error());
    rt_model_file *g2;
    if (rt_model_file_open(out2, &g2) != RT_OK) fail_msg("%s", rt_last_error());
    assert_memory_equal(rt_model_file_config(g2), gc, sizeof *gc);
    rt_weight_ref *rc2 = calloc(n, sizeof *rc2);
    assert_int_equal(rt_model_weights_list(gc, rt_model_file_weights(g2), rc2, n), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(rc2[i].t->nbytes, rb[i].t->nbytes);
        assert_memory_equal(rc2[i].t->data, rb[i].t->data, rb[i].t->nbytes);
    }
    free(rc2);
    rt_model_file_close(g2);
    free(out2);
    free(ra);
    free(rb);
    rt_model_file_close(gf);
    rt_model_file_close(hf);
    free(out);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_round_trip_llama(void **state) {
    (void)state;
    round_trip("llama", RT_DTYPE_F32);
    round_trip("llama_bf16", RT_DTYPE_Q8_0);
}
static void test_round_trip_qwen2(void **state) {
    (void)state;
    round_trip("qwen2_tied", RT_DTYPE_F16);
    round_trip("qwen2", RT_DTYPE_Q4_0);
}
static void test_round_trip_gpt2(void **state) {
    (void)state;
    round_trip("gpt2", RT_DTYPE_F32);
    round_trip("gpt2", RT_DTYPE_Q8_0);
}
static void test_round_trip_bert(void **state) {
    (void)state;
    round_trip("bert", RT_DTYPE_BF16);
}

/* Types ragtune cannot compute with are listed but refuse to load as weights. */
static void test_unsupported_type(void **state) {
    (void)state;
    char *dir = tiny_hf("gguf-uns", "llama");
    char *m = rt_path_join(dir, "m");
    char *out = rt_path_join(dir, "m.gguf");
    rt_model_file *hf;
    assert_int_equal(rt_model_file_open(m, &hf), RT_OK);
    assert_int_equal(rt_gguf_write(out, rt_model_file_config(hf), rt_model_file_weights(hf), NULL),
                     RT_OK);
    rt_model_file_close(hf);
    /* Patch the type of blk.0.attn_q.weight (f32) to q4_1 (3): 64x64 q4_1 needs fewer bytes
     * than f32, so the file still validates. */
    char *data;
    size_t len;
    assert_int_equal(rt_file_read_all(out, 1 << 26, &data, &len), RT_OK);
    const char *name = "blk.0.attn_q.weight";
    char *at = NULL;
    for (size_t i = 0; i + strlen(name) < len; i++)
        if (!memcmp(data + i, name, strlen(name))) {
            at = data + i;
            break;
        }
    assert_non_null(at);
    uint32_t q4k = 3;
    memcpy(at + strlen(name) + 4 + 2 * 8, &q4k, 4);
    assert_int_equal(rt_file_write_atomic(out, data, len), RT_OK);
    free(data);
    rt_model_file *gf;
    assert_int_equal(rt_model_file_open(out, &gf), RT_ERR_UNSUPPORTED);
    assert_non_null(strstr(rt_last_error(), "blk.0.attn_q.weight"));
    assert_non_null(strstr(rt_last_error(), "q4_1"));
    assert_non_null(strstr(rt_last_error(), "m.gguf"));
    rt_gguf *g;
    assert_int_equal(rt_gguf_open(out, &g), RT_OK);
    rt_gguf_close(g);
    free(out);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

/* An independent Python reader checks our f32 files against llama.cpp's converter conventions
 * (tests/python/gguf_check.py). */
static void test_llama_cpp_conventions(void **state) {
    (void)state;
    const char *archs[] = {"llama", "qwen2", "gpt2", "bert_p", "llama_tied"};
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        char *dir = tiny_hf("gguf-cpp", archs[i]);
        char *m = rt_path_join(dir, "m");
        char *out = rt_path_join(dir, "m.gguf");
        rt_model_file *hf;
        if (rt_model_file_open(m, &hf) != RT_OK) fail_msg("%s", rt_last_error());
        assert_int_equal(
            rt_gguf_write(out, rt_model_file_config(hf), rt_model_file_weights(hf), NULL), RT_OK);
        rt_model_file_close(hf);
        if (tu_run_python("tests/python/gguf_check.py", "'%s' '%s'", m, out) != 0)
            fail_msg("gguf_check failed for %s", archs[i]);
        free(out);
        free(m);
        tu_rmtree(dir);
        free(dir);
    }
}

/* HF -> GGUF (f32) -> HF directory: the config and every tensor come back bit-identical
 * (llama's rope permutation undone, GPT-2's Conv1D re-fused and transposed). */
static void test_hf_round_trip(void **state) {
    (void)state;
    const char *archs[] = {"llama_bf16", "qwen2", "gpt2", "bert", "llama_tied"};
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        char *dir = tiny_hf("hf-rt", archs[i]);
        char *m = rt_path_join(dir, "m");
        char *gg = rt_path_join(dir, "m.gguf");
        char *back = rt_path_join(dir, "back");
        rt_model_file *hf, *gf, *bf;
        if (rt_model_file_open(m, &hf) != RT_OK) fail_msg("%s", rt_last_error());
        const rt_model_config *hc = rt_model_file_config(hf);
        rt_gguf_write_params p = {.dtype = rt_model_file_weights(hf)->token_embd.dtype};
        assert_int_equal(rt_gguf_write(gg, hc, rt_model_file_weights(hf), &p), RT_OK);
        if (rt_model_file_open(gg, &gf) != RT_OK) fail_msg("%s", rt_last_error());
        if (rt_hf_write(back, rt_model_file_config(gf), rt_model_file_weights(gf)) != RT_OK)
            fail_msg("%s", rt_last_error());
        if (rt_model_file_open(back, &bf) != RT_OK) fail_msg("%s", rt_last_error());
        rt_model_config want = *hc;
        const rt_model_config *bc = rt_model_file_config(bf);
        if (want.arch == RT_ARCH_BERT) want.normalize_embeddings = bc->normalize_embeddings;
        assert_memory_equal(&want, bc, sizeof want);
        size_t n = rt_model_weights_list(hc, rt_model_file_weights(hf), NULL, 0);
        rt_weight_ref *ra = calloc(n, sizeof *ra), *rb = calloc(n, sizeof *rb);
        rt_model_weights_list(hc, rt_model_file_weights(hf), ra, n);
        assert_int_equal(rt_model_weights_list(bc, rt_model_file_weights(bf), rb, n), n);
        for (size_t k = 0; k < n; k++) {
            rt_dtype want_dt = ra[k].t->n_dims == 2 ? ra[k].t->dtype : RT_DTYPE_F32;
            if (rb[k].t->dtype != want_dt) fail_msg("%s: dtype", ra[k].name);
            check_tensor(ra[k].name, ra[k].t, rb[k].t, 0, false);
        }
        free(ra);
        free(rb);
        rt_model_file_close(bf);
        rt_model_file_close(gf);
        rt_model_file_close(hf);
        free(back);
        free(gg);
        free(m);
        tu_rmtree(dir);
        free(dir);
    }
}

/* A GGUF written from the specification by tests/python/gguf_check.py --write (llama.cpp's
 * conventions, alignment 64) reads back as the HF model it came from: the same configuration
 * and every tensor bit-identical (llama's q/k rows in llama.cpp's permuted order). */
static void test_read_independent_file(void **state) {
    (void)state;
    const char *archs[] = {"llama", "qwen2", "gpt2", "bert"};
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        char *dir = tiny_hf("gguf-ind", archs[i]);
        char *m = rt_path_join(dir, "m");
        char *gg = rt_path_join(dir, "py.gguf");
        if (tu_run_python("tests/python/gguf_check.py", "--write '%s' '%s' >/dev/null", m, gg))
            fail_msg("gguf_check --write failed for %s", archs[i]);
        rt_model_file *hf, *gf;
        if (rt_model_file_open(m, &hf) != RT_OK) fail_msg("%s", rt_last_error());
        if (rt_model_file_open(gg, &gf) != RT_OK) fail_msg("%s", rt_last_error());
        assert_int_equal(rt_gguf_alignment(rt_model_file_gguf(gf)), 64);
        const rt_model_config *hc = rt_model_file_config(hf), *gc = rt_model_file_config(gf);
        assert_int_equal(gc->arch, hc->arch);
        assert_int_equal(gc->n_layer, hc->n_layer);
        assert_int_equal(gc->n_head, hc->n_head);
        assert_int_equal(gc->n_kv_head, hc->n_kv_head);
        assert_int_equal(gc->n_ff, hc->n_ff);
        assert_int_equal(gc->n_ctx_train, hc->n_ctx_train);
        assert_true(gc->norm_eps == hc->norm_eps);
        assert_int_equal(gc->tied_embeddings, hc->tied_embeddings);
        assert_int_equal(gc->rope_interleaved, hc->arch == RT_ARCH_LLAMA);
        if (hc->arch == RT_ARCH_BERT) assert_int_equal(gc->pooling, RT_POOLING_CLS);
        size_t n = rt_model_weights_list(hc, rt_model_file_weights(hf), NULL, 0);
        rt_weight_ref *ra = calloc(n, sizeof *ra), *rb = calloc(n, sizeof *rb);
        rt_model_weights_list(hc, rt_model_file_weights(hf), ra, n);
        assert_int_equal(rt_model_weights_list(gc, rt_model_file_weights(gf), rb, n), n);
        for (size_t k = 0; k < n; k++) {
            int heads = 0;
            if (hc->arch == RT_ARCH_LLAMA && strstr(ra[k].name, ".attn_q.")) heads = hc->n_head;
            if (hc->arch == RT_ARCH_LLAMA && strstr(ra[k].name, ".attn_k.")) heads = hc->n_kv_head;
            check_tensor(ra[k].name, ra[k].t, rb[k].t, heads, true);
        }
        free(ra);
        free(rb);
        rt_model_file_close(gf);
        rt_model_file_close(hf);
        free(gg);
        free(m);
        tu_rmtree(dir);
        free(dir);
    }
}

/* Replaces every occurrence of `from` by `to` (same length) in a file. */
static void patch_file(const char *path, const char *from, const char *to) {
    char *data;
    size_t len, n = strlen(from);
    assert_int_equal(rt_file_read_all(path, 1 << 26, &data, &len), RT_OK);
    for (size_t i = 0; i + n <= len; i++)
        if (!memcmp(data + i, from, n)) memcpy(data + i, to, n);
    assert_int_equal(rt_file_write_atomic(path, data, len), RT_OK);
    free(data);
}

/* A llama.cpp-made Llama 3 GGUF has only rope_freqs.weight: the parameters are recovered from
 * it (Llama 3.1 defaults), and a table that does not fit is refused, not guessed. */
static void test_llama3_rope_freqs(void **state) {
    (void)state;
    char *dir = tiny_hf("gguf-rf", "llama");
    char *m = rt_path_join(dir, "m");
    char *out = rt_path_join(dir, "m.gguf");
    rt_model_file *hf, *gf;
    assert_int_equal(rt_model_file_open(m, &hf), RT_OK);
    for (int fits = 1; fits >= 0; fits--) {
        rt_model_config c = *rt_model_file_config(hf);
        c.rope_original_ctx = fits ? 8192 : 4096;
        assert_int_equal(rt_gguf_write(out, &c, rt_model_file_weights(hf), NULL), RT_OK);
        patch_file(out, "ragtune.rope.llama3", "ragtunX.rope.llama3");
        int rc = rt_model_file_open(out, &gf);
        if (!fits) {
            assert_int_equal(rc, RT_ERR_UNSUPPORTED);
            assert_non_null(strstr(rt_last_error(), "rope_freqs"));
            continue;
        }
        if (rc != RT_OK) fail_msg("%s", rt_last_error());
        const rt_model_config *g = rt_model_file_config(gf);
        assert_true(g->rope_scaling_factor == 8.0f);
        assert_true(g->rope_low_freq_factor == 1.0f);
        assert_true(g->rope_high_freq_factor == 4.0f);
        assert_int_equal(g->rope_original_ctx, 8192);
        rt_model_file_close(gf);
    }
    rt_model_file_close(hf);
    free(out);
    free(m);
    tu_rmtree(dir);
    free(dir);
}

static void test_permute_inverse(void **state) {
    (void)state;
    float src[2 * 8], mid[2 * 8], back[2 * 8];
    for (int i = 0; i < 16; i++)
        src[i] = (float)i;
    /* 2 heads of head_dim 8, one element per row: llama.cpp's permute gives per head
     * 0 4 1 5 2 6 3 7. */
    rt_rope_permute_rows(src, mid, 16, sizeof(float), 2, true);
    const float want[16] = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
    assert_memory_equal(mid, want, sizeof want);
    rt_rope_permute_rows(mid, back, 16, sizeof(float), 2, false);
    assert_memory_equal(back, src, sizeof src);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_metadata),   cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_permute_inverse),  cmocka_unit_test(test_llama3_rope_freqs),
        cmocka_unit_test(test_hf_round_trip),    cmocka_unit_test(test_llama_cpp_conventions),
        cmocka_unit_test(test_round_trip_llama), cmocka_unit_test(test_round_trip_qwen2),
        cmocka_unit_test(test_round_trip_gpt2),  cmocka_unit_test(test_round_trip_bert),
        cmocka_unit_test(test_unsupported_type), cmocka_unit_test(test_read_independent_file),
    };
    return cmocka_run_group_tests(tests, setup_models, teardown_models);
}
