#!/usr/bin/env bash
# The test command (README, .ci/run): installs what is missing, then
#   1. unit tests (ctest) on the release build,
#   2. unit tests on the ASan/UBSan build,
#   3. end-to-end tests with real Kuzu (node --test tests/e2e/), against
#      the release build and, for the fast cases, the sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release
scripts/build.sh asan

echo "== unit tests (release)"
ctest --test-dir build --output-on-failure -j "$(nproc)"
echo "== unit tests (asan+ubsan)"
ctest --test-dir build-asan --output-on-failure -j "$(nproc)"

echo "== end-to-end tests (real Kuzu $(node -p "require('kuzu/package.json').version"))"
KUZUSYNC_BIN="$PWD/build/src/kuzusync" node --test --test-concurrency=1 tests/e2e/
