/*
 * bpe_train.c — byte-level BPE training. Words come from the Llama-3 pre-tokenizer pattern;
 * each distinct word is a sequence of byte symbols with a frequency. Pair counts live in a
 * hash table; a max-heap with lazy deletion yields the most frequent pair (ties: the smaller
 * (left, right) ids). Merging a pair rewrites only the words that contain it (an index from
 * pair to words), subtracting their old pair counts and adding the new ones. The result is a
 * Hugging Face tokenizer.json (written atomically).
 */
#include "tokenizer/bpe_train.h"

#include "core/error.h"
#include "core/file.h"
#include "core/log.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"
#include "tokenizer/vocab.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

const char tk_train_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

rt_bpe_train_params rt_bpe_train_default_params(void) {
    rt_bpe_train_params p = {0};
    p.vocab_size = 8192;
    p.min_frequency = 2;
    return p;
}

typedef struct word {
    int32_t *sym;
    uint32_t n;
    uint64_t freq;
    uint32_t stamp; /* last merge that rewrote this word */
} word;

typedef struct pair_entry {
    uint64_t key; /* (a << 32) | b; UINT64_MAX empty */
    int64_t count;
    uint32_t *words; /* indices of words that contained the pair when it was added */
    uint32_t n_words, cap_words;
} pair_entry;

typedef struct heap_item {
    int64_t count;
    uint64_t key;
} heap_item;

typedef struct trainer {
    word *words;
    size_t n_words, cap_words;
    tk_vocab word_index; /* word bytes -> index */
    pair_entry *pairs;
    size_t pair_mask, n_pairs;
    heap_item *heap;
    size_t heap_len, heap_cap;
    tk_vocab vocab; /* token strings (GPT-2 alphabet) -> id */
} trainer;

static inline size_t pslot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

static int pairs_grow(trainer *t) {
    size_t cap = t->pair_mask ? (t->pair_mask + 1) * 2 : 1 << 16;
    pair_entry *p = rt_calloc(cap, sizeof *p);
    if (!p) return RT_ERR_NOMEM;
    for (size_t i = 0; i < cap; i++)
        p[i].key = UINT64_MAX;
    for (size_t i = 0; t->pair_mask && i <= t->pair_mask; i++) {
        if (t->pairs[i].key == UINT64_MAX) continue;
        size_t j = pslot(t->pairs[i].key, cap - 1);
        while (p[j].key != UINT64_MAX)
            j = (j + 1) & (cap - 1);
        p[j] = t->pairs[i];
    }
    free(t->pairs);
    t->pairs = p;
    t->pair_mask = cap - 1;
    return RT_OK;
}

static int pair_get(trainer *t, uint64_t key, pair_entry **out) {
    if (!t->pair_mask || (t->n_pairs + 1) * 2 > t->pair_mask + 1) RT_TRY(pairs_grow(t));
    size_t j = pslot(key, t->pair_mask);
    while (t->pairs[j].key != UINT64_MAX && t->pairs[j].key != key)
        j = (j + 1) & t->pair_mask;
    if (t->pairs[j].key == UINT64_MAX) {
        t->pairs[j].key = key;
        t->n_pairs++;
    }
    *out = &t->pairs[j];
    return RT_OK;
}

static pair_entry *pair_find(trainer *t, uint64_t key) {
    if (!t->pair_mask) return NULL;
    size_t j = pslot(key, t->pair_mask);
    while (t->pairs[j].key != UINT64_MAX) {
        if (t->pairs[j].key == key) return &t->pairs[j];
        j = (j + 1) & t->pair_mask;
    }
    return NULL;
}

static bool heap_less(heap_item a, heap_item b) { /* a ranks below b */
    return a.count < b.count || (a.count == b.count && a.key > b.key);
}

static int heap_push(trainer *t, heap_item it) {
    RT_TRY(RT_GROW(t->heap, t->heap_cap, t->heap_len + 1));
    size_t k = t->heap_len++;
    while (k > 0 && heap_less(t->heap[(k - 1) / 2], it)) {
        t->heap[k] = t->heap[(k - 1) / 2];
        k = (k - 1) / 2;
    }
    t->heap[k] = it;
    return RT_OK;
}

static heap_item heap_pop(trainer *t) {
    heap_item top = t->heap[0], last = t->heap[--t->heap_len];
    size_t k = 0, n = t->heap_len;
    for (;;) {
        size_t c = 2 * k + 1;
        if (c >= n) break;
        if (c + 1 < n && heap_less(t->heap[c], t->heap[c + 1])) c++;
        if (!heap_less(last, t->heap[c])) break;
        t->heap[k] = t->heap[c];
        k = c;
    }
    if (n) t->heap[k] = last;
    return top;
}

/* Adds (sign = +1) or removes (-1) the pairs of word w; new pairs remember the word. */
static int count_pairs(trainer *t, uint32_t wi, int sign, bool index) {
    word *w = &t->words[wi];
    for (uint32_t i = 0; i + 1 < w->n; i++) {
        uint64_t key = ((uint64_t)(uint32_t)w->sym[i] << 32) | (uint32_t)w->sym[i + 1];
        pair_entry *p;
        RT_TRY(pair_get(t, key, &p));
        p->count += sign * (int64_t)w->freq;
        if (index) {
            if (p->n_words == p->cap_words) {
                uint32_t cap = p->cap_words ? p->cap_words * 2 : 4;
                uint32_t *ws = rt_realloc(p->words, cap * sizeof *ws);
                if (!ws) return RT_ERR_NOMEM;
                p->words = ws;
                p->cap_words = cap;
            }
            if (!p->n_words || p->words[p->n_words - 1] != wi) p->words[p->n_words++] = wi;
        }
    }
    return RT_OK;
}

static int on_word(const char *s, size_t len, void *user) {
    trainer *t = user;
    int32_t wi = tk_vocab_find(&t->word_index, s, len);
    if (wi >= 0) {
        t->words[wi].freq++;
        return RT_OK;
    }
    RT_TRY(RT_GROW(t->words, t->cap_words, t->n_words + 1));
    if (t->n_words >= INT32_MAX / 2)
        return rt_error(RT_ERR_RANGE, "BPE training: too many distinct words");
    word *w = &t->words[t->n_words];
    memset(w, 0, sizeof *w);
    w->sym = rt_malloc((len ? len : 1) * sizeof *w->sym);
    if (!w->sym) return RT_ERR_NOMEM;
    for (size_t i = 0; i < len; i++)
        w->sym[i] = (uint8_t)s[i];
    w->n = (uint32_t)len;
    w->freq = 1;
    RT_TRY(tk_vocab_set(&t->word_index, (int32_t)t->n_words, s, len, 0));
    t->n_words++;
    return RT_OK;
}

static void trainer_free(trainer *t) {
    for (size_t i = 0; i < t->n_words; i++)
        free(t->words[i].sym);
    free(t->words);
    tk_vocab_free(&t->word_index);
    for (size_t i = 0; t->pair_mask && i <= t->pair_mask; i++)
        free(t->pairs[i].words);
    free(t->pairs);
    free(t->heap);
    tk_vocab_free(&t->vocab);
}

static int read_words(trainer *t, const char *const *files, size_t n_files, size_t max_bytes) {
    json_t *spec = json_pack("{s:s,s:{s:s},s:s,s:b}", "type", "Split", "pattern", "Regex",
                             tk_train_pattern, "behavior", "Isolated", "invert", 0);
    if (!spec) return rt_error(RT_ERR_NOMEM, "BPE training: out of memory");
    tk_pretok *pt;
    int rc = tk_pretok_from_json(spec, "BPE training", &pt);
    json_decref(spec);
    RT_TRY(rc);
    tk_pretok_scratch *sc = tk_pretok_scratch_new();
    size_t total = 0;
    rt_strbuf fixed = {0};
    for (size_t f = 0; rc == RT_OK && sc && f < n_files; f++) {
        char *data;
        size_t len;
        rc = rt_file_read_all(files[f], (size_t)1 << 34, &data, &len);
        if (rc < 0) break;
        if (max_bytes && total + len > max_bytes) len = max_bytes - total;
        total += len;
        const char *text = data;
        if (!tk_utf8_valid((const uint8_t *)data, len)) {
            fixed.len = 0;
            rc = tk_utf8_repair((const uint8_t *)data, len, &fixed);
            text = fixed.data;
            len = fixed.len;
        }
        /* Line by line keeps regex work bounded; newlines stay with their line. */
        for (size_t i = 0; rc == RT_OK && i < len;) {
            const char *nl = memchr(text + i, '\n', len - i);
            size_t e = nl ? (size_t)(nl - text) + 1 : len;
            rc = tk_pretokenize(pt, sc, text + i, e - i, i == 0, on_word, t);
            i = e;
        }
        free(data);
        if (max_bytes && total >= max_bytes) break;
    }
    if (!sc && rc == RT_OK) rc = RT_ERR_NOMEM;
    rt_strbuf_free(&fixed);
    tk_pretok_scratch_free(sc);
    tk_pretok_free(pt);
    if (rc == RT_OK) rt_log_info("BPE training: %zu bytes, %zu distinct words", total, t->n_words);
    return rc;
}

static int write_json(trainer *t, const rt_bpe_train_params *p, const uint64_t *merges,
                      size_t n_merges, const char *out_path) {
    json_t *vocab = json_object();
    json_t *jm = json_array();
    json_t *added = json_array();
    int rc = RT_OK;
    for (int32_t id = 0; id < t->vocab.size; id++)
        json_object_setn_new_nocheck(vocab, t->vocab.strs[id], t->vocab.lens[id], json_integer(id));
    for (size_t i = 0; i < n_merges; i++) {
        int32_t a = (int32_t)(merges[i] >> 32), b = (int32_t)(uint32_t)merges[i];
        json_array_append_new(jm, json_pack("[s%,s%]", t->vocab.strs[a], (size_t)t->vocab.lens[a],
                                            t->vocab.strs[b], (size_t)t->vocab.lens[b]));
    }
    int32_t next = t->vocab.size;
    for (size_t i = 0; i < p->n_special; i++) {
        if (json_object_get(vocab, p->special[i])) {
            json_decref(vocab);
            json_decref(jm);
            json_decref(added);
            return rt_error(RT_ERR_INVALID,
                            "BPE training: special token '%s' is also an ordinary token of the "
                            "vocabulary; choose a distinct string (such as <|%s|>)",
                            p->special[i], p->special[i]);
        }
        json_array_append_new(added, json_pack("{s:i,s:s,s:b,s:b,s:b,s:b,s:b}", "id", next,
                                               "content", p->special[i], "single_word", 0, "lstrip",
                                               0, "rstrip", 0, "normalized", 0, "special", 1));
        json_object_set_new(vocab, p->special[i], json_integer(next));
        next++;
    }
    json_t *root = json_pack(
        "{s:s,s:n,s:n,s:o,s:n,s:{s:s,s:[{s:s,s:{s:s},s:s,s:b},{s:s,s:b,s:b,s:b}]},"
        "s:{s:s,s:b,s:b,s:b},s:{s:s,s:b,s:b,s:b},"
        "s:{s:s,s:n,s:n,s:n,s:n,s:b,s:b,s:b,s:o,s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer",
        "pre_tokenizer", "type", "Sequence", "pretokenizers", "type", "Split", "pattern", "Regex",
        tk_train_pattern, "behavior", "Isolated", "invert", 0, "type", "ByteLevel",
        "add_prefix_space", 0, "trim_offsets", 1, "use_regex", 0, "post_processor", "type",
        "ByteLevel", "add_prefix_space", 1, "trim_offsets", 0, "use_regex", 1, "decoder", "type",
        "ByteLevel", "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type",
        "BPE", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
        "fuse_unk", 0, "byte_fallback", 0, "ignore_merges", 0, "vocab", vocab, "merges", jm);
    if (!root) return rt_error(RT_ERR_NOMEM, "BPE training: cannot build the JSON");
    char *text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(root);
    if (!text) return rt_error(RT_ERR_NOMEM, "BPE training: cannot serialise the JSON");
    rc = rt_file_write_atomic(out_path, text, strlen(text));
    free(text);
    return rc;
}

static int bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                     const char *out_path);

/* Special tokens are checked first: an empty one would make a tokenizer.json no loader accepts,
 * and a repeated one is kept once (the first). */
int rt_bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                 const char *out_path) {
    if (!files || !params || !out_path)
        return rt_error(RT_ERR_INVALID, "rt_bpe_train: NULL argument");
    if (params->n_special && !params->special)
        return rt_error(RT_ERR_INVALID, "rt_bpe_train: special tokens missing");
    const char **uniq = rt_malloc((params->n_special + 1) * sizeof *uniq);
    if (!uniq) return RT_ERR_NOMEM;
    size_t n = 0;
    for (size_t i = 0; i < params->n_special; i++) {
        const char *sp = params->special[i];
        if (!sp || !*sp) {
            free(uniq);
            return rt_error(RT_ERR_INVALID, "BPE training: special token %zu is empty", i + 1);
        }
        bool seen = false;
        for (size_t j = 0; j < n && !seen; j++)
            seen = !strcmp(uniq[j], sp);
        if (seen)
            rt_log_warn("BPE training: special token '%s' given twice; kept once", sp);
        else
            uniq[n++] = sp;
    }
    rt_bpe_train_params p = *params;
    p.special = uniq;
    p.n_special = n;
    int rc = bpe_train(files, n_files, &p, out_path);
    free(uniq);
    return rc;
}

static int bpe_train(const char *const *files, size_t n_files, const rt_bpe_train_params *params,
                     const char *out_path) {
    if (params->vocab_size < 256 + params->n_special)
        return rt_error(RT_ERR_INVALID,
                        "BPE training: vocab_size %zu is below 256 byte tokens + %zu "
                        "special tokens",
                        params->vocab_size, params->n_special);
    if (params->vocab_size > (1u << 24))
        return rt_error(RT_ERR_RANGE, "BPE training: vocab_size %zu too large", params->vocab_size);
    trainer t = {0};
    uint64_t *merges = NULL;
    size_t n_merges = 0;
    int rc = RT_OK;
    for (int b = 0; b < 256 && rc == RT_OK; b++) {
        uint8_t buf[4];
        int n = tk_utf8_encode(tk_byte_to_cp((uint8_t)b), buf);
        rc = tk_vocab_set(&t.vocab, b, (const char *)buf, (size_t)n, 0);
    }
    if (rc == RT_OK) rc = read_words(&t, files, n_files, params->max_bytes);
    for (uint32_t w = 0; rc == RT_OK && w < t.n_words; w++)
        rc = count_pairs(&t, w, +1, true);
    for (size_t i = 0; rc == RT_OK && t.pair_mask && i <= t.pair_mask; i++)
        if (t.pairs[i].key != UINT64_MAX && t.pairs[i].count > 0)
            rc = heap_push(&t, (heap_item){t.pairs[i].count, t.pairs[i].key});
    size_t target = params->vocab_size - params->n_special;
    size_t min_freq = params->min_frequency ? params->min_frequency : 1;
    merges = rt_malloc((target > 256 ? target - 256 : 1) * 2 * sizeof *merges);
    if (!merges && rc == RT_OK) rc = RT_ERR_NOMEM;
    rt_strbuf joined = {0};
    uint32_t stamp = 0;
    uint64_t *touched = NULL;
    size_t touched_cap = 0;
    size_t merges_cap = target > 256 ? (target - 256) * 2 : 1;
    rt_progress prog;
    rt_progress_begin(&prog, "bpe-train", "merges", target - 256);
    while (rc == RT_OK && (size_t)t.vocab.size < target && t.heap_len) {
        heap_item top = heap_pop(&t);
        pair_entry *p = pair_find(&t, top.key);
        if (!p || p->count != top.count) continue; /* stale */
        if (top.count < (int64_t)min_freq) break;
        int32_t a = (int32_t)(top.key >> 32), b = (int32_t)(uint32_t)top.key;
        joined.len = 0;
        if ((rc = rt_strbuf_append(&joined, t.vocab.strs[a], t.vocab.lens[a])) < 0) break;
        if ((rc = rt_strbuf_append(&joined, t.vocab.strs[b], t.vocab.lens[b])) < 0) break;
        int32_t c = tk_vocab_find(&t.vocab, joined.data, joined.len);
        if (c < 0) {
            c = t.vocab.size;
            if ((rc = tk_vocab_set(&t.vocab, c, joined.data, joined.len, 0)) < 0) break;
        }
        if ((rc = RT_GROW(merges, merges_cap, n_merges + 1)) < 0) break;
        merges[n_merges++] = top.key;
        stamp++;
        /* Rewrite the words that contain (a, b). The list may be modified while we walk it
         * (pair_get can move entries), so copy it first. */
        uint32_t n_list = p->n_words;
        uint32_t *list = rt_malloc((n_list ? n_list : 1) * sizeof *list);
        if (!list) {
            rc = RT_ERR_NOMEM;
            break;
        }
        memcpy(list, p->words, n_list * sizeof *list);
        for (uint32_t k = 0; rc == RT_OK && k < n_list; k++) {
            word *w = &t.words[list[k]];
            if (w->stamp == stamp) continue;
            w->stamp = stamp;
            bool has = false;
            for (uint32_t i = 0; i + 1 < w->n && !has; i++)
                has = w->sym[i] == a && w->sym[i + 1] == b;
            if (!has) continue;
            /* Remember the old pairs: their counts drop and need fresh heap entries. */
            if ((rc = RT_GROW(touched, touched_cap, (size_t)w->n * 2)) < 0) break;
            uint32_t n_touched = 0;
            for (uint32_t i = 0; i + 1 < w->n; i++)
                touched[n_touched++] =
                    ((uint64_t)(uint32_t)w->sym[i] << 32) | (uint32_t)w->sym[i + 1];
            if ((rc = count_pairs(&t, list[k], -1, false)) < 0) break;
            uint32_t o = 0;
            for (uint32_t i = 0; i < w->n; i++) {
                if (i + 1 < w->n && w->sym[i] == a && w->sym[i + 1] == b) {
                    w->sym[o++] = c;
                    i++;
                } else {
                    w->sym[o++] = w->sym[i];
                }
            }
            w->n = o;
            if ((rc = count_pairs(&t, list[k], +1, true)) < 0) break;
            for (uint32_t i = 0; i + 1 < w->n; i++)
                touched[n_touched++] =
                    ((uint64_t)(uint32_t)w->sym[i] << 32) | (uint32_t)w->sym[i + 1];
            for (uint32_t i = 0; rc == RT_OK && i < n_touched; i++) {
                if (touched[i] == top.key) continue;
                pair_entry *q = pair_find(&t, touched[i]);
                if (q && q->count > 0) rc = heap_push(&t, (heap_item){q->count, touched[i]});
            }
        }
        free(list);
        p = pair_find(&t, top.key);
        if (p) p->count = 0;
        rt_progress_update(&prog, (uint64_t)t.vocab.size - 256, NULL);
    }
    rt_progress_end(&prog, NULL);
    rt_strbuf_free(&joined);
    free(touched);
    if (rc == RT_OK) rc = write_json(&t, params, merges, n_merges, out_path);
    if (rc == RT_OK)
        rt_log_info("BPE training: %zu merges, vocabulary %d + %zu special -> %s", n_merges,
                    t.vocab.size, params->n_special, out_path);
    free(merges);
    trainer_free(&t);
    return rc;
}
