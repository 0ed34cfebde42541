#!/usr/bin/env python3
"""reader-drills.py — multi-question look-up drills in the shared reader prompt format.

Each drill is one {"text"} record: the reader instructions and 2-5 numbered sources exactly as
src/rag/prompt.c renders them (RT_RAG_PROMPT_BASE: "[n] title\\ntext" blocks), followed by 2-5
"Question: ...\\nAnswer: ... [n]" turns separated by blank lines. Every answer is copied from one
source and cites it; about one drill in four also asks about a key that is not shown and is
answered with the abstain text. Several look-ups per sequence give the copy (induction) behaviour
several targets per forward pass, which single-question reader examples (one ~20-token answer
after a ~200-token prompt) do not.

Sources mix invented keys with random-word passages (synthetic: only copying can answer) and real
dictionary passages (train split only: held-out FOLDOC headwords never appear). Half of the drills
take their real passages from neighbouring entries of the dictionary order, so that titles look
alike and the model must match the question's term exactly.

Citation and long-source drills (stage 4): --near-p 1 takes every drill's real passages from
neighbouring entries (titles alike, so only the exact title tells which [n] to cite); --real-docs
train-long reads the longer sources (whole senses, FOLDOC half of the time with its markup) with
--min-words keeping the long ones, and --source-chars stops adding sources beyond that size.

usage: reader-drills.py CORPUS_DIR OUT.jsonl --n N [--seed S] [--synth-p P] [--near-p P]
                        [--real-docs NAME] [--min-words N] [--source-chars N]
  CORPUS_DIR is what reader-corpus.py wrote (train-docs/-qa, synth-docs/-qa, train-long-docs).
"""
import argparse
import json
import random
import re

# src/rag/prompt.c: RT_RAG_PROMPT_BASE's instructions and RT_RAG_ABSTAIN_TEXT
HEADER = ("Answer the question using only the numbered sources below, and cite the source you "
          "used as [n]. If the sources do not contain the answer, say: The documents do not "
          "contain the answer.\n\n")
ABSTAIN = "The documents do not contain the answer."


def with_article(q, rng, p):
    """With probability p, "What is TERM?" / "What is meant by TERM?" becomes "What is a TERM?"
    ("an" before a vowel, "the" one time in four), as people ask about common nouns; terms that
    start with a capital (names: Lisp, Unix) are left alone."""
    m = re.match(r"^(What is (?:meant by )?)([a-z][^?]*)\?$", q)
    if not m or rng.random() >= p:
        return q
    art = "the" if rng.random() < 0.25 else ("an" if m.group(2)[0] in "aeiou" else "a")
    return f"{m.group(1)}{art} {m.group(2)}?"


def load(corpus, name, docs_name=None, min_words=0):
    docs = [json.loads(l) for l in open(f"{corpus}/{docs_name or name}-docs.jsonl")]
    docs = [d for d in docs if len(d["text"].split()) >= min_words]
    qa = {}
    for l in open(f"{corpus}/{name}-qa.jsonl"):
        r = json.loads(l)
        qa[r["doc"]] = r
    return [d for d in docs if d["id"] in qa], qa


def drill(rng, real, synth, qa, a):
    """One drill; a holds the options: synth_p, passages/questions (MIN, MAX), weights, segments,
    max_chars."""
    lo, hi = a.passages
    n = rng.choices(range(lo, hi + 1), weights=a.weights)[0] if a.weights else rng.randint(lo, hi)
    synth_p = a.synth_p
    near = rng.random() < a.near_p
    base = rng.randrange(len(real))
    chosen, titles = [], set()
    tries, size = 0, len(HEADER)
    while len(chosen) < n and tries < 50:
        tries += 1
        if rng.random() < synth_p:
            d = synth[rng.randrange(len(synth))]
        elif near:
            d = real[min(len(real) - 1, max(0, base + rng.randint(-12, 12)))]
        else:
            d = real[rng.randrange(len(real))]
        t = d["title"].lower()
        if t in titles:
            continue
        if a.source_chars and chosen and size + len(d["title"]) + len(d["text"]) + 8 > a.source_chars:
            continue
        size += len(d["title"]) + len(d["text"]) + 8
        titles.add(t)
        chosen.append(d)
    asked = rng.sample(range(len(chosen)), min(len(chosen), rng.randint(*a.questions)))
    turns = [(qa[chosen[i]["id"]]["question"], qa[chosen[i]["id"]]["answer"] + f" [{i + 1}]")
             for i in asked]
    if a.article_p:
        turns = [(with_article(q, rng, a.article_p), ans) for q, ans in turns]
    if rng.random() < 0.25:
        for _ in range(20):
            pool = synth if rng.random() < synth_p else real
            d = pool[rng.randrange(len(pool))]
            if d["title"].lower() not in titles:
                q = qa[d["id"]]["question"]
                if a.article_p:
                    q = with_article(q, rng, a.article_p)
                turns.insert(rng.randrange(len(turns) + 1), (q, ABSTAIN))
                break
    text = HEADER + "".join(f"[{i + 1}] {d['title']}\n{d['text']}\n\n" for i, d in enumerate(chosen))
    segs, size = [], len(text)
    for q, ans in turns:
        block = f"Question: {q}\nAnswer:"
        # the text drills count the space before the answer, the segments drills (written later)
        # do not: kept so that the recipe reproduces the shipped model's data byte for byte
        if segs and size + len(block) + len(ans) + (0 if a.segments else 1) > a.max_chars:
            break
        segs += [(text + block, False), (f" {ans}\n\n", True)]
        text, size = "", size + len(block) + len(ans) + 3
    last = segs[-1][0].rstrip("\n")
    segs[-1] = (last, True)
    if not a.segments:
        return {"text": "".join(t for t, _ in segs)}
    return {"segments": [{"text": t, "label": l} for t, l in segs]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--synth-p", type=float, default=0.4)
    ap.add_argument("--near-p", type=float, default=0.5,
                    help="share of drills whose real passages are neighbouring entries")
    ap.add_argument("--real-docs", help="docs file of the real passages (NAME-docs.jsonl; "
                    "default train), e.g. train-long; the questions stay train-qa's")
    ap.add_argument("--min-words", type=int, default=0,
                    help="only real passages of at least this many words")
    ap.add_argument("--article-p", type=float, default=0,
                    help="share of lower-case \"What is TERM?\" questions asked with an article")
    ap.add_argument("--source-chars", type=int, default=0,
                    help="stop adding sources beyond this many characters (0: no limit)")
    ap.add_argument("--passages", default="2-5", help="MIN-MAX sources per drill")
    ap.add_argument("--max-chars", type=int, default=1250,
                    help="drop the questions that would go beyond this size (1,250: ~380 tokens)")
    ap.add_argument("--questions", default="2-4", help="MIN-MAX answerable questions per drill")
    ap.add_argument("--weights", help="comma-separated weights of MIN..MAX (default: uniform)")
    ap.add_argument("--segments", action="store_true",
                    help="write {\"segments\"} records: the loss on the answers only")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    a.passages = tuple(int(x) for x in a.passages.split("-"))
    a.questions = tuple(int(x) for x in a.questions.split("-"))
    a.weights = [float(w) for w in a.weights.split(",")] if a.weights else None
    real, qa = load(a.corpus, "train", a.real_docs, a.min_words)
    synth, sqa = load(a.corpus, "synth")
    qa.update(sqa)
    with open(a.out, "w") as f:
        for _ in range(a.n):
            f.write(json.dumps(drill(rng, real, synth, qa, a)) + "\n")


if __name__ == "__main__":
    main()
