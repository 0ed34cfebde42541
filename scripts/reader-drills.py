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

usage: reader-drills.py CORPUS_DIR OUT.jsonl --n N [--seed S] [--synth-p P]
  CORPUS_DIR is what reader-corpus.py wrote (train-docs/-qa, synth-docs/-qa).
"""
import argparse
import json
import random

# src/rag/prompt.c: RT_RAG_PROMPT_BASE's instructions and RT_RAG_ABSTAIN_TEXT
HEADER = ("Answer the question using only the numbered sources below, and cite the source you "
          "used as [n]. If the sources do not contain the answer, say: The documents do not "
          "contain the answer.\n\n")
ABSTAIN = "The documents do not contain the answer."


def load(corpus, name):
    docs = [json.loads(l) for l in open(f"{corpus}/{name}-docs.jsonl")]
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
    near = rng.random() < 0.5
    base = rng.randrange(len(real))
    chosen, titles = [], set()
    tries = 0
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
        titles.add(t)
        chosen.append(d)
    asked = rng.sample(range(len(chosen)), min(len(chosen), rng.randint(*a.questions)))
    turns = [(qa[chosen[i]["id"]]["question"], qa[chosen[i]["id"]]["answer"] + f" [{i + 1}]")
             for i in asked]
    if rng.random() < 0.25:
        for _ in range(20):
            pool = synth if rng.random() < synth_p else real
            d = pool[rng.randrange(len(pool))]
            if d["title"].lower() not in titles:
                turns.insert(rng.randrange(len(turns) + 1), (qa[d["id"]]["question"], ABSTAIN))
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
    real, qa = load(a.corpus, "train")
    synth, sqa = load(a.corpus, "synth")
    qa.update(sqa)
    with open(a.out, "w") as f:
        for _ in range(a.n):
            f.write(json.dumps(drill(rng, real, synth, qa, a)) + "\n")


if __name__ == "__main__":
    main()
