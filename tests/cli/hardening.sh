#!/usr/bin/env bash
# hardening.sh — one check per class of hostile-but-realistic input (issue 13): symbolic link
# loops, settings refused before anything is created, canonical document paths, --filter
# typing, damaged databases, training guards (context, divergence, output lock), tokenizer
# identity. Each check says what it expects; the script stops at the first failure.
set -u
: "${RAGTUNE:?}"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-hard-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# --- 1. symbolic link loops: each directory is walked once, the loops are reported ----------
mkdir -p loop/sub
echo "a document about paging" > loop/a.txt
echo "not ingested" > loop/notes.rst
ln -s .. loop/sub/up
ln -s ../loop loop/self
timeout 60 "$RAGTUNE" ingest kb loop --no-dedupe 2>err || fail "ingest loop: $(cat err)"
grep -q "1 added" err || fail "the file behind two loop links must be one document: $(cat err)"
grep -q "2 looping links" err || fail "looping links must be reported: $(cat err)"
grep -q "skipped 1 files of unknown format" err || fail "skipped .rst must be counted: $(cat err)"

# --- 5. a document is named by its canonical path -------------------------------------------
echo "edited: a document about segmentation" > loop/a.txt
"$RAGTUNE" ingest kb "$tmp/loop/a.txt" 2>err || fail "re-ingest absolute: $(cat err)"
grep -q "1 replaced" err || fail "absolute path after relative must replace: $(cat err)"
"$RAGTUNE" ingest kb ./loop/../loop/a.txt 2>err || fail "re-ingest dotted: $(cat err)"
grep -q "1 unchanged" err || fail "a differently spelled path must be the same document: $(cat err)"
"$RAGTUNE" stats kb | grep -q "documents   1" || fail "stats after re-ingests: one document"
"$RAGTUNE" rm kb loop/a.txt | grep -q "removed 1" || fail "rm by relative path"
"$RAGTUNE" ingest kb /dev/stdin </dev/null >/dev/null 2>err; [ $? -eq 1 ] || fail "/dev/stdin exit"
grep -q -- "--stdin" err || fail "a pipe path should point to --stdin: $(cat err)"

# --- 10. settings are validated before anything is created ----------------------------------
"$RAGTUNE" ingest kb2 loop/a.txt --language klingon >/dev/null 2>err; [ $? -eq 1 ] || fail "klingon exit"
grep -q "klingon" err || fail "the refused language must be named: $(cat err)"
[ -e kb2 ] && fail "a refused create left $tmp/kb2 behind"
"$RAGTUNE" ingest kb2 loop/a.txt 2>err || fail "create after a refused create: $(cat err)"
mkdir docs2 && echo "x" > docs2/x.txt
"$RAGTUNE" ingest docs2 kb3 >/dev/null 2>err; [ $? -eq 1 ] || fail "swapped arguments exit"
[ -e docs2/collection.db ] && fail "swapped arguments left collection.db in the documents folder"
touch afile
"$RAGTUNE" ingest afile loop >/dev/null 2>err; [ $? -eq 1 ] || fail "collection that is a file"
grep -q "not a directory" err || fail "a file as COLLECTION: $(cat err)"

# --- 9. a damaged database is reported as damaged, with what to do; never read as empty ------
mkdir d9
for i in $(seq 1 300); do echo "document number $i about paging and memory, page $((i * 7919 % 1000))" > d9/$i.txt; done
"$RAGTUNE" ingest k9 d9 2>err || fail "ingest d9: $(cat err)"
npages=$(( $(stat -c %s k9/collection.db) / 4096 ))  # SQLite's default page size
damaged=0
for pg in $(seq 2 "$npages"); do
  rm -rf k9c && cp -r k9 k9c
  dd if=/dev/zero of=k9c/collection.db bs=4096 seek=$((pg - 1)) count=1 conv=notrunc 2>/dev/null
  "$RAGTUNE" stats k9c >out 2>err; rc=$?
  case $rc in
    0) grep -q "documents   300" out || fail "page $pg zeroed: stats printed $(head -1 out) with exit 0" ;;
    1) grep -q "database is damaged" err || fail "page $pg zeroed: $(cat err)"; damaged=$((damaged + 1)) ;;
    *) fail "page $pg zeroed: stats exit $rc: $(cat err)" ;;
  esac
done
[ "$damaged" -gt 0 ] || fail "no zeroed page was reported as damage"

# --- 6. --filter: numbers, booleans and strings never mix; malformed operators are refused ---
printf '%s\n' '{"id":"a","text":"alpha doc","metadata":{"flag":true,"n":"1"}}' \
  '{"id":"b","text":"alpha doc two","metadata":{"flag":1,"n":[1,2]}}' \
  '{"id":"c","text":"alpha doc three","metadata":{"flag":"true","n":3}}' > f.jsonl
"$RAGTUNE" ingest kf f.jsonl --no-dedupe 2>err || fail "ingest f.jsonl: $(cat err)"
ids() { "$RAGTUNE" search kf alpha --filter "$1" --json | grep -o '"doc_id":"[a-z]"' | cut -d'"' -f4 | sort | paste -sd,; }
[ "$(ids flag=true)" = a ] || fail "flag=true must match the boolean only: $(ids flag=true)"
[ "$(ids flag=1)" = b ] || fail "flag=1 must match the number only: $(ids flag=1)"
[ "$(ids 'n>0')" = c ] || fail "n>0 must match numbers only: $(ids 'n>0')"
[ -z "$(ids n=1)" ] || fail "n=1 must not match the string \"1\" or an array: $(ids n=1)"
for bad in 'n<' 'n<>5' 'n<abc' 'flag>true' '=5'; do
  "$RAGTUNE" search kf alpha --filter "$bad" >/dev/null 2>&1; [ $? -eq 2 ] || fail "filter '$bad' must exit 2"
done

# --- 4. the embedder is identified by the model's content, not the path typed ---------------
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" bert bertA --seed 1 >/dev/null || fail "tiny bert A"
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/tiny_hf.py" bert bertB --seed 2 >/dev/null || fail "tiny bert B"
{
  printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n'
  for w in the a of to and is in page memory cache; do echo "$w"; done
  for c in a b c d e f g h i j k l m n o p q r s t u v w x y z; do echo "$c"; echo "##$c"; done
} > bertA/vocab.txt
cp bertA/vocab.txt bertB/vocab.txt
mkdir d4 && echo "the page cache is in memory" > d4/a.txt
"$RAGTUNE" ingest k4 d4 --embed-model bertA 2>err || fail "ingest with bertA: $(cat err)"
"$RAGTUNE" search k4 memory --mode dense --embed-model "$tmp/bertA" >/dev/null 2>err \
  || fail "the same model by absolute path must be accepted: $(cat err)"
cp -r bertA bertcopy
"$RAGTUNE" search k4 memory --mode dense --embed-model ./bertcopy >/dev/null 2>err \
  || fail "a copy of the same model must be accepted: $(cat err)"
mv bertA bertA.orig && cp -r bertB bertA
"$RAGTUNE" search k4 memory --mode dense --embed-model bertA >/dev/null 2>err; [ $? -eq 1 ] \
  || fail "a different model at the same path must be refused"
grep -q "different model" err || fail "refusal should say the model differs: $(cat err)"

# --- 7. non-finite values: embed refuses them; an empty text is a usage error --------------
"$RAGTUNE" embed --model bertB --text "" >/dev/null 2>&1; [ $? -eq 2 ] || fail "embed of empty text must exit 2"
cp -r bertB bertN
"$RT_PYTHON" - <<'PY' || fail "poisoning the weights"
import struct
p = "bertN/model.safetensors"
b = bytearray(open(p, "rb").read())
n = struct.unpack("<Q", b[:8])[0]
b[8 + n:] = b"\xff" * (len(b) - 8 - n)  # every weight NaN
open(p, "wb").write(b)
PY
out=$("$RAGTUNE" embed --model bertN --text "memory" 2>err); [ $? -eq 1 ] || fail "embed of a NaN model must exit 1"
[ -z "$out" ] || fail "embed of a NaN model printed: $out"
grep -q "not finite" err || fail "NaN model message: $(cat err)"
"$RAGTUNE" embed --model bertN --ids 2,7,3 >/dev/null 2>err; [ $? -eq 1 ] || fail "embed --ids of a NaN model must exit 1"

# --- training guards ----------------------------------------------------------------------
for i in $(seq 1 200); do echo "line $i: the quick brown fox jumps over the lazy dog"; done > corpus.txt
tiny=(--layers 2 --embd 32 --heads 4 --kv-heads 2 --ff 64 --seq-len 32 --batch 4 --threads 2)
"$RAGTUNE" train --data corpus.txt --out base "${tiny[@]}" --ctx 64 --steps 2 >/dev/null 2>err \
  || fail "tiny train: $(cat err)"
# 2. --seq-len beyond the model's context is refused, from a file and from scratch
"$RAGTUNE" finetune --model base/model --data corpus.txt --out ft --seq-len 100000 --steps 1 \
  >/dev/null 2>err; [ $? -eq 1 ] || fail "seq-len beyond the context must exit 1"
grep -q "context of base/model (64 tokens)" err || fail "seq-len message: $(cat err)"
"$RAGTUNE" train --data corpus.txt --out s2 "${tiny[@]}" --ctx 16 --steps 1 >/dev/null 2>err; [ $? -eq 1 ] \
  || fail "--seq-len above --ctx must exit 1"
# 7. a diverging run stops with an error, logs valid JSON, saves no model, and keeps the last
#    good checkpoint (the one whose weights diverged gives way to the one before it)
"$RAGTUNE" train --data corpus.txt --out div "${tiny[@]}" --steps 20 --lr 1e-2 --save-every 1 \
  --stop-after 3 >/dev/null 2>err || fail "good start: $(cat err)"
"$RAGTUNE" train --data corpus.txt --out div "${tiny[@]}" --steps 20 --lr 1e10 --save-every 1 \
  --resume >/dev/null 2>err; [ $? -eq 1 ] || fail "--lr 1e10 must fail"
grep -q "diverged" err || fail "divergence message: $(cat err)"
grep -q "replaced by the one before it" err || fail "the diverged checkpoint must give way: $(cat err)"
[ -e div/model ] && fail "a diverged run saved a model"
"$RT_PYTHON" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' div/train_log.jsonl \
  || fail "train_log.jsonl is not valid JSON"
"$RAGTUNE" train --data corpus.txt --out div "${tiny[@]}" --steps 6 --lr 1e-3 --resume >out 2>err \
  || fail "resuming from the last good checkpoint: $(cat err)"
grep -q "resumed from div/checkpoint.bin at step [34]" err || fail "resume step: $(cat err)"
grep -q "final validation loss [0-9]" out || fail "finite final loss: $(cat out)"
# 8. one run per output directory (the lock is held here by flock(1), as a running train would)
flock -n base/lock "$RAGTUNE" train --data corpus.txt --out base "${tiny[@]}" --steps 1 \
  >/dev/null 2>err; [ $? -eq 1 ] || fail "a second run into a locked --out must exit 1"
grep -q "in use" err || fail "lock message: $(cat err)"
# --resume: no checkpoint is said; a resumed log has each step once; past the end is refused
"$RAGTUNE" train --data corpus.txt --out r "${tiny[@]}" --steps 4 --save-every 2 --stop-after 3 \
  --resume >/dev/null 2>err || fail "first resume run: $(cat err)"
grep -q "no checkpoint" err || fail "--resume without a checkpoint must say so: $(cat err)"
"$RAGTUNE" train --data corpus.txt --out r "${tiny[@]}" --steps 4 --save-every 2 --resume >/dev/null 2>err \
  || fail "resume: $(cat err)"
[ "$(cut -d, -f1 r/train_log.jsonl | tr -d '{' | paste -sd' ')" = '"step":1 "step":2 "step":3 "step":4' ] \
  || fail "resumed log steps: $(cut -d, -f1 r/train_log.jsonl | paste -sd' ')"
"$RAGTUNE" train --data corpus.txt --out r "${tiny[@]}" --steps 2 --resume >/dev/null 2>err \
  || fail "resume past --steps: $(cat err)"
grep -q "past the 2 steps" err || fail "resume past --steps must say so: $(cat err)"
grep -q "/2 steps" err && fail "progress beyond its total: $(cat err)"

# --- 3. the token cache follows the tokenizer's content, not its path ------------------------
for i in $(seq 1 200); do echo "zebra $i: pack my box with five dozen liquor jugs"; done > corpusB.txt
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o tk.json 2>/dev/null || fail "tokenizer A"
"$RAGTUNE" train --data corpus.txt --tokenizer tk.json --out tk "${tiny[@]}" --steps 1 >/dev/null 2>err \
  || fail "train with tokenizer A: $(cat err)"
"$RAGTUNE" tokenizer train --vocab-size 300 corpusB.txt -o tk.json 2>/dev/null || fail "tokenizer B"
"$RAGTUNE" train --data corpus.txt --tokenizer tk.json --out tk "${tiny[@]}" --steps 1 >/dev/null 2>err \
  || fail "train with tokenizer B: $(cat err)"
grep -q "from cache" err && fail "a retrained tokenizer in the same file reused the old tokens"
"$RAGTUNE" train --data corpus.txt --tokenizer tk.json --out tk "${tiny[@]}" --steps 1 >/dev/null 2>err \
  || fail "train again with tokenizer B: $(cat err)"
grep -q "from cache" err || fail "the same tokenizer should reuse its cache: $(cat err)"

# --- 11. special tokens: empty refused, repeated kept once, clashing with a token refused ----
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o sp.json --special "" >/dev/null 2>&1; [ $? -eq 2 ] \
  || fail "an empty --special must exit 2"
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o sp.json --special "<s>" --special "<s>" \
  >/dev/null 2>&1 || fail "a repeated --special"
[ "$(grep -o '"content":"<s>"' sp.json | wc -l)" -eq 1 ] || fail "a repeated --special was written twice"
"$RAGTUNE" tokenizer info --tokenizer sp.json | grep -q "n_vocab        300" || fail "sp.json loads with 300 ids"
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o sp2.json --special a >/dev/null 2>&1; [ $? -eq 1 ] \
  || fail "a special equal to an ordinary token must be refused"

# --- 11. training from a GGUF writes its tokenizer beside the result -------------------------
"$RAGTUNE" convert tk/model g11.gguf --dtype f32 >/dev/null 2>err || fail "convert to GGUF: $(cat err)"
"$RAGTUNE" finetune --model g11.gguf --data corpus.txt --out g11 --seq-len 32 --steps 1 --threads 2 \
  >/dev/null 2>err || fail "finetune from GGUF: $(cat err)"
[ -f g11/model/tokenizer.gguf ] || fail "no tokenizer beside a model trained from a GGUF"
a=$("$RAGTUNE" tokenize --model g11/model "the quick brown fox" | cut -f1 | paste -sd,)
b=$("$RAGTUNE" tokenize --model g11.gguf "the quick brown fox" | cut -f1 | paste -sd,)
[ -n "$a" ] && [ "$a" = "$b" ] || fail "the copied tokenizer differs: '$a' vs '$b'"

# --- smaller: out-of-range values and unhelpful messages ----------------------------------------
for bad in "--val-fraction 2" "--wd -1" "--lr 0" "--lr nan" "--lora --alpha 0" "--lora --alpha 1e30" \
           "--lora --alpha -1"; do
  # shellcheck disable=SC2086
  "$RAGTUNE" finetune --model base/model --data corpus.txt --out bad $bad --steps 1 >/dev/null 2>&1
  [ $? -eq 2 ] || fail "finetune $bad must exit 2"
done
"$RAGTUNE" finetune --model base/model --data corpus.txt --out bad --lora --rank 64 --seq-len 32 \
  --steps 1 >/dev/null 2>err; [ $? -eq 1 ] || fail "LoRA rank above the hidden size must exit 1"
grep -q "hidden size 32" err || fail "rank message: $(cat err)"
"$RAGTUNE" train --data corpus.txt --out bad --steps abc >/dev/null 2>err; [ $? -eq 2 ] || fail "--steps abc"
grep -q "an integer, 1 to" err || fail "the range must be named: $(cat err)"
"$RAGTUNE" search k9 paging -k 0 >/dev/null 2>err; [ $? -eq 2 ] || fail "-k 0 must exit 2"
grep -q "1 to 10000" err || fail "-k range: $(cat err)"
"$RAGTUNE" search k9 "  " >/dev/null 2>&1; [ $? -eq 2 ] || fail "an empty query must exit 2"
"$RAGTUNE" search k9 "the of and" 2>err >/dev/null || fail "stopword query: $(cat err)"
grep -q "no results" err || fail "a query without results must say so: $(cat err)"
"$RAGTUNE" embed --model bertB --ids "1,,2" >/dev/null 2>&1; [ $? -eq 2 ] || fail "embed --ids 1,,2 must exit 2"
"$RAGTUNE" embed --model bertB --ids "$(seq -s, 1 600 | sed 's/[0-9]*/5/g')" >/dev/null 2>err; [ $? -eq 1 ] \
  || fail "embed of more ids than the context must exit 1"
"$RAGTUNE" tokenize --model tk/model --file d9 >/dev/null 2>&1; [ $? -eq 1 ] || fail "tokenize --file DIR must exit 1"
printf '\xEF\xBB\xBF{"id":"bom1","text":"first line after a byte order mark"}\n{"id":"bom2","text":"second"}\n' > bom.jsonl
"$RAGTUNE" ingest kbom bom.jsonl 2>err || fail "BOM JSONL: $(cat err)"
grep -q "2 added" err || fail "a JSONL starting with a BOM lost a line: $(cat err)"
"$RAGTUNE" ingest kbom bom.jsonl --chunk-tokens 64 2>err || fail "re-ingest with a setting: $(cat err)"
grep -q "fixed when a collection is created" err || fail "an ignored setting must be warned about: $(cat err)"

echo ok
