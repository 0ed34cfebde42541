#!/usr/bin/env bash
# Ingest with the shipped embedder (models/embedder/embedder.gguf) embeds the chunks of many
# documents together (rt_model_embed_batch: a window of chunks per call, packed passes, one per
# thread) and must store the vectors that one-at-a-time embedding gives:
#   - every document's own text as the query (embedded alone, by `search`) finds that document
#     first with cosine 1 (within 1e-5);
#   - a JSONL file (windows of many documents) and the same texts as one file each (one embedder
#     call per document) give the same dense rankings and scores (within 1e-5).
set -u
fail() { echo "FAIL: $*"; exit 1; }
model="$RT_SOURCE_DIR/models/embedder/embedder.gguf"
[ -f "$model" ] || fail "no shipped embedder at $model"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-embed-batch-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs"
words=(kernel memory page cache disk process thread lock file network packet route table
       scheduler virtual frame user stack heap queue compiler parser token grammar byte word
       register pointer array list tree graph hash sort search index query vector matrix)
: > "$tmp/docs.jsonl"
for i in $(seq 1 36); do
  # lengths from 2 to ~90 words: short texts and texts longer than the 64-token context
  n=$(( 2 + (i * 7) % 90 )) text=""
  for k in $(seq 1 $n); do text="$text ${words[$(( (i * 13 + k * k) % ${#words[@]} ))]}"; done
  text="doc$i:${text}."
  printf '{"id":"d%02d","text":"%s"}\n' "$i" "$text" >> "$tmp/docs.jsonl"
  printf '%s\n' "$text" > "$tmp/docs/d$(printf %02d "$i").txt"
done
"$RAGTUNE" ingest "$tmp/a" "$tmp/docs.jsonl" --embed-model "$model" 2>"$tmp/err" \
  || fail "ingest jsonl: $(cat "$tmp/err")"
"$RAGTUNE" ingest "$tmp/b" "$tmp/docs" --embed-model "$model" 2>"$tmp/err" \
  || fail "ingest dir: $(cat "$tmp/err")"
score_of() { sed 's/.*"score":\([-0-9.e]*\).*/\1/'; }
for i in 1 2 5 14 27 36; do
  id=$(printf d%02d "$i")
  q=$(cat "$tmp/docs/$id.txt")
  ra=$("$RAGTUNE" search "$tmp/a" "$q" --mode dense --exact -k 10 --json --embed-model "$model") \
    || fail "search a"
  rb=$("$RAGTUNE" search "$tmp/b" "$q" --mode dense --exact -k 10 --json --embed-model "$model") \
    || fail "search b"
  [ "$(echo "$ra" | wc -l)" = 10 ] || fail "$id: not 10 results: $ra"
  # a text of one chunk is its own best match at cosine 1
  if [ "$(wc -w < "$tmp/docs/$id.txt")" -lt 30 ]; then
    top=$(echo "$ra" | head -n 1)
    echo "$top" | grep -q '"doc_id":"'"$id"'"' || fail "$id is not its own top hit: $top"
    score=$(echo "$top" | score_of)
    awk -v s="$score" 'BEGIN { exit !(s > 1 - 1e-5 && s < 1 + 1e-5) }' || fail "$id: cosine $score"
  fi
  # the same ranking and scores from both collections
  paste <(echo "$ra" | score_of) <(echo "$rb" | score_of) \
    | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5 || NF != 2) bad = 1 } END { exit bad }' \
    || fail "$id: scores differ"
  da=$(echo "$ra" | sed 's/.*"doc_id":"\([^"]*\)".*/\1/')
  db=$(echo "$rb" | sed 's/.*"doc_id":"[^"]*\/\([^"/]*\)\.txt".*/\1/')
  [ "$da" = "$db" ] || fail "$id: rankings differ: $da vs $db"
done
echo ok
