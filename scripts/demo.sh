#!/usr/bin/env bash
# The main job on the sample replicas committed in tests/fixtures/sample
# (exported from real Kuzu 0.11.3 by scripts/make_samples.mjs): installs
# what is missing, builds, then shows what kuzusync does with two sites.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release
ks=build/src/kuzusync
A=tests/fixtures/sample/siteA
B=tests/fixtures/sample/siteB

run() { echo; echo "\$ kuzusync $*"; "$ks" "$@" || true; }
run hash "$A"
run diff "$A" "$B"
run diff "$A" "$B" --rows
run diff "$A" "$B" --json
