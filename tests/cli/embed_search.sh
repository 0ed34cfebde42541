#!/usr/bin/env bash
# Dense retrieval end to end with a model embedder: a tiny random BERT (tests/python/tiny_hf.py)
# with a WordPiece vocab.txt embeds chunks at ingest and queries at search. A query equal to a
# document's text embeds to the same vector (cosine 1), so exact dense search and HNSW must both
# rank that document first, and hybrid search must include it.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-embed-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" bert "$tmp/bert" >/dev/null || fail "tiny bert"
{
  printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'
  for w in the a of to and is in page memory cache disk process thread lock file network \
           packet route table scheduler virtual frame kernel user stack heap queue; do echo "$w"; done
  for c in a b c d e f g h i j k l m n o p q r s t u v w x y z; do echo "$c"; echo "##$c"; done
} > "$tmp/bert/vocab.txt"
[ "$(wc -l < "$tmp/bert/vocab.txt")" -le 128 ] || fail "vocab larger than the model's 128 ids"
mkdir -p "$tmp/docs"
echo "the kernel maps virtual memory page to frame" > "$tmp/docs/vm.txt"
echo "the scheduler is a queue of process and thread" > "$tmp/docs/sched.txt"
echo "a cache is in memory and a disk is a file" > "$tmp/docs/cache.txt"
echo "the network route table and packet queue" > "$tmp/docs/net.txt"
c="$tmp/coll"
"$RAGTUNE" ingest "$c" "$tmp/docs" --embed-model "$tmp/bert" 2>"$tmp/err" || fail "ingest: $(cat "$tmp/err")"
for d in vm sched cache net; do
  q=$(cat "$tmp/docs/$d.txt")
  top=$("$RAGTUNE" search "$c" "$q" --mode dense --exact -k 1 --json --embed-model "$tmp/bert") || fail "exact search"
  echo "$top" | grep -q "$d.txt" || fail "exact dense top-1 for $d: $top"
  top=$("$RAGTUNE" search "$c" "$q" --mode dense -k 1 --json --embed-model "$tmp/bert") || fail "hnsw search"
  echo "$top" | grep -q "$d.txt" || fail "hnsw dense top-1 for $d: $top"
  "$RAGTUNE" search "$c" "$q" --mode hybrid -k 2 --json --embed-model "$tmp/bert" | grep -q "$d.txt" \
    || fail "hybrid for $d"
done
# `embed --text` gives the vector of the ids `tokenize` gives (the same tokenizer and pooling).
ids=$("$RAGTUNE" tokenize --model "$tmp/bert" "the kernel maps memory" | cut -f1 | paste -sd,)
a=$("$RAGTUNE" embed --model "$tmp/bert" --text "the kernel maps memory" | sed 's/.*"embedding"://')
b=$("$RAGTUNE" embed --model "$tmp/bert" --ids "$ids" | sed 's/.*"embedding"://')
[ -n "$a" ] && [ "$a" = "$b" ] || fail "embed --text differs from embed --ids of its tokens"
# A different embedder is refused.
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" gpt2 "$tmp/gpt2" >/dev/null || fail "tiny gpt2"
"$RAGTUNE" search "$c" "page" --mode dense --embed-model "$tmp/gpt2" >/dev/null 2>&1
[ $? -eq 1 ] || fail "mismatched embedder should exit 1"
echo ok
