/*
 * test_words.c — Unicode word splitting and folding (utf8proc): letters, marks and digits form
 * words; punctuation, symbols, spaces and invalid bytes separate them; the default token count.
 */
#include "testutil.h"
#include "knowledge/words.h"

#include <string.h>

typedef struct acc {
    char out[512];
    const char *text;
} acc;

static int add(void *user, size_t start, size_t end) {
    acc *a = user;
    char folded[128];
    size_t n = rt_word_fold(a->text + start, end - start, folded, sizeof folded);
    strncat(a->out, folded, n);
    strcat(a->out, "|");
    return 0;
}

static void test_split_fold(void **s) {
    (void)s;
    /* e + combining acute stays in the word; "Straße" lower-cases per code point; the euro
     * sign and the em dash separate; the invalid byte 0xff separates; digits are words. */
    const char *t = "Cafe\xcc\x81 STRASSE Stra\xc3\x9f"
                    "e 5\xe2\x82\xac x\xe2\x80\x94y a\xffz "
                    "\xce\x91\xce\x92\xce\x93 42";
    acc a = {"", t};
    assert_int_equal(rt_words_split(t, strlen(t), add, &a), 0);
    assert_string_equal(a.out, "cafe\xcc\x81|strasse|stra\xc3\x9f"
                               "e|5|x|y|a|z|\xce\xb1\xce\xb2\xce\xb3|42|");
    /* A word that does not fit the buffer folds to 0. */
    char small[4];
    assert_int_equal(rt_word_fold("abcdef", 6, small, sizeof small), 0);
}

static void test_token_count(void **s) {
    (void)s;
    /* words: hello, world, 3; punctuation: ',', '!', '(' and ')' */
    assert_int_equal(rt_words_count_tokens(NULL, "hello, world! (3)", 17), 7);
    assert_int_equal(rt_words_count_tokens(NULL, "", 0), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_fold),
        cmocka_unit_test(test_token_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
