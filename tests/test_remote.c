/*
 * test_remote.c — remote sessions and the remote embedder (rag/remote.c) against a real HTTP
 * server process on 127.0.0.1 (tests/python/fake_openai.py, started here): streamed chat and
 * completions (SSE with \n and \r\n lines, an event cut over two writes, comments, the usage
 * chunk), a plain JSON reply, stop strings enforced on the client, a callback that stops,
 * 429-then-success (retried, Retry-After honoured), 503 until the retries run out, a server that
 * does not answer (timeout, not retried) or stalls mid-stream, malformed JSON, a malformed
 * event, a truncated stream, a reply above the cap, a refused key (401) and the key from the
 * environment, an unreachable host, an unknown route, and embeddings (batches, order by
 * "index", dimension probe, a wrong dimension). Without the server: the event-stream parser fed
 * byte by byte, and rt_remote_parse_reply on hand-written replies.
 */
#include "testutil.h"

#include "ragtune.h"
#include "rag/remote.h"
#include "rag/sse.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct server {
    pid_t pid;
    int port;
    char *dir;
    char log[1024];
    char base[128];
} server;

static server srv;

static int start_server(void **state) {
    /* the requests go to 127.0.0.1 directly, whatever proxy the environment names */
    const char *proxies[] = {"http_proxy",  "https_proxy", "HTTP_PROXY",
                             "HTTPS_PROXY", "ALL_PROXY",   "all_proxy"};
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
    unsetenv("RAGTUNE_API_KEY");
    unsetenv("OPENAI_API_KEY");
    srv.dir = tu_tmpdir("remote");
    snprintf(srv.log, sizeof srv.log, "%s/requests.jsonl", srv.dir);
    char *script = tu_source_path("tests/python/fake_openai.py");
    const char *py = getenv("RT_PYTHON") ? getenv("RT_PYTHON") : "python3";
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    srv.pid = fork();
    assert_true(srv.pid >= 0);
    if (srv.pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execlp(py, py, script, "--log", srv.log, "--lifetime", "240", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    free(script);
    FILE *fp = fdopen(fds[0], "r");
    assert_non_null(fp);
    if (fscanf(fp, "%d", &srv.port) != 1) fail_msg("the fake server did not start");
    fclose(fp);
    snprintf(srv.base, sizeof srv.base, "http://127.0.0.1:%d/v1", srv.port);
    (void)state;
    return 0;
}

static int stop_server(void **state) {
    kill(srv.pid, SIGTERM);
    waitpid(srv.pid, NULL, 0);
    tu_rmtree(srv.dir);
    free(srv.dir);
    (void)state;
    return 0;
}

/* Requests the server logged for model (count); *last gets the last one's JSON (decref it). */
static int logged(const char *model, json_t **last) {
    FILE *fp = fopen(srv.log, "r");
    int n = 0;
    if (last) *last = NULL;
    if (!fp) return 0;
    char line[1 << 16];
    while (fgets(line, sizeof line, fp)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j);
        if (!strcmp(json_string_value(json_object_get(j, "model")), model)) {
            n++;
            if (last) {
                json_decref(*last);
                *last = j;
                continue;
            }
        }
        json_decref(j);
    }
    fclose(fp);
    return n;
}

static rt_session *open_remote(const char *model, double timeout, int retries) {
    rt_session_params sp = rt_session_default_params();
    sp.api_base = srv.base;
    sp.api_model = model;
    sp.timeout_seconds = timeout;
    sp.max_retries = retries;
    rt_session *s = NULL;
    int st = rt_session_open(&sp, &s);
    if (st != RT_OK) fail_msg("open: %s", rt_last_error());
    return s;
}

typedef struct text_log {
    char buf[1 << 16];
    size_t len;
    int calls, stop_after;
} text_log;

static int log_text(void *user, const char *text, size_t len) {
    text_log *t = user;
    assert_true(len > 0 && t->len + len < sizeof t->buf);
    memcpy(t->buf + t->len, text, len);
    t->len += len;
    t->buf[t->len] = 0;
    t->calls++;
    return t->stop_after > 0 && t->calls >= t->stop_after;
}

static rt_session_request ask(rt_chat_message *m, const char *question, text_log *t) {
    m[0] = (rt_chat_message){"system", "Be brief."};
    m[1] = (rt_chat_message){"user", question};
    rt_session_request q = rt_session_default_request();
    q.messages = m;
    q.n_messages = 2;
    q.max_tokens = 33;
    q.on_text = log_text;
    q.user = t;
    return q;
}

static void test_chat_stream(void **state) {
    rt_session *s = open_remote("sse", 30, 0);
    assert_string_equal(rt_session_name(s), "remote:sse");
    assert_int_equal(rt_session_n_ctx(s), 0);
    assert_null(rt_session_model(s));
    assert_null(rt_session_context(s));
    assert_int_equal(rt_session_count_tokens(s, "12345678", 8), 2);
    assert_int_equal(rt_session_set_adapters(s, NULL, NULL, 0), RT_ERR_UNSUPPORTED);
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "hello \xc3\xa9t\xc3\xa9", &t);
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    const char *want = "You said: hello \xc3\xa9t\xc3\xa9. The answer is 42. END tail";
    assert_string_equal(r.text, want);
    assert_int_equal(r.text_len, strlen(want));
    assert_string_equal(t.buf, want); /* streamed == accumulated */
    assert_true(t.calls > 3);
    assert_int_equal(r.n_prompt, 17); /* from the usage chunk */
    assert_int_equal(r.n_prompt_cached, 5);
    int n_chars = (int)strlen(want) - 2; /* the server cuts 7 characters per chunk */
    assert_int_equal(r.n_generated, (n_chars + 6) / 7);
    assert_int_equal(r.stop_reason, RT_STOP_EOS);
    assert_true(r.ttft_seconds > 0 && r.total_seconds >= r.ttft_seconds);
    rt_session_result_clear(&r);

    /* what was sent */
    json_t *last;
    assert_int_equal(logged("sse", &last), 1);
    json_t *body = json_object_get(last, "body");
    assert_string_equal(json_string_value(json_object_get(last, "path")), "/v1/chat/completions");
    assert_true(json_is_true(json_object_get(body, "stream")));
    assert_int_equal(json_integer_value(json_object_get(body, "max_tokens")), 33);
    assert_true(json_number_value(json_object_get(body, "temperature")) == 0);
    assert_null(json_object_get(body, "top_k")); /* non-standard fields only when used */
    json_t *msgs = json_object_get(body, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(last, "auth")), ""); /* no key set */
    json_decref(last);

    /* a raw prompt goes to /completions (\r\n lines); ids too */
    rt_session_request raw = rt_session_default_request();
    raw.prompt = "raw text";
    assert_int_equal(rt_session_generate(s, &raw, &r), RT_OK);
    assert_string_equal(r.text, "You said: raw text. The answer is 42. END tail");
    rt_session_result_clear(&r);
    int32_t ids[3] = {1, 2, 3};
    raw.prompt = NULL;
    raw.prompt_ids = ids;
    raw.n_prompt_ids = 3;
    assert_int_equal(rt_session_generate(s, &raw, &r), RT_OK);
    assert_string_equal(r.text, "You said: 1,2,3. The answer is 42. END tail");
    rt_session_result_clear(&r);
    assert_int_equal(logged("sse", &last), 3);
    assert_string_equal(json_string_value(json_object_get(last, "path")), "/v1/completions");
    json_decref(last);

    /* max_tokens 0: nothing to ask */
    raw.max_tokens = 0;
    assert_int_equal(rt_session_generate(s, &raw, &r), RT_OK);
    assert_int_equal(r.text_len, 0);
    assert_int_equal(r.stop_reason, RT_STOP_LENGTH);
    rt_session_result_clear(&r);
    assert_int_equal(logged("sse", NULL), 3);

    /* ids per token need a local model */
    raw.max_tokens = 5;
    raw.stop_tokens = ids;
    raw.n_stop_tokens = 1;
    assert_int_equal(rt_session_generate(s, &raw, &r), RT_ERR_UNSUPPORTED);
    rt_session_close(s);
}

static void test_stops_and_json(void **state) {
    rt_session *s = open_remote("sse", 30, 0);
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "hi", &t);
    const char *stops[2] = {"never there", "END"};
    q.stop_strings = stops;
    q.n_stop_strings = 2;
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_string_equal(r.text, "You said: hi. The answer is 42. ");
    assert_string_equal(t.buf, "You said: hi. The answer is 42. "); /* never streamed */
    assert_int_equal(r.stop_reason, RT_STOP_STRING);
    rt_session_result_clear(&r);
    json_t *last;
    logged("sse", &last);
    assert_int_equal(json_array_size(json_object_get(json_object_get(last, "body"), "stop")), 2);
    json_decref(last);

    /* a callback that stops after the first piece */
    text_log once = {.stop_after = 1};
    q.user = &once;
    q.n_stop_strings = 0;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_int_equal(r.stop_reason, RT_STOP_CALLBACK);
    assert_int_equal(once.calls, 1);
    assert_int_equal(r.text_len, once.len);
    rt_session_result_clear(&r);
    rt_session_close(s);

    /* one JSON body instead of a stream; stop strings still apply */
    s = open_remote("json", 30, 0);
    text_log j = {0};
    q.user = &j;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_string_equal(r.text, "You said: hi. The answer is 42. END tail");
    assert_int_equal(r.n_prompt, 11);
    assert_int_equal(r.n_generated, 9);
    rt_session_result_clear(&r);
    q.n_stop_strings = 2;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_string_equal(r.text, "You said: hi. The answer is 42. ");
    assert_int_equal(r.stop_reason, RT_STOP_STRING);
    rt_session_result_clear(&r);
    rt_session_close(s);
}

static void test_retries(void **state) {
    /* 429 twice (Retry-After: 0), then success */
    rt_session *s = open_remote("flaky2-a", 30, 3);
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "again", &t);
    rt_session_result r;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_string_equal(r.text, "You said: again. The answer is 42. END tail");
    assert_int_equal(logged("flaky2-a", NULL), 3);
    rt_session_result_clear(&r);
    rt_session_close(s);

    /* more 429s than retries */
    s = open_remote("flaky5-b", 30, 1);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "HTTP 429"));
    assert_non_null(strstr(rt_last_error(), "after 2 attempts"));
    assert_int_equal(logged("flaky5-b", NULL), 2);
    assert_null(r.text);
    rt_session_close(s);

    /* 503 always: retried with backoff, then the server's message */
    s = open_remote("down", 30, 1);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "HTTP 503: overloaded"));
    assert_int_equal(logged("down", NULL), 2);
    rt_session_close(s);
}

static void test_timeouts(void **state) {
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "wait", &t);
    rt_session_result r;
    rt_session *s = open_remote("slow", 1, 3);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "timeout"));
    assert_non_null(strstr(rt_last_error(), "/v1/chat/completions"));
    assert_int_equal(logged("slow", NULL), 1); /* a timeout is not retried */
    rt_session_close(s);

    s = open_remote("stall", 1, 3);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "timeout"));
    assert_string_equal(t.buf, "You sai"); /* what came before the stall was streamed */
    assert_int_equal(logged("stall", NULL), 1);
    rt_session_close(s);
}

static void test_malformed(void **state) {
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "x", &t);
    rt_session_result r;
    const char *models[3] = {"badjson", "badsse", "truncated"};
    const char *words[3] = {"malformed JSON reply", "malformed JSON in the event stream",
                            "ended before"};
    for (int i = 0; i < 3; i++) {
        rt_session *s = open_remote(models[i], 30, 3);
        assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_FORMAT);
        if (!strstr(rt_last_error(), words[i])) fail_msg("%s: %s", models[i], rt_last_error());
        assert_int_equal(logged(models[i], NULL), 1); /* not retried */
        rt_session_close(s);
    }
    /* a reply above the cap */
    rt_session_params sp = rt_session_default_params();
    sp.api_base = srv.base;
    sp.api_model = "big";
    sp.max_reply_bytes = 64 << 10;
    rt_session *s;
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    t.len = 0;
    t.buf[0] = 0;
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_RANGE);
    assert_non_null(strstr(rt_last_error(), "exceeds 65536 bytes"));
    rt_session_close(s);
    /* the default cap (8 MiB) takes it */
    sp.max_reply_bytes = 0;
    q.on_text = NULL;
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    assert_int_equal(r.text_len, 1100 * 1000);
    assert_int_equal(r.stop_reason, RT_STOP_LENGTH);
    rt_session_result_clear(&r);
    rt_session_close(s);
}

static void test_keys_and_hosts(void **state) {
    rt_chat_message m[2];
    text_log t = {0};
    rt_session_request q = ask(m, "key", &t);
    rt_session_result r;
    /* no key: 401 with the server's words and a hint */
    rt_session *s = open_remote("auth", 30, 3);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID);
    assert_non_null(strstr(rt_last_error(), "refused the API key (HTTP 401"));
    assert_non_null(strstr(rt_last_error(), "Incorrect API key provided"));
    assert_non_null(strstr(rt_last_error(), "RAGTUNE_API_KEY"));
    assert_int_equal(logged("auth", NULL), 1); /* not retried */
    rt_session_close(s);
    /* a wrong key is not repeated in the message */
    rt_session_params sp = rt_session_default_params();
    sp.api_base = srv.base;
    sp.api_model = "auth";
    sp.api_key = "wrong-key-123";
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID);
    assert_null(strstr(rt_last_error(), "wrong-key-123"));
    rt_session_close(s);
    /* the key from the environment: RAGTUNE_API_KEY, else OPENAI_API_KEY */
    setenv("OPENAI_API_KEY", "sekrit", 1);
    s = open_remote("auth", 30, 0);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    rt_session_result_clear(&r);
    rt_session_close(s);
    setenv("RAGTUNE_API_KEY", "other", 1);
    s = open_remote("auth", 30, 0);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_INVALID);
    rt_session_close(s);
    setenv("RAGTUNE_API_KEY", "sekrit", 1);
    setenv("OPENAI_API_KEY", "other", 1);
    s = open_remote("auth", 30, 0);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_OK);
    rt_session_result_clear(&r);
    rt_session_close(s);
    json_t *last;
    logged("auth", &last);
    assert_string_equal(json_string_value(json_object_get(last, "auth")), "Bearer sekrit");
    json_decref(last);
    unsetenv("RAGTUNE_API_KEY");
    unsetenv("OPENAI_API_KEY");

    /* an unknown route */
    char base[160];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/nowhere/", srv.port);
    sp = rt_session_default_params();
    sp.api_base = base;
    sp.api_model = "sse";
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_NOT_FOUND);
    assert_non_null(strstr(rt_last_error(), "/nowhere/chat/completions"));
    rt_session_close(s);

    /* an unreachable host: a port nobody listens on (bound, then closed) */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    snprintf(base, sizeof base, "http://127.0.0.1:%d/v1", ntohs(a.sin_port));
    sp.api_base = base;
    sp.max_retries = 1;
    assert_int_equal(rt_session_open(&sp, &s), RT_OK);
    assert_int_equal(rt_session_generate(s, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "cannot reach the server"));
    assert_non_null(strstr(rt_last_error(), "after 2 attempts"));
    rt_session_close(s);

    /* bad parameters */
    sp.api_base = "ftp://x";
    assert_int_equal(rt_session_open(&sp, &s), RT_ERR_INVALID);
    sp.api_base = srv.base;
    sp.api_model = NULL;
    assert_int_equal(rt_session_open(&sp, &s), RT_ERR_INVALID);
}

static double norm(const float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

static void test_embedder(void **state) {
    rt_embedder e;
    assert_int_equal(rt_embedder_open_remote(srv.base, "emb", 0, &e), RT_OK);
    assert_int_equal(e.dim, 8); /* asked the server */
    assert_string_equal(e.name, "remote:emb");
    enum { N = 70 };
    char texts[N][16];
    const char *ptr[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof texts[i], "text %d", i % 35);
        ptr[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    lens[3] = 0; /* an empty text: the zero vector, not sent */
    float *out = malloc(sizeof(float) * N * 8);
    int before = logged("emb", NULL);
    assert_int_equal(e.embed(e.user, ptr, lens, N, out), RT_OK);
    assert_int_equal(logged("emb", NULL) - before, 2); /* 69 texts in batches of 64 */
    for (int i = 0; i < N; i++) {
        if (i == 3) {
            assert_true(norm(out + 3 * 8, 8) == 0);
            continue;
        }
        assert_true(fabs(norm(out + i * 8, 8) - 1) < 1e-5);
        if (i >= 35 && i != 38) /* the same text in both batches, same vector */
            assert_true(tu_max_abs_diff(out + i * 8, out + (i - 35) * 8, 8) == 0);
    }
    assert_true(tu_max_abs_diff(out + 0, out + 8, 8) > 0.01);
    /* the server lists them in reverse; "index" puts each back */
    const char *two[2] = {"text 1", "text 0"};
    size_t two_len[2] = {6, 6};
    float pair[16];
    assert_int_equal(e.embed(e.user, two, two_len, 2, pair), RT_OK);
    assert_true(tu_max_abs_diff(pair, out + 8, 8) == 0);
    assert_true(tu_max_abs_diff(pair + 8, out, 8) == 0);
    rt_embedder_close_remote(&e);

    /* vectors of another length */
    assert_int_equal(rt_embedder_open_remote(srv.base, "emb-bad", 0, &e), RT_OK);
    assert_int_equal(e.embed(e.user, two, two_len, 2, pair), RT_ERR_FORMAT);
    assert_non_null(strstr(rt_last_error(), "expected 8"));
    rt_embedder_close_remote(&e);
    /* a given dimension the server does not match */
    assert_int_equal(rt_embedder_open_remote(srv.base, "emb", 4, &e), RT_OK);
    assert_int_equal(e.embed(e.user, two, two_len, 1, pair), RT_ERR_FORMAT);
    rt_embedder_close_remote(&e);
    free(out);
}

typedef struct events {
    char data[8][64];
    int n;
} events;

static int keep_event(void *user, const char *data, size_t len) {
    events *e = user;
    assert_true(e->n < 8 && len < 64);
    memcpy(e->data[e->n], data, len);
    e->data[e->n++][len] = 0;
    return 0;
}

static void test_sse_parser(void **state) {
    const char *stream = ": hello\r\n"
                         "data: one\r\n\r\n"
                         "event: ignored\nid: 7\ndata:two\ndata:  lines\n\n"
                         "retry: 5\n\n" /* no data: no event */
                         "data:\n\n"    /* an empty event */
                         "data: [DONE]\n\n"
                         "data: after\n\n";
    for (size_t step = 1; step <= strlen(stream); step += 7) {
        events e = {0};
        rt_sse p;
        rt_sse_init(&p, keep_event, &e);
        for (size_t i = 0; i < strlen(stream); i += step) {
            size_t n = strlen(stream) - i < step ? strlen(stream) - i : step;
            assert_int_equal(rt_sse_feed(&p, stream + i, n), 0);
        }
        assert_int_equal(rt_sse_end(&p), 0);
        assert_int_equal(e.n, 3);
        assert_string_equal(e.data[0], "one");
        assert_string_equal(e.data[1], "two\n lines");
        assert_string_equal(e.data[2], "");
        assert_true(p.done);
        rt_sse_free(&p);
    }
    /* the last event without its blank line, the last line without its newline */
    events e = {0};
    rt_sse p;
    rt_sse_init(&p, keep_event, &e);
    assert_int_equal(rt_sse_feed(&p, "data: a\n\ndata: b", 17), 0);
    assert_int_equal(e.n, 1);
    assert_int_equal(rt_sse_end(&p), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.data[1], "b");
    rt_sse_free(&p);
}

static void test_parse_reply(void **state) {
    rt_session_request q = rt_session_default_request();
    q.prompt = "p";
    rt_session_result r;
    const char *multi = "data: {\"choices\":\ndata: [{\"text\":\"split\"}]}\n\ndata: [DONE]\n\n";
    assert_int_equal(rt_remote_parse_reply(multi, strlen(multi), true, &q, &r), RT_OK);
    assert_string_equal(r.text, "split");
    assert_int_equal(r.n_generated, 1);
    rt_session_result_clear(&r);
    const char *len = "data: {\"choices\":[{\"text\":\"ab\",\"finish_reason\":\"length\"}]}\n\n";
    assert_int_equal(rt_remote_parse_reply(len, strlen(len), true, &q, &r), RT_OK);
    assert_int_equal(r.stop_reason, RT_STOP_LENGTH); /* finish_reason without [DONE] is an end */
    rt_session_result_clear(&r);
    const char *cut = "data: {\"choices\":[{\"text\":\"ab\"}]}\n\n";
    assert_int_equal(rt_remote_parse_reply(cut, strlen(cut), true, &q, &r), RT_ERR_FORMAT);
    const char *err = "data: {\"error\":{\"message\":\"model crashed\"}}\n\n";
    assert_int_equal(rt_remote_parse_reply(err, strlen(err), true, &q, &r), RT_ERR_IO);
    assert_non_null(strstr(rt_last_error(), "model crashed"));
    const char *types = "data: {\"choices\":[{\"text\":5}]}\n\n";
    assert_int_equal(rt_remote_parse_reply(types, strlen(types), true, &q, &r), RT_ERR_FORMAT);
    const char *nochoice = "{\"id\":1}";
    assert_int_equal(rt_remote_parse_reply(nochoice, strlen(nochoice), false, &q, &r),
                     RT_ERR_FORMAT);
    /* a stop string cut over three chunks; a long body through the matcher in pieces */
    const char *stops[1] = {"STOP"};
    q.stop_strings = stops;
    q.n_stop_strings = 1;
    const char *split = "data: {\"choices\":[{\"text\":\"abc ST\"}]}\n\n"
                        "data: {\"choices\":[{\"text\":\"O\"}]}\n\n"
                        "data: {\"choices\":[{\"text\":\"P tail\"}]}\n\n";
    assert_int_equal(rt_remote_parse_reply(split, strlen(split), true, &q, &r), RT_OK);
    assert_string_equal(r.text, "abc ");
    assert_int_equal(r.stop_reason, RT_STOP_STRING);
    rt_session_result_clear(&r);
    char *big = malloc(5000);
    strcpy(big, "{\"choices\":[{\"text\":\"");
    size_t n = strlen(big);
    for (int i = 0; i < 1500; i++)
        memcpy(big + n + 2 * i, "\xc3\xa9", 2); /* 3000 bytes of é */
    strcpy(big + n + 3000, "STOP!\"}]}");
    assert_int_equal(rt_remote_parse_reply(big, strlen(big), false, &q, &r), RT_OK);
    assert_int_equal(r.text_len, 3000);
    assert_int_equal(r.stop_reason, RT_STOP_STRING);
    rt_session_result_clear(&r);
    free(big);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_stream), cmocka_unit_test(test_stops_and_json),
        cmocka_unit_test(test_retries),     cmocka_unit_test(test_timeouts),
        cmocka_unit_test(test_malformed),   cmocka_unit_test(test_keys_and_hosts),
        cmocka_unit_test(test_embedder),    cmocka_unit_test(test_sse_parser),
        cmocka_unit_test(test_parse_reply),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
