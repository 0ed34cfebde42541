#!/usr/bin/env bash
# The shared option parser (src/cli/opts.c) as train, train-embedder and serve use it: a missing
# value, a value out of range or not a number, and an unknown option are usage errors (exit 2)
# with one message format naming the option; nothing runs.
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
# flags take no value: --lora then --rank parse, and the missing --data is what is reported
expect_usage "--data is required" finetune --model m --lora --rank 4 --out o
[ -e o ] && fail "a usage error created output"
echo ok
