/*
 * test_server.c — the server's pure parts: the generation request parser (defaults, every
 * field, rejections naming the field), names safe as path components, and the slot pool's
 * bounded queue (queue full, deadline, close) and slot affinity, on slots without sessions.
 */
#include "testutil.h"
#include "server/context.h"
#include "server/request.h"
#include "server/slots.h"

#include "core/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *body, bool chat, srv_gen_request *r, const char **param) {
    char msg[256] = "";
    int rc = srv_gen_request_parse(body, strlen(body), chat, r, msg, sizeof msg, param);
    if (rc != RT_OK) assert_true(msg[0] != 0);
    return rc;
}

static void test_request_fields(void **st) {
    (void)st;
    srv_gen_request r;
    const char *param;
    assert_int_equal(parse("{\"messages\":[{\"role\":\"developer\",\"content\":\"s\"},"
                           "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                           "{\"type\":\"text\",\"text\":\"b\"}]}],\"max_completion_tokens\":7,"
                           "\"temperature\":0.5,\"top_p\":0.9,\"seed\":5,\"n\":3,\"stop\":[\"x\","
                           "\"y\"],\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                           "\"lora\":[{\"id\":1,\"scale\":0.5}],\"model\":\"m\"}",
                           true, &r, &param),
                     RT_OK);
    assert_int_equal(r.n_messages, 2);
    assert_string_equal(r.messages[0].role, "system");
    assert_string_equal(r.messages[1].content, "ab");
    assert_int_equal(r.max_tokens, 7);
    assert_true(r.temperature == 0.5f && r.top_p == 0.9f);
    assert_true(r.has_seed && r.seed == 5);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.n_stop, 2);
    assert_string_equal(r.stop[1], "y");
    assert_true(r.stream && r.include_usage && r.has_lora);
    assert_int_equal(r.lora[0].id, 1);
    assert_string_equal(r.model, "m");
    srv_gen_request_free(&r);

    assert_int_equal(parse("{\"prompt\":[\"p\"]}", false, &r, &param), RT_OK);
    assert_string_equal(r.prompt, "p");
    assert_int_equal(r.max_tokens, -1);
    assert_int_equal(r.n, 1);
    assert_true(r.temperature == 1.0f && !r.stream && !r.collection);
    srv_gen_request_free(&r);

    assert_int_equal(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"tools\":["
                           "{\"type\":\"function\"},{\"type\":\"file_search\","
                           "\"vector_store_ids\":[\"kb\"],\"max_num_results\":3}]}",
                           true, &r, &param),
                     RT_OK);
    assert_string_equal(r.collection, "kb");
    assert_int_equal(r.rag_k, 3);
    srv_gen_request_free(&r);
}

static void test_request_rejections(void **st) {
    (void)st;
    static const struct {
        const char *body;
        bool chat;
        const char *param; /* NULL: the body as a whole */
    } bad[] = {
        {"", true, NULL},
        {"{\"messages\":", true, NULL},
        {"[]", true, NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"content\":\"b\"}]}", true, NULL},
        {"{}", true, "messages"},
        {"{\"messages\":[]}", true, "messages"},
        {"{\"messages\":[{\"role\":\"bot\",\"content\":\"a\"}]}", true, "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", true,
         "messages"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"temperature\":3}", true,
         "temperature"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"top_p\":0}", true, "top_p"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":0}", true,
         "max_tokens"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"max_tokens\":\"8\"}", true,
         "max_tokens"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"n\":9}", true, "n"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stop\":[\"a\",\"b\",\"c\","
         "\"d\",\"e\"]}",
         true, "stop"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"stream\":1}", true, "stream"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"lora\":[{\"id\":-1,"
         "\"scale\":1}]}",
         true, "lora"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"seed\":1.5}", true, "seed"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"tools\":[{\"type\":"
         "\"file_search\"}]}",
         true, "tools"},
        {"{\"prompt\":5}", false, "prompt"},
        {"{\"prompt\":[\"a\",\"b\"]}", false, "prompt"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        srv_gen_request r;
        const char *param = "unset";
        if (parse(bad[i].body, bad[i].chat, &r, &param) == RT_OK)
            fail_msg("accepted %s", bad[i].body);
        if (bad[i].param) {
            assert_non_null(param);
            assert_string_equal(param, bad[i].param);
        }
    }
    /* invalid UTF-8 inside a string */
    srv_gen_request r;
    const char *param;
    assert_int_not_equal(parse("{\"prompt\":\"\xff\xfe\"}", false, &r, &param), RT_OK);
}

static void test_names(void **st) {
    (void)st;
    assert_true(srv_name_valid("docs"));
    assert_true(srv_name_valid("my-docs_2.v1"));
    assert_true(srv_name_valid("file-0123abcd"));
    const char *bad[] = {"",
                         ".",
                         "..",
                         ".hidden",
                         "a/b",
                         "../x",
                         "a..b",
                         "a b",
                         "a\\b",
                         "x\n",
                         "12345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (srv_name_valid(bad[i])) fail_msg("'%s' accepted", bad[i]);
    assert_false(srv_name_valid(NULL));
}

static void test_slot_queue(void **st) {
    (void)st;
    srv_slots sl;
    memset(&sl, 0, sizeof sl);
    pthread_mutex_init(&sl.mu, NULL);
    pthread_cond_init(&sl.cv, NULL);
    srv_slot slots[1] = {{0}};
    sl.slots = slots;
    sl.n = 1;
    sl.max_queue = 0;
    srv_slot *a = NULL, *b = NULL;
    assert_int_equal(srv_slots_acquire(&sl, rt_time_now() + 5, 1, &a), SRV_SLOT_OK);
    assert_ptr_equal(a, &slots[0]);
    /* no room to wait: refused at once */
    assert_int_equal(srv_slots_acquire(&sl, rt_time_now() + 5, 1, &b), SRV_SLOT_QUEUE_FULL);
    /* room to wait, but the deadline passes */
    sl.max_queue = 1;
    assert_int_equal(srv_slots_acquire(&sl, rt_time_now() + 0.05, 1, &b), SRV_SLOT_TIMEOUT);
    int waiting, busy;
    srv_slots_stats(&sl, &waiting, &busy);
    assert_int_equal(waiting, 0);
    assert_int_equal(busy, 1);
    srv_slots_release(&sl, a);
    assert_int_equal(srv_slots_acquire(&sl, rt_time_now() + 5, 1, &b), SRV_SLOT_OK);
    srv_slots_release(&sl, b);
    srv_slots_close(&sl);
    assert_int_equal(srv_slots_acquire(&sl, rt_time_now() + 5, 1, &b), SRV_SLOT_CLOSING);
    pthread_mutex_destroy(&sl.mu);
    pthread_cond_destroy(&sl.cv);
}

static void test_slot_affinity(void **st) {
    (void)st;
    srv_slots sl;
    memset(&sl, 0, sizeof sl);
    pthread_mutex_init(&sl.mu, NULL);
    pthread_cond_init(&sl.cv, NULL);
    srv_slot slots[2] = {{0}, {0}};
    slots[1].id = 1;
    sl.slots = slots;
    sl.n = 2;
    srv_slot *a, *b;
    double later = rt_time_now() + 5;
    assert_int_equal(srv_slots_acquire(&sl, later, 7, &a), SRV_SLOT_OK);
    assert_int_equal(srv_slots_acquire(&sl, later, 9, &b), SRV_SLOT_OK);
    assert_int_equal(a->id, 0);
    assert_int_equal(b->id, 1);
    srv_slots_release(&sl, a);
    srv_slots_release(&sl, b);
    /* both free: each key goes back to the slot that served it */
    assert_int_equal(srv_slots_acquire(&sl, later, 9, &b), SRV_SLOT_OK);
    assert_int_equal(b->id, 1);
    srv_slots_release(&sl, b);
    assert_int_equal(srv_slots_acquire(&sl, later, 9, &b), SRV_SLOT_OK);
    assert_int_equal(srv_slots_acquire(&sl, later, 7, &a), SRV_SLOT_OK);
    assert_int_equal(b->id, 1);
    assert_int_equal(a->id, 0);
    pthread_mutex_destroy(&sl.mu);
    pthread_cond_destroy(&sl.cv);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_fields), cmocka_unit_test(test_request_rejections),
        cmocka_unit_test(test_names),          cmocka_unit_test(test_slot_queue),
        cmocka_unit_test(test_slot_affinity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
