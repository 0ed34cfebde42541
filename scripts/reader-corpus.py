#!/usr/bin/env python3
"""reader-corpus.py — documents and questions for the default reader, from Debian's dictionaries.

Reads the dictd files of dict-gcide, dict-jargon and dict-foldoc (/usr/share/dictd/*.dict.dz with
their .index) and WordNet's data.{noun,verb,adj,adv} (wordnet-base), and writes into OUT_DIR:

  train-docs.jsonl, train-qa.jsonl   real entries: {"id","title","text"} passages (the first one or
                                     two sentences of a definition) and {"id","question","answer",
                                     "doc"} items ("What is TERM?" and paraphrases -> the first
                                     definition sentence, at most ANSWER_WORDS words)
  synth-docs.jsonl, synth-qa.jsonl   synthetic look-up items: an invented key word whose passage is
                                     a random word sequence; the answer can only be copied
  drill.jsonl                        {"text"} look-up drills: 4 numbered passages (invented keys or
                                     real entries), then 3-4 questions answered by copying with [n]
  repeat.jsonl                       {"text"} a run of words written twice (copying drill)
  test-docs.jsonl, test-qa.jsonl     held-out FOLDOC entries (never in any training file)
  foldoc-train-docs.jsonl            the FOLDOC training passages (distractors for the test split)
  lm.txt                             plain text of the training passages (tokenizer training)
  train-long-docs.jsonl              the training passages again (same ids) as longer sources: the
                                     whole sense, up to LONG_WORDS words; half of the FOLDOC ones
                                     (by a hash of the id) keep the dictionary's markup (<tags>,
                                     {links}) the way a collection ingested from dict-foldoc has
                                     it, so the reader learns to read real entries, not only
                                     cleaned 1-2-sentence passages

Held-out rule: a FOLDOC headword is held out when md5(lowercased headword) mod 10 == 0; every
training passage whose title is a held-out headword (in any dictionary) is dropped too. No Linux
man page is read. Everything is deterministic for a given seed and package versions.

usage: reader-corpus.py OUT_DIR [--max-per-source N] [--synth N] [--drill N] [--seed N]
"""
import argparse
import gzip
import hashlib
import json
import os
import random
import re

DICTD = os.environ.get("RT_DICTD_DIR", "/usr/share/dictd")
WORDNET = os.environ.get("RT_WORDNET_DIR", "/usr/share/wordnet")
ANSWER_WORDS = 20
PASSAGE_WORDS = 28
LONG_WORDS = 70
RAW_OF = {}  # (headword, cleaned sense) -> the paragraph as the dictionary has it (squashed)
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
TEMPLATES = ["What is {t}?"] * 4 + ["Define {t}.", "What does {t} mean?", "What is meant by {t}?",
                                    "Explain {t}.", "What is the meaning of {t}?"]


def held_out(headword):
    return int(hashlib.md5(headword.lower().encode()).hexdigest(), 16) % 10 == 0


def b64num(s):
    n = 0
    for c in s:
        n = n * 64 + B64.index(c)
    return n


def dictd_entries(name, limit=0):
    """(headword, raw entry text) in index order, one per distinct (offset, length); at most
    limit entries when limit > 0."""
    idx = os.path.join(DICTD, name + ".index")
    with gzip.open(os.path.join(DICTD, name + ".dict.dz"), "rb") as f:
        data = f.read()
    seen = set()
    with open(idx, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3 or parts[0].startswith("00"):
                continue
            key = (parts[1], parts[2])
            if key in seen:
                continue
            seen.add(key)
            if limit and len(seen) > limit:
                return
            off, ln = b64num(parts[1]), b64num(parts[2])
            yield parts[0], data[off:off + ln].decode("utf-8", errors="replace")


def squash(s):
    return re.sub(r"\s+", " ", s).strip()


def first_sentences(text, n_sent, max_words):
    """The first n_sent sentences of text, cut at max_words words."""
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z(\"'])", text)
    out = " ".join(parts[:n_sent])
    words = out.split()
    if len(words) > max_words:
        out = " ".join(words[:max_words])
        out = out.rstrip(",;:")
    return out


def good(text):
    return len(text.split()) >= 3 and re.search(r"[a-zA-Z]{3}", text) is not None


def clean_foldoc(body):
    body = re.sub(r"\{\(?(https?|ftp|mailto|news):[^}]*\}", "", body)
    body = re.sub(r"\{([^}]*)\}", r"\1", body)
    body = re.sub(r"<[^>]*>", "", body)
    body = re.sub(r"\(\d{4}-\d{2}-\d{2}\)", "", body)
    body = re.sub(r"^\s*\([^)]*\)\s*", "", body)  # ("pointed brainfuck") expansions
    return squash(body)


def paragraph_senses(raw, clean, skip):
    """(headword, the first two paragraphs of the body that clean() makes good and skip() keeps)."""
    lines = raw.split("\n")
    body = "\n".join(lines[1:])
    senses = []
    for p in re.split(r"\n\s*\n", body):
        if not p.strip():
            continue
        t = re.sub(r"^\d+\.\s*", "", clean(p))
        if good(t) and not skip(t):
            senses.append(t)
            RAW_OF[(lines[0].strip(), t)] = squash(p)
            if len(senses) >= 2:
                break
    return lines[0].strip(), senses


def foldoc_senses(raw):
    return paragraph_senses(raw, clean_foldoc,
                            lambda t: t.startswith(("[", "See ", "Home page")))


def jargon_senses(raw):
    def clean(p):
        return re.sub(r"^\[[^\]]*\]\s*", "", squash(re.sub(r"\{([^}]*)\}", r"\1", p)))
    return paragraph_senses(raw, clean, lambda t: re.match(r"^(n|v|adj|adv|vt|vi|interj)\.", t)
                            or t.startswith("Prev"))


def gcide_senses(raw):
    text = re.sub(r"\[[^\]]*\]", "", raw)  # etymology, [1913 Webster], [R.]
    lines = text.split("\n")
    head = re.sub(r"\\[^\\]*\\.*$", "", lines[0]).strip().rstrip(",")
    body = "\n".join(lines[1:])
    body = re.split(r"\n\s*(Syn\.|Note:|Syn:)", body)[0]
    parts = re.split(r"(?:^|\n)\s*\d+\.\s+", body)
    senses = []
    for p in parts:
        t = squash(p)
        t = re.sub(r"^\([^)]*\)\s*", "", t)  # (Anat.) field labels
        t = re.sub(r"--\s?[A-Z][\w. ]*\.", "", t)  # --Bailey. attributions
        t = squash(t)
        if not good(t) or t.startswith("See ") or t.startswith("Same as"):
            continue
        senses.append(t)
        if len(senses) >= 3:
            break
    return head, senses


def wordnet_synsets(limit=0):
    n_out = 0
    for pos in ("noun", "verb", "adj", "adv"):
        path = os.path.join(WORDNET, "data." + pos)
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                fields, gloss = line.split("|", 1)
                f2 = fields.split()
                n = int(f2[3], 16)
                words = [f2[4 + 2 * i].replace("_", " ") for i in range(n)]
                words = [re.sub(r"\(\w+\)$", "", w) for w in words]
                definition = squash(gloss.split('; "')[0].split(";")[0])
                if good(definition):
                    n_out += 1
                    if limit and n_out > limit:
                        return
                    yield words[0], definition[0].upper() + definition[1:] + "."


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--max-per-source", type=int, default=0)
    ap.add_argument("--synth", type=int, default=60000)
    ap.add_argument("--drill", type=int, default=60000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.out, exist_ok=True)

    held = set()
    test_items = []
    foldoc_train = []
    train = []  # (source, title, definition text)
    lim = 4 * a.max_per_source  # toy runs read only the start of each dictionary
    for head, raw in dictd_entries("foldoc", lim):
        h, senses = foldoc_senses(raw)
        if not senses or not h:
            continue
        if held_out(h):
            held.add(h.lower())
            test_items.append((h, senses[0]))
        else:
            for s in senses:
                foldoc_train.append((h, s))
    sources = {"foldoc": foldoc_train, "jargon": [], "gcide": [], "wordnet": []}
    for head, raw in dictd_entries("jargon", lim):
        h, senses = jargon_senses(raw)
        sources["jargon"] += [(h, s) for s in senses if h]
    for head, raw in dictd_entries("gcide", lim):
        h, senses = gcide_senses(raw)
        sources["gcide"] += [(h, s) for s in senses if h]
    sources["wordnet"] = list(wordnet_synsets(lim))

    for name in ("foldoc", "jargon", "gcide", "wordnet"):
        items = [(h, s) for h, s in sources[name] if h.lower() not in held]
        if a.max_per_source:
            items = items[: a.max_per_source]
        for h, s in items:
            train.append((name, h, s))

    def write_split(prefix, items, pick_template):
        with open(os.path.join(a.out, prefix + "-docs.jsonl"), "w") as fd, \
             open(os.path.join(a.out, prefix + "-qa.jsonl"), "w") as fq:
            for i, (src, h, s) in enumerate(items):
                did = "%s:%d" % (src, i)
                passage = first_sentences(s, 2, PASSAGE_WORDS)
                answer = first_sentences(s, 1, ANSWER_WORDS)
                fd.write(json.dumps({"id": did, "title": h, "text": passage}) + "\n")
                q = pick_template().format(t=h)
                fq.write(json.dumps({"id": "q" + did, "question": q, "answer": answer,
                                     "doc": did}) + "\n")

    write_split("train", train, lambda: rng.choice(TEMPLATES))
    tests = [("foldoc", h, s) for h, s in test_items]
    if a.max_per_source:
        tests = tests[: max(20, a.max_per_source // 10)]
    write_split("test", tests, lambda: "What is {t}?")
    with open(os.path.join(a.out, "foldoc-train-docs.jsonl"), "w") as fd:
        for i, (src, h, s) in enumerate([t for t in train if t[0] == "foldoc"]):
            fd.write(json.dumps({"id": "fd:%d" % i, "title": h,
                                 "text": first_sentences(s, 2, PASSAGE_WORDS)}) + "\n")
    with open(os.path.join(a.out, "lm.txt"), "w") as f:
        for src, h, s in train:
            f.write(h + "\n" + first_sentences(s, 2, PASSAGE_WORDS) + "\n\n")
        for t in TEMPLATES:
            f.write(t.format(t="it") + "\n")

    # Synthetic look-up: invented keys, passages of random words taken from the real passages.
    # frequent lower-case words: few tokens each, so the synthetic passages stay short
    freq = {}
    for _, _, s_ in train[::4]:
        for w in s_.split():
            if w.isalpha() and w.islower():
                freq[w] = freq.get(w, 0) + 1
    vocab = sorted(sorted(freq), key=lambda w: -freq[w])[:8000]
    vocab.sort()
    syl = ["ba", "ko", "ri", "tu", "men", "zor", "pla", "vek", "sti", "nu", "gar", "lo", "qui",
           "dra", "fen", "mo", "shi", "tal", "xe", "yor", "pra", "kel", "vin", "oth"]
    n_syn = a.synth if not a.max_per_source else min(a.synth, a.max_per_source)
    with open(os.path.join(a.out, "synth-docs.jsonl"), "w") as fd, \
         open(os.path.join(a.out, "synth-qa.jsonl"), "w") as fq:
        for i in range(n_syn):
            key = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))
            if rng.random() < 0.3:
                key = key + " " + rng.choice(vocab).lower()
            n1 = rng.randint(3, 14)
            sent = " ".join(rng.choice(vocab) for _ in range(n1))
            sent = sent[0].upper() + sent[1:] + "."
            extra = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 8)))
            text = sent + ((" " + extra[0].upper() + extra[1:] + ".") if extra else "")
            did = "synth:%d" % i
            fd.write(json.dumps({"id": did, "title": key, "text": text}) + "\n")
            fq.write(json.dumps({"id": "q" + did, "question": rng.choice(TEMPLATES).format(t=key),
                                 "answer": sent, "doc": did}) + "\n")
    # Look-up drill (plain text, language-model loss on every token): numbered passages, then
    # several questions about them, each answered by copying a passage with its [n] (or the
    # abstain text for a key that is not there). Many copy events per sequence: the signal that
    # grows induction heads, which reader examples alone (one answer each) give too slowly.
    real_docs = [(h, first_sentences(s_, 1, ANSWER_WORDS)) for _, h, s_ in train]
    n_drill = a.drill if not a.max_per_source else min(a.drill, a.max_per_source)
    abstain = "The documents do not contain the answer."
    with open(os.path.join(a.out, "drill.jsonl"), "w") as fd:
        for i in range(n_drill):
            ps = []
            for k in range(5):
                if rng.random() < 0.5:
                    key = "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))
                    val = " ".join(rng.choice(vocab) for _ in range(rng.randint(2, 10)))
                    val = val[0].upper() + val[1:] + "."
                else:
                    key, val = real_docs[rng.randrange(len(real_docs))]
                ps.append((key, val))
            shown = ps[:4]
            text = "\n\n".join("[%d] %s\n%s" % (j + 1, k, v) for j, (k, v) in enumerate(shown))
            order = list(range(4))
            rng.shuffle(order)
            for j in order[:3] + ([-1] if rng.random() < 0.3 else []):
                key, val = ps[4] if j < 0 else shown[j]
                if j >= 0 and any(k2.lower() == key.lower() for k2, _ in shown[:j]):
                    continue
                ans = abstain if j < 0 else "%s [%d]" % (val, j + 1)
                text += "\n\nQuestion: %s\nAnswer: %s" % (rng.choice(TEMPLATES).format(t=key), ans)
            fd.write(json.dumps({"text": text}) + "\n")
    # Repeat drill (plain text): a run of words, then the same run again; every token of the
    # second half can be copied, the densest signal for induction (copying) heads.
    n_rep = a.drill if not a.max_per_source else min(a.drill, a.max_per_source)
    with open(os.path.join(a.out, "repeat.jsonl"), "w") as fr:
        for i in range(n_rep):
            if rng.random() < 0.5:
                run = " ".join(rng.choice(vocab) for _ in range(rng.randint(10, 40)))
            else:
                run = " ".join(real_docs[rng.randrange(len(real_docs))][1] for _ in range(2))
            fr.write(json.dumps({"text": run + "\n\n" + run}) + "\n")
    # Long sources (no random draws: the files above stay byte-identical with or without it)
    with open(os.path.join(a.out, "train-long-docs.jsonl"), "w") as fd:
        for i, (src, h, s_) in enumerate(train):
            did = "%s:%d" % (src, i)
            text = first_sentences(s_, 8, LONG_WORDS)
            raw = RAW_OF.get((h, s_))
            if src == "foldoc" and raw and int(hashlib.md5(did.encode()).hexdigest(), 16) % 2:
                text = first_sentences(raw, 8, LONG_WORDS)
            fd.write(json.dumps({"id": did, "title": h, "text": text}) + "\n")
    counts = {k: len(v) for k, v in sources.items()}
    print("reader-corpus: train %d (%s), test %d held-out FOLDOC, synth %d"
          % (len(train), counts, len(tests), n_syn))


if __name__ == "__main__":
    main()
