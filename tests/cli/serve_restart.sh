#!/usr/bin/env bash
# serve_restart.sh — jobs of `ragtune serve` that are running when the server goes away, on a
# tiny model: (1) SIGTERM while a compare job is running (its base strategy done, lora
# training): the server stops gracefully (exit 0), the job is persisted as queued with an event
# saying why, never left "running"; after the restart it is queued again, reuses its finished
# strategy and succeeds. (2) SIGKILL while a fine-tuning job is running, after its first
# checkpoints: at the next start the job is queued again, resumes from its last checkpoint (the
# trainer's log says so, and its first step after the restart follows the checkpoint's), runs to
# success, and its ft: model serves.
. "$RT_SOURCE_DIR/tests/cli/lib/serve_tiny.bash"
. "$RT_SOURCE_DIR/tests/cli/lib/serve_defs.bash"
events_have() { # events_have KIND JOB TEXT
    code "$url/v1/$1/jobs/$2/events" > /dev/null
    grep -q "$3" body || fail "job $2 has no event '$3': $(cat body)"
}
job_file_status() { # the status in the job's record on disk (what a restart reads)
    "$RT_PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["job"]["status"])' \
        "data/jobs/$1.json"
}

serve
curl -s -F purpose=fine-tune -F file=@qa.jsonl "$url/v1/files" > body
qa=$(field id)
[ -n "$qa" ] || fail "upload: $(cat body)"

# (1) SIGTERM while a compare job runs
running_compare 400
cmp=$running
stop_server # SIGTERM; fails unless the server exits 0
grep -q "stopped" server.log || fail "no shutdown log line"
st=$(job_file_status "$cmp")
[ "$st" = queued ] || fail "after a graceful shutdown the running compare job is persisted as '$st'"
serve
events_have compare "$cmp" "Server shutting down; the comparison continues"
events_have compare "$cmp" "Server restarted: the job is queued again"
wait_status compare "$cmp" succeeded
grep -q "compare: base: cached result reused (.*$cmp" server.log ||
    fail "the interrupted job ran its finished strategy again"
[ "$(code "$url/v1/compare/jobs/$cmp/report")" = 200 ] || fail "report of the interrupted job"
"$RT_PYTHON" -c 'import json; r=json.load(open("body")); n=sorted(s["name"] for s in r["strategies"])
assert n == ["base", "lora"] and not r.get("failed_strategies"), r' ||
    fail "report of the interrupted job: $(head -c 300 body)"

# (2) SIGKILL while a fine-tuning job runs
for i in $(seq 1 32); do echo "{\"prompt\":\"q$i what is a\",\"completion\":\" kernel $i\"}"; done > ft.jsonl
curl -s -F purpose=fine-tune -F file=@ft.jsonl "$url/v1/files" > body
ft_file=$(field id)
[ -n "$ft_file" ] || fail "upload: $(cat body)"
steps=120
[ "$(code "${json[@]}" -d "{\"model\":\"tiny\",\"training_file\":\"$ft_file\",\"suffix\":\"k\",
    \"ragtune\":{\"max_steps\":$steps,\"save_every\":5,\"seq_len\":64,\"batch_size\":4,
    \"lora_rank\":2}}" "$url/v1/fine_tuning/jobs")" = 200 ] || fail "fine-tuning job: $(cat body)"
ft=$(field id)
wait_file "data/jobs/$ft/checkpoint.bin" || fail "the fine-tuning job made no checkpoint"
sleep 0.2 # a few more steps, so the run is somewhere between checkpoints
kill -KILL "$pid"
wait "$pid" 2>/dev/null
pid=""
st=$(job_file_status "$ft")
[ "$st" = running ] || fail "killed job's record says '$st' (finished too fast, or not running?)"
serve
events_have fine_tuning "$ft" "Server restarted: the job is queued again and resumes from its last checkpoint"
wait_status fine_tuning "$ft" succeeded
grep -q "resumed from .*$ft.* at step [1-9]" server.log || fail "the job did not resume from its checkpoint"
resumed=$(sed -n "s/.*resumed from .*$ft.* at step \([0-9]*\).*/\1/p" server.log | tail -1)
# the events (newest first): the first step after the restart follows the checkpoint's step
code "$url/v1/fine_tuning/jobs/$ft/events?limit=1000" > /dev/null
"$RT_PYTHON" - "$resumed" "$steps" <<'EOF' || fail "steps after the restart: $(head -c 600 body)"
import json, re, sys
resumed, steps = int(sys.argv[1]), int(sys.argv[2])
ev = list(reversed(json.load(open("body"))["data"]))  # oldest first
i = max(k for k, e in enumerate(ev) if "Server restarted" in e["message"])
after = [int(re.match(r"Step (\d+)/", e["message"]).group(1)) for e in ev[i:]
         if e["message"].startswith("Step ")]
assert resumed % 5 == 0 and 0 < resumed < steps, resumed
assert after and after[0] == resumed + 1 and after[-1] == steps, (resumed, after[:3], after[-1:])
assert after == list(range(resumed + 1, steps + 1)), "steps after the restart are not consecutive"
EOF
[ "$(code -X POST "${json[@]}" -d '{"model":"ft:tiny:k","prompt":"q1 what is a","max_tokens":2}' \
    "$url/v1/completions")" = 200 ] || fail "the resumed job's ft: model does not serve: $(cat body)"
stop_server
echo ok
