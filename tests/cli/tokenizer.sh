#!/usr/bin/env bash
# End-to-end: `ragtune tokenizer train`, `tokenize`, `detokenize`, `tokenizer info` and their
# usage errors, on a tokenizer trained from a generated text (no downloads, no node).
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 400); do
  echo "Line $i: the quick brown fox jumps over the lazy dog; café naïve 日本語 $((i * 7919))"
done > "$work/train.txt"

"$RAGTUNE" tokenizer train --vocab-size 600 --special "<|endoftext|>" "$work/train.txt" \
  -o "$work/tok.json" 2>/dev/null
test -s "$work/tok.json"

text="the lazy dog jumps, café 日本語 <|endoftext|> 12345"
ids=$("$RAGTUNE" tokenize --ids --tokenizer "$work/tok.json" "$text")
back=$("$RAGTUNE" detokenize --tokenizer "$work/tok.json" $ids)
[ "$back" = "$text" ] || { echo "round trip failed: '$back'"; exit 1; }
# ids from standard input, special tokens skipped
back=$(echo "$ids" | "$RAGTUNE" detokenize --tokenizer "$work/tok.json" --skip-special)
[ "$back" = "the lazy dog jumps, café 日本語  12345" ] || { echo "skip-special: '$back'"; exit 1; }
# one token per line with pieces; count
n=$("$RAGTUNE" tokenize --count --tokenizer "$work/tok.json" "$text")
lines=$("$RAGTUNE" tokenize --tokenizer "$work/tok.json" "$text" | wc -l)
[ "$n" -eq "$lines" ] || { echo "count $n != lines $lines"; exit 1; }
printf 'from a file' > "$work/in.txt"
"$RAGTUNE" tokenize --ids --tokenizer "$work/tok.json" --file "$work/in.txt" >/dev/null
"$RAGTUNE" tokenizer info --tokenizer "$work/tok.json" | grep -q "n_vocab        600"

# usage errors exit 2, runtime errors exit 1
set +e
"$RAGTUNE" tokenize "x" 2>/dev/null; [ $? -eq 2 ] || { echo "expected usage error"; exit 1; }
"$RAGTUNE" tokenizer train "$work/train.txt" -o "$work/x.json" 2>/dev/null
[ $? -eq 2 ] || { echo "expected usage error for missing --vocab-size"; exit 1; }
"$RAGTUNE" detokenize --tokenizer "$work/tok.json" abc 2>/dev/null
[ $? -eq 2 ] || { echo "expected usage error for bad id"; exit 1; }
"$RAGTUNE" detokenize --tokenizer "$work/tok.json" 99999 2>/dev/null
[ $? -eq 1 ] || { echo "expected runtime error for an id out of range"; exit 1; }
echo '{"model":{"type":"Unigram","vocab":[]}}' > "$work/uni.json"
msg=$("$RAGTUNE" tokenize --tokenizer "$work/uni.json" "x" 2>&1)
[ $? -eq 1 ] || { echo "expected runtime error for Unigram"; exit 1; }
echo "$msg" | grep -q "Unigram" || { echo "error does not name the type: $msg"; exit 1; }
"$RAGTUNE" tokenize --help | grep -q "usage: ragtune tokenize" || exit 1
echo "tokenizer cli: ok"
