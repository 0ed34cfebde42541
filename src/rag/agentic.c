/*
 * agentic.c — asks a model for a document's sections (the agentic chunker, see agentic.h).
 *
 * Prompt (one request per document; greedy; the model's chat template when it has one):
 *
 *     Split the numbered sentences below into sections, starting a new section where the topic
 *     changes. Answer with one line per section: the number of its first sentence, a colon and
 *     a short title.
 *
 *     1. <sentence>
 *     2. <sentence>
 *     ...
 *
 *     Sections:
 *
 * A document whose prompt does not fit the model's context, or a reply that does not parse,
 * is an error: the chunker then falls back to recursive chunking with a warning.
 */
#include "rag/agentic.h"

#include "core/error.h"
#include "core/strbuf.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define AGENTIC_MAX_SENTENCES 400
#define AGENTIC_TITLE_MAX 80

static const char instructions[] =
    "Split the numbered sentences below into sections, starting a new section where the topic "
    "changes. Answer with one line per section: the number of its first sentence, a colon and a "
    "short title.";

int rt_rag_agentic_parse(const char *reply, const rt_span *sentences, size_t n_sent,
                         rt_chunk_proposal **out, size_t *n) {
    *out = NULL;
    *n = 0;
    rt_chunk_proposal *pr = NULL;
    size_t cap = 0, count = 0, line_no = 0;
    long last = 0;
    int rc = RT_OK;
    for (const char *p = reply; rc == RT_OK && p && *p;) {
        const char *e = strchr(p, '\n');
        size_t ll = e ? (size_t)(e - p) : strlen(p);
        line_no++;
        size_t i = 0;
        while (i < ll && (p[i] == ' ' || p[i] == '\t'))
            i++;
        long num = 0;
        size_t digits = 0;
        while (i < ll && isdigit((unsigned char)p[i]) && digits < 6) {
            num = num * 10 + (p[i++] - '0');
            digits++;
        }
        while (i < ll && p[i] == ' ')
            i++;
        if (digits && i < ll && strchr(":.)-", p[i])) {
            i++;
            while (i < ll && (p[i] == ' ' || p[i] == '\t'))
                i++;
            size_t te = ll;
            while (te > i && isspace((unsigned char)p[te - 1]))
                te--;
            if (te - i > AGENTIC_TITLE_MAX) te = i + AGENTIC_TITLE_MAX;
            if (num < 1 || (size_t)num > n_sent || num <= last) {
                rc = rt_error(
                    RT_ERR_FORMAT, "agentic chunker: reply line %zu: section at sentence %ld (%s)",
                    line_no, num, num <= last ? "not after the previous one" : "no such sentence");
                break;
            }
            rc = RT_GROW(pr, cap, count + 1);
            if (rc < 0) break;
            pr[count].start = count == 0 ? 0 : sentences[num - 1].start;
            pr[count].title = rt_malloc(te - i + 1);
            if (!pr[count].title) {
                rc = RT_ERR_NOMEM;
                break;
            }
            memcpy(pr[count].title, p + i, te - i);
            pr[count].title[te - i] = '\0';
            count++;
            last = num;
        }
        p = e ? e + 1 : NULL;
    }
    if (rc == RT_OK && !count)
        rc = rt_error(RT_ERR_FORMAT, "agentic chunker: the reply has no \"N: title\" line");
    if (rc != RT_OK) {
        for (size_t k = 0; k < count; k++)
            free(pr[k].title);
        free(pr);
        return rc;
    }
    *out = pr;
    *n = count;
    return RT_OK;
}

int rt_rag_agentic_propose(void *session, const char *text, size_t len, rt_chunk_proposal **out,
                           size_t *n) {
    *out = NULL;
    *n = 0;
    rt_session *s = session;
    rt_span *sent = NULL;
    size_t n_sent = 0;
    RT_TRY(rt_split_sentences(text, len, &sent, &n_sent));
    if (n_sent <= 1 || n_sent > AGENTIC_MAX_SENTENCES) {
        free(sent);
        return rt_error(RT_ERR_RANGE, "agentic chunker: %zu sentences (asks the model for 2..%d)",
                        n_sent, AGENTIC_MAX_SENTENCES);
    }
    rt_strbuf b = {0};
    int rc = rt_strbuf_printf(&b, "%s\n\n", instructions);
    for (size_t i = 0; rc == RT_OK && i < n_sent; i++) {
        rc = rt_strbuf_printf(&b, "%zu. ", i + 1);
        /* one line per sentence */
        for (size_t j = sent[i].start; rc == RT_OK && j < sent[i].end; j++)
            rc = rt_strbuf_append(&b, text[j] == '\n' ? " " : text + j, 1);
        if (rc == RT_OK) rc = rt_strbuf_puts(&b, "\n");
    }
    if (rc == RT_OK) rc = rt_strbuf_puts(&b, "\nSections:\n");
    int answer = (int)(n_sent * 12 < 512 ? n_sent * 12 : 512);
    if (rc == RT_OK) {
        int n_ctx = rt_session_n_ctx(s);
        int used = rt_session_count_tokens(s, b.data, b.len);
        if (n_ctx > 0 && used + answer > n_ctx)
            rc = rt_error(RT_ERR_RANGE,
                          "agentic chunker: the document's prompt (%d tokens) and reply do not fit "
                          "the model's context of %d",
                          used, n_ctx);
    }
    rt_session_result res = {0};
    if (rc == RT_OK) {
        rt_session_request rq = rt_session_default_request();
        const rt_tokenizer *tok = rt_session_tokenizer(s);
        rt_chat_message m = {"user", b.data};
        if (!tok || rt_tokenizer_chat_template(tok) != RT_CHAT_PLAIN) {
            rq.messages = &m;
            rq.n_messages = 1;
        } else {
            rq.prompt = b.data;
            static const char *const stops[] = {"\n\n"};
            rq.stop_strings = stops;
            rq.n_stop_strings = 1;
        }
        rq.max_tokens = answer;
        rq.sampler = rt_sampler_default_params();
        rq.sampler.temperature = 0;
        rc = rt_session_generate(s, &rq, &res);
    }
    if (rc == RT_OK) rc = rt_rag_agentic_parse(res.text ? res.text : "", sent, n_sent, out, n);
    rt_session_result_clear(&res);
    rt_strbuf_free(&b);
    free(sent);
    return rc;
}
