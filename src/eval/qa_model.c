/*
 * qa_model.c — model-written questions (see qa_model.h).
 */
#define _GNU_SOURCE /* strndup, strncasecmp */
#include "eval/qa_model.h"

#include "core/error.h"
#include "core/strbuf.h"
#include "eval/metrics.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char instructions[] =
    "Read the passage and write one question that it answers, and the short answer: a few "
    "words copied exactly from the passage.\n\nPassage:\n%s\n\nReply in exactly this form:\n"
    "Question: <the question>\nAnswer: <the short answer>\n";

/* The rest of the line after "key:" (case-insensitive, at a line start), trimmed; malloc'd or
 * NULL. */
static char *line_value(const char *text, const char *key) {
    size_t kl = strlen(key);
    for (const char *p = text; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == '*')
            p++;
        if (!strncasecmp(p, key, kl)) {
            p += kl;
            while (*p == ' ' || *p == '\t' || *p == '*')
                p++;
            size_t n = strcspn(p, "\r\n");
            while (n && (isspace((unsigned char)p[n - 1]) || p[n - 1] == '*'))
                n--;
            return n ? strndup(p, n) : NULL;
        }
        p = strchr(p, '\n');
        if (p) p++;
    }
    return NULL;
}

int rt_qa_model_ask(rt_session *s, const char *passage, uint64_t seed, char **question,
                    char **answer, char **reply) {
    *question = *answer = NULL;
    if (reply) *reply = NULL;
    rt_strbuf b = {0};
    if (rt_strbuf_printf(&b, instructions, passage)) {
        rt_strbuf_free(&b);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    const rt_tokenizer *tok = rt_session_tokenizer(s);
    bool chat = !tok || rt_tokenizer_chat_template(tok) != RT_CHAT_PLAIN;
    rt_session_request rq = rt_session_default_request();
    rt_chat_message m = {"user", b.data};
    static const char *const raw_stop[] = {"\n\n", "Passage:"};
    if (chat) {
        rq.messages = &m;
        rq.n_messages = 1;
    } else {
        if (rt_strbuf_puts(&b, "\nQuestion:")) {
            rt_strbuf_free(&b);
            return rt_error(RT_ERR_NOMEM, "out of memory");
        }
        rq.prompt = b.data;
        rq.stop_strings = raw_stop;
        rq.n_stop_strings = 2;
    }
    rq.max_tokens = 96;
    rq.sampler = rt_sampler_default_params();
    rq.sampler.temperature = 0;
    rq.sampler.seed = seed;
    rt_session_result res;
    memset(&res, 0, sizeof res);
    int st = rt_session_generate(s, &rq, &res);
    rt_strbuf_free(&b);
    if (st != RT_OK) return st;
    rt_strbuf full = {0}; /* a raw prompt's reply continues after "Question:" */
    st = rt_strbuf_printf(&full, "%s%s", chat ? "" : "Question:", res.text ? res.text : "");
    rt_session_result_clear(&res);
    if (st != RT_OK) {
        rt_strbuf_free(&full);
        return rt_error(RT_ERR_NOMEM, "out of memory");
    }
    *question = line_value(full.data, "question:");
    *answer = line_value(full.data, "answer:");
    if (!*question || !*answer) {
        free(*question);
        free(*answer);
        *question = *answer = NULL;
    }
    if (reply) *reply = rt_strbuf_take(&full);
    rt_strbuf_free(&full);
    return RT_OK;
}

bool rt_qa_answer_in_evidence(const char *answer, const char *passage) {
    char *na = rt_squad_normalize(answer);
    if (!na) return false;
    size_t words = 0;
    bool in = false;
    for (const char *p = na; *p; p++) {
        bool sp = *p == ' ';
        if (!sp && !in) words++;
        in = !sp;
    }
    free(na);
    if (words < 1 || words > 12) return false;
    const char *gold[] = {answer};
    return rt_metric_contains(passage, gold, 1) > 0;
}
