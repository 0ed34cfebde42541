/*
 * utf8.c — UTF-8 decoding/validation/repair, the GPT-2 byte alphabet and small buffers.
 */
#include "tokenizer/utf8.h"

#include "core/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int tk_utf8_decode(const uint8_t *s, size_t len, int32_t *cp) {
    uint8_t c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int n;
    int32_t v;
    int32_t min;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        *cp = -1;
        return 1;
    }
    if ((size_t)n > len) {
        *cp = -1;
        return 1;
    }
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *cp = -1;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
        *cp = -1;
        return 1;
    }
    *cp = v;
    return n;
}

int tk_utf8_encode(int32_t cp, uint8_t *out) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

bool tk_utf8_valid(const uint8_t *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        /* Fast path over ASCII, 8 bytes at a time. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= len) break;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int32_t cp;
        int n = tk_utf8_decode(s + i, len - i, &cp);
        if (cp < 0) return false;
        i += (size_t)n;
    }
    return true;
}

size_t tk_utf8_complete_prefix(const uint8_t *s, size_t len) {
    /* Look back at most 3 bytes for the start of a sequence that is cut off. */
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        uint8_t c = s[len - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte: keep looking */
        int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > (int)back && c >= 0xC2 && c <= 0xF4) return len - back;
        return len;
    }
    return len;
}

int tk_append_cp(rt_strbuf *b, int32_t cp) {
    uint8_t tmp[4];
    int n = tk_utf8_encode(cp, tmp);
    return rt_strbuf_append(b, tmp, (size_t)n);
}

int tk_utf8_repair(const uint8_t *s, size_t len, rt_strbuf *out) {
    RT_TRY(rt_strbuf_reserve(out, len));
    size_t i = 0;
    while (i < len) {
        int32_t cp;
        int n = tk_utf8_decode(s + i, len - i, &cp);
        if (cp >= 0) {
            RT_TRY(rt_strbuf_append(out, s + i, (size_t)n));
            i += (size_t)n;
            continue;
        }
        /* A maximal prefix of a valid sequence counts as one error (WHATWG / Rust rule). */
        uint8_t c = s[i];
        size_t skip = 1;
        int need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 1;
        if (c >= 0xC2 && c <= 0xF4) {
            uint8_t lo = 0x80, hi = 0xBF;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED) hi = 0x9F;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
            if (i + 1 < len && s[i + 1] >= lo && s[i + 1] <= hi) {
                skip = 2;
                while ((int)skip < need && i + skip < len && (s[i + skip] & 0xC0) == 0x80)
                    skip++;
            }
        }
        RT_TRY(rt_strbuf_append(out, "\xEF\xBF\xBD", 3));
        i += skip;
    }
    return RT_OK;
}

static int32_t byte_cp[256];
static int16_t cp_byte[324];
static pthread_once_t byte_map_once = PTHREAD_ONCE_INIT;

static void byte_map_build(void) {
    int32_t tbl[256];
    int16_t inv[324];
    for (int i = 0; i < 324; i++)
        inv[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        bool keep = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        tbl[b] = keep ? b : 256 + extra++;
        inv[tbl[b]] = (int16_t)b;
    }
    memcpy(byte_cp, tbl, sizeof tbl);
    memcpy(cp_byte, inv, sizeof inv);
}

static void byte_map_init(void) {
    pthread_once(&byte_map_once, byte_map_build);
}

int32_t tk_byte_to_cp(uint8_t b) {
    byte_map_init();
    return byte_cp[b];
}

int tk_cp_to_byte(int32_t cp) {
    byte_map_init();
    if (cp < 0 || cp >= 324) return -1;
    return cp_byte[cp];
}

int tk_ids_reserve(tk_ids *a, size_t extra) {
    size_t need;
    if (!rt_add_size(a->len, extra, &need))
        return rt_error(RT_ERR_RANGE, "tokenizer: too many ids");
    return RT_GROW(a->data, a->cap, need);
}

int tk_ids_push(tk_ids *a, int32_t v) {
    if (a->len == a->cap) RT_TRY(tk_ids_reserve(a, 1));
    a->data[a->len++] = v;
    return RT_OK;
}

void tk_ids_free(tk_ids *a) {
    free(a->data);
    a->data = NULL;
    a->len = a->cap = 0;
}
