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
# socket scripted, so they never load Baileys. With Node 20+ and npm (CI) the
# locked dependencies are installed first, which also proves the lock file;
# with bookworm's own Node 18 (too old for the pinned Baileys) the tests run
# as they are.
cd ../bridge
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -ge 20 ] && command -v npm >/dev/null 2>&1; then
  npm ci --no-audit --no-fund --loglevel=error
  npm test
elif [ "$node_major" -ge 18 ]; then
  if [ "$node_major" -lt 20 ]; then why="older than Baileys needs (20)"; else why="without npm"; fi
  echo "test: Node $(node --version) is $why: running the bridge's tests without installing Baileys" >&2
  node --test test/*.test.js
else
  echo "test: no Node.js 18 or newer: the bridge's tests did not run" >&2
  exit 1
fi
