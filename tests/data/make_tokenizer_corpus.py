#!/usr/bin/env python3
"""Builds tests/data/tokenizer_corpus.jsonl: the corpus the tokenizer reference tests and the
tokenizer benchmark run over. One JSON string per line (so a line may hold newlines, tabs and
control characters). Sources are public texts a Debian machine carries (licences, FOLDOC,
C headers, package docs) plus generated lines for scripts and edge cases that prose lacks
(emoji and ZWJ sequences, CJK, Arabic, Devanagari, combining marks, whitespace runs, control
characters, numbers, URLs). Deterministic: a fixed seed, sorted file lists; the committed
file is the output of one run (the machine's docs differ from machine to machine, so the
test reads the committed file rather than regenerating it).

usage: make_tokenizer_corpus.py OUT.jsonl
"""
import glob
import gzip
import json
import os
import random
import sys

rng = random.Random(20261125)
lines = []


def add(s):
    s = s.rstrip("\n")
    if s.strip() == "" and rng.random() < 0.9:
        return
    lines.append(s)


def read_text(path, limit):
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError:
        return []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return []
    return text.split("\n")


# English prose: licences.
for path in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isfile(path):
        for ln in read_text(path, 60000)[:600]:
            add(ln)

# FOLDOC dictionary entries (technical English with symbols and URLs).
try:
    with gzip.open("/usr/share/dictd/foldoc.dict.dz", "rb") as f:
        foldoc = f.read().decode("utf-8", "replace").split("\n")
    for ln in foldoc[:9000]:
        add(ln)
    # Some multi-line paragraphs, joined with real newlines.
    for i in range(0, 3000, 7):
        add("\n".join(foldoc[20000 + i:20000 + i + 4]))
except OSError:
    pass

# Source code: C headers (indentation, operators, long identifiers).
for path in sorted(glob.glob("/usr/include/*.h"))[:60]:
    for ln in read_text(path, 40000)[:120]:
        add(ln)

# Package documentation (READMEs, changelogs).
for path in sorted(glob.glob("/usr/share/doc/*/copyright"))[:300]:
    for ln in read_text(path, 20000)[:20]:
        add(ln)

# ---- generated lines ------------------------------------------------------------------------
emoji = ["😀", "👍🏽", "👩‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇫🇷", "🇯🇵", "✨", "🤖", "🧑🏿‍🚀",
         "1️⃣", "©", "™", "☕", "🐍", "🦀", "🍣"]
cjk = "日本語のテキストです。中文文本测试，包括标点符号！한국어 텍스트도 있습니다。漢字かなカナ"
arabic = ["مرحبا بالعالم", "اللغة العربية جميلة", "١٢٣٤٥٦٧٨٩٠", "السلام عليكم ورحمة الله"]
deva = ["नमस्ते दुनिया", "हिन्दी भाषा", "संस्कृतम्", "क्षत्रिय ज्ञान"]
combining = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "Z\u0335\u0336", "\u0301lone",
             "A\u030a", "cafe\u0301", "i\u0307"]
words = ["the", "model", "tokenizer", "RAG", "fine-tuning", "LoRA", "don't", "it's", "We'll",
         "HELLO", "World", "naïve", "Ærø", "straße", "İstanbul", "ǅemal", "ﬁne", "Ｆｕｌｌ",
         "x²", "½", "Ⅻ", "ſtop", "KELVIN", "Ωmega", "µs", "ß"]
spaces = [" ", "  ", "\t", "   ", "\u00a0", "\u3000", "\u2009", "\u200b", "\u2028", "\u0085",
          "\r", "\r\n", "\n", "\n\n", "\f", "\v", "\u180e", "\ufeff"]
controls = ["\x00", "\x01", "\x07", "\x1b[31m", "\x7f", "\u0080", "\u009f", "\u200d", "\u200e",
            "\ufffd", "\U000e0001"]
urls = ["https://example.com/path?q=1&r=2#frag", "http://a.b.c/~user/index.html",
        "ftp://ftp.debian.org/debian/", "mailto:someone@example.org",
        "https://en.wikipedia.org/wiki/Byte_pair_encoding"]


def number():
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 20)))
    if kind == 1:
        return "%.*f" % (rng.randrange(1, 8), rng.uniform(-1e6, 1e6))
    if kind == 2:
        return "%d,%03d,%03d" % (rng.randrange(1000), rng.randrange(1000), rng.randrange(1000))
    if kind == 3:
        return "0x%x" % rng.randrange(1 << 32)
    if kind == 4:
        return "%de%d" % (rng.randrange(100), rng.randrange(-30, 30))
    return "２０２６年１１月"


pools = [emoji, list(cjk), arabic, deva, combining, words, spaces, controls, urls]
for i in range(6000):
    n = rng.randrange(1, 24)
    parts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.25:
            parts.append(rng.choice(words))
        elif r < 0.35:
            parts.append(number())
        elif r < 0.45:
            parts.append(rng.choice(emoji))
        elif r < 0.55:
            k = rng.randrange(len(cjk))
            parts.append(cjk[k:k + rng.randrange(1, 12)])
        elif r < 0.62:
            parts.append(rng.choice(arabic))
        elif r < 0.69:
            parts.append(rng.choice(deva))
        elif r < 0.75:
            parts.append(rng.choice(combining))
        elif r < 0.83:
            parts.append(rng.choice(spaces) * rng.randrange(1, 4))
        elif r < 0.88:
            parts.append(rng.choice(controls))
        elif r < 0.93:
            parts.append(rng.choice(urls))
        else:
            parts.append(rng.choice("!?.,;:'\"()[]{}<>@#$%^&*-_=+/\\|~`"))
        if rng.random() < 0.6:
            parts.append(" ")
    add("".join(parts))

# Long whitespace runs and special-token look-alikes.
for n in [1, 2, 3, 4, 7, 8, 15, 16, 17, 31, 64, 100, 257]:
    add("a" + " " * n + "b")
    add(" " * n + "lead")
    add("trail" + " " * n)
    add("x" + "\t" * n + "y")
    add("line" + "\n" * (n % 9 + 1) + "next")
    add(" " * n)
    add("1" * n)
    add("é" * n)
for tok in ["<s>", "</s>", "<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
            "<|begin_of_text|>", "<|eot_id|>", "[CLS]", "[SEP]", "[MASK]", "<pad>", "<|"]:
    add("before %s after" % tok)
    add("%s%s" % (tok, tok))
    add(" %s " % tok)
add("")
add(" ")

sys.stderr.write("%d lines\n" % len(lines))
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for ln in lines:
        out.write(json.dumps(ln, ensure_ascii=False) + "\n")
