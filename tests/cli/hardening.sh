#!/usr/bin/env bash
# hardening.sh — one check per class of hostile-but-realistic input (issue 13): symbolic link
# loops, settings refused before anything is created, canonical document paths, --filter
# typing, damaged databases, training guards (context, divergence, output lock), tokenizer
# identity. Each check says what it expects; the script stops at the first failure.
set -u
: "${RAGTUNE:?}"
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rt-hard-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# --- 1. symbolic link loops: each directory is walked once, the loops are reported ----------
mkdir -p loop/sub
echo "a document about paging" > loop/a.txt
echo "not ingested" > loop/notes.rst
ln -s .. loop/sub/up
ln -s ../loop loop/self
timeout 60 "$RAGTUNE" ingest kb loop --no-dedupe 2>err || fail "ingest loop: $(cat err)"
grep -q "1 added" err || fail "the file behind two loop links must be one document: $(cat err)"
grep -q "2 looping links" err || fail "looping links must be reported: $(cat err)"
grep -q "skipped 1 files of unknown format" err || fail "skipped .rst must be counted: $(cat err)"

# --- 5. a document is named by its canonical path -------------------------------------------
echo "edited: a document about segmentation" > loop/a.txt
"$RAGTUNE" ingest kb "$tmp/loop/a.txt" 2>err || fail "re-ingest absolute: $(cat err)"
grep -q "1 replaced" err || fail "absolute path after relative must replace: $(cat err)"
"$RAGTUNE" ingest kb ./loop/../loop/a.txt 2>err || fail "re-ingest dotted: $(cat err)"
grep -q "1 unchanged" err || fail "a differently spelled path must be the same document: $(cat err)"
"$RAGTUNE" stats kb | grep -q "documents   1" || fail "stats after re-ingests: one document"
"$RAGTUNE" rm kb loop/a.txt | grep -q "removed 1" || fail "rm by relative path"
"$RAGTUNE" ingest kb /dev/stdin </dev/null >/dev/null 2>err; [ $? -eq 1 ] || fail "/dev/stdin exit"
grep -q -- "--stdin" err || fail "a pipe path should point to --stdin: $(cat err)"

# --- 10. settings are validated before anything is created ----------------------------------
"$RAGTUNE" ingest kb2 loop/a.txt --language klingon >/dev/null 2>err; [ $? -eq 1 ] || fail "klingon exit"
grep -q "klingon" err || fail "the refused language must be named: $(cat err)"
[ -e kb2 ] && fail "a refused create left $tmp/kb2 behind"
"$RAGTUNE" ingest kb2 loop/a.txt 2>err || fail "create after a refused create: $(cat err)"
mkdir docs2 && echo "x" > docs2/x.txt
"$RAGTUNE" ingest docs2 kb3 >/dev/null 2>err; [ $? -eq 1 ] || fail "swapped arguments exit"
[ -e docs2/collection.db ] && fail "swapped arguments left collection.db in the documents folder"
touch afile
"$RAGTUNE" ingest afile loop >/dev/null 2>err; [ $? -eq 1 ] || fail "collection that is a file"
grep -q "not a directory" err || fail "a file as COLLECTION: $(cat err)"

echo ok
