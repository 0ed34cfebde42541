#!/usr/bin/env bash
# The shared option parser (src/cli/opts.c) as the commands use it (train, finetune,
# train-embedder, serve, compare, eval, search, ingest, qa, raft-data, ask, chat): a missing
# value, a value out of range, not a number or not one of the named choices, and an unknown
# option are usage errors (exit 2) with one message format naming the option; nothing runs.
set -u
fail() { echo "FAIL: $*"; exit 1; }
expect_usage() { # expect_usage "message part" args...
  local want="$1"; shift
  "$RAGTUNE" "$@" >/dev/null 2>err; local rc=$?
  [ $rc -eq 2 ] || fail "$* exited $rc, expected 2"
  grep -qF -- "$want" err || fail "$*: no '$want' in: $(cat err)"
}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT; cd "$tmp"
expect_usage "bad value 'abc' for --steps (an integer, 1 to" train --data d --out o --steps abc
expect_usage "bad value '0' for --batch (an integer, 1 to 65536)" finetune --model m --data d --out o --batch 0
expect_usage "--lr needs a value" train --data d --out o --lr
expect_usage "bad value 'inf' for --lr (a finite number)" train --data d --out o --lr inf
expect_usage "unknown option '--bogus'" train --data d --out o --bogus
expect_usage "bad value '1' for --batch (an integer, 2 to 4096)" train-embedder --data d --out o --batch 1
expect_usage "unknown option '--bogus'" train-embedder --one-way --bogus 1
expect_usage "bad value '70000' for --port (an integer, 0 to 65535)" serve --model m --port 70000
expect_usage "bad value '0' for --timeout (a number, 0.001 to" serve --model m --timeout 0
expect_usage "--lora needs a value" serve --model m --lora
expect_usage "--quantize: unknown type 'q9'" serve --model m --quantize q9
for cmd in compare eval; do
  expect_usage "unknown option '--bogus'" $cmd --collection c --qa q --model m --out o --bogus
  expect_usage "--steps needs a value" $cmd --collection c --qa q --model m --out o --steps
  expect_usage "bad value '0' for -k (an integer, 1 to 100)" $cmd --collection c --qa q --model m --out o -k 0
  expect_usage "bad value 'x' for --mode (bm25, dense, hybrid)" $cmd --collection c --qa q --model m --out o --mode x
  expect_usage "bad value '2' for --raft-p (a number, 0 to 1)" $cmd --collection c --qa q --model m --out o --raft-p 2
  expect_usage "bad value 'x' for --min-score (a number or none)" $cmd --collection c --qa q --model m --out o --min-score x
done
expect_usage "unknown option '--rag'" compare --collection c --qa q --model m --out o --rag
expect_usage "unknown option '--strategies'" eval --collection c --qa q --model m --strategies base
expect_usage "unknown option '--bogus'" search coll query --bogus
expect_usage "--embed-model needs a value" search coll query --embed-model
expect_usage "--filter needs a value" search coll query --filter
expect_usage "bad value '0' for -k (an integer, 1 to 10000)" search coll query -k 0
expect_usage "bad value 'x' for --fusion (rrf, weighted)" search coll query --fusion x
expect_usage "bad value '2' for --alpha (a number, 0 to 1)" search coll query --alpha 2
expect_usage "unexpected argument 'extra'" search coll query extra
expect_usage "unknown option '--bogus'" ingest coll --bogus
expect_usage "--stdin needs a value" ingest coll --stdin
expect_usage "bad value 'x' for --chunker (recursive, fixed, sentence, semantic, agentic)" ingest coll --chunker x
expect_usage "bad value 'x' for --metric (cosine, l2, ip)" ingest coll --metric x
expect_usage "bad value '1' for --hnsw-m (an integer, 2 to 256)" ingest coll --hnsw-m 1
expect_usage "unknown option '--bogus'" qa generate coll -o q --bogus
expect_usage "-o needs a value" qa generate coll -o
expect_usage "bad value 'x' for --seed (an integer, 0 to" qa generate coll -o q --seed x
expect_usage "must be in (0, 1)" qa generate coll -o q --test-fraction 0
expect_usage "--collection needs a value" qa check q --collection
expect_usage "unknown option '--bogus'" raft-data --qa q --docs d -o o --bogus
expect_usage "--qa needs a value" raft-data --docs d -o o --qa
expect_usage "bad value '65' for --distractors (an integer, 0 to 64)" raft-data --qa q --docs d -o o --distractors 65
for cmd in ask chat; do
  expect_usage "unknown option '--bogus'" $cmd coll --bogus
  expect_usage "--model needs a value" $cmd coll --model
  expect_usage "bad value 'x' for --style (base, chat)" $cmd coll --style x
  expect_usage "bad value '101' for -k (an integer, 1 to 100)" $cmd coll -k 101
  expect_usage "--adapter needs a value" $cmd coll --adapter
done
# flags take no value: --lora then --rank parse, and the missing --data is what is reported
expect_usage "--data is required" finetune --model m --lora --rank 4 --out o
[ -e o ] && fail "a usage error created output"
echo ok
