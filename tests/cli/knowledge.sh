#!/usr/bin/env bash
# The knowledge commands end to end: ingest (files, directories, stdin), search (table, JSON,
# filters), rm, stats, and their exit codes.
set -u
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-know-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs/sub"
echo "Virtual memory maps pages to frames." > "$tmp/docs/vm.txt"
printf '# Scheduling\n\nThe scheduler picks the next process.\n' > "$tmp/docs/sched.md"
echo '<h1>Caches</h1><p>A cache keeps recent data close.</p>' > "$tmp/docs/sub/cache.html"
printf '{"id":"j1","text":"TLB caches page translations.","metadata":{"year":1970}}\n' > "$tmp/docs/sub/t.jsonl"
c="$tmp/coll"
"$RAGTUNE" ingest "$c" "$tmp/docs" 2>"$tmp/err" || fail "ingest: $(cat "$tmp/err")"
grep -q "4 added" "$tmp/err" || fail "expected 4 added: $(cat "$tmp/err")"
echo "Deadlock needs four conditions." | "$RAGTUNE" ingest "$c" --stdin txt --name dl 2>/dev/null || fail "stdin"
"$RAGTUNE" search "$c" "page" | grep -q "vm.txt" || fail "search page"
"$RAGTUNE" search "$c" "deadlock" --json | grep -q '"doc_id":"dl"' || fail "search json"
"$RAGTUNE" search "$c" "cache" --filter "year>=1960" --json | grep -c doc_id | grep -qx 1 || fail "filter"
"$RAGTUNE" search "$c" "cache" --mode dense >/dev/null 2>&1; [ $? -eq 1 ] || fail "dense without vectors should exit 1"
"$RAGTUNE" search "$c" >/dev/null 2>&1; [ $? -eq 2 ] || fail "search without query should exit 2"
"$RAGTUNE" search "$tmp/none" "x" >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing collection should exit 1"
"$RAGTUNE" rm "$c" "$tmp/docs/sub" | grep -q "removed 2" || fail "rm dir"
"$RAGTUNE" rm "$c" nothing >/dev/null 2>&1; [ $? -eq 1 ] || fail "rm missing should exit 1"
"$RAGTUNE" search "$c" "cache" --json | grep -q doc_id && fail "removed docs still found"
"$RAGTUNE" stats "$c" | grep -q "documents   3" || fail "stats"
"$RAGTUNE" ingest "$c" "$tmp/docs" --embed-model /nonexistent >/dev/null 2>&1; [ $? -eq 1 ] || fail "missing embed model should exit 1"
"$RAGTUNE" ingest --help | grep -q chunker || fail "help"
echo ok
