/*
 * html.c — see html.h. One pass over the bytes into an rt_strbuf.
 */
#include "knowledge/html.h"
#include "core/error.h"
#include "core/strbuf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The text being built; after the first failed append every put is a no-op. */
typedef struct html_out {
    rt_strbuf text;
    bool failed;
} html_out;

static void put(html_out *o, const char *s, size_t n) {
    if (!o->failed && rt_strbuf_append(&o->text, s, n) < 0) o->failed = true;
}

/* The last character written, or 0. */
static char last_char(const html_out *o) {
    return o->text.len ? o->text.data[o->text.len - 1] : 0;
}

/* Writes a line break unless the output already ends with `want` newlines. */
static void newline(html_out *o, int want) {
    /* trim trailing spaces */
    while (last_char(o) == ' ')
        o->text.len--;
    if (o->text.len == 0) return;
    int have = 0;
    for (size_t i = o->text.len; i > 0 && o->text.data[i - 1] == '\n' && have < want; i--)
        have++;
    for (; have < want; have++)
        put(o, "\n", 1);
}

static void put_space(html_out *o) {
    char c = last_char(o);
    if (c && c != ' ' && c != '\n') put(o, " ", 1);
}

static void put_cp(html_out *o, uint32_t cp) {
    char b[4];
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = 0xFFFD;
    if (cp < 0x80) {
        b[0] = (char)cp;
        put(o, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        put(o, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        put(o, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        put(o, b, 4);
    }
}

static const struct {
    const char *name;
    uint32_t cp;
} entities[] = {
    {"amp", '&'},      {"lt", '<'},       {"gt", '>'},       {"quot", '"'},      {"apos", '\''},
    {"nbsp", ' '},     {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"copy", 0xA9},
    {"reg", 0xAE},     {"laquo", 0xAB},   {"raquo", 0xBB},   {"lsquo", 0x2018},  {"rsquo", 0x2019},
    {"ldquo", 0x201C}, {"rdquo", 0x201D}, {"eacute", 0xE9},  {"times", 0xD7},    {"deg", 0xB0},
};

/* Decodes a character reference at s[0] == '&'; returns bytes consumed (0: not a reference). */
static size_t entity(html_out *o, const char *s, size_t n) {
    size_t i = 1;
    if (i < n && s[i] == '#') {
        i++;
        bool hex = i < n && (s[i] == 'x' || s[i] == 'X');
        if (hex) i++;
        uint32_t v = 0;
        size_t digits = 0;
        while (i < n && digits < 8) {
            char ch = s[i];
            int d = ch >= '0' && ch <= '9'          ? ch - '0'
                    : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                    : -1;
            if (d < 0) break;
            v = v * (hex ? 16 : 10) + (uint32_t)d;
            digits++;
            i++;
        }
        if (!digits) return 0;
        if (i < n && s[i] == ';') i++;
        if (v == 0xA0) v = ' ';
        put_cp(o, v);
        return i;
    }
    size_t j = i;
    while (j < n && j - i < 10 && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
        j++;
    for (size_t k = 0; k < sizeof entities / sizeof *entities; k++) {
        size_t l = strlen(entities[k].name);
        if (j - i == l && memcmp(s + i, entities[k].name, l) == 0) {
            put_cp(o, entities[k].cp);
            return j < n && s[j] == ';' ? j + 1 : j;
        }
    }
    return 0;
}

static bool name_is(const char *name, size_t n, const char *const *list) {
    for (; *list; list++)
        if (strlen(*list) == n && strncasecmp(name, *list, n) == 0) return true;
    return false;
}

static const char *const skip_tags[] = {"script", "style", "noscript", "template", NULL};
static const char *const para_tags[] = {
    "p",      "div", "section", "article", "table",  "ul",   "ol", "blockquote", "pre",   "header",
    "footer", "nav", "main",    "aside",   "figure", "form", "dl", "hr",         "title", NULL};
static const char *const line_tags[] = {"br", "tr", "dt", "dd", "td", "th", "caption", NULL};

int rt_html_to_text(const char *s, size_t n, char **out, size_t *out_len) {
    html_out o = {0};
    size_t i = 0;
    const char *skip_until = NULL; /* inside <script> etc.: the closing tag name */
    size_t skip_len = 0;
    while (i < n && !o.failed) {
        char ch = s[i];
        if (ch == '<') {
            if (n - i >= 4 && memcmp(s + i, "<!--", 4) == 0) {
                const char *e = NULL;
                for (size_t j = i + 4; j + 3 <= n; j++)
                    if (memcmp(s + j, "-->", 3) == 0) {
                        e = s + j;
                        break;
                    }
                i = e ? (size_t)(e - s) + 3 : n;
                continue;
            }
            size_t j = i + 1;
            bool closing = j < n && s[j] == '/';
            if (closing) j++;
            size_t name_start = j;
            while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
                             (s[j] >= '0' && s[j] <= '9')))
                j++;
            size_t name_len = j - name_start;
            bool is_tag = name_len > 0 || (j < n && (s[j] == '!' || s[j] == '?'));
            if (!is_tag) {
                if (!skip_until) put(&o, "<", 1);
                i++;
                continue;
            }
            /* Find the end of the tag, honouring quoted attribute values. */
            char quote = 0;
            while (j < n && (quote || s[j] != '>')) {
                if (quote && s[j] == quote)
                    quote = 0;
                else if (!quote && (s[j] == '"' || s[j] == '\''))
                    quote = s[j];
                j++;
            }
            i = j < n ? j + 1 : n;
            const char *name = s + name_start;
            if (skip_until) {
                if (closing && name_len == skip_len && strncasecmp(name, skip_until, skip_len) == 0)
                    skip_until = NULL;
                continue;
            }
            if (!closing && name_is(name, name_len, skip_tags)) {
                skip_until = name;
                skip_len = name_len;
                continue;
            }
            if (name_len == 2 && (name[0] == 'h' || name[0] == 'H') && name[1] >= '1' &&
                name[1] <= '6') {
                newline(&o, 2);
                if (!closing) {
                    static const char hashes[] = "######";
                    put(&o, hashes, (size_t)(name[1] - '0'));
                    put(&o, " ", 1);
                }
            } else if (name_len == 2 && strncasecmp(name, "li", 2) == 0) {
                newline(&o, 1);
                if (!closing) put(&o, "- ", 2);
            } else if (name_is(name, name_len, para_tags)) {
                newline(&o, 2);
            } else if (name_is(name, name_len, line_tags)) {
                newline(&o, 1);
            } else {
                /* inline tags separate nothing */
            }
            continue;
        }
        if (skip_until) {
            i++;
            continue;
        }
        if (ch == '&') {
            size_t used = entity(&o, s + i, n - i);
            if (used) {
                i += used;
                continue;
            }
        }
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\0') {
            put_space(&o);
            i++;
            continue;
        }
        put(&o, &ch, 1);
        i++;
    }
    if (o.failed) {
        rt_strbuf_free(&o.text);
        return RT_ERR_NOMEM;
    }
    while (last_char(&o) == ' ' || last_char(&o) == '\n')
        o.text.len--;
    *out_len = o.text.len;
    if (o.text.data) o.text.data[o.text.len] = '\0';
    *out = rt_strbuf_take(&o.text);
    return *out ? RT_OK : RT_ERR_NOMEM;
}
