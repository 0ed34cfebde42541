#!/usr/bin/env python3
"""eval-reader.py — measures a reader model on held-out FOLDOC entries (see eval-reader.sh).

Prompts come from `ragtune raft-data` (the shared reader prompt of src/rag/prompt.c), answers
from `ragtune generate` (greedy, stopped at the reader stop strings "\\n\\n" and "\\nQuestion:"
of rt_rag_stop_strings). Conditions, on the same N held-out questions "What is TERM?":
  gold         the entry's passage among 4 (3 distractors drawn from all FOLDOC passages)
  bm25         the top 4 chunks that `ragtune search` returns from a FOLDOC collection
               (scripts/build-demo-collection.sh), each shortened like the training passages
  closed_book  no sources at all
  unanswerable 4 FOLDOC passages without the entry's (the right output is the abstain text)
Scores: token F1 with SQuAD normalization (citation markers removed; an abstention scores 0),
exact match, the share of non-abstaining answers whose citation [n] is the passage holding the
answer, abstain rates. Each output also goes through `ragtune ask --sources --answer` (the same
check `ask` applies to what the model generates: its attribution moves a citation whose source
does not support the sentence to the one that does); "cite-attr" is the citation accuracy of
those answers, on the same generations. Prints a table and writes the JSON record.

usage: eval-reader.py --ragtune BIN --model MODEL --out DIR [--n N] [--corpus DIR] [--seed S]
"""
import argparse
import collections
import concurrent.futures
import importlib.util
import json
import os
import re
import string
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ABSTAIN = "The documents do not contain the answer."
STOPS = ["\n\n", "\nQuestion:"]  # rt_rag_stop_strings()


def load_corpus_module():
    spec = importlib.util.spec_from_file_location("reader_corpus",
                                                  os.path.join(HERE, "reader-corpus.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def normalize(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1(pred, gold):
    p, g = normalize(pred).split(), normalize(gold).split()
    if not p or not g:
        return float(p == g)
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    prec, rec = same / len(p), same / len(g)
    return 2 * prec * rec / (prec + rec)


def is_abstain(text):
    return "do not contain the answer" in text.lower()


def citations(text):
    return [int(n) for n in re.findall(r"\[(\d+)\]", text)]


def strip_citations(text):
    return re.sub(r"\s*\[\d+\]", "", text).strip()


def prompt_sources(prompt):
    """The numbered sources of a base-style reader prompt, as `ask --sources` reads them."""
    m = re.search(r"\n\n(\[1\] .*?)\n\nQuestion: ", prompt, re.S)
    out = []
    for block in re.split(r"\n\n(?=\[\d+\] )", m.group(1)) if m else []:
        body = re.sub(r"^\[\d+\] ", "", block)
        title, sep, text = body.partition("\n")
        out.append({"title": title, "text": text} if sep else {"title": "", "text": body})
    return out


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit("eval-reader: %s failed (%d): %s" % (cmd[1], r.returncode, r.stderr.strip()))
    return r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ragtune", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--corpus")
    ap.add_argument("--collection")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--conditions", default="gold,bm25,closed_book,unanswerable")
    a = ap.parse_args()
    rt = a.ragtune
    os.makedirs(a.out, exist_ok=True)
    rc = load_corpus_module()

    corpus = a.corpus
    if not corpus:
        corpus = os.path.join(a.out, "corpus")
        run([sys.executable, os.path.join(HERE, "reader-corpus.py"), corpus, "--synth", "0"])
    test = read_jsonl(os.path.join(corpus, "test-qa.jsonl"))
    test_docs = read_jsonl(os.path.join(corpus, "test-docs.jsonl"))
    pool = test_docs + read_jsonl(os.path.join(corpus, "foldoc-train-docs.jsonl"))
    # a deterministic spread over the alphabet
    step = max(1, len(test) // a.n)
    items = test[::step][: a.n]
    doc_of = {d["id"]: d for d in test_docs}
    pool_path = os.path.join(a.out, "pool-docs.jsonl")
    write_jsonl(pool_path, pool)
    qa_path = os.path.join(a.out, "qa.jsonl")
    write_jsonl(qa_path, items)

    prompts = {}

    def raft(name, qa, docs, *opts):
        out = os.path.join(a.out, "prompts-%s.jsonl" % name)
        run([rt, "raft-data", "--qa", qa, "--docs", docs, "-o", out, "--seed", str(a.seed)]
            + list(opts))
        prompts[name] = read_jsonl(out)

    raft("gold", qa_path, pool_path, "--oracle-p", "1", "--distractors", "3")
    raft("unanswerable", qa_path, pool_path, "--oracle-p", "0", "--distractors", "3")
    cb_path = os.path.join(a.out, "qa-closed.jsonl")
    write_jsonl(cb_path, [dict(q, context=[]) for q in items])
    raft("closed_book", cb_path, pool_path)

    conditions = a.conditions.split(",")
    # BM25 top 4 from the FOLDOC collection, shortened like the training passages
    coll = a.collection
    if "bm25" in conditions and not coll:
        cdir = os.path.join(a.out, "foldoc")
        if not os.path.isdir(os.path.join(cdir, "collection")):
            run(["bash", os.path.join(HERE, "build-demo-collection.sh"), cdir, rt])
        coll = os.path.join(cdir, "collection")
    bm_docs, bm_items, recall = {}, [], 0
    for q in (items if "bm25" in conditions else []):
        head = doc_of[q["doc"]]["title"]
        out = run([rt, "search", coll, q["question"], "-k", "4", "--json"])
        ctx = []
        for line in out.splitlines():
            h = json.loads(line)
            did = "%s@%s" % (h["doc_id"], h.get("chunk_id", len(ctx)))
            title = re.sub(r" #\d+$", "", h["doc_id"].split(":", 1)[-1])
            text = h["text"]
            if text.startswith(title + "\n"):
                text = text[len(title) + 1:]
            passage = rc.first_sentences(rc.clean_foldoc(text), 2, rc.PASSAGE_WORDS)
            bm_docs[did] = {"id": did, "title": title, "text": passage or title}
            ctx.append(did)
        gold_id = next((c for c in ctx if c.split("@")[0] == "foldoc:" + head), "none")
        recall += gold_id != "none"
        bm_items.append(dict(q, doc=gold_id, context=ctx))
    bm_docs_path = os.path.join(a.out, "bm25-docs.jsonl")
    write_jsonl(bm_docs_path, list(bm_docs.values()))
    bm_qa_path = os.path.join(a.out, "qa-bm25.jsonl")
    write_jsonl(bm_qa_path, bm_items)
    if "bm25" in conditions:
        raft("bm25", bm_qa_path, bm_docs_path)

    def generate(prompt):
        cmd = [rt, "generate", "--model", a.model, "--prompt", prompt, "-n", str(a.max_tokens),
               "--temp", "0", "--threads", "1"]
        for s in STOPS:
            cmd += ["--stop", s]
        return run(cmd)

    attr_dir = os.path.join(a.out, "attribution")
    os.makedirs(attr_dir, exist_ok=True)

    def attribute(job):
        name, i, prompt, question, output = job
        path = os.path.join(attr_dir, "%s-%d.jsonl" % (name, i))
        write_jsonl(path, prompt_sources(prompt))
        r = json.loads(run([rt, "ask", "--sources", path, question, "--answer", output, "--json"]))
        return r["answer"], len(r["recitations"])

    results = {}
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for name in conditions:
            outs = [o.strip() for o in ex.map(generate, [p["prompt"] for p in prompts[name]])]
            attr = list(ex.map(attribute, [(name, i, p["prompt"], q["question"], o) for i, (q, p, o)
                                           in enumerate(zip(items, prompts[name], outs))]))
            rows = []
            for q, p, o, (ao, moved) in zip(items, prompts[name], outs, attr):
                gold_cite = int(m.group(1)) if (m := re.search(r"\[(\d+)\]\s*$", p["completion"])) else 0
                rows.append({"question": q["question"], "answer": q["answer"], "output": o,
                             "attributed": ao, "moved": moved, "gold_citation": gold_cite})
            results[name] = rows
    gen_seconds = time.time() - t0

    summary = {}
    for name, rows in results.items():
        n = len(rows)
        abst = [is_abstain(r["output"]) for r in rows]
        scores = [0.0 if ab else f1(strip_citations(r["output"]), r["answer"])
                  for r, ab in zip(rows, abst)]
        em = [0.0 if ab else float(normalize(strip_citations(r["output"])) == normalize(r["answer"]))
              for r, ab in zip(rows, abst)]
        answered = [r for r, ab in zip(rows, abst) if not ab]
        cite_ok = [r for r in answered if r["gold_citation"] and citations(r["output"])[:1] == [r["gold_citation"]]]
        attr_ok = [r for r in answered if r["gold_citation"] and citations(r["attributed"])[:1] == [r["gold_citation"]]]
        summary[name] = {
            "n": n,
            "f1": round(sum(scores) / n, 4),
            "exact_match": round(sum(em) / n, 4),
            "abstain_rate": round(sum(abst) / n, 4),
            "answered": len(answered),
            "citation_accuracy": round(len(cite_ok) / len(answered), 4) if answered else None,
            "citation_accuracy_attributed": round(len(attr_ok) / len(answered), 4) if answered else None,
            "citations_moved": sum(r["moved"] for r in rows),
        }
    if "bm25" in summary:
        summary["bm25"]["gold_in_top4"] = round(recall / len(items), 4)
    record = {"model": a.model, "n_questions": len(items), "seed": a.seed,
              "generate_seconds": round(gen_seconds, 1), "conditions": summary,
              "examples": {k: v[:5] for k, v in results.items()}}
    with open(os.path.join(a.out, "eval.json"), "w") as f:
        json.dump(record, f, indent=1)
    with open(os.path.join(a.out, "outputs.json"), "w") as f:
        json.dump(results, f, indent=1)

    print("\nreader evaluation: %s, %d held-out FOLDOC questions" % (a.model, len(items)))
    print("%-13s %6s %6s %9s %9s %9s %s" % ("condition", "F1", "EM", "abstain", "cite-ok", "cite-attr",
                                            "note"))
    notes = {"gold": "gold passage among 4", "bm25": "BM25 top-4, gold retrieved %.0f%%"
             % (100 * summary.get("bm25", {}).get("gold_in_top4", 0)), "closed_book": "no sources",
             "unanswerable": "4 distractors, abstain is right"}
    for name in conditions:
        s = summary[name]
        ca, cb = ("-" if s[k] is None else "%.0f%%" % (100 * s[k])
                  for k in ("citation_accuracy", "citation_accuracy_attributed"))
        print("%-13s %6.3f %6.3f %8.0f%% %9s %9s %s" % (name, s["f1"], s["exact_match"],
                                                        100 * s["abstain_rate"], ca, cb, notes[name]))
    print(json.dumps({"model": a.model, "n_questions": len(items), "conditions": summary}))


if __name__ == "__main__":
    main()
