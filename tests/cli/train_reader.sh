#!/usr/bin/env bash
# The default reader's recipe at toy size (RAGTUNE_RECIPE_TOY=1): dictionary corpus, `raft-data`
# in the shared reader prompt, tokenizer, two training stages and the q8_0 conversion run end to
# end in seconds, so scripts/train-reader.sh cannot rot. Also `raft-data`'s own contract: the
# prompt/completion it writes, and exit codes 2 (usage) and 1 (bad input naming the file).
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-reader-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/docs.jsonl" <<'JSON'
{"id":"a","title":"Lisp","text":"A list processing language."}
{"id":"b","title":"Perl","text":"A scripting language."}
{"id":"c","title":"Ada","text":"A language for embedded systems."}
JSON
echo '{"id":"q","question":"What is Lisp?","answer":"A list processing language.","doc":"a"}' > "$tmp/qa.jsonl"
"$RAGTUNE" raft-data --qa "$tmp/qa.jsonl" --docs "$tmp/docs.jsonl" -o "$tmp/out.jsonl" \
  --distractors 2 --oracle-p 1 2>/dev/null || fail "raft-data"
"$RT_PYTHON" - "$tmp/out.jsonl" <<'PY' || fail "raft-data output"
import json, re, sys
r = json.loads(open(sys.argv[1]).readline())
assert r["prompt"].endswith("Question: What is Lisp?\nAnswer:"), r["prompt"]
m = re.fullmatch(r" A list processing language\. \[(\d)\]", r["completion"])
assert m, r["completion"]
assert "[%s] Lisp\nA list processing language." % m.group(1) in r["prompt"]
PY
"$RAGTUNE" raft-data --qa "$tmp/qa.jsonl" -o "$tmp/x.jsonl" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing --docs should exit 2"
"$RAGTUNE" raft-data --qa "$tmp/qa.jsonl" --docs "$tmp/docs.jsonl" -o "$tmp/x.jsonl" --oracle-p 2 >/dev/null 2>&1; [ $? -eq 2 ] || fail "bad --oracle-p should exit 2"
echo '{"id":"q","question":"What is Lisp?","answer":"A","doc":"zz"}' > "$tmp/bad.jsonl"
"$RAGTUNE" raft-data --qa "$tmp/bad.jsonl" --docs "$tmp/docs.jsonl" -o "$tmp/x.jsonl" 2>"$tmp/err"; [ $? -eq 1 ] || fail "unknown doc should exit 1"
grep -q '"zz" not found' "$tmp/err" || fail "error should name the document: $(cat "$tmp/err")"

# the recipe at toy size (needs the dictionaries that scripts/install-deps.sh installs)
if [ ! -r /usr/share/dictd/gcide.dict.dz ] || [ ! -r /usr/share/wordnet/data.noun ]; then
  echo "skipped the recipe: dict-gcide / wordnet-base not installed"; echo ok; exit 0
fi
RAGTUNE_RECIPE_TOY=1 RAGTUNE_READER_WORK="$tmp/work" RT_PYTHON="$RT_PYTHON" \
  bash "$RT_SOURCE_DIR/scripts/train-reader.sh" "$(dirname "$RAGTUNE")" "$tmp/model" \
  >"$tmp/log" 2>&1 || fail "toy recipe: $(tail -5 "$tmp/log")"
[ -s "$tmp/model/reader-q8_0.gguf" ] && [ -s "$tmp/model/tokenizer.json" ] || fail "no model files"
# no held-out FOLDOC headword in any training passage
"$RT_PYTHON" - "$tmp/work/corpus" <<'PY' || fail "held-out FOLDOC entries leaked into training"
import json, sys, os
d = sys.argv[1]
held = {json.loads(l)["title"].lower() for l in open(os.path.join(d, "test-docs.jsonl"))}
assert held, "no held-out entries"
for l in open(os.path.join(d, "train-docs.jsonl")):
    assert json.loads(l)["title"].lower() not in held, l
PY
"$RAGTUNE" generate --model "$tmp/model/reader-q8_0.gguf" --prompt "Question: What is Lisp?
Answer:" -n 4 >/dev/null 2>&1 || fail "the toy reader does not generate"
echo ok
