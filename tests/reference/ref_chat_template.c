/*
 * ref_chat_template.c — ragtune's chat templates against the real Jinja templates rendered by
 * @huggingface/jinja (tests/reference/chat_template_ref.js): ChatML, Qwen2 (default system
 * prompt), Qwen3 (from its tokenizer_config.json), Llama-3 (with and without the
 * add_generation_prompt condition), Llama-2, Zephyr and Gemma, over five conversations with
 * and without the generation prompt. Each template is loaded the way users bring it: as the
 * chat_template of a tokenizer_config.json next to a tokenizer.json, recognised by signature.
 * Outputs must be byte-identical; where the Jinja template raises, ragtune must return an error.
 * Skips only when node is not installed.
 */
#include "testutil.h"

#include "ragtune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_templates(void **state) {
    if (tu_system("command -v node >/dev/null 2>&1") != 0) {
        fprintf(stderr, "node is not installed: skipping the Jinja comparison\n");
        skip();
    }
    char *tmp = tu_tmpdir("ref_chat");
    char ref[600];
    snprintf(ref, sizeof ref, "%s/ref.json", tmp);
    char *script = tu_source_path("tests/reference/chat_template_ref.js");
    assert_int_equal(tu_system("node '%s' '%s'", script, ref), 0);
    free(script);
    json_error_t err;
    json_t *root = json_load_file(ref, 0, &err);
    assert_non_null(root);
    json_t *templates = json_object_get(root, "templates");
    json_t *cases = json_object_get(root, "cases");
    json_t *outs = json_object_get(root, "out");
    const char *name;
    json_t *src;
    size_t checked = 0, mismatches = 0;
    json_object_foreach(templates, name, src) {
        /* A minimal tokenizer with <BOS>/<EOS> and the template in tokenizer_config.json. */
        char dir[700], path[800];
        snprintf(dir, sizeof dir, "%s/%s", tmp, name);
        assert_int_equal(tu_system("mkdir -p '%s'", dir), 0);
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        FILE *fp = fopen(path, "w");
        fputs("{\"added_tokens\":[{\"id\":2,\"content\":\"<BOS>\",\"special\":true},{\"id\":3,"
              "\"content\":\"<EOS>\",\"special\":true}],\"model\":{\"type\":\"WordPiece\","
              "\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1,\"<BOS>\":2,\"<EOS>\":3}}}",
              fp);
        fclose(fp);
        snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
        json_t *cfg = json_pack("{s:s,s:s,s:O}", "bos_token", "<BOS>", "eos_token", "<EOS>",
                                "chat_template", src);
        assert_int_equal(json_dump_file(cfg, path, 0), 0);
        json_decref(cfg);
        rt_tokenizer *tok;
        int rc = rt_tokenizer_load(dir, &tok);
        if (rc) fprintf(stderr, "%s: %s\n", name, rt_last_error());
        assert_int_equal(rc, RT_OK);
        json_t *expected = json_object_get(outs, name);
        for (size_t c = 0; c < json_array_size(cases); c++) {
            json_t *msgs = json_array_get(cases, c);
            size_t n = json_array_size(msgs);
            rt_chat_message m[8];
            for (size_t i = 0; i < n; i++) {
                m[i].role = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
                m[i].content =
                    json_string_value(json_object_get(json_array_get(msgs, i), "content"));
            }
            for (int gen = 0; gen < 2; gen++) {
                json_t *want = json_array_get(expected, c * 2 + (size_t)gen);
                char *got = NULL;
                int r = rt_tokenizer_apply_chat_template(tok, m, n, gen, &got);
                checked++;
                bool ok = json_is_null(want) ? r != RT_OK
                                             : r == RT_OK && !strcmp(got, json_string_value(want));
                if (!ok) {
                    mismatches++;
                    fprintf(stderr,
                            "[%s] case %zu gen %d (detected %s):\n  ours: %s\n  jinja: %s\n", name,
                            c, gen, rt_chat_template_name(rt_tokenizer_chat_template(tok)),
                            r == RT_OK ? got : rt_last_error(),
                            json_is_null(want) ? "(raises)" : json_string_value(want));
                }
                free(got);
            }
        }
        rt_tokenizer_free(tok);
    }
    fprintf(stderr, "chat templates: %zu renders compared, %zu mismatches\n", checked, mismatches);
    json_decref(root);
    tu_rmtree(tmp);
    free(tmp);
    assert_int_equal(mismatches, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_templates)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
