#!/usr/bin/env bash
# ask.sh — `ragtune ask` and `ragtune chat` end to end on a tiny model trained here for one step
# (its text is gibberish; the pipeline, citations record, JSON, prefix cache, refusal and exit
# codes are what is tested): JSON record fields, refusal by threshold without generating,
# --file batches (one record per line, the second question's prompt prefix cached), chat
# style with a chat template, chat follow-up condensing, reranking with a reference
# cross-encoder, run-time adapters, agentic chunking's fallback, and bad input (exit 1 or 2,
# nothing on stdout).
set -u
fail() { echo "FAIL: $*"; exit 1; }
: "${RAGTUNE:?}" "${RT_PYTHON:?}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
cat > "$dir/a.md" <<'MD'
# Compilers

## Parsing

A parser reads tokens and builds a syntax tree. The parser checks the grammar.

## Code generation

The code generator turns the syntax tree into machine code for the target processor.
MD
cat > "$dir/b.md" <<'MD'
# Memory

Paging splits memory into fixed-size pages. The page table maps virtual pages to frames.
MD
"$RAGTUNE" ingest "$dir/coll" "$dir/a.md" "$dir/b.md" --chunk-tokens 24 >/dev/null 2>&1 || fail "ingest"
for i in $(seq 1 20); do cat "$dir/a.md" "$dir/b.md"; done > "$dir/corpus.txt"
"$RAGTUNE" tokenizer train --vocab-size 300 "$dir/corpus.txt" -o "$dir/tok.json" >/dev/null 2>&1 ||
    fail "tokenizer"
"$RAGTUNE" train --data "$dir/corpus.txt" --tokenizer "$dir/tok.json" --out "$dir/m" --layers 1 \
    --embd 32 --heads 2 --kv-heads 1 --ff 64 --ctx 512 --seq-len 32 --batch 2 --steps 1 \
    --threads 1 >/dev/null 2>&1 || fail "tiny model"
m=(--model "$dir/m/model" --max-tokens 8 --threads 1)

"$RAGTUNE" ask --help | grep -q -- "--min-score" || fail "help"

# one question, JSON record
out="$("$RAGTUNE" ask "$dir/coll" "What does the parser build?" "${m[@]}" --min-score 0 --json)" ||
    fail "ask --json"
"$RT_PYTHON" - "$out" <<'PY' || fail "JSON record: $out"
import json, sys
r = json.loads(sys.argv[1])
for k in ["question", "answer", "raw_answer", "abstained", "abstain_reason", "groundedness",
          "top_score", "prompt_style", "sources", "citations", "invalid_markers", "sentences",
          "timings", "tokens", "stop_reason"]:
    assert k in r, k
assert r["question"] == "What does the parser build?"
assert r["prompt_style"] == "base"          # the tiny tokenizer has no chat template
assert not r["abstained"] and r["abstain_reason"] is None
s = r["sources"]
assert 1 <= len(s) <= 4 and [x["number"] for x in s] == list(range(1, len(s) + 1))
assert s[0]["doc_id"].endswith("a.md") and s[0]["title"] == "Compilers > Parsing", s[0]
assert all(x["end"] > x["start"] and x["score"] > 0 for x in s)
assert r["tokens"]["prompt"] > 0 and 1 <= r["tokens"]["generated"] <= 8
t = r["timings"]
for k in ["retrieval_ms", "rerank_ms", "ttft_ms", "prefill_ms", "decode_ms", "total_ms",
          "prefill_tok_s", "decode_tok_s"]:
    assert k in t, k
assert t["retrieval_ms"] >= 0 and t["total_ms"] >= t["retrieval_ms"]
n = len(s)
for c in r["citations"]:
    assert 1 <= c["marker"] <= n and c["doc_id"] == s[c["marker"] - 1]["doc_id"]
assert all(not (1 <= x <= n) for x in r["invalid_markers"])
assert 0 <= r["groundedness"] <= 1
PY

# refusal by threshold: nothing generated
out="$("$RAGTUNE" ask "$dir/coll" "What does the parser build?" "${m[@]}" --min-score 1000 --json)" ||
    fail "refusal run"
"$RT_PYTHON" - "$out" <<'PY' || fail "refusal record: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["abstained"] and r["abstain_reason"] == "no relevant source"
assert r["answer"] == "The documents do not contain the answer."
assert r["tokens"]["generated"] == 0 and r["groundedness"] == 1
PY
# terminal output: the answer, then the numbered sources
"$RAGTUNE" ask "$dir/coll" "How does paging work?" "${m[@]}" --min-score 0 > "$dir/term.txt" 2>/dev/null ||
    fail "terminal ask"
grep -q "^Sources:" "$dir/term.txt" || fail "no sources section"
grep -q "^  \[1\] .*b.md" "$dir/term.txt" || fail "source [1] is not b.md: $(cat "$dir/term.txt")"

# a prompt template file; one without {question} is refused
printf '{sources}\nQ: {question}\nA:' > "$dir/tmpl.txt"
"$RAGTUNE" ask "$dir/coll" "How does paging work?" "${m[@]}" --min-score 0 --json \
    --prompt-template "$dir/tmpl.txt" > /dev/null || fail "--prompt-template"
printf '{sources}' > "$dir/noq.txt"

# a batch: one record per line with its id; the second prompt reuses the cached prefix
printf '{"id":"q1","question":"What does the parser build?"}\n\n{"id":2,"question":"How does paging work?"}\n' > "$dir/q.jsonl"
"$RAGTUNE" ask "$dir/coll" --file "$dir/q.jsonl" "${m[@]}" --min-score 0 > "$dir/batch.jsonl" ||
    fail "ask --file"
"$RT_PYTHON" - "$dir/batch.jsonl" <<'PY' || fail "batch records: $(cat "$dir/batch.jsonl")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["id"] for r in rs] == ["q1", "2"]
assert rs[0]["question"] == "What does the parser build?"
assert rs[1]["tokens"]["prompt_cached"] > 0   # the instructions' KV was reused
PY

# a model with a chat template gets the chat-style prompt (instructions as the system message,
# which the second question reuses from the cache)
cp -r "$dir/m/model" "$dir/mc"
cat > "$dir/mc/tokenizer_config.json" <<'JSON'
{"chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"}
JSON
"$RAGTUNE" ask "$dir/coll" --file "$dir/q.jsonl" --model "$dir/mc" --max-tokens 4 --threads 1 \
    --min-score 0 > "$dir/chatml.jsonl" || fail "ask with a chat template"
"$RT_PYTHON" - "$dir/chatml.jsonl" <<'PY' || fail "chat-style records: $(cat "$dir/chatml.jsonl")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["prompt_style"] for r in rs] == ["chat", "chat"]
assert rs[1]["tokens"]["prompt_cached"] > 0
PY

# chat: the follow-up is retrieved with the previous question's key words
printf 'How does paging work?\nWhat maps it?\n' |
    "$RAGTUNE" chat "$dir/coll" "${m[@]}" --min-score 0 --json > "$dir/chat.jsonl" || fail "chat"
"$RT_PYTHON" - "$dir/chat.jsonl" <<'PY' || fail "chat records: $(cat "$dir/chat.jsonl")"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == 2
assert rs[0]["retrieval_query"] == "How does paging work?"
assert rs[1]["retrieval_query"] == "What maps it? paging work", rs[1]["retrieval_query"]
assert rs[1]["question"] == "What maps it?"
PY

# reranking with a random cross-encoder (tests/reference/reranker_ref.py): candidates scored,
# sources ordered by the rerank score, the best k kept; a model with 3 labels is refused
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/reference/reranker_ref.py" make "$dir/rr" >/dev/null ||
    fail "reference cross-encoders"
out="$("$RAGTUNE" ask "$dir/coll" "How does the parser or the page table work?" "${m[@]}" \
    --min-score 0 --json --rerank "$dir/rr/rerank1" --rerank-candidates 10)" || fail "ask --rerank"
"$RT_PYTHON" - "$out" <<'PY' || fail "rerank record: $out"
import json, sys
r = json.loads(sys.argv[1])
s = [x["rerank_score"] for x in r["sources"]]
assert len(s) >= 2 and all(x is not None for x in s), s
assert s == sorted(s, reverse=True), s
assert r["timings"]["rerank_ms"] is not None and r["timings"]["rerank_ms"] >= 0
PY
out="$("$RAGTUNE" ask "$dir/coll" "How does paging work?" "${m[@]}" --min-score 0 --json \
    --rerank "$dir/rr/rerank2" -k 1)" || fail "ask --rerank -k 1"
"$RT_PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); assert len(r["sources"]) == 1' "$out" ||
    fail "rerank -k 1: $out"
check() { # expected-code description command...
    local want=$1 what=$2; shift 2
    "$@" > "$dir/o" 2> "$dir/e"; local got=$?
    [ "$got" -eq "$want" ] || fail "$what: exit $got, want $want ($(cat "$dir/e"))"
    [ ! -s "$dir/o" ] || fail "$what: wrote to stdout: $(cat "$dir/o")"
    [ -s "$dir/e" ] || fail "$what: no message"
}
check 1 "a 3-label cross-encoder" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" --rerank "$dir/rr/rerank3"

# run-time LoRA adapters: one trained here applies (scale 0.5); one for another base is refused
# a second tiny model of another shape (n_embd 16)
"$RAGTUNE" train --data "$dir/corpus.txt" --tokenizer "$dir/tok.json" --out "$dir/m2" --layers 1 \
    --embd 16 --heads 2 --kv-heads 1 --ff 32 --ctx 256 --seq-len 32 --batch 2 --steps 1 \
    --threads 1 >/dev/null 2>&1 || fail "second tiny model"
for i in $(seq 1 20); do echo "{\"prompt\":\"Q$i?\",\"completion\":\" A$i.\"}"; done > "$dir/qa.jsonl"
"$RAGTUNE" finetune --model "$dir/m/model" --lora --rank 2 --alpha 4 --data "$dir/qa.jsonl" \
    --out "$dir/ft" --seq-len 32 --batch 2 --steps 1 --threads 1 >/dev/null 2>&1 || fail "lora"
"$RAGTUNE" ask "$dir/coll" "How does paging work?" "${m[@]}" --min-score 0 --json \
    --adapter "$dir/ft/adapter:0.5" > /dev/null || fail "ask --adapter"
"$RAGTUNE" finetune --model "$dir/m2/model" --lora --rank 2 --data "$dir/qa.jsonl" \
    --out "$dir/ft2" --seq-len 32 --batch 2 --steps 1 --threads 1 >/dev/null 2>&1 || fail "lora 2"
check 1 "an adapter of another base" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" \
    --adapter "$dir/ft2/adapter"

# agentic chunking with the gibberish model: its reply is unusable, so each document is chunked
# recursively with a warning, and the collection works
"$RAGTUNE" ingest "$dir/acoll" "$dir/a.md" "$dir/b.md" --chunker agentic --model "$dir/m/model" \
    --chunk-tokens 24 > /dev/null 2> "$dir/agentic.err" || fail "agentic ingest: $(cat "$dir/agentic.err")"
grep -q "agentic chunker" "$dir/agentic.err" || fail "no fallback warning: $(cat "$dir/agentic.err")"
"$RAGTUNE" stats "$dir/acoll" | grep -q "agentic" || fail "stats do not name the agentic chunker"
"$RAGTUNE" search "$dir/acoll" "paging" | grep -q "b.md" || fail "agentic collection search"
"$RAGTUNE" ingest "$dir/acoll2" "$dir/a.md" --chunker agentic >/dev/null 2>&1
[ $? -eq 2 ] || fail "--chunker agentic without --model should exit 2"

# bad input: exit code, a message, nothing on stdout
check 2 "no question" "$RAGTUNE" ask "$dir/coll" "${m[@]}"
check 2 "bad mode" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" --mode nope
check 2 "dense without embedder" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" --mode dense
check 1 "missing collection" "$RAGTUNE" ask "$dir/none" "Q?" "${m[@]}"
grep -q "none" "$dir/e" || fail "missing collection message does not name it"
check 1 "missing model" "$RAGTUNE" ask "$dir/coll" "Q?" --model "$dir/nomodel"
long="$(for i in $(seq 1 300); do printf 'parser grammar tokens '; done)"
check 1 "question longer than the context" "$RAGTUNE" ask "$dir/coll" "$long?" "${m[@]}" --ctx 128
grep -q "context" "$dir/e" || fail "long question message: $(cat "$dir/e")"
check 1 "dense on a collection without vectors" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" \
    --mode dense --embed-model "$dir/m/model"
# a collection embedded with one model, asked with another (dimension 32 vs 16)
"$RAGTUNE" ingest "$dir/vcoll" "$dir/a.md" "$dir/b.md" --chunk-tokens 24 --embed-model "$dir/m/model" \
    >/dev/null 2>&1 || fail "ingest with an embedder"
check 1 "collection/embedder mismatch" "$RAGTUNE" ask "$dir/vcoll" "Q?" "${m[@]}" --mode hybrid \
    --embed-model "$dir/m2/model"
out="$("$RAGTUNE" ask "$dir/vcoll" "What does the parser build?" "${m[@]}" --mode hybrid \
    --embed-model "$dir/m/model" --min-score 0 --json)" || fail "hybrid ask with the right embedder"
"$RT_PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["sources"] and r["sentences"]' \
    "$out" || fail "hybrid record: $out"
check 1 "template without {question}" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" \
    --prompt-template "$dir/noq.txt"
check 1 "missing template file" "$RAGTUNE" ask "$dir/coll" "Q?" "${m[@]}" \
    --prompt-template "$dir/none.txt"
printf '{"id":1}\n' > "$dir/bad.jsonl"
check 1 "malformed questions file" "$RAGTUNE" ask "$dir/coll" --file "$dir/bad.jsonl" "${m[@]}"
grep -q "bad.jsonl:1" "$dir/e" || fail "questions file message does not name the line"
# given sources instead of a collection: a given answer is checked without a model, its
# citation of the wrong source moved to the one that supports the sentence (attribution)
cat > "$dir/src.jsonl" <<'JS'
{"title": "Paging", "text": "Paging splits memory into fixed-size pages. The page table maps virtual pages to frames."}

{"text": "A parser reads tokens and builds a syntax tree."}
JS
out="$("$RAGTUNE" ask --sources "$dir/src.jsonl" "What does a parser build?" \
    --answer "A parser builds a syntax tree [1][7]." --json)" || fail "ask --sources --answer"
"$RT_PYTHON" - "$out" <<'PY' || fail "--answer record: $out"
import json, sys
r = json.loads(sys.argv[1])
assert r["answer"] == "A parser builds a syntax tree [2].", r["answer"]
assert [(m["from"], m["to"]) for m in r["recitations"]] == [(1, 2), (7, 2)], r["recitations"]
assert [s["doc_id"] for s in r["sources"]] == ["1", "2"] and r["sources"][0]["title"] == "Paging"
assert r["tokens"]["generated"] == 0 and r["groundedness"] == 1
PY
out="$("$RAGTUNE" ask --sources "$dir/src.jsonl" "What does a parser build?" --no-attribution \
    --answer "A parser builds a syntax tree [1]." --json)" || fail "--no-attribution"
"$RT_PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); assert r["answer"].endswith("[1].") and not r["recitations"] and not r["sentences"][0]["supported"]' \
    "$out" || fail "--no-attribution record: $out"
"$RAGTUNE" ask --sources "$dir/src.jsonl" "What does a parser build?" --answer "A parser builds a syntax tree [1]." \
    | grep -q "Citations moved to the source that supports the sentence: \[1\] -> \[2\]" ||
    fail "--answer: human output names the moved citation"
# generated from the given sources by the model
out="$("$RAGTUNE" ask --sources "$dir/src.jsonl" "What does a parser build?" "${m[@]}" --json)" ||
    fail "ask --sources with a model"
"$RT_PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); assert len(r["sources"]) == 2 and r["tokens"]["prompt"] > 0 and r["tokens"]["generated"] >= 1' \
    "$out" || fail "ask --sources record: $out"
check 2 "--sources with a collection" "$RAGTUNE" ask "$dir/coll" "Q?" --sources "$dir/src.jsonl"
check 2 "--answer without --sources" "$RAGTUNE" ask "$dir/coll" "Q?" --answer "x"
check 1 "missing sources file" "$RAGTUNE" ask --sources "$dir/none.jsonl" "Q?" --answer "x"
printf '{"text": "ok"}\n{"title": "no text"}\n' > "$dir/badsrc.jsonl"
check 1 "malformed sources file" "$RAGTUNE" ask --sources "$dir/badsrc.jsonl" "Q?" --answer "x"
grep -q "badsrc.jsonl:2" "$dir/e" || fail "sources file message does not name the line: $(cat "$dir/e")"
if [ ! -e "$RT_SOURCE_DIR/models/reader" ] && [ ! -e "$(dirname "$RAGTUNE")/../models/reader" ]; then
    RAGTUNE_MODELS="$dir/nowhere" check 1 "missing default reader" "$RAGTUNE" ask "$dir/coll" "Q?"
    grep -q "train-reader.sh" "$dir/e" || fail "missing reader message: $(cat "$dir/e")"
fi
echo ok
