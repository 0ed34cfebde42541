/*
 * test_dataset.c — training data: the loss masks of each JSONL format, packing windows,
 * padding without packing, the validation split, the token cache, and errors naming the line.
 */
#include "testutil.h"

#include "train/dataset.h"
#include "core/error.h"
#include "core/file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *write_tmp(const char *dir, const char *name, const char *text) {
    char *path = rt_path_join(dir, name);
    assert_int_equal(rt_file_write_atomic(path, text, strlen(text)), 0);
    return path;
}

/* The trained targets of sequence i as a string (masked positions as '~'). */
static void targets_str(const ds_split *s, int T, int64_t i, char *out) {
    int32_t in[512], tg[512];
    dataset_batch(s, T, &i, 1, in, tg);
    for (int t = 0; t < T; t++)
        out[t] = tg[t] < 0 ? '~' : tg[t] == 256 ? '$' : (char)tg[t];
    out[T] = 0;
}

static void test_prompt_completion_unpacked(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ds");
    char *path = write_tmp(dir, "d.jsonl",
                           "{\"prompt\":\"Q:ab\",\"completion\":\"xy\"}\n\n"
                           "{\"text\":\"hello\"}\n");
    ds_params p = {.train_path = path, .seq_len = 8, .pack = false};
    dataset d;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), 0);
    assert_int_equal(d.train.n, 2);
    char s[65];
    targets_str(&d.train, 8, 0, s);
    assert_string_equal(s, "~~~xy$~~"); /* prompt masked, completion + eos trained, padding */
    targets_str(&d.train, 8, 1, s);
    assert_string_equal(s, "ello$~~~");
    dataset_free(&d);
    tu_rmtree(dir);
    free(path);
    free(dir);
}

static void test_alpaca_and_chat(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ds");
    char *path = write_tmp(dir, "d.jsonl",
                           "{\"instruction\":\"Say hi\",\"output\":\"hi\"}\n"
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"u1\"},"
                           "{\"role\":\"assistant\",\"content\":\"A1\"},"
                           "{\"role\":\"user\",\"content\":\"u2\"},"
                           "{\"role\":\"assistant\",\"content\":\"B2\"}]}\n");
    ds_params p = {.train_path = path, .seq_len = 255, .pack = false};
    dataset d;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), 0);
    assert_int_equal(d.train.n, 2);
    char s[256];
    targets_str(&d.train, 255, 0, s);
    /* only "hi" and end of text are trained after the Alpaca prompt */
    char *first = s;
    while (*first == '~')
        first++;
    assert_int_equal(strncmp(first, "hi$", 3), 0);
    for (char *c = first + 3; *c; c++)
        assert_int_equal(*c, '~');
    /* chat: assistant contents and their <|im_end|>\n are trained, nothing else */
    targets_str(&d.train, 255, 1, s);
    char trained[256];
    size_t k = 0;
    for (char *c = s; *c; c++)
        if (*c != '~') trained[k++] = *c;
    trained[k] = 0;
    assert_string_equal(trained, "A1<|im_end|>\nB2<|im_end|>\n$");
    dataset_free(&d);
    tu_rmtree(dir);
    free(path);
    free(dir);
}

static void test_packing_split_and_cache(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ds");
    char text[4096] = "";
    for (int i = 0; i < 40; i++) {
        char line[64];
        snprintf(line, sizeof line, "{\"text\":\"doc %02d\"}\n", i);
        strcat(text, line);
    }
    char *path = write_tmp(dir, "d.jsonl", text);
    char *cache = rt_path_join(dir, "cache");
    ds_params p = {.train_path = path,
                   .seq_len = 8,
                   .pack = true,
                   .val_fraction = 0.2f,
                   .cache_dir = cache,
                   .seed = 3};
    dataset d, d2;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), 0);
    /* 40 docs of 7 tokens ("doc NN" + eos): windows of 9 with stride 8 cover every token once */
    assert_true(d.val.n > 0);
    int64_t tokens = (d.train.n + d.val.n) * 8;
    assert_true(tokens <= 40 * 7 && tokens > 40 * 7 - 16);
    /* consecutive windows overlap by one token */
    assert_int_equal(d.train.ids[8], d.train.ids[9]);
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d2), 0); /* from the cache */
    assert_int_equal(d.train.n, d2.train.n);
    assert_memory_equal(d.train.ids, d2.train.ids, (size_t)d.train.n * 9 * sizeof(int32_t));
    assert_memory_equal(d.val.mask, d2.val.mask, (size_t)d.val.n * 9);
    dataset_free(&d);
    dataset_free(&d2);
    tu_rmtree(dir);
    free(cache);
    free(path);
    free(dir);
}

/* Segments: loss on the labelled spans only; the eos is trained when the last span is. */
static void test_segments(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ds");
    char *path = write_tmp(dir, "d.jsonl",
                           "{\"segments\":[{\"text\":\"P:\",\"label\":false},"
                           "{\"text\":\"ab\",\"label\":true},{\"text\":\"Q:\",\"label\":false},"
                           "{\"text\":\"cd\",\"label\":true}]}\n"
                           "{\"segments\":[{\"text\":\"xy\"},{\"text\":\"z\",\"label\":false}]}\n");
    ds_params p = {.train_path = path, .seq_len = 12, .pack = false};
    dataset d;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), 0);
    assert_int_equal(d.train.n, 2);
    char s[65];
    targets_str(&d.train, 12, 0, s);
    assert_string_equal(s, "~ab~~cd$~~~~");
    targets_str(&d.train, 12, 1, s);
    assert_string_equal(s, "y~~~~~~~~~~~"); /* no label: trained; last span unlabelled: no eos */
    dataset_free(&d);
    free(path);
    path = write_tmp(dir, "e.jsonl", "{\"segments\":[{\"text\":\"a\",\"label\":1}]}\n");
    p.train_path = path;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "e.jsonl:1"));
    assert_non_null(strstr(rt_last_error(), "label"));
    free(path);
    path = write_tmp(dir, "f.jsonl", "{\"segments\":[]}\n");
    p.train_path = path;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), RT_ERR_FORMAT);
    free(path);
    tu_rmtree(dir);
    free(dir);
}

static void test_errors(void **state) {
    (void)state;
    char *dir = tu_tmpdir("ds");
    char *path = write_tmp(dir, "d.jsonl", "{\"text\":\"ok\"}\n{\"text\": 3}\n");
    ds_params p = {.train_path = path, .seq_len = 8, .pack = true};
    dataset d;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "d.jsonl:2"));
    free(path);
    path = write_tmp(dir, "e.jsonl", "{\"text\":\"ok\"}\n{broken\n");
    p.train_path = path;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "e.jsonl:2"));
    free(path);
    path = write_tmp(dir, "f.jsonl", "{\"question\":\"?\"}\n");
    p.train_path = path;
    assert_int_equal(dataset_load(&p, rt_byte_tokenizer(), &d), RT_ERR_FORMAT);
    free(path);
    p.train_path = "/nonexistent/x.jsonl";
    assert_true(dataset_load(&p, rt_byte_tokenizer(), &d) < 0);
    tu_rmtree(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prompt_completion_unpacked),
        cmocka_unit_test(test_alpaca_and_chat),
        cmocka_unit_test(test_packing_split_and_cache),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
