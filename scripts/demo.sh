#!/usr/bin/env bash
# The main job on the built-in default data and model. Grows with the project: today it runs
# the most complete pipeline that exists.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
RT="$BUILD/ragtune"
"$RT" version
"$RT" help
