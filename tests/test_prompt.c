/*
 * test_prompt.c — the reader prompt shared by ask, RAFT data and the reader recipe (exact text
 * of both styles, a user template, the completion), and the growable text buffer behind it.
 */
#include "testutil.h"
#include "core/strbuf.h"
#include "rag/prompt.h"

#include <stdlib.h>
#include <string.h>

static const rt_rag_source two[] = {
    {"Lisp", "A list processing language.", 27},
    {NULL, "An unrelated passage.", 21},
};

static void test_base_prompt(void **s) {
    (void)s;
    char *p = NULL;
    assert_int_equal(rt_rag_prompt_render(RT_RAG_PROMPT_BASE, NULL, two, 2, "What is Lisp?", &p,
                                          NULL, NULL),
                     RT_OK);
    char expect[1024];
    snprintf(expect, sizeof expect,
             "%s\n\n[1] Lisp\nA list processing language.\n\n[2] An unrelated passage.\n\n"
             "Question: What is Lisp?\nAnswer:",
             rt_rag_instructions);
    assert_string_equal(p, expect);
    free(p);
}

static void test_chat_and_template(void **s) {
    (void)s;
    char *sys = NULL, *user = NULL, *p = NULL;
    assert_int_equal(rt_rag_prompt_render(RT_RAG_PROMPT_CHAT, NULL, two, 1, "Q?", NULL, &sys,
                                          &user),
                     RT_OK);
    assert_string_equal(sys, rt_rag_instructions);
    assert_string_equal(user, "Sources:\n\n[1] Lisp\nA list processing language.\n\nQuestion: Q?");
    free(sys);
    free(user);
    assert_int_equal(rt_rag_prompt_render(RT_RAG_PROMPT_BASE, "<{question}|{sources}|{x}>", two,
                                          1, "Q?", &p, NULL, NULL),
                     RT_OK);
    assert_string_equal(p, "<Q?|[1] Lisp\nA list processing language.|{x}>");
    free(p);
    /* A template without the question is refused. */
    assert_int_equal(rt_rag_prompt_render(RT_RAG_PROMPT_BASE, "{sources}", two, 1, "Q?", &p, NULL,
                                          NULL),
                     RT_ERR_INVALID);
}

static void test_completion(void **s) {
    (void)s;
    char *c = NULL;
    assert_int_equal(rt_rag_completion_render("A language.", 2, &c), RT_OK);
    assert_string_equal(c, " A language. [2]");
    free(c);
    assert_int_equal(rt_rag_completion_render(NULL, 0, &c), RT_OK);
    assert_string_equal(c, " " RT_RAG_ABSTAIN_TEXT);
    free(c);
    assert_non_null(rt_rag_stop_strings()[0]);
}

static void test_strbuf(void **s) {
    (void)s;
    rt_strbuf b = {0};
    for (int i = 0; i < 1000; i++) assert_int_equal(rt_strbuf_printf(&b, "%d,", i % 10), RT_OK);
    assert_int_equal(b.len, 2000);
    assert_int_equal(b.data[b.len], '\0');
    rt_strbuf_free(&b);
    assert_int_equal(rt_strbuf_json_string(&b, "a\"b\\\n\x01", 6), RT_OK);
    assert_string_equal(b.data, "\"a\\\"b\\\\\\n\\u0001\"");
    char *t = rt_strbuf_take(&b);
    assert_null(b.data);
    free(t);
    t = rt_strbuf_take(&b); /* empty buffer: "" */
    assert_string_equal(t, "");
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base_prompt),
        cmocka_unit_test(test_chat_and_template),
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_strbuf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
