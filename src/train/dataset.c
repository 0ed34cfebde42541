/*
 * dataset.c — JSONL/text -> examples (ids + loss mask) -> fixed-length sequences, with an
 * on-disk token cache. The cache file: "RTTOKC01", u32 version, u64 key, u64 n_examples,
 * u64 n_tokens, u64 offsets[n_examples+1], i32 ids[n_tokens], u8 mask[n_tokens]; it is read
 * only when every size agrees with the file length, else the data is tokenized again.
 */
#include "train/dataset.h"

#include "train/rng.h"
#include "core/error.h"
#include "core/strbuf.h"
#include "core/file.h"
#include "core/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_DATA_BYTES ((size_t)4 << 30)

/* ---- the byte-level tokenizer ------------------------------------------------------------ */

static int byte_encode(void *user, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap) {
    (void)user;
    RT_TRY(RT_GROW(*ids, *cap, *n + len));
    for (size_t i = 0; i < len; i++)
        (*ids)[(*n)++] = (unsigned char)text[i];
    return RT_OK;
}

static const rt_text_tokenizer byte_tokenizer = {
    .name = "bytes-257",
    .n_vocab = 257,
    .bos_id = -1,
    .eos_id = 256,
    .encode = byte_encode,
};

const rt_text_tokenizer *rt_byte_tokenizer(void) {
    return &byte_tokenizer;
}

/* ---- examples ---------------------------------------------------------------------------- */

typedef struct stream {
    int32_t *ids;
    uint8_t *mask;
    size_t n, cap, mask_cap;
    uint64_t *offsets; /* example boundaries: n_ex + 1 */
    size_t n_ex, off_cap;
} stream;

static void stream_free(stream *s) {
    free(s->ids);
    free(s->mask);
    free(s->offsets);
    memset(s, 0, sizeof *s);
}

/* Appends text tokens with a mask value. */
static int add_text(stream *s, const rt_text_tokenizer *tok, const char *text, size_t len,
                    uint8_t trained) {
    size_t before = s->n;
    RT_TRY(tok->encode(tok->user, text, len, &s->ids, &s->n, &s->cap));
    RT_TRY(RT_GROW(s->mask, s->mask_cap, s->n));
    for (size_t i = before; i < s->n; i++) {
        if (s->ids[i] < 0 || s->ids[i] >= tok->n_vocab)
            return rt_error(RT_ERR_INTERNAL, "tokenizer %s produced id %d", tok->name, s->ids[i]);
        s->mask[i] = trained;
    }
    return RT_OK;
}

static int add_token(stream *s, int32_t id, uint8_t trained) {
    RT_TRY(RT_GROW(s->ids, s->cap, s->n + 1));
    RT_TRY(RT_GROW(s->mask, s->mask_cap, s->n + 1));
    s->ids[s->n] = id;
    s->mask[s->n++] = trained;
    return RT_OK;
}

static int begin_example(stream *s, const rt_text_tokenizer *tok) {
    RT_TRY(RT_GROW(s->offsets, s->off_cap, s->n_ex + 2));
    if (s->n_ex == 0) s->offsets[0] = 0;
    if (tok->bos_id >= 0) RT_TRY(add_token(s, tok->bos_id, 0));
    return RT_OK;
}

static int end_example(stream *s, const rt_text_tokenizer *tok, uint8_t eos_trained) {
    if (tok->eos_id >= 0) RT_TRY(add_token(s, tok->eos_id, eos_trained));
    s->offsets[++s->n_ex] = s->n;
    return RT_OK;
}

static const char *ALPACA_WITH_INPUT =
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n%s\n\n### Input:\n%s\n\n### Response:\n";
static const char *ALPACA_NO_INPUT =
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n%s\n\n### Response:\n";

/* ChatML rendering of messages[0..n) (+ "<|im_start|>assistant\n" with gen). */
static int chatml(json_t *msgs, size_t n, bool gen, char **out) {
    rt_strbuf b = {0};
    int st = RT_OK;
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        json_t *m = json_array_get(msgs, i);
        st = rt_strbuf_printf(&b, "<|im_start|>%s\n%s<|im_end|>\n",
                              json_string_value(json_object_get(m, "role")),
                              json_string_value(json_object_get(m, "content")));
    }
    if (st == RT_OK && gen) st = rt_strbuf_puts(&b, "<|im_start|>assistant\n");
    if (st < 0) {
        rt_strbuf_free(&b);
        return st;
    }
    *out = rt_strbuf_take(&b);
    return *out ? RT_OK : RT_ERR_NOMEM;
}

static int render(const rt_text_tokenizer *tok, json_t *msgs, size_t n, bool gen, char **out) {
    if (!tok->render_chat) return chatml(msgs, n, gen, out);
    json_t *part = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(part, json_array_get(msgs, i));
    char *text = json_dumps(part, JSON_COMPACT);
    json_decref(part);
    if (!text) return RT_ERR_NOMEM;
    int st = tok->render_chat(tok->user, text, gen, out);
    free(text);
    return st;
}

/* Chat: the final rendering, cut where each assistant turn starts (rendering of the turns
 * before it with the generation prompt) and ends (rendering including it). */
static int add_chat(stream *s, const rt_text_tokenizer *tok, json_t *msgs, const char *where) {
    size_t n = json_array_size(msgs);
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(msgs, i);
        if (!json_is_string(json_object_get(m, "role")) ||
            !json_is_string(json_object_get(m, "content")))
            return rt_error(RT_ERR_FORMAT, "%s: message %zu needs string \"role\" and \"content\"",
                            where, i);
    }
    char *full;
    RT_TRY(render(tok, msgs, n, false, &full));
    size_t done = 0, full_len = strlen(full);
    int st = RT_OK;
    for (size_t i = 0; i < n && st == RT_OK; i++) {
        const char *role = json_string_value(json_object_get(json_array_get(msgs, i), "role"));
        if (strcmp(role, "assistant")) continue;
        char *pre = NULL, *with = NULL;
        if ((st = render(tok, msgs, i, true, &pre)) < 0) break;
        if ((st = render(tok, msgs, i + 1, false, &with)) < 0) {
            free(pre);
            break;
        }
        size_t a = strlen(pre), b = strlen(with);
        if (a < done || b < a || b > full_len || strncmp(full, with, b) || strncmp(full, pre, a)) {
            st = rt_error(RT_ERR_UNSUPPORTED,
                          "%s: the chat template does not render conversations incrementally",
                          where);
        } else {
            st = add_text(s, tok, full + done, a - done, 0);
            if (st == RT_OK) st = add_text(s, tok, full + a, b - a, 1);
            done = b;
        }
        free(pre);
        free(with);
    }
    if (st == RT_OK && done < full_len) st = add_text(s, tok, full + done, full_len - done, 0);
    free(full);
    return st;
}

/* Segments (axolotl's template-free "input_output" shape): the texts are concatenated as they
 * are and the loss is on the spans whose "label" is true; *last_label gets the last one's. */
static int add_segments(stream *s, const rt_text_tokenizer *tok, json_t *segs, const char *where,
                        uint8_t *last_label) {
    size_t n = json_array_size(segs);
    if (!n) return rt_error(RT_ERR_FORMAT, "%s: \"segments\" is empty", where);
    for (size_t i = 0; i < n; i++) {
        json_t *g = json_array_get(segs, i), *text = json_object_get(g, "text");
        json_t *label = json_object_get(g, "label");
        if (!json_is_string(text) || (label && !json_is_boolean(label)))
            return rt_error(RT_ERR_FORMAT,
                            "%s: segment %zu needs a \"text\" string and a boolean \"label\"",
                            where, i);
        *last_label = label ? json_is_true(label) : 1;
        RT_TRY(add_text(s, tok, json_string_value(text), json_string_length(text), *last_label));
    }
    return RT_OK;
}

static int add_json_example(stream *s, const rt_text_tokenizer *tok, json_t *o, ds_format fmt,
                            const char *where) {
    json_t *text = json_object_get(o, "text"), *prompt = json_object_get(o, "prompt");
    json_t *completion = json_object_get(o, "completion");
    json_t *instr = json_object_get(o, "instruction"), *msgs = json_object_get(o, "messages");
    json_t *segs = json_object_get(o, "segments");
    uint8_t eos_trained = 1;
    if (fmt == DS_FORMAT_AUTO) {
        if (json_is_string(text))
            fmt = DS_FORMAT_TEXT;
        else if (json_is_string(prompt))
            fmt = DS_FORMAT_PROMPT_COMPLETION;
        else if (json_is_string(instr))
            fmt = DS_FORMAT_ALPACA;
        else if (json_is_array(msgs))
            fmt = DS_FORMAT_CHAT;
        else if (json_is_array(segs))
            fmt = DS_FORMAT_SEGMENTS;
        else
            return rt_error(RT_ERR_FORMAT,
                            "%s: expected \"text\", \"prompt\"/\"completion\", "
                            "\"instruction\"/\"output\", \"messages\" or \"segments\"",
                            where);
    }
    RT_TRY(begin_example(s, tok));
    switch (fmt) {
    case DS_FORMAT_TEXT:
        if (!json_is_string(text)) return rt_error(RT_ERR_FORMAT, "%s: no \"text\" string", where);
        RT_TRY(add_text(s, tok, json_string_value(text), json_string_length(text), 1));
        break;
    case DS_FORMAT_PROMPT_COMPLETION:
        if (!json_is_string(prompt) || !json_is_string(completion))
            return rt_error(RT_ERR_FORMAT, "%s: needs \"prompt\" and \"completion\" strings",
                            where);
        RT_TRY(add_text(s, tok, json_string_value(prompt), json_string_length(prompt), 0));
        RT_TRY(add_text(s, tok, json_string_value(completion), json_string_length(completion), 1));
        break;
    case DS_FORMAT_ALPACA: {
        json_t *input = json_object_get(o, "input"), *output = json_object_get(o, "output");
        if (!json_is_string(instr) || !json_is_string(output))
            return rt_error(RT_ERR_FORMAT, "%s: needs \"instruction\" and \"output\" strings",
                            where);
        const char *in = json_is_string(input) ? json_string_value(input) : "";
        const char *ins = json_string_value(instr);
        size_t cap = strlen(ALPACA_WITH_INPUT) + strlen(in) + strlen(ins) + 1;
        char *p = rt_malloc(cap);
        if (!p) return RT_ERR_NOMEM;
        if (*in)
            snprintf(p, cap, ALPACA_WITH_INPUT, ins, in);
        else
            snprintf(p, cap, ALPACA_NO_INPUT, ins);
        int st = add_text(s, tok, p, strlen(p), 0);
        free(p);
        RT_TRY(st);
        RT_TRY(add_text(s, tok, json_string_value(output), json_string_length(output), 1));
        break;
    }
    case DS_FORMAT_CHAT:
        if (!json_is_array(msgs))
            return rt_error(RT_ERR_FORMAT, "%s: no \"messages\" array", where);
        RT_TRY(add_chat(s, tok, msgs, where));
        break;
    case DS_FORMAT_SEGMENTS:
        if (!json_is_array(segs))
            return rt_error(RT_ERR_FORMAT, "%s: no \"segments\" array", where);
        RT_TRY(add_segments(s, tok, segs, where, &eos_trained));
        break;
    default:
        return rt_error(RT_ERR_INVALID, "unknown data format");
    }
    return end_example(s, tok, eos_trained);
}

static bool is_jsonl(const char *path) {
    size_t n = strlen(path);
    return (n > 6 && !strcmp(path + n - 6, ".jsonl")) || (n > 5 && !strcmp(path + n - 5, ".json"));
}

static int tokenize_file(const char *path, ds_format fmt, const rt_text_tokenizer *tok, stream *s) {
    char *data;
    size_t len;
    RT_TRY(rt_file_read_all(path, MAX_DATA_BYTES, &data, &len));
    int st = RT_OK;
    if (!is_jsonl(path) || fmt == DS_FORMAT_TEXT) {
        if (is_jsonl(path)) goto jsonl;
        st = begin_example(s, tok);
        if (st == RT_OK) st = add_text(s, tok, data, len, 1);
        if (st == RT_OK) st = end_example(s, tok, 1);
        free(data);
        return st;
    }
jsonl:;
    size_t line_no = 0;
    char *p = data, *end = data + len;
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte order mark */
    while (p < end && st == RT_OK) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        line_no++;
        char *q = p;
        while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
            q++;
        if (q < le) {
            json_error_t jerr;
            json_t *o = json_loadb(p, (size_t)(le - p), 0, &jerr);
            char where[600];
            snprintf(where, sizeof where, "%.500s:%zu", path, line_no);
            if (!o || !json_is_object(o))
                st = rt_error(RT_ERR_FORMAT, "%s: not a JSON object (%s)", where,
                              o ? "wrong type" : jerr.text);
            else
                st = add_json_example(s, tok, o, fmt, where);
            json_decref(o);
        }
        p = le + 1;
    }
    free(data);
    if (st == RT_OK && s->n_ex == 0) st = rt_error(RT_ERR_FORMAT, "%s: no examples", path);
    return st;
}

/* ---- token cache ------------------------------------------------------------------------- */

static const char CACHE_MAGIC[8] = {'R', 'T', 'T', 'O', 'K', 'C', '0', '1'};
#define CACHE_VERSION 1u

static uint64_t hash_str(uint64_t h, const char *s) {
    for (; *s; s++)
        h = rt_rng_mix(h ^ (unsigned char)*s);
    return h;
}

static uint64_t cache_key(const char *path, ds_format fmt, const rt_text_tokenizer *tok) {
    struct stat sb;
    uint64_t h = 0x5241475455ULL;
    if (stat(path, &sb) == 0) {
        h = rt_rng_mix(h ^ (uint64_t)sb.st_size);
        h = rt_rng_mix(h ^ (uint64_t)sb.st_mtim.tv_sec);
        h = rt_rng_mix(h ^ (uint64_t)sb.st_mtim.tv_nsec);
    }
    h = hash_str(h, path);
    h = hash_str(h, tok->name ? tok->name : "?");
    h = rt_rng_mix(h ^ (uint64_t)fmt ^ ((uint64_t)tok->n_vocab << 8) ^
                   ((uint64_t)(uint32_t)tok->eos_id << 32) ^ ((uint64_t)(tok->bos_id + 7) << 56));
    return h;
}

static int cache_read(const char *cpath, uint64_t key, stream *s) {
    char *data;
    size_t len;
    if (!rt_is_file(cpath) || rt_file_read_all(cpath, MAX_DATA_BYTES * 8, &data, &len) < 0)
        return RT_ERR_NOT_FOUND;
    uint64_t hdr[4];
    int st = RT_ERR_FORMAT;
    if (len < 8 + 4 + 32 || memcmp(data, CACHE_MAGIC, 8)) goto out;
    uint32_t ver;
    memcpy(&ver, data + 8, 4);
    memcpy(hdr, data + 12, 32);
    if (ver != CACHE_VERSION || hdr[0] != key) goto out;
    uint64_t n_ex = hdr[1], n = hdr[2];
    if (n_ex > len || n > len || 44 + (n_ex + 1) * 8 + n * 5 != len) goto out;
    s->n_ex = n_ex;
    s->n = s->cap = s->mask_cap = n;
    s->off_cap = n_ex + 1;
    s->offsets = rt_malloc((n_ex + 1) * 8);
    s->ids = rt_malloc(n ? n * 4 : 1);
    s->mask = rt_malloc(n ? n : 1);
    if (!s->offsets || !s->ids || !s->mask) {
        stream_free(s);
        st = RT_ERR_NOMEM;
        goto out;
    }
    memcpy(s->offsets, data + 44, (n_ex + 1) * 8);
    memcpy(s->ids, data + 44 + (n_ex + 1) * 8, n * 4);
    memcpy(s->mask, data + 44 + (n_ex + 1) * 8 + n * 4, n);
    st = RT_OK;
    for (size_t i = 0; i < n_ex; i++)
        if (s->offsets[i] > s->offsets[i + 1]) st = RT_ERR_FORMAT;
    if (s->offsets[0] != 0 || s->offsets[n_ex] != n) st = RT_ERR_FORMAT;
    if (st < 0) stream_free(s);
out:
    free(data);
    return st;
}

static int cache_write(const char *cpath, uint64_t key, const stream *s) {
    rt_atomic_file f;
    RT_TRY(rt_atomic_file_open(&f, cpath));
    uint32_t ver = CACHE_VERSION;
    uint64_t hdr[4] = {key, s->n_ex, s->n, 0};
    int st = rt_fwrite_all(f.fp, CACHE_MAGIC, 8, cpath);
    if (st == RT_OK) st = rt_fwrite_all(f.fp, &ver, 4, cpath);
    if (st == RT_OK) st = rt_fwrite_all(f.fp, hdr, 32, cpath);
    if (st == RT_OK) st = rt_fwrite_all(f.fp, s->offsets, (s->n_ex + 1) * 8, cpath);
    if (st == RT_OK) st = rt_fwrite_all(f.fp, s->ids, s->n * 4, cpath);
    if (st == RT_OK) st = rt_fwrite_all(f.fp, s->mask, s->n, cpath);
    if (st < 0) {
        rt_atomic_file_abort(&f);
        return st;
    }
    return rt_atomic_file_commit(&f);
}

static int load_stream(const char *path, const ds_params *p, const rt_text_tokenizer *tok,
                       stream *s) {
    memset(s, 0, sizeof *s);
    uint64_t key = cache_key(path, p->format, tok);
    char *cpath = NULL;
    if (p->cache_dir) {
        char name[64];
        snprintf(name, sizeof name, "%016llx.tok", (unsigned long long)key);
        RT_TRY(rt_mkdir_p(p->cache_dir));
        cpath = rt_path_join(p->cache_dir, name);
        if (!cpath) return RT_ERR_NOMEM;
        if (cache_read(cpath, key, s) == RT_OK) {
            rt_log_info("tokens of %s from cache %s (%zu tokens)", path, cpath, s->n);
            free(cpath);
            return RT_OK;
        }
    }
    int st = tokenize_file(path, p->format, tok, s);
    if (st == RT_OK && cpath) st = cache_write(cpath, key, s);
    free(cpath);
    if (st < 0) stream_free(s);
    return st;
}

/* ---- sequences --------------------------------------------------------------------------- */

/* Builds split sequences from the examples of s selected by sel (NULL: all). */
static int make_split(const stream *s, const uint8_t *sel, uint8_t want, int T, bool pack,
                      ds_split *out) {
    memset(out, 0, sizeof *out);
    size_t W = (size_t)T + 1;
    /* Gather the selected examples into one stream (packing) or count them. */
    size_t total = 0, n_sel = 0;
    for (size_t e = 0; e < s->n_ex; e++) {
        if (sel && sel[e] != want) continue;
        total += s->offsets[e + 1] - s->offsets[e];
        n_sel++;
    }
    if (!n_sel || total < 2) return RT_OK;
    int64_t n_seq = pack ? (int64_t)((total - 1) / (size_t)T) : (int64_t)n_sel;
    if (pack && n_seq == 0) n_seq = 1;
    out->n = n_seq;
    out->ids = rt_calloc((size_t)n_seq * W, sizeof *out->ids);
    out->mask = rt_calloc((size_t)n_seq * W, 1);
    if (!out->ids || !out->mask) return RT_ERR_NOMEM;
    if (pack) {
        size_t pos = 0; /* position in the virtual concatenation */
        for (size_t e = 0; e < s->n_ex; e++) {
            if (sel && sel[e] != want) continue;
            for (size_t i = s->offsets[e]; i < s->offsets[e + 1]; i++, pos++) {
                /* token pos belongs to window w at offset pos - w*T (and to window w-1 at T) */
                size_t w = pos / (size_t)T, j = pos % (size_t)T;
                if ((int64_t)w < n_seq) {
                    out->ids[w * W + j] = s->ids[i];
                    out->mask[w * W + j] = j ? s->mask[i] : 0;
                }
                if (j == 0 && w > 0 && (int64_t)(w - 1) < n_seq) {
                    out->ids[(w - 1) * W + (size_t)T] = s->ids[i];
                    out->mask[(w - 1) * W + (size_t)T] = s->mask[i];
                }
            }
        }
    } else {
        int64_t k = 0;
        for (size_t e = 0; e < s->n_ex; e++) {
            if (sel && sel[e] != want) continue;
            size_t len = s->offsets[e + 1] - s->offsets[e];
            if (len > W) len = W;
            for (size_t j = 0; j < len; j++) {
                out->ids[(size_t)k * W + j] = s->ids[s->offsets[e] + j];
                out->mask[(size_t)k * W + j] = j ? s->mask[s->offsets[e] + j] : 0;
            }
            k++;
        }
    }
    for (size_t i = 0; i < (size_t)n_seq * W; i++)
        out->n_targets += out->mask[i];
    return RT_OK;
}

static void split_free(ds_split *s) {
    free(s->ids);
    free(s->mask);
    memset(s, 0, sizeof *s);
}

void dataset_free(dataset *d) {
    split_free(&d->train);
    split_free(&d->val);
}

int dataset_load(const ds_params *p, const rt_text_tokenizer *tok, dataset *out) {
    memset(out, 0, sizeof *out);
    if (p->seq_len < 1 || p->seq_len > (1 << 20))
        return rt_error(RT_ERR_INVALID, "sequence length %d out of range", p->seq_len);
    if (!p->train_path) return rt_error(RT_ERR_INVALID, "no training data");
    out->seq_len = p->seq_len;
    stream s;
    RT_TRY(load_stream(p->train_path, p, tok, &s));
    int st = RT_OK;
    if (p->val_path) {
        stream v;
        st = load_stream(p->val_path, p, tok, &v);
        if (st == RT_OK) {
            st = make_split(&s, NULL, 0, p->seq_len, p->pack, &out->train);
            if (st == RT_OK) st = make_split(&v, NULL, 0, p->seq_len, p->pack, &out->val);
            stream_free(&v);
        }
    } else if (p->val_fraction > 0.0f && s.n_ex >= 2) {
        uint8_t *sel = rt_calloc(s.n_ex, 1);
        if (!sel) {
            stream_free(&s);
            return RT_ERR_NOMEM;
        }
        size_t n_val = 0;
        for (size_t e = 0; e < s.n_ex; e++) {
            double u = (double)(rt_rng_mix(p->seed ^ (e * 0x9e3779b97f4a7c15ULL)) >> 11) /
                       9007199254740992.0;
            sel[e] = u < p->val_fraction;
            n_val += sel[e];
        }
        if (n_val == 0) sel[s.n_ex - 1] = 1;
        if (n_val == s.n_ex) sel[0] = 0;
        st = make_split(&s, sel, 0, p->seq_len, p->pack, &out->train);
        if (st == RT_OK) st = make_split(&s, sel, 1, p->seq_len, p->pack, &out->val);
        free(sel);
    } else if (p->val_fraction > 0.0f && p->pack) {
        /* One document (a plain text file): the last val_fraction of its packed windows. */
        st = make_split(&s, NULL, 0, p->seq_len, true, &out->train);
        int64_t n_val = (int64_t)((double)out->train.n * p->val_fraction);
        if (st == RT_OK && n_val >= 1 && n_val < out->train.n) {
            size_t W = (size_t)p->seq_len + 1;
            ds_split *tr = &out->train, *va = &out->val;
            va->n = n_val;
            va->ids = rt_malloc((size_t)n_val * W * sizeof *va->ids);
            va->mask = rt_malloc((size_t)n_val * W);
            if (!va->ids || !va->mask) {
                st = RT_ERR_NOMEM;
            } else {
                tr->n -= n_val;
                memcpy(va->ids, tr->ids + (size_t)tr->n * W, (size_t)n_val * W * sizeof *va->ids);
                memcpy(va->mask, tr->mask + (size_t)tr->n * W, (size_t)n_val * W);
                tr->n_targets = va->n_targets = 0;
                for (size_t i = 0; i < (size_t)tr->n * W; i++)
                    tr->n_targets += tr->mask[i];
                for (size_t i = 0; i < (size_t)va->n * W; i++)
                    va->n_targets += va->mask[i];
            }
        }
    } else {
        st = make_split(&s, NULL, 0, p->seq_len, p->pack, &out->train);
    }
    stream_free(&s);
    if (st == RT_OK && out->train.n == 0)
        st = rt_error(RT_ERR_FORMAT, "%s: not enough tokens for one training sequence",
                      p->train_path);
    if (st < 0) dataset_free(out);
    return st;
}

void dataset_batch(const ds_split *s, int seq_len, const int64_t *idx, int B, int32_t *inputs,
                   int32_t *targets) {
    size_t W = (size_t)seq_len + 1;
    for (int b = 0; b < B; b++) {
        const int32_t *ids = s->ids + (size_t)idx[b] * W;
        const uint8_t *mask = s->mask + (size_t)idx[b] * W;
        for (int t = 0; t < seq_len; t++) {
            inputs[(size_t)b * seq_len + t] = ids[t];
            targets[(size_t)b * seq_len + t] = mask[t + 1] ? ids[t + 1] : -1;
        }
    }
}
