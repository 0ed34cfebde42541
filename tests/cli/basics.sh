#!/usr/bin/env bash
# The CLI's contract: help, version, exit codes (0 ok, 1 runtime, 2 usage).
set -u
fail() { echo "FAIL: $*"; exit 1; }
"$RAGTUNE" help >/dev/null || fail "help"
"$RAGTUNE" version | grep -q "ragtune" || fail "version"
"$RAGTUNE" version --runtime | grep -qE "^(GOMP_SPINCOUNT|OMP_WAIT_POLICY)=" || fail "version --runtime"
"$RAGTUNE" >/dev/null 2>&1; [ $? -eq 2 ] || fail "no command should exit 2"
"$RAGTUNE" no-such-command >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command should exit 2"
echo ok
