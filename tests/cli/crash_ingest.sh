#!/usr/bin/env bash
# Crash safety of ingestion: `ragtune ingest --ack` is killed (SIGKILL) at 50 random moments;
# after each kill the collection must open, and every document whose ingest was acknowledged
# must be counted and found by search. Odd rounds resume into the previous collection (index
# files from an earlier run plus a change log to replay), even rounds start fresh.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-crash-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n_docs=1000
for i in $(seq 1 $n_docs); do
  printf '{"id":"d%d","text":"document %d has the unique token tok%dx and some filler words about crash safety"}\n' "$i" "$i" "$i"
done > "$tmp/docs.jsonl"
RANDOM=12345
for round in $(seq 1 50); do
  coll="$tmp/c"
  [ $((round % 2)) -eq 0 ] && rm -rf "$coll"
  "$RAGTUNE" ingest "$coll" "$tmp/docs.jsonl" --ack > "$tmp/ack" 2>/dev/null &
  pid=$!
  sleep "0.$(printf '%03d' $((RANDOM % 400)))"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  [ -d "$coll" ] || continue # killed before the collection was created
  acked=$(grep -c '^ok ' "$tmp/ack")
  docs=$("$RAGTUNE" stats "$coll" --json 2>"$tmp/err" | sed -n 's/.*"documents":\([0-9]*\).*/\1/p')
  if [ -z "$docs" ]; then
    # Killed while the collection was being created: allowed only before any acknowledgement.
    [ "$acked" -eq 0 ] && grep -q "interrupted" "$tmp/err" && continue
    fail "round $round: stats failed: $(cat "$tmp/err")"
  fi
  [ "$docs" -ge "$acked" ] || fail "round $round: $acked acknowledged but $docs stored"
  # The last acknowledged document and one random earlier one must be searchable.
  for id in $(grep '^ok ' "$tmp/ack" | tail -n 1 | cut -d' ' -f2) \
            $(grep '^ok ' "$tmp/ack" | shuf -n 1 --random-source=<(yes) | cut -d' ' -f2); do
    n=${id#d}
    "$RAGTUNE" search "$coll" "tok${n}x" -k 1 2>"$tmp/err" | grep -q "^ 1 .* $id \[" ||
      fail "round $round: acknowledged $id not found: $(cat "$tmp/err")"
  done
  echo "round $round: $acked acknowledged, $docs stored"
done
# Finally a clean run completes everything.
"$RAGTUNE" ingest "$tmp/c" "$tmp/docs.jsonl" >/dev/null 2>&1 || fail "final ingest"
docs=$("$RAGTUNE" stats "$tmp/c" --json | sed -n 's/.*"documents":\([0-9]*\).*/\1/p')
[ "$docs" -eq $n_docs ] || fail "final: $docs documents, expected $n_docs"
echo ok
