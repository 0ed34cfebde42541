/*
 * text_tokenizer.c — see text_tokenizer.h.
 */
#include "train/text_tokenizer.h"
#include "core/error.h"
#include "core/file.h"
#include "core/gguf.h"
#include "model/gguf.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int encode_append(void *user, const char *text, size_t len, int32_t **ids, size_t *n,
                         size_t *cap) {
    const rt_tokenizer *tok = user;
    int32_t *got = NULL;
    size_t n_got = 0;
    RT_TRY(rt_tokenizer_encode(tok, text, len, false, &got, &n_got));
    int st = RT_GROW(*ids, *cap, *n + n_got);
    if (st < 0) {
        free(got);
        return st;
    }
    if (n_got) memcpy(*ids + *n, got, n_got * sizeof *got);
    *n += n_got;
    free(got);
    return RT_OK;
}

static int render_chat(void *user, const char *messages_json, bool add_generation_prompt,
                       char **out) {
    const rt_tokenizer *tok = user;
    json_error_t jerr;
    json_t *arr = json_loads(messages_json, 0, &jerr);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return rt_error(RT_ERR_FORMAT, "chat messages: not a JSON array");
    }
    size_t n = json_array_size(arr);
    rt_chat_message *msgs = rt_calloc(n ? n : 1, sizeof *msgs);
    if (!msgs) {
        json_decref(arr);
        return RT_ERR_NOMEM;
    }
    int st = RT_OK;
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        json_t *m = json_array_get(arr, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        const char *content = json_string_value(json_object_get(m, "content"));
        if (!role || !content)
            st = rt_error(RT_ERR_FORMAT, "chat message %zu: needs string role and content", i);
        msgs[i].role = role;
        msgs[i].content = content;
    }
    if (st == RT_OK)
        st = rt_tokenizer_apply_chat_template(tok, msgs, n, add_generation_prompt, out);
    free(msgs);
    json_decref(arr);
    return st;
}

void rt_text_tokenizer_wrap(const rt_tokenizer *tok, const char *name, rt_text_tokenizer *out) {
    memset(out, 0, sizeof *out);
    out->name = name;
    out->n_vocab = (int)rt_tokenizer_n_vocab(tok);
    out->bos_id = rt_tokenizer_special_id(tok, RT_TOKEN_BOS);
    out->eos_id = rt_tokenizer_special_id(tok, RT_TOKEN_EOS);
    out->user = (void *)tok;
    out->encode = encode_append;
    out->render_chat = render_chat;
}

/* A GGUF's vocabulary lives in its tokenizer.* metadata: those keys go to <dir>/tokenizer.gguf
 * (a GGUF without tensors), which rt_tokenizer_load finds in a model directory. */
static int copy_gguf_tokenizer(const char *src, const char *dir) {
    rt_gguf *g;
    RT_TRY(rt_gguf_open(src, &g));
    size_t n_kv = rt_gguf_n_kv(g), n = 0;
    rt_gguf_kv *kvs = rt_calloc(n_kv + 1, sizeof *kvs);
    if (!kvs) {
        rt_gguf_close(g);
        return RT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n_kv; i++) {
        const char *key = rt_gguf_key(g, i);
        if (!key || strncmp(key, "tokenizer.", 10) != 0) continue;
        kvs[n].key = key;
        kvs[n].value = *rt_gguf_kv_value(g, i);
        n++;
    }
    int st;
    if (n == 0) {
        st = rt_error(RT_ERR_FORMAT, "%s: no tokenizer metadata to copy", src);
    } else {
        char *to = rt_path_join(dir, "tokenizer.gguf");
        st = to ? rt_gguf_write_metadata(to, kvs, n) : RT_ERR_NOMEM;
        free(to);
    }
    free(kvs);
    rt_gguf_close(g);
    return st;
}

int rt_tokenizer_copy_files(const char *src, const char *dir) {
    RT_TRY(rt_mkdir_p(dir));
    if (rt_is_file(src)) {
        if (rt_path_has_suffix(src, ".gguf")) return copy_gguf_tokenizer(src, dir);
        const char *name = rt_path_has_suffix(src, ".txt") ? "vocab.txt" : "tokenizer.json";
        char *to = rt_path_join(dir, name);
        if (!to) return RT_ERR_NOMEM;
        int st = rt_file_copy(src, to);
        free(to);
        return st;
    }
    static const char *const names[] = {"tokenizer.json", "tokenizer_config.json",
                                        "special_tokens_map.json", "vocab.txt"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *from = rt_path_join(src, names[i]), *to = rt_path_join(dir, names[i]);
        int st = from && to ? RT_OK : RT_ERR_NOMEM;
        if (st == RT_OK && rt_is_file(from)) st = rt_file_copy(from, to);
        free(from);
        free(to);
        RT_TRY(st);
    }
    return RT_OK;
}
