#!/usr/bin/env bash
# mpi_search.sh — sharded search under mpirun equals search of the unsharded collection: 40
# documents ingested whole into one collection, and split (document i to shard i mod N) into
# N = 2 and 3 shard collections searched with `mpirun -np N ragtune search shards/part{rank}`.
# BM25 (corpus-wide statistics summed over the shards), exact dense and hybrid (over the
# merged lists; weighted fusion, since RRF's ranks depend on the order of tied hits, which
# follows chunk ids, and those differ between shards and the whole) give the same documents in the same order with scores within 1e-5 (the same
# float operations on the same numbers: in practice equal to the printed digit), also with titled
# documents (title keys matched over the whole corpus's titles), and `ask` cites
# the same sources from the shards as from the whole collection. Errors: a path
# without {rank} (exit 2), a missing shard (exit 1, on every process), MMR (exit 1).
set -euo pipefail
: "${RAGTUNE:?}" "${RT_PYTHON:?}" "${RT_SOURCE_DIR:?}"
source "$RT_SOURCE_DIR/tests/cli/lib/mpi.bash"

# a tiny random BERT embedder with a small WordPiece vocabulary (as embed_search.sh)
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" bert "$t/bert" > /dev/null
words=(page memory cache disk process thread lock file network packet route table scheduler
       virtual frame kernel user stack heap queue)
{
    printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\na\nof\nis\nin\n'
    for w in "${words[@]}"; do echo "$w"; done
    for c in a b c d e f g h i j k l m n o p q r s t u v w x y z; do echo "$c"; echo "##$c"; done
} > "$t/bert/vocab.txt"
mkdir -p "$t/docs"
RANDOM=7 # bash's generator, seeded: the same documents every run
for i in $(seq 0 39); do
    line=""
    n_words=$((6 + RANDOM % 5)) # not in $(...): a subshell reseeds RANDOM
    for ((j = 0; j < n_words; j++)); do line="$line ${words[$((RANDOM % 20))]}"; done
    # "note N" keeps every text distinct (ingest stores identical texts once)
    printf 'note %d\nthe%s\n' "$i" "$line" > "$t/docs/d$i.txt" # a title line, then the body
done
emb=(--embed-model "$t/bert")
"$RAGTUNE" ingest "$t/all" "$t/docs" "${emb[@]}" > /dev/null 2>&1
for n in 2 3; do
    for i in $(seq 0 39); do
        mkdir -p "$t/split$n/p$((i % n))"
        cp "$t/docs/d$i.txt" "$t/split$n/p$((i % n))/"
    done
    for r in $(seq 0 $((n - 1))); do
        "$RAGTUNE" ingest "$t/shards$n/part$r" "$t/split$n/p$r" "${emb[@]}" > /dev/null 2>&1
    done
done

same_hits() { # same_hits WHOLE.jsonl SHARDED.jsonl
    "$RT_PYTHON" - "$1" "$2" <<'PY'
import json, os, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert a and len(a) == len(b), f"{len(a)} vs {len(b)} hits"
for x, y in zip(a, b):
    assert abs(x["score"] - y["score"]) <= 1e-5 * max(1.0, abs(x["score"])), (x, y)
    # equal scores may come in either order: compare documents within each run of ties, except
    # the last run (which of the tied hits make the cut is arbitrary)
def groups(h):
    out, cur = [], []
    for x in h:
        if cur and abs(cur[-1]["score"] - x["score"]) > 1e-6:
            out.append(cur)
            cur = []
        cur.append(x)
    return out  # the last run is left out
ga, gb = groups(a), groups(b)
for p, q in zip(ga, gb):
    key = lambda x: (os.path.basename(x["doc_id"]), x["start"])  # ids are the ingested paths
    assert sorted(map(key, p)) == sorted(map(key, q)), (p, q)
print(f"same {len(a)} hits, top score {a[0]['score']:.5f}")
PY
}

# each mpirun costs a second or more to start: few runs, each mode over 2 and over 3 shards
for case in "2:bm25:memory page frame" "2:dense --exact:memory page frame" \
            "2:hybrid --exact --fusion weighted:memory page frame" "2:bm25:kernel scheduler queue user" \
            "3:bm25:network packet route heap" "3:dense --exact:network packet route heap" \
            "3:hybrid --exact --fusion weighted:network packet route heap"; do
    n=${case%%:*}
    rest=${case#*:}
    mode="--mode ${rest%%:*}"
    q=${rest#*:}
    {
        # shellcheck disable=SC2086
        "$RAGTUNE" search "$t/all" "$q" -k 6 $mode "${emb[@]}" --json > "$t/whole.jsonl"
        # shellcheck disable=SC2086
        mpi "$n" search "$t/shards$n/part{rank}" "$q" -k 6 $mode "${emb[@]}" --json \
            > "$t/sharded.jsonl" 2> "$t/err" || { cat "$t/err"; exit 1; }
        same_hits "$t/whole.jsonl" "$t/sharded.jsonl"
    }
done

# titled documents (BM25 title keys): titles held by one shard only, and overlapping titles of
# different lengths on different shards ("page frame" hides "page", "page frame table" hides
# both), so a shard's own titles alone would match other runs of the query than the whole
# collection's; with the keys' document frequencies summed the scores are the same
titles=("kernel" "kernel scheduler" "page" "page frame" "page frame table" "virtual memory"
        "memory" "stack" "" "heap queue" "frame")
: > "$t/titled.jsonl"
for i in "${!titles[@]}"; do
    body="note $i the ${words[$((i % 20))]} ${words[$(((i * 7) % 20))]} ${words[$(((i * 3) % 20))]}"
    printf '{"id":"t%d","text":"%s","metadata":{"title":"%s"}}\n' "$i" "$body" "${titles[$i]}" \
        >> "$t/titled.jsonl"
done
"$RAGTUNE" ingest "$t/tall" "$t/titled.jsonl" > /dev/null 2>&1
for n in 2 3; do
    for r in $(seq 0 $((n - 1))); do
        awk -v n="$n" -v r="$r" '(NR - 1) % n == r' "$t/titled.jsonl" > "$t/titled$n-$r.jsonl"
        "$RAGTUNE" ingest "$t/tshards$n/part$r" "$t/titled$n-$r.jsonl" > /dev/null 2>&1
    done
done
for case in "2:page frame" "2:what is a page frame table" "3:kernel scheduler memory" \
            "3:virtual memory page frame stack"; do
    n=${case%%:*}
    q=${case#*:}
    "$RAGTUNE" search "$t/tall" "$q" -k 8 --json > "$t/whole.jsonl"
    mpi "$n" search "$t/tshards$n/part{rank}" "$q" -k 8 --json > "$t/sharded.jsonl" \
        2> "$t/err" || { cat "$t/err"; exit 1; }
    same_hits "$t/whole.jsonl" "$t/sharded.jsonl"
done

# ask: rank 0 retrieves from every shard and generates from the merged sources (a tiny reader
# trained here for one step; its text is gibberish, the sources are what is compared)
for i in $(seq 0 39); do cat "$t/docs/d$i.txt"; done > "$t/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 300 "$t/corpus.txt" -o "$t/tok.json" > /dev/null 2>&1
"$RAGTUNE" train --data "$t/corpus.txt" --tokenizer "$t/tok.json" --out "$t/m" --layers 1 \
    --embd 32 --heads 2 --kv-heads 1 --ff 64 --ctx 512 --seq-len 32 --batch 2 --steps 1 \
    --threads 1 > /dev/null 2>&1
ask=(--model "$t/m/model" --max-tokens 4 --threads 1 --min-score 0 -k 3 --json)
"$RAGTUNE" ask "$t/all" "what is the page frame of memory" "${ask[@]}" > "$t/ask1.json" 2> /dev/null
mpi 2 ask "$t/shards2/part{rank}" "what is the page frame of memory" "${ask[@]}" \
    > "$t/ask2.json" 2> "$t/err" || { cat "$t/err"; exit 1; }
"$RT_PYTHON" - "$t/ask1.json" "$t/ask2.json" <<'PY'
import json, os, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sa, sb = a["sources"], b["sources"]
assert sa and len(sa) == len(sb), (sa, sb)
for x, y in zip(sa, sb):
    assert abs(x["score"] - y["score"]) <= 1e-5 * max(1.0, abs(x["score"])), (x, y)
last = sa[-1]["score"]  # which of hits tied with the last make the cut is arbitrary
top = lambda s: sorted(os.path.basename(x["doc_id"]) for x in s if x["score"] > last + 1e-6)
assert top(sa) == top(sb), (sa, sb)
assert isinstance(b["answer"], str)
print(f"ask: same {len(sa)} sources over 2 shards")
PY

set +e
mpi 2 search "$t/all" "memory" > /dev/null 2> "$t/err"
rc=$?
test $rc -eq 2 || { echo "a path without {rank}: exit $rc"; exit 1; }
grep -q "{rank}" "$t/err"
mpi 3 search "$t/shards2/part{rank}" "memory" > /dev/null 2> "$t/err"
rc=$?
test $rc -eq 1 || { echo "a missing shard: exit $rc"; cat "$t/err"; exit 1; }
grep -q "shards2/part2" "$t/err"
mpi 2 search "$t/shards2/part{rank}" "memory" --mmr "${emb[@]}" > /dev/null 2> "$t/err"
rc=$?
test $rc -eq 1 || { echo "--mmr over shards: exit $rc"; exit 1; }
grep -q "does not support MMR" "$t/err"
set -e
echo "mpi_search: ok"
