#!/usr/bin/env bash
# compare_remote.sh — the evaluation layer with remote models, against a scripted
# OpenAI-compatible server on 127.0.0.1 (tests/python/fake_openai.py, model "script"):
#   - `qa generate --api-base`: model-written questions, one per chunk, kept only when the
#     answer occurs in the chunk (one kept, one made-up answer dropped, one unparsable reply
#     dropped);
#   - `compare --api-base` with base and rag answered by the remote model, and `--judge-api-base`:
#     judge accuracy per strategy beside EM/F1/contains (the judge credits a paraphrase that
#     answer-contains does not);
#   - a training strategy with a remote model is refused (exit 2).
set -u
fail() { echo "FAIL: $*"; exit 1; }
: "${RAGTUNE:?}" "${RT_PYTHON:?}"
dir="$(mktemp -d)"
# rules: first match wins; the judge's prompts first (they quote the question too)
cat > "$dir/script.json" << 'EOF'
[
 ["Reference answer: ([^\\n]*)\\nProposed answer: \\1\\n", "yes"],
 ["Proposed answer: a shell program\\n", "Yes."],
 ["Proposed answer:", "no, it is not"],
 ["Question: What does a compiler produce\\?", "machine code"],
 ["Question: Who wrote the kernel\\?", "Linus Torvalds"],
 ["Question: What reads commands typed by the user\\?", "a shell program"],
 ["Passage:\\n.*translates source code", "Question: What does a compiler translate source code into?\nAnswer: machine code"],
 ["Passage:\\n.*operating system", "Question: Who wrote the kernel?\nAnswer: Linus Torvalds"],
 ["Passage:\\n.*command interpreter", "I am not sure what to ask."]
]
EOF
. "$RT_SOURCE_DIR/tests/cli/lib/fake_openai.sh" --script "$dir/script.json" --log "$dir/log.jsonl"
cd "$dir"
cat > docs.jsonl << 'EOF'
{"id":"d:compiler","text":"compiler\n\nA program that translates source code into machine code."}
{"id":"d:kernel","text":"kernel\n\nThe core of an operating system, first written by the hackers of Bell Labs."}
{"id":"d:shell","text":"shell\n\nA command interpreter that reads commands typed by the user."}
EOF
"$RAGTUNE" ingest coll docs.jsonl > /dev/null 2>&1 || fail "ingest"

# model-written questions: kept only when the answer is in the chunk
"$RAGTUNE" qa generate coll -o gen.jsonl --api-base "$base" --api-model script --kinds model \
  --unanswerable 0 --json > gen.json 2> err.txt || fail "qa generate --api-base: $(cat err.txt)"
"$RT_PYTHON" - << 'PY' || fail "model-written questions: $(cat gen.json; cat gen.jsonl)"
import json
c = json.load(open("gen.json"))
assert c["model_asked"] == 3 and c["model"] == 1 and c["model_dropped"] == 2, c
[q] = [json.loads(l) for l in open("gen.jsonl")]
assert q["question"] == "What does a compiler translate source code into?", q
assert q["answer"] == "machine code" and q["doc"] == "d:compiler" and q["kind"] == "model", q
assert q["split"] in ("train", "test")
PY
"$RAGTUNE" qa generate coll -o x.jsonl --kinds model > /dev/null 2>&1
[ $? -eq 2 ] || fail "--kinds model without a model should exit 2"

# compare with a remote model and a remote judge
cat > qa.jsonl << 'EOF'
{"id":"q1","question":"What does a compiler produce?","answer":"machine code","doc":"d:compiler","split":"test"}
{"id":"q2","question":"Who wrote the kernel?","answer":"the hackers of Bell Labs","doc":"d:kernel","split":"test"}
{"id":"q3","question":"What reads commands typed by the user?","answer":"A command interpreter","doc":"d:shell","split":"test"}
EOF
"$RAGTUNE" compare --collection coll --qa qa.jsonl --api-base "$base" --api-model script \
  --judge-api-base "$base" --judge-api-model script --min-score none --out out --bootstrap 100 \
  > table.txt 2> err.txt || fail "compare --api-base: $(tail -5 err.txt)"
grep -q "judge" table.txt || fail "no judge column: $(cat table.txt)"
grep -Eq "^base +0.333 .* 0.667 " table.txt || fail "base row: $(cat table.txt)"
"$RT_PYTHON" - << 'PY' || fail "report.json with a judge"
import json
r = json.load(open("out/report.json"))
assert [s["name"] for s in r["strategies"]] == ["base", "rag"], r["strategies"]
assert r["config"]["model"] is None and r["config"]["api_model"] == "script"
assert r["config"]["judge"] == "script"
for s in r["strategies"]:
    assert s["status"] == "ok", s.get("error")
    m = s["metrics"]
    assert abs(m["contains"]["mean"] - 1 / 3) < 1e-9, m["contains"]
    assert abs(m["judge"]["mean"] - 2 / 3) < 1e-9 and m["judge"]["n"] == 3, m["judge"]
    assert m["judge_no_verdict"] == 0
    v = {q["id"]: q["judge"] for q in m["questions"]}
    assert v == {"q1": True, "q2": False, "q3": True}, v
    assert s["training"] is None
    for q in m["questions"]:  # timings and the server's token counts reach the record
        assert q["total_s"] > 0 and q["prompt_tokens"] == 17, q
# the judge was shown the reference and the proposed answer
reqs = [json.loads(l) for l in open("log.jsonl")]
judged = [q for q in reqs if "Proposed answer:" in q["body"]["messages"][-1]["content"]]
assert len(judged) == 6, len(judged)
assert any("Reference answer: the hackers of Bell Labs\nProposed answer: Linus Torvalds\n"
           in q["body"]["messages"][-1]["content"] for q in judged)
PY

# training strategies need a local model
"$RAGTUNE" compare --collection coll --qa qa.jsonl --api-base "$base" --api-model script \
  --strategies base,lora --out out2 > /dev/null 2> err.txt
[ $? -eq 2 ] || fail "lora with a remote model should exit 2"
grep -q "strategy lora (lora) needs a local model" err.txt || fail "message: $(cat err.txt)"
"$RAGTUNE" compare --collection coll --qa qa.jsonl --api-base "$base" --out out2 > /dev/null 2>&1
[ $? -eq 2 ] || fail "--api-base without --api-model should exit 2"
echo ok
