#!/usr/bin/env bash
# Trains the default reader model (models/reader/) from scratch with ragtune itself, from text
# that Debian packages ship (dict-gcide, dict-jargon, dict-foldoc, wordnet-base; never the Linux
# man pages, which are a held-out evaluation domain):
#   1. scripts/reader-corpus.py: passages {"id","title","text"} and questions "What is TERM?"
#      (and paraphrases) -> the first definition sentence; synthetic look-up items (invented
#      keys, random-word passages: the answer can only be copied); held-out FOLDOC entries
#      (md5(headword) mod 10 == 0) go to the test split only;
#   2. `ragtune raft-data` (the shared reader prompt, src/rag/prompt.c) -> prompt/completion data:
#      stage A = 2 passages (1 distractor), synthetic + real; stage B = 4 passages (3
#      distractors, half of them neighbouring entries), real + some synthetic, mixed with
#      look-up drills (plain text: 4 passages then 3-4 questions answered by copying, loss on
#      every token); 20% of reader examples without the oracle passage -> the abstain text;
#   3. `ragtune tokenizer train` (byte-level BPE, 4096 ids) on the passages and prompts;
#   4. `ragtune train` stage A from scratch, `ragtune finetune` stage B (all weights);
#   5. `ragtune convert` to GGUF q8_0 -> OUT/reader-q8_0.gguf (+ tokenizer.json).
# Deterministic: fixed seeds and --threads 2.
#
# usage: scripts/train-reader.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR (build) holds the ragtune binary; OUT_DIR (models/reader) gets the model files;
#   the work files go to $RAGTUNE_READER_WORK (default: OUT_DIR/work, not committed).
#   RAGTUNE_RECIPE_TOY=1: a toy run (tiny data, model and steps) that finishes in seconds.
#   RAGTUNE_READER_STEPS_A / _B override the step counts; RAGTUNE names another binary;
#   RAGTUNE_READER_FROM=4 starts at the training stages, reusing WORK's data and OUT's tokenizer;
#   RAGTUNE_READER_FROM=5 at stage B, reusing WORK/stage-a too; 6 at stage C.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
OUT=${2:-models/reader}
RT=${RAGTUNE:-$BUILD/ragtune}
WORK=${RAGTUNE_READER_WORK:-$OUT/work}
PY=${RT_PYTHON:-python3}
[ -x "$RT" ] || { echo "train-reader: $RT not built (make build)" >&2; exit 1; }
mkdir -p "$OUT" "$WORK"
say() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [ "${RAGTUNE_RECIPE_TOY:-0}" = 1 ]; then
  CORPUS_OPTS="--max-per-source 300 --synth 300 --drill 300"
  VOCAB=600; MODEL="--layers 1 --embd 32 --heads 2 --kv-heads 1 --ff 64 --ctx 512"
  STEPS_A=${RAGTUNE_READER_STEPS_A:-4}; STEPS_B=${RAGTUNE_READER_STEPS_B:-4}; STEPS_C=${RAGTUNE_READER_STEPS_C:-4}
  BATCH=2; BATCH_B=2; REAL_A=200; SYN_B=100; N_B=100
else
  CORPUS_OPTS="--synth 120000 --drill 60000"
  VOCAB=4096; MODEL="--layers 4 --embd 192 --heads 6 --kv-heads 2 --ff 512 --ctx 512"
  STEPS_A=${RAGTUNE_READER_STEPS_A:-1500}; STEPS_B=${RAGTUNE_READER_STEPS_B:-1500}
  STEPS_C=${RAGTUNE_READER_STEPS_C:-1200}
  BATCH=16; BATCH_B=8; REAL_A=80000; SYN_B=30000; N_B=40000
fi
SEQ_A=176
SEQ_B=256
THREADS="--threads 2"

C="$WORK/corpus"
FROM=${RAGTUNE_READER_FROM:-1} # 4 or 5: reuse the data and tokenizer of an earlier run in WORK
if [ "$FROM" -le 3 ]; then
say "1. documents and questions from the dictionaries"
$PY scripts/reader-corpus.py "$WORK/corpus" $CORPUS_OPTS --seed 7

say "2. reader training data (ragtune raft-data)"
# stage A: the first SYN/2 synthetic items and REAL_A real items, 2 passages each
n_syn=$(wc -l < "$C/synth-qa.jsonl")
head -n "$((n_syn - SYN_B))" "$C/synth-qa.jsonl" > "$WORK/qa-a-syn.jsonl"
tail -n "$SYN_B" "$C/synth-qa.jsonl" > "$WORK/qa-b-syn.jsonl"
# the real questions are in dictionary order: stage A takes a spread, not the first letters
$PY - "$C/train-qa.jsonl" "$REAL_A" "$WORK/qa-a-real.jsonl" "$WORK/qa-b-real.jsonl" <<'EOF'
import sys
src, n, a_path, b_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = open(src).readlines()
step = max(1, len(lines) // max(1, n))
a = [l for i, l in enumerate(lines) if i % step == 0][:n]
chosen = set(i for i in range(0, len(lines), step)[:n])
open(a_path, "w").writelines(a)
open(b_path, "w").writelines(l for i, l in enumerate(lines) if i not in chosen)
EOF
RD() { "$RT" raft-data --oracle-p 0.8 "$@"; }
RD --qa "$WORK/qa-a-syn.jsonl" --docs "$C/synth-docs.jsonl" --distractors 1 --seed 11 -o "$WORK/a-syn.jsonl"
RD --qa "$WORK/qa-a-real.jsonl" --docs "$C/train-docs.jsonl" --distractors 1 --near 8 --seed 12 -o "$WORK/a-real.jsonl"
RD --qa "$WORK/qa-b-syn.jsonl" --docs "$C/synth-docs.jsonl" --distractors 3 --seed 13 -o "$WORK/b-syn.jsonl"
# stage B real items: half with neighbouring-entry distractors, half uniform
$PY - "$WORK/qa-b-real.jsonl" "$WORK/qa-b-near.jsonl" "$WORK/qa-b-rand.jsonl" <<'EOF'
import sys
lines = open(sys.argv[1]).readlines()
open(sys.argv[2], "w").writelines(lines[0::2])
open(sys.argv[3], "w").writelines(lines[1::2])
EOF
RD --qa "$WORK/qa-b-near.jsonl" --docs "$C/train-docs.jsonl" --distractors 3 --near 8 --seed 14 -o "$WORK/b-near.jsonl"
RD --qa "$WORK/qa-b-rand.jsonl" --docs "$C/train-docs.jsonl" --distractors 3 --seed 15 -o "$WORK/b-rand.jsonl"
cat "$WORK/a-syn.jsonl" "$WORK/a-real.jsonl" > "$WORK/stage-a.jsonl"
# stage B mixes look-up drills (plain text, loss on every token: several copy events per
# sequence) into the reader examples; without them copying had not emerged after stage A
{ cat "$C/drill.jsonl"; head -n "$N_B" "$WORK/b-near.jsonl"; head -n "$N_B" "$WORK/b-rand.jsonl"
  head -n "$((N_B / 2))" "$WORK/b-syn.jsonl"; } > "$WORK/stage-b.jsonl"
wc -l "$WORK/stage-a.jsonl" "$WORK/stage-b.jsonl"

say "3. BPE tokenizer ($VOCAB ids) on the passages and a sample of prompts"
$PY - "$WORK/prompts.txt" "$WORK/b-near.jsonl" "$WORK/b-rand.jsonl" "$WORK/b-syn.jsonl" <<'EOF'
import itertools, json, sys
with open(sys.argv[1], "w") as out:
    lines = itertools.chain.from_iterable(open(p) for p in sys.argv[2:])
    for i, line in enumerate(lines):
        if i % 20 == 0:
            r = json.loads(line)
            out.write(r["prompt"] + r["completion"] + "\n\n")
EOF
"$RT" tokenizer train --vocab-size "$VOCAB" --max-bytes 16000000 \
  "$WORK/prompts.txt" "$C/lm.txt" -o "$OUT/tokenizer.json"
fi

if [ "$FROM" -le 4 ]; then
say "4a. stage A: 2 passages, synthetic look-up + real ($STEPS_A steps, seq $SEQ_A)"
rm -rf "$WORK/stage-a"
"$RT" train --data "$WORK/stage-a.jsonl" --tokenizer "$OUT/tokenizer.json" --arch llama $MODEL \
  --seq-len $SEQ_A --no-pack --batch $BATCH --steps "$STEPS_A" --lr 2e-3 --warmup 100 --wd 0.01 \
  --schedule constant --val-fraction 0.01 --eval-every 250 --eval-batches 8 --seed 21 $THREADS \
  --out "$WORK/stage-a"
fi

if [ "$FROM" -le 5 ]; then
say "4b. stage B: look-up drills + 4 passages, real + synthetic ($STEPS_B steps, seq $SEQ_B)"
rm -rf "$WORK/stage-b"
"$RT" finetune --model "$WORK/stage-a/model" --data "$WORK/stage-b.jsonl" \
  --seq-len $SEQ_B --no-pack --batch $BATCH_B --steps "$STEPS_B" --lr 2e-3 --warmup 50 --wd 0.01 \
  --schedule cosine --val-fraction 0.01 --eval-every 250 --eval-batches 8 --save-every 250 \
  --seed 22 $THREADS \
  --out "$WORK/stage-b"
fi

say "4c. stage C: copy drills (repeat + look-up) with reader examples ($STEPS_C steps, seq $SEQ_B)"
{ cat "$C/repeat.jsonl" "$C/drill.jsonl"; tail -n "$N_B" "$WORK/b-near.jsonl"; } > "$WORK/stage-c.jsonl"
rm -rf "$WORK/stage-c"
"$RT" finetune --model "$WORK/stage-b/model" --data "$WORK/stage-c.jsonl" \
  --seq-len $SEQ_B --no-pack --batch $BATCH_B --steps "$STEPS_C" --lr 2e-3 --warmup 20 --wd 0.01 \
  --schedule cosine --val-fraction 0.01 --eval-every 250 --eval-batches 8 --seed 23 $THREADS \
  --out "$WORK/stage-c"

say "5. GGUF q8_0"
"$RT" convert "$WORK/stage-c/model" "$OUT/reader-q8_0.gguf" --dtype q8_0
cp "$WORK/stage-a/train_log.jsonl" "$OUT/train_log_stage_a.jsonl"
cp "$WORK/stage-b/train_log.jsonl" "$OUT/train_log_stage_b.jsonl"
cp "$WORK/stage-c/train_log.jsonl" "$OUT/train_log_stage_c.jsonl"
"$RT" info "$OUT/reader-q8_0.gguf" | head -20
say "done: $OUT/reader-q8_0.gguf"
