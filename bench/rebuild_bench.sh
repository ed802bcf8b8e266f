#!/usr/bin/env bash
# Rebuild and point-in-time benchmark (issue 8 item 10), disk only, stops by
# itself: generates a log of N events (default 10M) over 100 tenants, then
# measures a raw RocksDB scan of it (the baseline), rebuilds of the contacts
# view and of all views, and a point-in-time replay of one 100k-event tenant.
# Everything it writes is in a scratch directory removed at exit.
# Usage: bench/rebuild_bench.sh [events, default 10000000] [more rebuild_bench options]
#   e.g. bench/rebuild_bench.sh 1000000
#        bench/rebuild_bench.sh 10000000 --each-view
set -euo pipefail
cd "$(dirname "$0")/.."
events="${1:-10000000}"
shift || true
bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./build/bench/rebuild_bench --events "$events" --work-dir "$work" "$@"
