/*
 * chat_template.c — chat templates without a Jinja interpreter. A template source is matched
 * by its signature strings to one of the common families, and each family is rendered by C
 * code that reproduces the output of its reference Jinja template (Hugging Face renders with
 * trim_blocks and lstrip_blocks). The families and the templates they reproduce:
 *   chatml  — '<|im_start|>' + role + '\n' + content + '<|im_end|>\n' per message (Qwen2,
 *             Qwen2.5 without tools, OpenHermes...); generation prompt '<|im_start|>assistant\n'.
 *             Qwen3's template is the same for messages without tool calls or reasoning,
 *             except that a final assistant message gets an empty <think></think> block.
 *   llama3  — bos + '<|start_header_id|>' + role + '<|end_header_id|>\n\n' + trim(content) +
 *             '<|eot_id|>'; prompt '<|start_header_id|>assistant<|end_header_id|>\n\n'.
 *   llama2  — bos + '[INST] ' + strip(content) + ' [/INST]' / ' ' + strip(answer) + ' ' + eos,
 *             the system message wrapped in <<SYS>>\n...\n<</SYS>>\n\n inside the first turn.
 *   zephyr  — '<|role|>\n' + content + eos + '\n'; prompt '<|assistant|>\n'.
 *   gemma   — bos + '<start_of_turn>' + (user|model) + '\n' + trim(content) + '<end_of_turn>\n';
 *             a system message is prefixed to the first user turn + '\n\n' (Gemma 3's rule).
 *   plain   — 'role: content\n\n' (ragtune's own fallback); prompt 'assistant: '.
 * Tool calls, multimodal content and Llama-3.1's date header are not rendered.
 */
#include "tokenizer/chat_template.h"

#include "core/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"plain",  "chatml", "llama3", "llama2",
                                    "zephyr", "gemma",  "qwen3"};
#define N_TEMPLATES 7

const char *rt_chat_template_name(rt_chat_template t) {
    return (int)t >= 0 && (int)t < N_TEMPLATES ? names[t] : "unknown";
}

int rt_chat_template_parse(const char *name, rt_chat_template *out) {
    for (int i = 0; name && i < N_TEMPLATES; i++) {
        if (!strcmp(name, names[i])) {
            *out = (rt_chat_template)i;
            return RT_OK;
        }
    }
    return rt_error(RT_ERR_INVALID,
                    "unknown chat template \"%s\" (plain, chatml, llama3, llama2, "
                    "zephyr, gemma, qwen3)",
                    name ? name : "");
}

int rt_chat_template_detect(const char *src, rt_chat_template *out) {
    if (!src || !out) return rt_error(RT_ERR_INVALID, "rt_chat_template_detect: NULL argument");
    if (strstr(src, "<|im_start|>")) {
        *out = strstr(src, "<think>") ? RT_CHAT_QWEN3 : RT_CHAT_CHATML;
        return RT_OK;
    }
    if (strstr(src, "<|start_header_id|>")) {
        if (strstr(src, "Cutting Knowledge") || strstr(src, "tools"))
            return rt_error(RT_ERR_UNSUPPORTED, "chat template: Llama-3.1-style templates (date "
                                                "header, tools) are not supported");
        *out = RT_CHAT_LLAMA3;
        return RT_OK;
    }
    if (strstr(src, "<start_of_turn>")) {
        *out = RT_CHAT_GEMMA;
        return RT_OK;
    }
    if (strstr(src, "<|user|>") && strstr(src, "<|assistant|>")) {
        *out = RT_CHAT_ZEPHYR;
        return RT_OK;
    }
    if (strstr(src, "[INST]")) {
        *out = RT_CHAT_LLAMA2;
        return RT_OK;
    }
    return rt_error(RT_ERR_UNSUPPORTED, "chat template not recognised (known: ChatML/Qwen, "
                                        "Llama-3, Llama-2, Zephyr, Gemma)");
}

/* Python's str.strip() / Jinja's trim: Unicode whitespace at both ends. */
static int append_trimmed(rt_strbuf *b, const char *s, bool left, bool right) {
    size_t len = strlen(s), i = 0, e = len;
    const uint8_t *u = (const uint8_t *)s;
    while (left && i < e) {
        int32_t cp;
        int m = tk_utf8_decode(u + i, e - i, &cp);
        if (!tk_is_whitespace(cp) && !(cp >= 0x1C && cp <= 0x1F)) break;
        i += (size_t)m;
    }
    while (right && e > i) {
        size_t k = e - 1;
        while (k > i && (u[k] & 0xC0) == 0x80)
            k--;
        int32_t cp;
        tk_utf8_decode(u + k, e - k, &cp);
        if (!tk_is_whitespace(cp) && !(cp >= 0x1C && cp <= 0x1F)) break;
        e = k;
    }
    return rt_strbuf_append(b, s + i, e - i);
}

static int cat(rt_strbuf *b, const char *s) {
    return rt_strbuf_append(b, s, strlen(s));
}

/* Templates that only know user/assistant turns: an optional leading system message (its text
 * in *sys, NULL without; the turns begin at *start), then roles alternating from the user. */
static int user_assistant_turns(const rt_chat_message *m, size_t n, const char *name,
                                const char **sys, size_t *start) {
    *sys = NULL;
    *start = 0;
    if (n && !strcmp(m[0].role, "system")) *sys = m[0].content, *start = 1;
    for (size_t i = *start; i < n; i++)
        if (!strcmp(m[i].role, "user") != ((i - *start) % 2 == 0))
            return rt_error(RT_ERR_INVALID, "%s chat template: conversation roles must alternate "
                                            "user/assistant/user/assistant/...",
                            name);
    return RT_OK;
}

static int render(rt_chat_template t, const rt_chat_message *m, size_t n, bool gen, const char *bos,
                  const char *eos, rt_strbuf *b) {
    for (size_t i = 0; i < n; i++)
        if (!m[i].role || !m[i].content)
            return rt_error(RT_ERR_INVALID, "chat message %zu has no role or content", i);
    switch (t) {
    case RT_CHAT_PLAIN:
        for (size_t i = 0; i < n; i++) {
            RT_TRY(cat(b, m[i].role));
            RT_TRY(cat(b, ": "));
            RT_TRY(cat(b, m[i].content));
            RT_TRY(cat(b, "\n\n"));
        }
        if (gen) RT_TRY(cat(b, "assistant: "));
        return RT_OK;
    case RT_CHAT_CHATML:
    case RT_CHAT_QWEN3: {
        size_t last_user = n;
        for (size_t i = n; i-- > 0;)
            if (!strcmp(m[i].role, "user")) {
                last_user = i;
                break;
            }
        for (size_t i = 0; i < n; i++) {
            RT_TRY(cat(b, "<|im_start|>"));
            RT_TRY(cat(b, m[i].role));
            RT_TRY(cat(b, "\n"));
            if (t == RT_CHAT_QWEN3 && !strcmp(m[i].role, "assistant") && last_user != n &&
                i > last_user && i + 1 == n) {
                RT_TRY(cat(b, "<think>\n\n</think>\n\n"));
                const char *c = m[i].content;
                while (*c == '\n')
                    c++;
                RT_TRY(cat(b, c));
            } else {
                RT_TRY(cat(b, m[i].content));
            }
            RT_TRY(cat(b, "<|im_end|>\n"));
        }
        if (gen) RT_TRY(cat(b, "<|im_start|>assistant\n"));
        return RT_OK;
    }
    case RT_CHAT_LLAMA3:
        for (size_t i = 0; i < n; i++) {
            if (i == 0) RT_TRY(cat(b, bos));
            RT_TRY(cat(b, "<|start_header_id|>"));
            RT_TRY(cat(b, m[i].role));
            RT_TRY(cat(b, "<|end_header_id|>\n\n"));
            RT_TRY(append_trimmed(b, m[i].content, true, true));
            RT_TRY(cat(b, "<|eot_id|>"));
        }
        if (gen) RT_TRY(cat(b, "<|start_header_id|>assistant<|end_header_id|>\n\n"));
        return RT_OK;
    case RT_CHAT_LLAMA2: {
        size_t start;
        const char *sys;
        RT_TRY(user_assistant_turns(m, n, "llama2", &sys, &start));
        for (size_t i = start; i < n; i++) {
            bool user = !strcmp(m[i].role, "user");
            if (user) {
                RT_TRY(cat(b, bos));
                RT_TRY(cat(b, "[INST] "));
                if (i == start && sys) {
                    /* ('<<SYS>>\n' + sys + '\n<</SYS>>\n\n' + content).strip() */
                    rt_strbuf tmp = {0};
                    int rc = cat(&tmp, "<<SYS>>\n");
                    if (rc == RT_OK) rc = cat(&tmp, sys);
                    if (rc == RT_OK) rc = cat(&tmp, "\n<</SYS>>\n\n");
                    if (rc == RT_OK) rc = cat(&tmp, m[i].content);
                    if (rc == RT_OK) rc = append_trimmed(b, tmp.data, true, true);
                    rt_strbuf_free(&tmp);
                    RT_TRY(rc);
                } else {
                    RT_TRY(append_trimmed(b, m[i].content, true, true));
                }
                RT_TRY(cat(b, " [/INST]"));
            } else {
                RT_TRY(cat(b, " "));
                RT_TRY(append_trimmed(b, m[i].content, true, true));
                RT_TRY(cat(b, " "));
                RT_TRY(cat(b, eos));
            }
        }
        return RT_OK;
    }
    case RT_CHAT_ZEPHYR:
        for (size_t i = 0; i < n; i++) {
            const char *r = m[i].role;
            if (strcmp(r, "user") && strcmp(r, "system") && strcmp(r, "assistant")) continue;
            RT_TRY(cat(b, "<|"));
            RT_TRY(cat(b, r));
            RT_TRY(cat(b, "|>\n"));
            RT_TRY(cat(b, m[i].content));
            RT_TRY(cat(b, eos));
            RT_TRY(cat(b, "\n"));
        }
        if (gen && n) RT_TRY(cat(b, "<|assistant|>\n"));
        return RT_OK;
    case RT_CHAT_GEMMA: {
        RT_TRY(cat(b, bos));
        size_t start;
        const char *sys;
        RT_TRY(user_assistant_turns(m, n, "gemma", &sys, &start));
        for (size_t i = start; i < n; i++) {
            bool user = !strcmp(m[i].role, "user");
            RT_TRY(cat(b, "<start_of_turn>"));
            RT_TRY(cat(b, user ? "user" : "model"));
            RT_TRY(cat(b, "\n"));
            if (i == start && sys) {
                RT_TRY(cat(b, sys));
                RT_TRY(cat(b, "\n\n"));
            }
            RT_TRY(append_trimmed(b, m[i].content, true, true));
            RT_TRY(cat(b, "<end_of_turn>\n"));
        }
        if (gen) RT_TRY(cat(b, "<start_of_turn>model\n"));
        return RT_OK;
    }
    }
    return rt_error(RT_ERR_INVALID, "unknown chat template %d", (int)t);
}

int rt_chat_template_render(rt_chat_template t, const rt_chat_message *messages, size_t n,
                            bool add_generation_prompt, const char *bos, const char *eos,
                            char **out) {
    if (!out || (!messages && n))
        return rt_error(RT_ERR_INVALID, "rt_chat_template_render: NULL argument");
    rt_strbuf b = {0};
    int rc = render(t, messages, n, add_generation_prompt, bos ? bos : "", eos ? eos : "", &b);
    if (rc == RT_OK) rc = rt_strbuf_reserve(&b, 0);
    if (rc < 0) {
        rt_strbuf_free(&b);
        return rc;
    }
    b.data[b.len] = 0;
    *out = b.data;
    return RT_OK;
}

rt_chat_template rt_tokenizer_chat_template(const rt_tokenizer *tok) {
    return tok->chat_template;
}

/* The default system prompt a ChatML template inserts when the conversation has none (Qwen2:
 * "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a
 * helpful assistant.<|im_end|>\n' }}"). Returns a malloc'd string or NULL. */
static char *default_system(const char *src) {
    if (!strstr(src, "!= 'system'") && !strstr(src, "!= \"system\"")) return NULL;
    static const char *const marks[] = {"'<|im_start|>system\\n", "\"<|im_start|>system\\n"};
    for (int k = 0; k < 2; k++) {
        const char *p = strstr(src, marks[k]);
        while (p) {
            const char *text = p + strlen(marks[k]);
            const char *end = strstr(text, "<|im_end|>");
            char quote = marks[k][0];
            /* A constant: no closing quote before <|im_end|>. */
            if (end && !memchr(text, quote, (size_t)(end - text))) {
                rt_strbuf b = {0};
                for (const char *q = text; q < end; q++) {
                    if (q[0] == '\\' && q + 1 < end) {
                        char c = q[1] == 'n' ? '\n' : q[1] == 't' ? '\t' : q[1];
                        if (rt_strbuf_append(&b, &c, 1) < 0) break;
                        q++;
                    } else if (rt_strbuf_append(&b, q, 1) < 0) {
                        break;
                    }
                }
                if (rt_strbuf_reserve(&b, 0) < 0) {
                    rt_strbuf_free(&b);
                    return NULL;
                }
                return b.data;
            }
            p = strstr(p + 1, marks[k]);
        }
    }
    return NULL;
}

int rt_tokenizer_apply_chat_template(const rt_tokenizer *tok, const rt_chat_message *messages,
                                     size_t n, bool add_generation_prompt, char **out) {
    int32_t bos = tok->special_ids[RT_TOKEN_BOS], eos = tok->special_ids[RT_TOKEN_EOS];
    const char *bs = bos >= 0 ? tk_vocab_get(&tok->vocab, bos, NULL) : "";
    const char *es = eos >= 0 ? tk_vocab_get(&tok->vocab, eos, NULL) : "";
    const char *src = tok->chat_template_source;
    /* Some Llama-3 templates always end with the assistant header. */
    if (tok->chat_template == RT_CHAT_LLAMA3 && src && !strstr(src, "add_generation_prompt"))
        add_generation_prompt = true;
    if (tok->chat_template == RT_CHAT_GEMMA && src && strstr(src, "System role not supported") &&
        n && messages[0].role && !strcmp(messages[0].role, "system"))
        return rt_error(RT_ERR_INVALID, "gemma chat template: system role not supported");
    char *sys = NULL;
    if ((tok->chat_template == RT_CHAT_CHATML || tok->chat_template == RT_CHAT_QWEN3) && src && n &&
        messages[0].role && strcmp(messages[0].role, "system") && (sys = default_system(src))) {
        rt_chat_message *with = rt_malloc((n + 1) * sizeof *with);
        if (!with) {
            free(sys);
            return RT_ERR_NOMEM;
        }
        with[0].role = "system";
        with[0].content = sys;
        memcpy(with + 1, messages, n * sizeof *with);
        int rc = rt_chat_template_render(tok->chat_template, with, n + 1, add_generation_prompt, bs,
                                         es, out);
        free(with);
        free(sys);
        return rc;
    }
    return rt_chat_template_render(tok->chat_template, messages, n, add_generation_prompt, bs, es,
                                   out);
}
