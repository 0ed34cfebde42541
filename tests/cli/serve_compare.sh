#!/usr/bin/env bash
# serve_compare.sh — compare jobs of `ragtune serve` (POST /v1/compare/jobs) on a tiny model: a
# definition collection and a QA file (qa generate), the job runs base and rag to success, its
# report as JSON and as HTML, events; bad requests (unknown collection or file, bad
# strategies) are 4xx; while a long fine-tuning job holds the one worker, a queued compare job
# is cancelled, and another stays queued across a shutdown and restart and then runs; the
# finished job and its report are still there after the restart. A job whose strategy fails (its
# training directory is blocked by a file) is failed naming the strategy, with its report; with
# keep_going it succeeds. A server killed (SIGKILL) while a compare job runs: at the next start
# the job is queued again, reuses its finished strategies and succeeds.
. "$RT_SOURCE_DIR/tests/cli/lib/serve_tiny.bash"
. "$RT_SOURCE_DIR/tests/cli/lib/serve_defs.bash"
poll() { # poll URL PATTERN: GETs URL into body until it matches (2 minutes at most)
    for _ in $(seq 1 1200); do
        code "$1" > /dev/null
        grep -q "$2" body && return 0
        sleep 0.1
    done
    return 1
}

serve
curl -s -F purpose=fine-tune -F file=@qa.jsonl "$url/v1/files" > body
qa=$(field id)
[ -n "$qa" ] || fail "upload: $(cat body)"

# bad requests
[ "$(code "${json[@]}" -d "{\"collection\":\"nope\",\"qa_file\":\"$qa\"}" "$url/v1/compare/jobs")" = 404 ] ||
    fail "unknown collection: $(cat body)"
[ "$(code "${json[@]}" -d '{"collection":"defs","qa_file":"file-none"}' "$url/v1/compare/jobs")" = 404 ] ||
    fail "unknown file: $(cat body)"
[ "$(code "${json[@]}" -d '{"collection":"defs"}' "$url/v1/compare/jobs")" = 400 ] || fail "no file"
[ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",\"strategies\":\"base,magic\"}" \
    "$url/v1/compare/jobs")" = 400 ] || fail "bad strategies"
grep -q '"param":"strategies"' body || fail "bad strategies: the error names no field: $(cat body)"
[ "$(code "${json[@]}" -d "{\"collection\":\"../x\",\"qa_file\":\"$qa\"}" "$url/v1/compare/jobs")" = 400 ] ||
    fail "path traversal"
[ "$(code "$url/v1/compare/jobs/cmpjob-none")" = 404 ] || fail "unknown job"

# a job to success, its report and events
[ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",\"strategies\":\"base,rag\",
    \"max_tokens\":6,\"max_questions\":3}" "$url/v1/compare/jobs")" = 200 ] || fail "create: $(cat body)"
grep -q '"object":"compare.job"' body || fail "job object: $(cat body)"
job=$(field id)
wait_status compare "$job" succeeded
[ "$(code "$url/v1/compare/jobs/$job/report")" = 200 ] || fail "report: $(cat body)"
"$RT_PYTHON" -c 'import json,sys; r=json.load(open("body")); n=[s["name"] if isinstance(s,dict) and "name" in s else s for s in r["strategies"]]; sys.exit(0 if len(r["strategies"])==2 else 1)' ||
    fail "report JSON: $(head -c 400 body)"
[ "$(code "$url/v1/compare/jobs/$job/report.html")" = 200 ] || fail "report.html"
grep -qi "<html" body || fail "report.html is not a page"
[ "$(code "$url/v1/compare/jobs/$job/events")" = 200 ] || fail "events"
grep -q "Job status: succeeded" body || fail "events: $(cat body)"
[ "$(code "$url/v1/compare/jobs")" = 200 ] || fail "list"
grep -q "$job" body || fail "list has the job"
[ "$(code "$url/v1/fine_tuning/jobs")" = 200 ] || fail "fine-tuning list"
grep -q "$job" body && fail "a compare job is listed as a fine-tuning job"
[ "$(code -X POST "$url/v1/compare/jobs/$job/cancel")" = 409 ] || fail "cancel a finished job"

# while a long fine-tuning job holds the worker, a compare job waits queued: it is cancelled;
# another one is still queued after a shutdown and a restart
for i in $(seq 1 32); do echo "{\"prompt\":\"q$i what is a\",\"completion\":\" kernel $i\"}"; done > ft.jsonl
curl -s -F purpose=fine-tune -F file=@ft.jsonl "$url/v1/files" > body
ft_file=$(field id)
[ "$(code "${json[@]}" -d "{\"model\":\"tiny\",\"training_file\":\"$ft_file\",\"ragtune\":
    {\"max_steps\":1000000,\"save_every\":1000000,\"seq_len\":16,\"batch_size\":2,\"lora_rank\":2}}" \
    "$url/v1/fine_tuning/jobs")" = 200 ] || fail "long fine-tuning job: $(cat body)"
ft_job=$(field id)
poll "$url/v1/fine_tuning/jobs/$ft_job" '"status":"running"' || fail "the fine-tuning job does not run"
make_queued() {
    [ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",\"strategies\":\"base\"}" \
        "$url/v1/compare/jobs")" = 200 ] || fail "create queued: $(cat body)"
    grep -q '"status":"queued"' body || fail "not queued: $(cat body)"
}
make_queued
queued=$(field id)
[ "$(code -X POST "$url/v1/compare/jobs/$queued/cancel")" = 200 ] || fail "cancel: $(cat body)"
wait_status compare "$queued" cancelled
[ "$(code "$url/v1/compare/jobs/$queued/report")" = 409 ] || fail "report of a cancelled job"
make_queued
again=$(field id)
# two jobs whose lora strategy cannot train: a file stands where its training directory goes
make_blocked() { # make_blocked EXTRA_JSON -> job id
    [ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",\"strategies\":
        \"base,lora\",\"steps\":2,\"max_tokens\":4,\"max_questions\":2$1}" \
        "$url/v1/compare/jobs")" = 200 ] || fail "create: $(cat body)"
    local id
    id=$(field id)
    mkdir -p "data/jobs/$id" && echo blocked > "data/jobs/$id/train-lora"
    echo "$id"
}
blocked=$(make_blocked "")
kept=$(make_blocked ',"keep_going":true')
[ "$(code "${json[@]}" -d "{\"collection\":\"defs\",\"qa_file\":\"$qa\",\"keep_going\":1}" \
    "$url/v1/compare/jobs")" = 400 ] || fail "keep_going must be a boolean"
stop_server
serve
code "$url/v1/compare/jobs/$again/events" > /dev/null
grep -q "Server restarted: the job is queued again" body || fail "not queued again: $(cat body)"
[ "$(code -X POST "$url/v1/fine_tuning/jobs/$ft_job/cancel")" = 200 ] || fail "cancel the fine-tuning job"
wait_status compare "$again" succeeded
poll "$url/v1/compare/jobs/$blocked" '"status":"\(failed\|succeeded\)"'
grep -q '"status":"failed"' body || fail "a job with a failed strategy is not failed: $(cat body)"
grep -q '"code":"strategy_failed"' body || fail "failure code: $(cat body)"
grep -q 'strategy lora failed' body || fail "the failure does not name the strategy: $(cat body)"
[ "$(code "$url/v1/compare/jobs/$blocked/report")" = 200 ] || fail "report of the failed job: $(cat body)"
"$RT_PYTHON" -c 'import json; r=json.load(open("body")); s={x["name"]: x for x in r["strategies"]}
assert r["failed_strategies"] == ["lora"] and s["base"]["status"] == "ok", r["failed_strategies"]
assert s["lora"]["status"] == "failed" and s["lora"]["error"]' || fail "failed job report: $(head -c 300 body)"
[ "$(code "$url/v1/compare/jobs/$blocked/report.html")" = 200 ] || fail "report.html of the failed job"
grep -q "lora" body || fail "report.html does not show the failed strategy"
[ "$(code "$url/v1/compare/jobs/$blocked/events")" = 200 ] || fail "events"
grep -q "strategy lora failed" body || fail "no event says why: $(cat body)"
wait_status compare "$kept" succeeded
[ "$(code "$url/v1/compare/jobs/$kept/report")" = 200 ] || fail "report of the keep_going job"
"$RT_PYTHON" -c 'import json; assert json.load(open("body"))["failed_strategies"] == ["lora"]' ||
    fail "keep_going report: $(head -c 300 body)"
code "$url/v1/compare/jobs/$job" > /dev/null
grep -q '"status":"succeeded"' body || fail "the finished job is gone after the restart"
[ "$(code "$url/v1/compare/jobs/$job/report.html")" = 200 ] || fail "report after the restart"

# killed while a compare job runs: at the next start it is queued again, keeps what it finished
running_compare 300
crashed=$running
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=""
serve
code "$url/v1/compare/jobs/$crashed/events" > /dev/null
grep -q "Server restarted: the job is queued again" body || fail "killed job not queued again: $(cat body)"
wait_status compare "$crashed" succeeded
grep -q "compare: base: cached result reused (.*$crashed" "$dir/server.log" ||
    fail "the killed job ran its finished strategy again"
[ "$(code "$url/v1/compare/jobs/$crashed/report")" = 200 ] || fail "report of the killed job"
stop_server
echo ok
