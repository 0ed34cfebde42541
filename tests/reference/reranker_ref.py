#!/usr/bin/env python3
"""reranker_ref.py — a cross-encoder (transformers' BertForSequenceClassification) in plain
PyTorch for tests/reference/ref_reranker.c (transformers is not needed).

BertForSequenceClassification: BertModel (embeddings word + position + token_type, LayerNorm;
post-LN encoder layers; GELU (erf)), then the pooler on the [CLS] state, tanh(W_p h + b_p), then
(dropout, off at inference) the classifier W_c pooled + b_c -> num_labels logits. The score the C
side reports is logit[0] for one label, logit[1] - logit[0] for two.

usage:
  reranker_ref.py make DIR      writes DIR/rerank1 (num_labels 1), DIR/rerank2 (num_labels 2,
                                with id2label), DIR/rerank3 (3 labels, refused by ragtune) and
                                DIR/plain (a BertModel without head), each with vocab.txt
  reranker_ref.py score MODEL PAIRS OUT [MODEL PAIRS OUT ...]
                                PAIRS: one pair per line, "ids;type_ids" (comma-separated);
                                OUT: the scores as float32
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_ref import bert_encode, make_bert, save_model_dir, write_f32  # noqa: E402
from adapter_ref import load_dir  # noqa: E402

WORDS = ["the", "a", "of", "to", "and", "is", "in", "page", "memory", "cache", "disk", "process",
         "thread", "lock", "file", "network", "packet", "route", "table", "scheduler", "virtual",
         "frame", "kernel", "user", "stack", "heap", "queue", "what", "how", "does", "work", "?"]


def vocab():
    v = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS
    for c in "abcdefghijklmnopqrstuvwxyz":
        v += [c, "##" + c]
    return v


def make(d):
    v = vocab()
    for i, (name, labels) in enumerate((("rerank1", 1), ("rerank2", 2), ("rerank3", 3),
                                        ("plain", 0))):
        gen = torch.Generator().manual_seed(77 + i)
        cfg, P = make_bert(gen, vocab=len(v), C=32, n_layer=2, nh=4, ff=64, n_ctx=64)
        P = {"bert." + k: t for k, t in P.items()}
        if labels:
            cfg["architectures"] = ["BertForSequenceClassification"]
            P["bert.pooler.dense.weight"] = torch.randn(32, 32, generator=gen) * 32 ** -0.5
            P["bert.pooler.dense.bias"] = torch.randn(32, generator=gen) * 0.1
            P["classifier.weight"] = torch.randn(labels, 32, generator=gen) * 0.5
            P["classifier.bias"] = torch.randn(labels, generator=gen) * 0.1
            if labels == 2:  # the label count from id2label only, as many checkpoints have it
                cfg["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
            else:
                cfg["num_labels"] = labels
        out = os.path.join(d, name)
        save_model_dir(out, cfg, P)
        with open(os.path.join(out, "vocab.txt"), "w") as f:
            f.write("\n".join(v) + "\n")


def bert_cls_logits(cfg, P, ids, types):
    x = bert_encode(cfg, P, ids[None], types=types[None], prefix="bert.")[0]
    pooled = torch.tanh(F.linear(x[0], P["bert.pooler.dense.weight"], P["bert.pooler.dense.bias"]))
    return F.linear(pooled, P["classifier.weight"], P["classifier.bias"])


def score(model_dir, pairs_path, out):
    cfg, P = load_dir(model_dir)
    scores = []
    with open(pairs_path) as f, torch.inference_mode():
        for line in f:
            if not line.strip():
                continue
            a, b = line.strip().split(";")
            ids = torch.tensor([int(t) for t in a.split(",")])
            types = torch.tensor([int(t) for t in b.split(",")])
            logits = bert_cls_logits(cfg, P, ids, types)
            scores.append(logits[0] if logits.numel() == 1 else logits[1] - logits[0])
    write_f32(out, torch.stack(scores))


def main():
    torch.set_num_threads(1)
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        return 0
    if len(sys.argv) >= 5 and (len(sys.argv) - 2) % 3 == 0 and sys.argv[1] == "score":
        for i in range(2, len(sys.argv), 3):
            score(sys.argv[i], sys.argv[i + 1], sys.argv[i + 2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
