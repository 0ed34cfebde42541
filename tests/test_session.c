/*
 * test_session.c — local generation sessions (rag/session.c) on a tiny random llama with a
 * hand-built byte-level BPE tokenizer (ChatML template): the prefix cache (a second question
 * with the same system prompt prefills only the rest, and generates exactly what a fresh
 * context generates, logits within 1e-4), stop strings (text cut before the first occurrence,
 * never streamed), callbacks that stop, the chat-template path, token-id prompts without a
 * tokenizer, several sessions over one model, and bad requests.
 */
#include "testutil.h"

#include "ragtune.h"
#include "model/model.h"
#include "model/model_file.h"
#include "tokenizer/utf8.h"
#include "train/tmodel.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N_MERGES = 4, ID_IM_START = 260, ID_IM_END = 261, ID_EOS = 262, N_VOCAB = 263 };

typedef struct fixture {
    char *dir;
    tmodel *tm;
    rt_model_weights w;
    rt_model *model;
    rt_tokenizer *tok;
} fixture;

/* tokenizer.json (bytes, merges "t h", "Ġ th", "th e", "Ġth e", three specials) and a
 * tokenizer_config.json naming the ChatML template, in dir. */
static void write_tokenizer(const char *dir) {
    json_t *vocab = json_object();
    for (int b = 0; b < 256; b++) {
        uint8_t buf[4];
        int n = tk_utf8_encode(tk_byte_to_cp((uint8_t)b), buf);
        json_object_setn_new(vocab, (const char *)buf, (size_t)n, json_integer(b));
    }
    const char *merged[N_MERGES] = {"th", "\xC4\xA0th", "the", "\xC4\xA0the"};
    for (int i = 0; i < N_MERGES; i++)
        json_object_set_new(vocab, merged[i], json_integer(256 + i));
    const char *specials[3] = {"<|im_start|>", "<|im_end|>", "<|endoftext|>"};
    json_t *added = json_array();
    for (int i = 0; i < 3; i++) {
        json_object_set_new(vocab, specials[i], json_integer(ID_IM_START + i));
        json_array_append_new(added,
                              json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", ID_IM_START + i,
                                        "content", specials[i], "special", 1, "normalized", 0,
                                        "lstrip", 0, "rstrip", 0, "single_word", 0));
    }
    json_t *merges = json_pack("[s,s,s,s]", "t h", "\xC4\xA0 th", "th e", "\xC4\xA0th e");
    json_t *root =
        json_pack("{s:{s:s,s:o,s:o},s:{s:s,s:b,s:b},s:{s:s},s:o}", "model", "type", "BPE", "vocab",
                  vocab, "merges", merges, "pre_tokenizer", "type", "ByteLevel", "add_prefix_space",
                  0, "use_regex", 1, "decoder", "type", "ByteLevel", "added_tokens", added);
    char path[1024];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
    json_t *cfg = json_pack(
        "{s:s,s:s}", "eos_token", "<|endoftext|>", "chat_template",
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}"
        "{{ '<|im_start|>assistant\\n' }}{% endif %}");
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    assert_int_equal(json_dump_file(cfg, path, 0), 0);
    json_decref(cfg);
}

/* A llama whose weights are uniform in [-0.3, 0.3): logits far apart, so greedy choices do not
 * hinge on rounding. */
static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    f->dir = tu_tmpdir("session");
    write_tokenizer(f->dir);
    assert_int_equal(rt_tokenizer_load(f->dir, &f->tok), RT_OK);
    assert_int_equal(rt_tokenizer_n_vocab(f->tok), N_VOCAB);
    rt_model_config c = tu_tiny_config(RT_ARCH_LLAMA, N_VOCAB, 64, 512);
    tm_options o = {.base_dtype = RT_DTYPE_F32, .seed = 3};
    assert_int_equal(tmodel_new(&c, NULL, &o, &f->tm), 0);
    unsigned seed = 12345;
    for (size_t i = 0; i < f->tm->n_store; i++)
        f->tm->store[i] = tu_frand(&seed, -0.3f, 0.3f);
    assert_int_equal(tmodel_weights(f->tm, &f->w), 0);
    assert_int_equal(rt_model_from_weights(&f->tm->cfg, &f->w, NULL, NULL, NULL, &f->model), 0);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    rt_model_free(f->model);
    rt_model_weights_free(&f->w, f->tm->cfg.n_layer);
    tmodel_free(f->tm);
    rt_tokenizer_free(f->tok);
    tu_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

static rt_session *open_shared(fixture *f, int n_ctx) {
    rt_session_params sp = rt_session_default_params();
    sp.model = f->model;
    sp.tokenizer = f->tok;
    sp.n_ctx = n_ctx;
    rt_session *s = NULL;
    int st = rt_session_open(&sp, &s);
    if (st != RT_OK) fail_msg("rt_session_open: %s", rt_last_error());
    return s;
}

/* on_text: appends every piece to a buffer; stops after stop_after calls when > 0. */
typedef struct text_log {
    char buf[8192];
    size_t len;
    int calls;
    int stop_after;
} text_log;

static int log_text(void *user, const char *text, size_t len) {
    text_log *t = user;
    assert_true(len > 0);
    assert_true(t->len + len < sizeof t->buf);
    memcpy(t->buf + t->len, text, len);
    t->len += len;
    t->calls++;
    return t->stop_after > 0 && t->calls >= t->stop_after;
}

static const char system_prompt[] =
    "You are a careful assistant. Answer with the facts from the sources and nothing else.";

static rt_session_request chat_request(rt_chat_message *m, const char *question) {
    m[0] = (rt_chat_message){"system", system_prompt};
    m[1] = (rt_chat_message){"user", question};
    rt_session_request rq = rt_session_default_request();
    rq.messages = m;
    rq.n_messages = 2;
    rq.max_tokens = 12;
    rq.ignore_eos = true;
    return rq;
}

/* The ids the session should build for a chat request. */
static int32_t *chat_ids(const rt_tokenizer *tok, const rt_chat_message *m, size_t n, bool gen,
                         size_t *n_ids) {
    char *text;
    assert_int_equal(rt_tokenizer_apply_chat_template(tok, m, n, gen, &text), RT_OK);
    int32_t *ids;
    assert_int_equal(rt_tokenizer_encode(tok, text, strlen(text), false, &ids, n_ids), RT_OK);
    free(text);
    return ids;
}

static void test_prefix_cache(void **state) {
    fixture *f = *state;
    rt_session *s = open_shared(f, 0);
    rt_chat_message m1[2], m2[2];
    rt_session_request q1 = chat_request(m1, "What is the capital of the country?");
    rt_session_request q2 = chat_request(m2, "Where does the river start?");
    rt_session_result r1, r2, r3;
    assert_int_equal(rt_session_generate(s, &q1, &r1), RT_OK);
    assert_int_equal(r1.n_prompt_cached, 0);
    assert_int_equal(r1.n_generated, 12);
    assert_int_equal(r1.stop_reason, RT_STOP_LENGTH);

    /* expected reuse: the common prefix of what the context holds and the new prompt */
    rt_context *ctx = rt_session_context(s);
    int n_past = rt_context_n_past(ctx);
    assert_int_equal(n_past, r1.n_prompt + r1.n_generated - 1); /* last token not evaluated */
    int32_t *held = malloc((size_t)n_past * sizeof *held);
    memcpy(held, rt_context_tokens(ctx), (size_t)n_past * sizeof *held);
    size_t n2;
    int32_t *ids2 = chat_ids(f->tok, m2, 2, true, &n2);
    int lcp = 0;
    while (lcp < n_past && lcp < (int)n2 - 1 && held[lcp] == ids2[lcp])
        lcp++;
    size_t n_sys;
    int32_t *sys_ids = chat_ids(f->tok, m2, 1, false, &n_sys); /* the system turn */
    assert_true(lcp > (int)n_sys); /* the system turn and the user turn's opening */

    assert_int_equal(rt_session_generate(s, &q2, &r2), RT_OK);
    assert_int_equal(r2.n_prompt, (int)n2);
    assert_int_equal(r2.n_prompt_cached, lcp);
    assert_true(r2.n_prompt_cached > 0);

    /* the same question on a fresh context: same tokens, same text, logits within 1e-4 */
    rt_session *fresh = open_shared(f, 0);
    assert_int_equal(rt_session_generate(fresh, &q2, &r3), RT_OK);
    assert_int_equal(r3.n_prompt_cached, 0);
    assert_int_equal(r3.n_generated, r2.n_generated);
    assert_int_equal(r3.text_len, r2.text_len);
    assert_memory_equal(r3.text, r2.text, r2.text_len);
    rt_context *c2 = rt_session_context(s), *c3 = rt_session_context(fresh);
    assert_int_equal(rt_context_n_past(c2), rt_context_n_past(c3));
    assert_memory_equal(rt_context_tokens(c2), rt_context_tokens(c3),
                        (size_t)rt_context_n_past(c2) * sizeof(int32_t));
    double d = tu_max_abs_diff(rt_context_logits(c2), rt_context_logits(c3), N_VOCAB);
    assert_true(d <= 1e-4);

    /* timings are filled and ordered */
    assert_true(r2.ttft_seconds > 0 && r2.total_seconds >= r2.ttft_seconds);
    assert_true(r2.prefill_seconds > 0 && r2.decode_seconds >= 0);

    rt_session_result_clear(&r1);
    rt_session_result_clear(&r2);
    rt_session_result_clear(&r3);
    assert_null(r1.text);
    free(held);
    free(ids2);
    free(sys_ids);
    rt_session_close(fresh);
    rt_session_close(s);
}

/* Byte offset of the first occurrence of needle in hay (or -1). */
static long find(const char *hay, size_t n, const char *needle, size_t k) {
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k)) return (long)i;
    return -1;
}

static void test_stop_strings(void **state) {
    fixture *f = *state;
    rt_session *s = open_shared(f, 0);
    rt_session_request q = rt_session_default_request();
    q.prompt = "the theme of the thesis";
    q.max_tokens = 40;
    q.ignore_eos = true;
    text_log full = {0};
    q.on_text = log_text;
    q.user = &full;
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_int_equal(r.n_generated, 40);
    assert_int_equal(r.stop_reason, RT_STOP_LENGTH);
    /* streamed text == result text == decode of the generated ids */
    assert_int_equal(full.len, r.text_len);
    assert_memory_equal(full.buf, r.text, r.text_len);
    int n_past = rt_context_n_past(rt_session_context(s));
    const int32_t *seq = rt_context_tokens(rt_session_context(s));
    assert_true(r.text_len > 8);

    /* a stop string from the middle of the text: its first occurrence ends the output */
    size_t p = r.text_len / 2;
    while (p > 0 && ((unsigned char)r.text[p] & 0xC0) == 0x80)
        p--;
    size_t k = 1;
    while (p + k < r.text_len && (((unsigned char)r.text[p + k] & 0xC0) == 0x80 || k < 2))
        k++;
    char stop[16];
    assert_true(k < sizeof stop);
    memcpy(stop, r.text + p, k);
    stop[k] = 0;
    long first = find(r.text, r.text_len, stop, k);
    assert_true(first >= 0);
    const char *stops[2] = {"\x01never", stop};
    text_log cut = {0};
    q.user = &cut;
    q.stop_strings = stops;
    q.n_stop_strings = 2;
    rt_session_result rs;
    assert_int_equal(rt_session_generate(s, &q, &rs), RT_OK);
    assert_int_equal(rs.n_prompt_cached, rs.n_prompt - 1); /* same prompt: all but the last */
    assert_int_equal(rs.stop_reason, RT_STOP_STRING);
    assert_int_equal(rs.text_len, (size_t)first);
    assert_memory_equal(rs.text, r.text, (size_t)first);
    assert_int_equal(cut.len, (size_t)first); /* the stop string was never streamed */
    assert_true(rs.n_generated < 40);

    /* a stop string that never appears changes nothing */
    const char *none[1] = {"\x01\x02"};
    q.stop_strings = none;
    q.n_stop_strings = 1;
    text_log same = {0};
    q.user = &same;
    rt_session_result rn;
    assert_int_equal(rt_session_generate(s, &q, &rn), RT_OK);
    assert_int_equal(rn.stop_reason, RT_STOP_LENGTH);
    assert_int_equal(rn.text_len, r.text_len);
    assert_memory_equal(rn.text, r.text, r.text_len);

    /* on_text asking to stop */
    text_log once = {.stop_after = 1};
    q.user = &once;
    q.n_stop_strings = 0;
    rt_session_result rc;
    assert_int_equal(rt_session_generate(s, &q, &rc), RT_OK);
    assert_int_equal(rc.stop_reason, RT_STOP_CALLBACK);
    assert_int_equal(once.calls, 1);
    assert_int_equal(rc.text_len, once.len);
    (void)seq;
    (void)n_past;
    rt_session_result_clear(&r);
    rt_session_result_clear(&rs);
    rt_session_result_clear(&rn);
    rt_session_result_clear(&rc);
    rt_session_close(s);
}

static void test_chat_template_and_counts(void **state) {
    fixture *f = *state;
    rt_session *s = open_shared(f, 0);
    assert_ptr_equal(rt_session_model(s), f->model);
    assert_ptr_equal(rt_session_tokenizer(s), f->tok);
    assert_string_equal(rt_session_name(s), "llama");
    assert_int_equal(rt_session_n_ctx(s), 512);
    assert_int_equal(rt_session_set_adapters(s, NULL, NULL, 0), RT_OK); /* none: the base */
    assert_int_equal(rt_tokenizer_chat_template(f->tok), RT_CHAT_CHATML);
    const char *t = "the theme";
    /* "the" + "Ġthe" + "m" + "e" */
    assert_int_equal(rt_session_count_tokens(s, t, strlen(t)), 4);
    rt_chat_message m[2];
    rt_session_request q = chat_request(m, "Is the thesis done?");
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    size_t n;
    int32_t *ids = chat_ids(f->tok, m, 2, true, &n);
    assert_int_equal(r.n_prompt, (int)n);
    assert_int_equal(ids[0], ID_IM_START); /* rendered with the template, no extra BOS */
    const int32_t *seq = rt_context_tokens(rt_session_context(s));
    assert_memory_equal(seq, ids, n * sizeof *ids);
    free(ids);
    rt_session_result_clear(&r);

    /* the raw prompt is encoded as is */
    rt_session_request raw = rt_session_default_request();
    raw.prompt = "the";
    raw.max_tokens = 1;
    assert_int_equal(rt_session_generate(s, &raw, &r), RT_OK);
    assert_int_equal(r.n_prompt, 1);
    assert_int_equal(rt_context_tokens(rt_session_context(s))[0], 258); /* "the" */
    rt_session_result_clear(&r);
    rt_session_close(s);
}

typedef struct id_log {
    int32_t ids[64];
    int n;
} id_log;

static int log_id(void *user, int32_t token, const char *text, size_t len) {
    id_log *l = user;
    if (token >= 0 && l->n < 64) l->ids[l->n++] = token;
    return 0;
}

static void test_ids_without_tokenizer(void **state) {
    fixture *f = *state;
    rt_session_params sp = rt_session_default_params();
    sp.model = f->model;
    sp.name = "tiny";
    rt_session *s;
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    assert_string_equal(rt_session_name(s), "tiny");
    assert_null(rt_session_tokenizer(s));
    int32_t prompt[3] = {5, 6, 7};
    rt_session_request q = rt_session_default_request();
    q.prompt_ids = prompt;
    q.n_prompt_ids = 3;
    q.max_tokens = 6;
    q.ignore_eos = true;
    id_log l = {0};
    q.on_token = log_id;
    q.user = &l;
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_int_equal(r.n_generated, 6);
    assert_int_equal(l.n, 6);
    assert_int_equal(r.text_len, 0);
    /* a stop id: generation ends before it */
    q.stop_tokens = &l.ids[2];
    q.n_stop_tokens = 1;
    id_log l2 = {0};
    q.user = &l2;
    rt_session_result_clear(&r);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_int_equal(r.stop_reason, RT_STOP_EOS);
    assert_true(l2.n <= 2);
    rt_session_result_clear(&r);

    /* text needs a tokenizer */
    rt_session_request t = rt_session_default_request();
    t.prompt = "hello";
    assert_int_equal(rt_session_generate(s, &t, &r), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "tokenizer"));
    rt_session_close(s);
}

static void test_sessions_share_a_model(void **state) {
    fixture *f = *state;
    rt_session *a = open_shared(f, 128), *b = open_shared(f, 128);
    rt_session_request qa = rt_session_default_request(), qb = rt_session_default_request();
    qa.prompt = "the thesis";
    qb.prompt = "a theme";
    qa.max_tokens = qb.max_tokens = 5;
    qa.ignore_eos = qb.ignore_eos = true;
    rt_session_result ra1, rb1, ra2, rb2;
    assert_int_equal(rt_session_generate(a, &qa, &ra1), RT_OK);
    assert_int_equal(rt_session_generate(b, &qb, &rb1), RT_OK);
    assert_int_equal(rt_session_generate(a, &qb, &ra2), RT_OK); /* a now asks b's question */
    assert_int_equal(rt_session_generate(b, &qa, &rb2), RT_OK);
    assert_int_equal(ra1.text_len, rb2.text_len);
    assert_memory_equal(ra1.text, rb2.text, ra1.text_len);
    assert_int_equal(rb1.text_len, ra2.text_len);
    assert_memory_equal(rb1.text, ra2.text, rb1.text_len);
    rt_session_result_clear(&ra1);
    rt_session_result_clear(&rb1);
    rt_session_result_clear(&ra2);
    rt_session_result_clear(&rb2);
    rt_session_close(a);
    rt_session_close(b);
}

static void test_bad_requests(void **state) {
    fixture *f = *state;
    rt_session *s = open_shared(f, 16);
    rt_session_result r;
    rt_session_request q = rt_session_default_request();
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID); /* nothing to say */
    q.prompt = "the theme of the thesis is the theme";                /* > 16 tokens */
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_RANGE);
    assert_non_null(strstr(rt_last_error(), "context"));
    q.prompt = "the";
    const char *empty[1] = {""};
    q.stop_strings = empty;
    q.n_stop_strings = 1;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID);
    q.n_stop_strings = 0;
    q.max_tokens = -1;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID);
    assert_null(r.text);
    rt_session_close(s);

    rt_session_params sp = rt_session_default_params();
    rt_session *none = NULL;
    assert_int_equal(rt_session_open(&sp, &none), RT_ERR_INVALID);
    sp.model_path = "/nonexistent/model.gguf";
    assert_true(rt_session_open(&sp, &none) < 0);
    assert_null(none);
    rt_session_close(NULL);
    rt_session_result_clear(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_chat_template_and_counts),
        cmocka_unit_test(test_ids_without_tokenizer),
        cmocka_unit_test(test_sessions_share_a_model),
        cmocka_unit_test(test_bad_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
