#!/usr/bin/env bash
# One command from a fresh Debian bookworm machine to a running crmd:
# installs what is missing, builds, and runs `crmd serve` on ./data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DCRMD_BUILD_TESTS=OFF
exec ./build/app/crmd serve --data-dir "${CRMD_DATA_DIR:-./data}" "$@"
