#!/usr/bin/env bash
# The training tour (make demo-train): ragtune's engine end to end on FOLDOC:
#   1. builds the demo knowledge collection from FOLDOC (Debian's dict-foldoc) and searches it;
#   2. learns a byte-level BPE tokenizer on the same text;
#   3. trains a small llama model from scratch on it (the default model: nothing is downloaded);
#   4. converts it to a q8_0 GGUF file and describes it;
#   5. generates text from it, from the f32 model and from the q8_0 GGUF;
#   6. LoRA-fine-tunes it on question/answer pairs made from FOLDOC entries.
# Everything goes to $RAGTUNE_DEMO_DIR (default: demo/). Sizes are small so it runs in minutes
# on a laptop CPU; RAGTUNE_DEMO_STEPS scales the training run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RT="$BUILD/ragtune"
OUT=${RAGTUNE_DEMO_DIR:-demo}
STEPS=${RAGTUNE_DEMO_STEPS:-240}
DICT=${FOLDOC_DICT:-/usr/share/dictd/foldoc.dict.dz}
mkdir -p "$OUT"
say() { printf '\n== %s\n' "$*"; }

say "1. Knowledge collection from FOLDOC ($DICT)"
rm -rf "$OUT/foldoc"
scripts/build-demo-collection.sh "$OUT/foldoc" "$RT"
for q in "garbage collection" "virtual memory page" "who invented the compiler"; do
  say "search: $q"
  "$RT" search "$OUT/foldoc/collection" "$q" -k 3
done

say "2. BPE tokenizer learned from the corpus"
zcat "$DICT" > "$OUT/foldoc.txt"
"$RT" tokenizer train --vocab-size 2048 "$OUT/foldoc.txt" -o "$OUT/tokenizer.json"
"$RT" tokenize --tokenizer "$OUT/tokenizer.json" "A compiler translates source code." | head -12

say "3. Training a small llama from scratch ($STEPS steps)"
rm -rf "$OUT/base"
"$RT" train --data "$OUT/foldoc.txt" --tokenizer "$OUT/tokenizer.json" --arch llama \
  --layers 4 --embd 256 --heads 8 --kv-heads 4 --ff 688 --seq-len 128 --batch 8 \
  --steps "$STEPS" --lr 2e-3 --warmup 30 --wd 0.01 --eval-every 50 --eval-batches 16 \
  --out "$OUT/base"

say "4. Converting to GGUF (q8_0)"
"$RT" convert "$OUT/base/model" "$OUT/base-q8_0.gguf" --dtype q8_0
"$RT" info "$OUT/base-q8_0.gguf"

say "5. Generating"
for m in "$OUT/base/model" "$OUT/base-q8_0.gguf"; do
  echo "-- $m"
  "$RT" generate --model "$m" --prompt "A compiler is" -n 48 --temp 0.7 --top-p 0.9 --seed 7
done

say "6. LoRA fine-tuning on FOLDOC question/answer pairs"
# One question per entry whose headword is a single term: "What is X?" -> the first sentence of
# its definition (categories in <...> and {cross-reference} braces removed).
perl -MJSON::PP -ne '
    my $e = eval { decode_json($_) } or next;
    my ($head, $body) = split /\n\n/, $e->{text}, 2;
    next unless defined $body && $head =~ /^[\w+#.-]{2,24}$/;
    $body =~ s/\s+/ /g; $body =~ s/^\s*(<[^>]*>\s*)+//; $body =~ s/\{([^}(]*?)\s*(\([^)]*\))?\}/$1/g;
    next unless $body =~ /^(.{20,240}?\.)(\s|$)/;
    print JSON::PP->new->utf8->canonical->encode({prompt => "What is $head?\n", completion => $1}), "\n";
    last if ++$n >= 3000;' \
  "$OUT/foldoc/foldoc.jsonl" > "$OUT/qa.jsonl"
wc -l < "$OUT/qa.jsonl" | sed 's/^/QA pairs: /'
rm -rf "$OUT/lora"
"$RT" finetune --model "$OUT/base/model" --lora --rank 8 --alpha 16 --data "$OUT/qa.jsonl" \
  --seq-len 128 --batch 8 --steps $((STEPS / 3)) --lr 1e-3 --out "$OUT/lora"
"$RT" merge --model "$OUT/base/model" --adapter "$OUT/lora/adapter" --out "$OUT/merged.gguf"
"$RT" generate --model "$OUT/merged.gguf" --prompt "What is Lisp?
" -n 40 --temp 0

say "done: everything is in $OUT/"
