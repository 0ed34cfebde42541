# serve_tiny.bash — sourced by the `ragtune serve` CLI tests (serve_batch.sh, serve_compare.sh,
# serve_restart.sh; not a test itself): a scratch directory $dir removed on exit, fail, and
# starting / stopping a server on a free port (sets $pid and $url; log in $dir/server.log).
set -u
dir="$(mktemp -d)"
pid=""
fail() { echo "FAIL: $*"; [ -f "$dir/server.log" ] && tail -30 "$dir/server.log"; exit 1; }
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start_server() { # start_server SERVE_ARGS...
    rm -f "$dir/port"
    "$RAGTUNE" serve --port 0 --port-file "$dir/port" --threads 2 "$@" >>"$dir/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 300); do
        if [ -s "$dir/port" ]; then
            url="http://127.0.0.1:$(cat "$dir/port")"
            [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/health")" = 200 ] && return 0
        fi
        kill -0 "$pid" 2>/dev/null || fail "server died at start"
        sleep 0.1
    done
    fail "server did not become healthy"
}

stop_server() {
    kill -TERM "$pid"
    wait "$pid" || fail "server exit status after SIGTERM"
    pid=""
}
