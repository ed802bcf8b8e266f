#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a passing test suite:
# installs what is missing, builds everything, and runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DCRMD_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 300
