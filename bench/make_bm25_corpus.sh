#!/usr/bin/env bash
# make_bm25_corpus.sh — builds the large BM25 bench corpus (one JSON object {"text": ...} per line)
# from Debian-shipped English text: every GCIDE entry (dict-gcide), every WordNet gloss with its
# words (wordnet-base), and the text documentation under /usr/share/doc (plain, gzipped, Markdown,
# HTML with tags stripped). Never the man pages: manpages and manpages-dev are ragtune's held-out
# evaluation domain, so /usr/share/doc/manpages* and /usr/share/man are skipped.
#
# Passages: each entry or paragraph is cut into windows of at most 48 words; windows of fewer than
# 6 words are dropped, and so are repeats of a passage already written (licence boilerplate). Deterministic: sources are read in sorted order and nothing is random, so
# the same installed packages give the same file (the script prints its line count and sha256;
# /usr/share/doc differs between machines with different packages installed).
#
# usage: bench/make_bm25_corpus.sh [OUT] [MAX_PASSAGES]
#   OUT defaults to build/bm25_corpus.jsonl (never commit it); MAX_PASSAGES (default 0 = all)
#   keeps the first N passages, interleaved over the three sources so a prefix mixes them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/bm25_corpus.jsonl}
max=${2:-0}
for f in /usr/share/dictd/gcide.dict.dz /usr/share/dictd/gcide.index /usr/share/wordnet/data.noun; do
  if [ ! -e "$f" ]; then
    echo "make_bm25_corpus: $f missing (run scripts/install-deps.sh: dict-gcide, wordnet-base)" >&2
    exit 1
  fi
done
mkdir -p "$(dirname "$out")"
/usr/bin/python3 - "$out.tmp" "$max" <<'EOF'
import gzip, hashlib, html, json, os, re, sys

out_path, max_passages = sys.argv[1], int(sys.argv[2])
WINDOW, MIN_WORDS = 48, 6


def windows(text):
    """Paragraphs of text cut into windows of at most WINDOW words."""
    for para in re.split(r"\n\s*\n", text):
        words = para.split()
        for i in range(0, len(words), WINDOW):
            w = words[i:i + WINDOW]
            if len(w) >= MIN_WORDS:
                yield " ".join(w)


B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def b64num(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def gcide():
    data = gzip.open("/usr/share/dictd/gcide.dict.dz").read()
    seen = set()
    with open("/usr/share/dictd/gcide.index", encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00"):
                continue
            off, size = b64num(parts[1]), b64num(parts[2])
            if (off, size) in seen:  # several headwords can share one entry
                continue
            seen.add((off, size))
            text = data[off:off + size].decode("utf-8", "replace")
            # one entry: its lines joined (an entry's blank lines separate senses)
            yield from windows(text)


def wordnet():
    for pos in ("noun", "verb", "adj", "adv"):
        with open(f"/usr/share/wordnet/data.{pos}", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):  # licence header
                    continue
                head, _, gloss = line.partition("| ")
                fields = head.split()
                n_words = int(fields[3], 16)
                words = [fields[4 + 2 * i].replace("_", " ") for i in range(n_words)]
                yield from windows(", ".join(words) + ": " + gloss.strip())


TAG = re.compile(r"<[^>]*>")


def docs():
    root = "/usr/share/doc"
    paths = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(d, root)
        if rel.split(os.sep)[0].startswith("manpages"):
            dirs[:] = []
            continue
        paths.extend(os.path.join(d, f) for f in sorted(files))
    for p in paths:
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        try:
            raw = gzip.open(p).read() if p.endswith(".gz") else open(p, "rb").read()
        except (OSError, EOFError):
            continue
        if b"\0" in raw[:4096]:
            continue  # binary
        text = raw.decode("utf-8", "replace")
        name = p[:-3] if p.endswith(".gz") else p
        if name.endswith((".html", ".htm", ".xhtml")):
            text = html.unescape(TAG.sub(" ", text))
        yield from windows(text)


def interleave(*gens):
    live = list(gens)
    while live:
        for g in list(live):
            try:
                yield next(g)
            except StopIteration:
                live.remove(g)


n, seen = 0, set()
with open(out_path, "w", encoding="utf-8") as out:
    for text in interleave(gcide(), wordnet(), docs()):
        key = hashlib.blake2b(text.encode(), digest_size=16).digest()
        if key in seen:
            continue
        seen.add(key)
        out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")
        n += 1
        if max_passages and n >= max_passages:
            break
print(f"make_bm25_corpus: {n} passages", file=sys.stderr)
EOF
mv "$out.tmp" "$out"
echo "make_bm25_corpus: wrote $out ($(wc -l <"$out") passages, $(du -h "$out" | cut -f1)," \
  "sha256 $(sha256sum "$out" | cut -c1-16))"
