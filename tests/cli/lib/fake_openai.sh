# fake_openai.sh — sourced by CLI tests: starts tests/python/fake_openai.py on 127.0.0.1 with
# the arguments given (e.g. --script FILE, --log FILE), sets $base to its /v1 URL and kills it
# (and removes $dir) on exit. Needs $dir (a temporary directory), $RT_PYTHON, $RT_SOURCE_DIR and
# a fail function. Not a test itself (tests/cli/lib/ is not globbed).
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy RAGTUNE_API_KEY OPENAI_API_KEY
"$RT_PYTHON" "$RT_SOURCE_DIR/tests/python/fake_openai.py" --lifetime 120 "$@" > "$dir/port" &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; wait $fake_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || fail "the fake server did not start"
base="http://127.0.0.1:$(head -1 "$dir/port")/v1"
