# serve_defs.bash — sourced by the `ragtune serve` job tests (serve_compare.sh, serve_restart.sh;
# not a test itself), after serve_tiny.bash: in $dir, a collection data/collections/defs of eight
# definitions, a QA file qa.jsonl generated from it, a tiny model m/ trained on them with its own
# tokenizer; serve (one slot, alias tiny, data dir data), code (curl into body, prints the
# status), json (the header), field NAME (a string field of body) and wait_file PATH (until it
# is non-empty, a minute at most), wait_status KIND JOB STATUS, and running_compare STEPS (a
# compare job, base and lora with STEPS training steps, once its base strategy is done and it is
# still running: its id in $running).
cd "$dir"
defs=("compiler|A program that translates source code into machine code."
  "linker|A program that combines object files into a single executable file."
  "kernel|The core of an operating system that manages memory, processes and devices."
  "shell|A command interpreter that reads commands typed by the user."
  "debugger|A tool that lets a programmer run a program step by step."
  "cache|A small fast memory that keeps copies of recently used data."
  "socket|An endpoint for sending and receiving data across a network."
  "mutex|A lock that lets only one thread at a time use a shared resource.")
: > docs.jsonl
for d in "${defs[@]}"; do
    printf '{"id":"d:%s","text":"%s\\n\\n%s"}\n' "${d%%|*}" "${d%%|*}" "${d#*|}" >> docs.jsonl
    for i in 1 2 3 4 5; do printf 'Question: What is %s?\nAnswer: %s\n\n' "${d%%|*}" "${d#*|}"; done
done > corpus.txt
mkdir -p data/collections
"$RAGTUNE" ingest data/collections/defs docs.jsonl >/dev/null 2>&1 || fail "ingest"
"$RAGTUNE" qa generate data/collections/defs -o qa.jsonl --test-fraction 0.5 >/dev/null 2>&1 ||
    fail "qa generate"
"$RAGTUNE" tokenizer train --vocab-size 300 corpus.txt -o tok.json >/dev/null 2>&1 || fail "tokenizer"
"$RAGTUNE" train --data corpus.txt --tokenizer tok.json --layers 1 --embd 32 --heads 2 \
    --kv-heads 2 --ff 64 --ctx 256 --seq-len 64 --batch 4 --steps 4 --out m >/dev/null 2>&1 || fail "train"

serve() { start_server --model m/model --alias tiny --data-dir data --parallel 1; }
code() { curl -s -o body -w '%{http_code}' "$@"; }
json=(-H "Content-Type: application/json")
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" body | head -1; }
wait_file() {
    for _ in $(seq 1 1200); do
        [ -s "$1" ] && return 0
        sleep 0.05
    done
    return 1
}
wait_status() { # wait_status KIND JOB STATUS (KIND: compare or fine_tuning)
    for _ in $(seq 1 1200); do
        code "$url/v1/$1/jobs/$2" >/dev/null
        grep -q "\"status\":\"$3\"" body && return 0
        grep -q '"status":"\(failed\|cancelled\)"' body && fail "job $2 ended: $(cat body)"
        sleep 0.1
    done
    fail "job $2 never reached $3: $(cat body)"
}
running_compare() {
    [ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",
        \"strategies\":\"base,lora\",\"steps\":$1,\"max_tokens\":6,\"max_questions\":3}" \
        "$url/v1/compare/jobs")" = 200 ] || fail "create: $(cat body)"
    running=$(field id)
    wait_file "data/jobs/$running/strategies/base.json" || fail "the base strategy did not finish"
    code "$url/v1/compare/jobs/$running" > /dev/null
    grep -q '"status":"running"' body || fail "not running (lora trained too fast?): $(cat body)"
}
