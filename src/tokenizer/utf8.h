/*
 * utf8.h — UTF-8 helpers for the tokenizers: decoding one code point, validity checks, the
 * lossy repair of invalid input (each maximal invalid subsequence becomes U+FFFD, as Rust's
 * String::from_utf8_lossy and Python's errors="replace" do), and the GPT-2 byte-to-unicode
 * alphabet that byte-level BPE vocabularies are written in. Text is built in
 * core/strbuf.h's rt_strbuf. No normalization (see normalizer.h).
 */
#ifndef RT_TOKENIZER_UTF8_H
#define RT_TOKENIZER_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/strbuf.h"

/* Decodes the code point at s[0..len) (len >= 1). Returns its byte length (1..4) and the code
 * point in *cp; an invalid or truncated sequence returns 1 with *cp = -1. */
int tk_utf8_decode(const uint8_t *s, size_t len, int32_t *cp);
/* Encodes cp (0..0x10FFFF) into out (4 bytes room); returns the byte length. */
int tk_utf8_encode(int32_t cp, uint8_t *out);
/* True if s[0..len) is valid UTF-8 (no surrogates, no overlongs). */
bool tk_utf8_valid(const uint8_t *s, size_t len);
/* Length of the longest prefix of s[0..len) that does not end inside a truncated (but so far
 * valid) multi-byte sequence: what a streaming decoder may emit now. */
size_t tk_utf8_complete_prefix(const uint8_t *s, size_t len);

/* Appends code point cp, UTF-8 encoded. */
int tk_append_cp(rt_strbuf *b, int32_t cp);

/* Appends s with invalid sequences replaced by U+FFFD (EF BF BD). */
int tk_utf8_repair(const uint8_t *s, size_t len, rt_strbuf *out);

/* The GPT-2 byte-level alphabet: byte b is written as code point tk_byte_to_cp(b). */
int32_t tk_byte_to_cp(uint8_t b);
/* The byte a code point of that alphabet stands for, or -1. */
int tk_cp_to_byte(int32_t cp);

/* Growable int32 array. */
typedef struct tk_ids {
    int32_t *data;
    size_t len;
    size_t cap;
} tk_ids;
int tk_ids_push(tk_ids *a, int32_t v);
int tk_ids_reserve(tk_ids *a, size_t extra);
void tk_ids_free(tk_ids *a);

#endif
