/*
 * wordpiece.c — greedy longest-match-first WordPiece. Candidate ends start at the longest
 * vocabulary token length, so a long word costs O(len * max_token_len) lookups, not O(len^2).
 */
#include "tokenizer/wordpiece.h"

#include "core/error.h"

#include <string.h>

int tk_wordpiece_encode_word(const tk_wordpiece *wp, const tk_vocab *vocab, rt_strbuf *scratch,
                             const char *word, size_t len, tk_ids *out) {
    const uint8_t *u = (const uint8_t *)word;
    size_t n_chars = 0;
    for (size_t i = 0; i < len; i++)
        n_chars += (u[i] & 0xC0) != 0x80;
    if (n_chars > wp->max_chars) return tk_ids_push(out, wp->unk_id);
    size_t mark = out->len;
    size_t start = 0;
    while (start < len) {
        size_t max_piece = vocab->max_len;
        size_t end = len - start > max_piece ? start + max_piece : len;
        while (end > start && end < len && (u[end] & 0xC0) == 0x80)
            end--;
        int32_t found = -1;
        while (end > start) {
            if (start > 0) {
                scratch->len = 0;
                RT_TRY(rt_strbuf_append(scratch, wp->prefix, wp->prefix_len));
                RT_TRY(rt_strbuf_append(scratch, word + start, end - start));
                found = tk_vocab_find(vocab, scratch->data, scratch->len);
            } else {
                found = tk_vocab_find(vocab, word, end);
            }
            if (found >= 0) break;
            end--;
            while (end > start && (u[end] & 0xC0) == 0x80)
                end--;
        }
        if (found < 0) {
            out->len = mark;
            return wp->unk_id >= 0 ? tk_ids_push(out, wp->unk_id) : RT_OK;
        }
        RT_TRY(tk_ids_push(out, found));
        start = end;
    }
    return RT_OK;
}
