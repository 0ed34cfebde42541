# serve_lib.sh — sourced by the `ragtune serve` benchmarks (bench_server.sh,
# bench_serve_batch.sh): start a server on a free port and wait until it is healthy, drive it
# with bench/bench_server_client.cjs, stop it. Uses $tmp (scratch directory) and $build.

serve_start() { # serve_start SERVE_ARGS... -> sets $pid and $url
    rm -f "$tmp/port"
    "$build/ragtune" serve --port 0 --port-file "$tmp/port" --queue 1024 --max-connections 256 \
        --data-dir "$tmp/data" "$@" 2>"$tmp/server.log" &
    pid=$!
    for _ in $(seq 1 600); do
        [ -s "$tmp/port" ] && curl -sf "http://127.0.0.1:$(cat "$tmp/port")/health" >/dev/null && break
        sleep 0.1
    done
    url="http://127.0.0.1:$(cat "$tmp/port")"
}

# serve_load CLIENTS PER_CLIENT TOKENS -> one line: clients tok/s ttft_p50 ttft_p95 latency_p50
# latency_p95 latency_p99 failed peak_mb (seconds; the server's peak resident MB so far)
serve_load() {
    node bench/bench_server_client.cjs "$url" "$1" "$2" "$3" | tr '\n' ' '
    awk '/VmHWM/ {printf "%.0f\n", $2 / 1024}' "/proc/$pid/status"
}

serve_stop() {
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
}
