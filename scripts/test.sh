#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a passing test suite:
# installs what is missing, builds everything, and runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DCRMD_BUILD_TESTS=ON
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 300
# The reference WhatsApp bridge (Node, bridge/): its own tests, with Baileys'
# socket scripted. Node and npm come with this machine kind, not from Debian
# (bookworm's Node 18 is too old for the pinned Baileys).
cd ../bridge
if command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
  npm test
else
  echo "test: npm not found: the bridge's tests did not run" >&2
  exit 1
fi
