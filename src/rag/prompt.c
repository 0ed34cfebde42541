/*
 * prompt.c — renders the reader prompt and the reader's completion.
 *
 * BASE layout (a raw prompt; what the default reader is trained on):
 *
 *     {instructions}
 *
 *     [1] title
 *     passage text
 *
 *     [2] ...
 *
 *     Question: {question}
 *     Answer:
 *
 * and the completion is " answer [n]" (or " " + RT_RAG_ABSTAIN_TEXT). CHAT puts the
 * instructions in a system message and "Sources:\n\n{sources}\n\nQuestion: {question}" in the
 * user message. A user template replaces the layout of the prompt (BASE) or of the user message
 * (CHAT) and may use {instructions}, {sources}, {question}; other braces are copied as they are.
 * Sources and question are not escaped or altered: the model sees them as stored.
 */
#include "rag/prompt.h"

#include "core/error.h"
#include "core/strbuf.h"

#include <stdlib.h>
#include <string.h>

const char rt_rag_instructions[] =
    "Answer the question using only the numbered sources below, and cite the source you used "
    "as [n]. If the sources do not contain the answer, say: " RT_RAG_ABSTAIN_TEXT;

static const char base_layout[] = "{instructions}\n\n{sources}\n\nQuestion: {question}\nAnswer:";
static const char chat_user_layout[] = "Sources:\n\n{sources}\n\nQuestion: {question}";

static int render_sources(rt_strbuf *b, const rt_rag_source *sources, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (i) RT_TRY(rt_strbuf_puts(b, "\n\n"));
        RT_TRY(rt_strbuf_printf(b, "[%zu]", i + 1));
        const char *title = sources[i].title;
        if (title && *title) {
            RT_TRY(rt_strbuf_printf(b, " %s\n", title));
        } else {
            RT_TRY(rt_strbuf_puts(b, " "));
        }
        const char *text = sources[i].text ? sources[i].text : "";
        RT_TRY(rt_strbuf_append(b, text, sources[i].text ? sources[i].text_len : 0));
    }
    return RT_OK;
}

/* Expands {instructions}, {sources}, {question} of layout into *out (malloc'd). */
static int expand(const char *layout, const rt_rag_source *sources, size_t n, const char *question,
                  char **out) {
    rt_strbuf b = {0};
    int st = RT_OK;
    const char *p = layout;
    while (*p && st == RT_OK) {
        if (!strncmp(p, "{instructions}", 14)) {
            st = rt_strbuf_puts(&b, rt_rag_instructions);
            p += 14;
        } else if (!strncmp(p, "{sources}", 9)) {
            st = render_sources(&b, sources, n);
            p += 9;
        } else if (!strncmp(p, "{question}", 10)) {
            st = rt_strbuf_puts(&b, question);
            p += 10;
        } else {
            st = rt_strbuf_append(&b, p, 1);
            p++;
        }
    }
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        return st;
    }
    *out = rt_strbuf_take(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

int rt_rag_prompt_render(rt_rag_prompt_style style, const char *template_text,
                         const rt_rag_source *sources, size_t n_sources, const char *question,
                         char **prompt, char **system, char **user) {
    if (!question || (n_sources && !sources))
        return rt_error(RT_ERR_INVALID, "reader prompt: no question or sources");
    if (prompt) *prompt = NULL;
    if (system) *system = NULL;
    if (user) *user = NULL;
    if (template_text && !strstr(template_text, "{question}"))
        return rt_error(RT_ERR_INVALID, "prompt template: it has no {question} placeholder");
    if (style == RT_RAG_PROMPT_BASE) {
        if (!prompt) return rt_error(RT_ERR_INVALID, "reader prompt: no output for the prompt");
        return expand(template_text ? template_text : base_layout, sources, n_sources, question,
                      prompt);
    }
    if (style != RT_RAG_PROMPT_CHAT || !system || !user)
        return rt_error(RT_ERR_INVALID, "reader prompt: unknown style or no output for messages");
    *system = rt_strdup(rt_rag_instructions);
    if (!*system) return RT_ERR_NOMEM;
    int st = expand(template_text ? template_text : chat_user_layout, sources, n_sources, question,
                    user);
    if (st != RT_OK) {
        free(*system);
        *system = NULL;
    }
    return st;
}

int rt_rag_completion_render(const char *answer, int citation, char **out) {
    rt_strbuf b = {0};
    int st;
    if (!answer) {
        st = rt_strbuf_puts(&b, " " RT_RAG_ABSTAIN_TEXT);
    } else {
        st = rt_strbuf_printf(&b, " %s", answer);
        if (st == RT_OK && citation > 0) st = rt_strbuf_printf(&b, " [%d]", citation);
    }
    if (st != RT_OK) {
        rt_strbuf_free(&b);
        return st;
    }
    *out = rt_strbuf_take(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

const char *const *rt_rag_stop_strings(void) {
    /* A reader's answer is one paragraph; a base model that goes on starts a new block. */
    static const char *const stops[] = {"\n\n", "\nQuestion:", NULL};
    return stops;
}
