#!/usr/bin/env bash
# Calibrates `ask`'s refusal threshold (rt_ask_params.min_score, BM25) on the FOLDOC demo
# collection, with a held-out split:
#   answerable   "What is TERM?" for FOLDOC headwords (the entry is in the collection);
#   unanswerable "What is TERM?" for GCIDE headwords (dict-gcide) that are not FOLDOC headwords
#                (single alphabetic words of 4+ letters; never the Linux man pages, reserved);
# N of each, chosen by md5 order of the term (deterministic). Each question's best BM25 score
# comes from `ragtune search -k 1 --json` (no hit = score 0). Terms go to the calibration or the
# held-out half by the parity of their md5; the threshold that maximizes accuracy (answerable
# kept, unanswerable refused) on the calibration half is picked (midway between neighbouring
# scores) and reported on the held-out half.
#
# usage: scripts/calibrate-refusal.sh [COLLECTION] [RAGTUNE_BINARY] [N]
#   COLLECTION defaults to demo/foldoc/collection (scripts/build-demo-collection.sh), its
#   foldoc.jsonl beside it; N defaults to 200 per class.
set -euo pipefail
coll=${1:-demo/foldoc/collection}
bin=${2:-build/ragtune}
n=${3:-200}
jsonl="$(dirname "$coll")/foldoc.jsonl"
gcide=${GCIDE_INDEX:-/usr/share/dictd/gcide.index}
[ -d "$coll" ] || { echo "calibrate-refusal: $coll not found (scripts/build-demo-collection.sh)" >&2; exit 1; }
[ -r "$jsonl" ] || { echo "calibrate-refusal: $jsonl not found" >&2; exit 1; }
[ -r "$gcide" ] || { echo "calibrate-refusal: $gcide not found (apt-get install dict-gcide)" >&2; exit 1; }
[ -x "$bin" ] || { echo "calibrate-refusal: $bin not built" >&2; exit 1; }
exec python3 - "$coll" "$bin" "$n" "$jsonl" "$gcide" <<'PY'
import hashlib, json, re, subprocess, sys
coll, binary, n, jsonl, gcide = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
heads = []
for line in open(jsonl, encoding="utf-8"):
    h = json.loads(line)["id"][len("foldoc:"):]
    if " #" not in h:
        heads.append(h)
folded = {h.lower() for h in heads}
absent = set()
for line in open(gcide, encoding="utf-8", errors="replace"):
    w = line.split("\t")[0]
    if re.fullmatch(r"[A-Za-z]{4,}", w) and w.lower() not in folded and not w.startswith("00"):
        absent.add(w.lower())
answerable = sorted(set(heads), key=md5)[:n]
unanswerable = sorted(absent, key=md5)[:n]

def score(term):
    out = subprocess.run([binary, "search", coll, f"What is {term}?", "-k", "1", "--json"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return json.loads(out.splitlines()[0])["bm25"] if out else 0.0

rows = [(t, 1, score(t)) for t in answerable] + [(t, 0, score(t)) for t in unanswerable]
cal = [r for r in rows if int(md5(r[0]), 16) % 2 == 0]
held = [r for r in rows if int(md5(r[0]), 16) % 2 == 1]

def accuracy(rs, t):
    return sum((s >= t) == bool(y) for _, y, s in rs) / len(rs)

scores = sorted({s for _, _, s in cal})
cands = [0.0] + [(a + b) / 2 for a, b in zip(scores, scores[1:])] + [scores[-1] + 1]
best = max(cands, key=lambda t: (accuracy(cal, t), -t))
def rates(rs, t):
    a = [s for _, y, s in rs if y]; u = [s for _, y, s in rs if not y]
    return sum(s >= t for s in a) / len(a), sum(s < t for s in u) / len(u)
ka, ru = rates(held, best)
print(json.dumps({"threshold": round(best, 3), "n_per_class": n,
                  "calibration": {"n": len(cal), "accuracy": round(accuracy(cal, best), 4)},
                  "held_out": {"n": len(held), "accuracy": round(accuracy(held, best), 4),
                               "answerable_kept": round(ka, 4), "unanswerable_refused": round(ru, 4)},
                  "held_out_accuracy_without_threshold": round(accuracy(held, 0.0), 4)}))
PY
