#!/usr/bin/env bash
# Trains the default reader model (models/reader/) from scratch with ragtune itself, from text
# that Debian packages ship (dict-gcide, dict-jargon, dict-foldoc, wordnet-base; never the Linux
# man pages, which are a held-out evaluation domain):
#   1. scripts/reader-corpus.py: passages {"id","title","text"} and questions "What is TERM?"
#      (and paraphrases) -> the first definition sentence; synthetic look-up items (invented
#      keys, random-word passages: the answer can only be copied); held-out FOLDOC entries
#      (md5(headword) mod 10 == 0) go to the test split only;
#   2. `ragtune raft-data` (the shared reader prompt, src/rag/prompt.c) -> single-question reader
#      examples with 4 passages (3 distractors, half of them neighbouring entries), 20% of them
#      without the oracle passage -> the abstain text;
#   3. `ragtune tokenizer train` (byte-level BPE, 4096 ids) on the passages and prompts;
#   4. scripts/reader-drills.py: multi-question look-up drills in the same prompt format (2-5
#      sources, 2-4 questions each, some about keys not shown -> the abstain text);
#   5. stage 1 `ragtune train` from scratch on the drills as plain text (loss on every token):
#      copying from the sources emerges as a sudden loss drop (~step 1,850 of 2,400);
#   6. stage 2 `ragtune finetune` on drills with the loss on the answers only ({"segments"})
#      mixed with the single-question reader examples of step 2 (loss on the completion);
#   7. stage 3 `ragtune finetune` on look-up-heavy drills (3-5 sources, 3-5 questions each,
#      answers only) mixed with further reader examples: finding the right source (the
#      question's term among the titles) emerges here, after copying;
#   8. stage 4 `ragtune finetune` (lr 5e-4; questions about lower-case terms asked with an
#      article half of the time, "What is a compiler?") on citation drills (every real passage from
#      neighbouring entries, so only the exact title tells which [n] to cite), long-source drills
#      and reader examples (whole senses of up to 70 words, half of FOLDOC's with the
#      dictionary's <tags> and {links}, as a collection ingested from dict-foldoc has them) and a
#      replay of stage 3's data;
#   9. `ragtune convert` to GGUF q8_0 -> OUT/reader-q8_0.gguf (+ tokenizer.json).
# Deterministic: fixed seeds and --threads 1 (the run kept one core for other work; a different
# thread count changes the floating-point summation order, not the recipe).
#
# usage: scripts/train-reader.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR (build) holds the ragtune binary; OUT_DIR (models/reader) gets the model files;
#   the work files go to $RAGTUNE_READER_WORK (default: OUT_DIR/work, not committed).
#   RAGTUNE_RECIPE_TOY=1: a toy run (tiny data, model and steps) that finishes in seconds.
#   RAGTUNE_READER_STEPS_1 / _2 / _3 / _4 override the step counts; RAGTUNE names another binary;
#   RAGTUNE_READER_FROM=4 starts at the drills, reusing WORK's data and OUT's tokenizer;
#   5 at stage 1, 6 at stage 2 (reusing WORK/stage-1), 7 at stage 3 (reusing WORK/stage-2),
#   8 at stage 4's data (reusing WORK/corpus, WORK/stage-3.jsonl and WORK/stage-3).
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
  STEPS_1=${RAGTUNE_READER_STEPS_1:-4}; STEPS_2=${RAGTUNE_READER_STEPS_2:-4}
  STEPS_3=${RAGTUNE_READER_STEPS_3:-4}; STEPS_4=${RAGTUNE_READER_STEPS_4:-4}
  BATCH=2; REAL_A=200; SYN_B=100; N_B=100; N_DRILL=200; N_READ=50; N_READ3=30; N_4=100
else
  CORPUS_OPTS="--synth 120000 --drill 60000"
  VOCAB=4096; MODEL="--layers 4 --embd 192 --heads 6 --kv-heads 2 --ff 512 --ctx 512"
  STEPS_1=${RAGTUNE_READER_STEPS_1:-2400}; STEPS_2=${RAGTUNE_READER_STEPS_2:-1800}
  STEPS_3=${RAGTUNE_READER_STEPS_3:-3000}; STEPS_4=${RAGTUNE_READER_STEPS_4:-1600}
  BATCH=16; REAL_A=80000; SYN_B=30000; N_B=40000; N_DRILL=60000; N_READ=15000; N_READ3=10000
  N_4=16000
fi
SEQ=384
THREADS="--threads 1"

C="$WORK/corpus"
RD() { "$RT" raft-data --oracle-p 0.8 "$@"; }
FROM=${RAGTUNE_READER_FROM:-1} # 4, 5 or 6: reuse the data and tokenizer of an earlier run in WORK
if [ "$FROM" -le 3 ]; then
say "1. documents and questions from the dictionaries"
$PY scripts/reader-corpus.py "$WORK/corpus" $CORPUS_OPTS --seed 7

say "2. single-question reader examples (ragtune raft-data)"
# SYN_B synthetic items and the real items outside a spread of REAL_A (the spread fed the first
# recipe's 2-passage stage, since dropped; kept so that the data stay byte-identical)
tail -n "$SYN_B" "$C/synth-qa.jsonl" > "$WORK/qa-b-syn.jsonl"
$PY - "$C/train-qa.jsonl" "$REAL_A" "$WORK/qa-b-real.jsonl" <<'EOF2'
import sys
src, n, b_path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(src).readlines()
step = max(1, len(lines) // max(1, n))
chosen = set(i for i in range(0, len(lines), step)[:n])
open(b_path, "w").writelines(l for i, l in enumerate(lines) if i not in chosen)
EOF2
# half with neighbouring-entry distractors (titles that look alike), half uniform
$PY - "$WORK/qa-b-real.jsonl" "$WORK/qa-b-near.jsonl" "$WORK/qa-b-rand.jsonl" <<'EOF2'
import sys
lines = open(sys.argv[1]).readlines()
open(sys.argv[2], "w").writelines(lines[0::2])
open(sys.argv[3], "w").writelines(lines[1::2])
EOF2
RD --qa "$WORK/qa-b-syn.jsonl" --docs "$C/synth-docs.jsonl" --distractors 3 --seed 13 -o "$WORK/b-syn.jsonl"
RD --qa "$WORK/qa-b-near.jsonl" --docs "$C/train-docs.jsonl" --distractors 3 --near 8 --seed 14 -o "$WORK/b-near.jsonl"
RD --qa "$WORK/qa-b-rand.jsonl" --docs "$C/train-docs.jsonl" --distractors 3 --seed 15 -o "$WORK/b-rand.jsonl"

say "3. BPE tokenizer ($VOCAB ids) on the passages and a sample of prompts"
$PY - "$WORK/prompts.txt" "$WORK/b-near.jsonl" "$WORK/b-rand.jsonl" "$WORK/b-syn.jsonl" <<'EOF2'
import itertools, json, sys
with open(sys.argv[1], "w") as out:
    lines = itertools.chain.from_iterable(open(p) for p in sys.argv[2:])
    for i, line in enumerate(lines):
        if i % 20 == 0:
            r = json.loads(line)
            out.write(r["prompt"] + r["completion"] + "\n\n")
EOF2
"$RT" tokenizer train --vocab-size "$VOCAB" --max-bytes 16000000 \
  "$WORK/prompts.txt" "$C/lm.txt" -o "$OUT/tokenizer.json"
fi

if [ "$FROM" -le 4 ]; then
say "4. look-up drills (scripts/reader-drills.py)"
$PY scripts/reader-drills.py "$C" "$WORK/drills-text.jsonl" --n "$N_DRILL" --seed 31 --weights 2,3,3,2
$PY scripts/reader-drills.py "$C" "$WORK/drills-answers.jsonl" --n "$N_DRILL" --seed 33 --segments
{ head -n "$((N_DRILL / 2))" "$WORK/drills-answers.jsonl"; head -n "$N_READ" "$WORK/b-near.jsonl"
  head -n "$N_READ" "$WORK/b-rand.jsonl"; head -n "$((N_READ * 2 / 5))" "$WORK/b-syn.jsonl"
} > "$WORK/stage-2.jsonl"
$PY scripts/reader-drills.py "$C" "$WORK/drills-lookup.jsonl" --n "$((N_DRILL / 2))" --seed 34 \
  --segments --passages 3-5 --questions 3-5
# the reader examples that follow stage 2's in each file
r2=$((N_READ + 1)); r3=$((N_READ + N_READ3)); s2=$((N_READ * 2 / 5 + 1)); s3=$((N_READ * 2 / 5 + N_READ3 * 2 / 5))
{ cat "$WORK/drills-lookup.jsonl"; sed -n "${r2},${r3}p" "$WORK/b-near.jsonl"
  sed -n "${r2},${r3}p" "$WORK/b-rand.jsonl"; sed -n "${s2},${s3}p" "$WORK/b-syn.jsonl"
} > "$WORK/stage-3.jsonl"
wc -l "$WORK/drills-text.jsonl" "$WORK/stage-2.jsonl" "$WORK/stage-3.jsonl"
fi

if [ "$FROM" -le 5 ]; then
say "5. stage 1: drills as plain text, from scratch ($STEPS_1 steps, seq $SEQ)"
rm -rf "$WORK/stage-1"
"$RT" train --data "$WORK/drills-text.jsonl" --tokenizer "$OUT/tokenizer.json" --arch llama $MODEL \
  --seq-len $SEQ --no-pack --batch $BATCH --steps "$STEPS_1" --lr 2e-3 --warmup 200 --wd 0.01 \
  --schedule constant --val-fraction 0.01 --eval-every 300 --eval-batches 8 --save-every 300 \
  --seed 21 $THREADS --out "$WORK/stage-1"
fi

# stage N+1 continues stage N's model on WORK/stage-(N+1).jsonl: all weights, lr 1e-3 cosine
finetune_stage() { # FROM_STAGE TO_STAGE STEPS SEED [LR]
  rm -rf "$WORK/stage-$2"
  "$RT" finetune --model "$WORK/stage-$1/model" --data "$WORK/stage-$2.jsonl" \
    --seq-len $SEQ --no-pack --batch $BATCH --steps "$3" --lr "${5:-1e-3}" --warmup 50 --wd 0.01 \
    --schedule cosine --val-fraction 0.01 --eval-every 300 --eval-batches 8 --save-every 300 \
    --seed "$4" $THREADS --out "$WORK/stage-$2"
}

if [ "$FROM" -le 6 ]; then
say "6. stage 2: answer-only drills + reader examples ($STEPS_2 steps, seq $SEQ)"
finetune_stage 1 2 "$STEPS_2" 22
fi

if [ "$FROM" -le 7 ]; then
say "7. stage 3: look-up-heavy drills + reader examples ($STEPS_3 steps, seq $SEQ)"
finetune_stage 2 3 "$STEPS_3" 23
fi

say "8. stage 4: citation drills, long sources, replay of stage 3 ($STEPS_4 steps, seq $SEQ)"
# questions about lower-case terms asked with an article half of the time ("What is a compiler?")
DR() { $PY scripts/reader-drills.py "$C" "$@" --segments --article-p 0.5; }
# citation: all real passages from neighbouring entries (titles alike)
DR "$WORK/drills-cite.jsonl" --n "$N_4" --seed 41 --near-p 1 --synth-p 0.2 --passages 3-5 \
  --questions 3-5
# long sources: whole senses of 29-70 words (FOLDOC half of the time with its markup)
DR "$WORK/drills-long.jsonl" --n "$N_4" --seed 42 --real-docs train-long --min-words 29 \
  --synth-p 0.15 --passages 1-4 --questions 1-3 --source-chars 1000
# single-question reader examples over long sources, in the exact prompt `ask` sends
$PY - "$C/train-long-docs.jsonl" "$C/train-qa.jsonl" "$WORK/qa-long.jsonl" "$((N_4 / 2))" <<'EOF2'
import importlib.util, json, random, sys
spec = importlib.util.spec_from_file_location("drills", "scripts/reader-drills.py")
drills = importlib.util.module_from_spec(spec)
spec.loader.exec_module(drills)
rng = random.Random(44)
long_ids = set()
for line in open(sys.argv[1]):
    d = json.loads(line)
    if len(d["text"].split()) >= 29:
        long_ids.add(d["id"])
qa = [l for l in open(sys.argv[2]) if json.loads(l)["doc"] in long_ids]
n = int(sys.argv[4])
step = max(1, len(qa) // max(1, n))
with open(sys.argv[3], "w") as out:
    for line in qa[::step][:n]:
        r = json.loads(line)
        r["question"] = drills.with_article(r["question"], rng, 0.5)
        out.write(json.dumps(r) + "\n")
EOF2
RD --qa "$WORK/qa-long.jsonl" --docs "$C/train-long-docs.jsonl" --distractors 2 --near 8 --seed 43 \
  -o "$WORK/reader-long.jsonl"
{ cat "$WORK/drills-cite.jsonl" "$WORK/drills-long.jsonl" "$WORK/reader-long.jsonl"
  awk 'NR % 6 == 0' "$WORK/stage-3.jsonl"; } > "$WORK/stage-4.jsonl"
wc -l "$WORK/stage-4.jsonl"
finetune_stage 3 4 "$STEPS_4" 24 5e-4

say "9. GGUF q8_0"
"$RT" convert "$WORK/stage-4/model" "$OUT/reader-q8_0.gguf" --dtype q8_0
for i in 1 2 3 4; do cp "$WORK/stage-$i/train_log.jsonl" "$OUT/train_log_stage_$i.jsonl"; done
"$RT" info "$OUT/reader-q8_0.gguf" | head -20
say "done: $OUT/reader-q8_0.gguf"
