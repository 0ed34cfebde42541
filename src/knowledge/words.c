/*
 * words.c — see words.h. ASCII takes a table-driven fast path; other code points go through
 * utf8proc's category and case tables.
 */
#include "knowledge/words.h"

#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

/* 1 for ASCII letters and digits. */
static const uint8_t ascii_word[128] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1,
    ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

static int is_word_cp(utf8proc_int32_t cp) {
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return 1;
    default:
        return 0;
    }
}

/* Decodes one code point at text[i]; returns its byte length (>= 1) and *cp (-1 if invalid). */
static size_t next_cp(const char *text, size_t len, size_t i, utf8proc_int32_t *cp) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    utf8proc_ssize_t n =
        utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), cp);
    if (n <= 0) {
        *cp = -1;
        return 1;
    }
    return (size_t)n;
}

int rt_words_split(const char *text, size_t len, rt_word_fn fn, void *user) {
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80 && !ascii_word[c]) {
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        size_t n = next_cp(text, len, i, &cp);
        if (cp < 0 || (c >= 0x80 && !is_word_cp(cp))) {
            i += n;
            continue;
        }
        size_t start = i;
        i += n;
        while (i < len) {
            c = (unsigned char)text[i];
            if (c < 0x80) {
                if (!ascii_word[c]) break;
                i++;
                continue;
            }
            n = next_cp(text, len, i, &cp);
            if (cp < 0 || !is_word_cp(cp)) break;
            i += n;
        }
        int r = fn(user, start, i);
        if (r) return r;
    }
    return 0;
}

size_t rt_word_fold(const char *word, size_t len, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)word[i];
        if (c < 0x80) {
            if (o + 1 >= cap) return 0;
            buf[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            i++;
            continue;
        }
        utf8proc_int32_t cp;
        size_t n = next_cp(word, len, i, &cp);
        i += n;
        if (cp < 0) continue;
        utf8proc_uint8_t tmp[4];
        utf8proc_ssize_t m = utf8proc_encode_char(utf8proc_tolower(cp), tmp);
        if (m <= 0) continue;
        if (o + (size_t)m >= cap) return 0;
        memcpy(buf + o, tmp, (size_t)m);
        o += (size_t)m;
    }
    if (o >= cap) return 0;
    buf[o] = '\0';
    return o;
}

static int count_word(void *user, size_t start, size_t end) {
    (void)start;
    (void)end;
    (*(size_t *)user)++;
    return 0;
}

size_t rt_words_count_tokens(void *user, const char *text, size_t len) {
    (void)user;
    size_t n = 0;
    rt_words_split(text, len, count_word, &n);
    /* Punctuation and symbols: every non-space, non-word ASCII byte counts one token. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x80 && !ascii_word[c] && c > ' ' && c != 0x7f) n++;
    }
    return n;
}
