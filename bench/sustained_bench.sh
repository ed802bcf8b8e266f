#!/usr/bin/env bash
# WhatsApp ingestion under sustained load (issues 7, 8): the webhook
# benchmarks start from an empty store and last seconds, so they never see
# the views' compactions or a big online rebuild. This fills a fresh store
# for FILL seconds at 32 connections, then measures 15 s more: rate, p99,
# each crmd thread's CPU per message, and what the views database's
# compactions cost (from its RocksDB LOG). With REBUILD=1 it measures 15 s
# without, then 15 s with online rebuilds of messages, timeline and audit.
# Loopback only; stops by itself.
# Usage: [FILL=50] [REBUILD=1] [BENCH_CRMD=path] bench/sustained_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
bench_prepare
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef" INTERNAL_SECRET="bench-bridge-secret"
"${BENCH_CRMD:-./build/app/crmd}" serve --data-dir "$work/data" --port 18121 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $crmd 2>/dev/null; wait $crmd 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18121/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_ADMIN_TOKEN"
curl -sf -X POST localhost:18121/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' -d '{"id":"t0","name":"Bench"}' >/dev/null
wrk -t2 -c8 -d2s -s bench/wa_upsert.lua http://127.0.0.1:18121 >/dev/null  # the 1000 senders become leads
echo "fill: $(wrk -t2 -c32 -d"${FILL:-50}"s -s bench/wa_upsert.lua http://127.0.0.1:18121 | awk '/Requests\/sec/ {print $2}') msgs/s for ${FILL:-50} s"

# Each thread name's CPU ticks so far.
threads_cpu() {
  for t in /proc/$crmd/task/*; do echo "$(tr ' ' _ < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")"; done |
    awk '{a[$1] += $2} END {for (k in a) print k, a[k]}' | sort
}
# measure NAME: 15 s of load; the rate, p99 and CPU per message by thread.
measure() {
  threads_cpu > "$work/cpu.a"
  local out rps
  out=$(wrk --latency -t2 -c32 -d15s -s bench/wa_upsert.lua http://127.0.0.1:18121)
  threads_cpu > "$work/cpu.b"
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  echo "$1: $rps msgs/s, p99 $(awk '$1=="99%" {print $2}' <<<"$out")"
  join "$work/cpu.a" "$work/cpu.b" | awk -v r="$rps" -v hz="$(getconf CLK_TCK)" \
    '{us = ($3 - $2) * 1e6 / hz / 15; if (us > 0) printf "  %-16s %5.2f cores %6.1f us/msg\n", $1, us / 1e6, us / r}'
}

if [ "${REBUILD:-0}" = 1 ]; then
  measure "without a rebuild"
  ( sleep 1; for v in messages timeline audit; do
      curl -sf -X POST "localhost:18121/api/admin/projections/$v/rebuild" -H "$auth" >/dev/null; done ) & starter=$!
  measure "with online rebuilds of messages, timeline, audit"
  wait $starter
  curl -sf localhost:18121/api/admin/projections -H "$auth" |
    grep -o '"name":"[a-z]*","position":[0-9]*,"rebuild":{[^}]*"processed":[0-9]*' | sed 's/^/  /' || true
else
  measure "measured"
fi
db="$work/data/db"
for log in "$db/LOG" "$db/views/LOG"; do
  [ -f "$log" ] || continue
  { grep compaction_finished "$log" || true; } | grep -o '"compaction_time_cpu_micros": [0-9]*\|"total_output_size": [0-9]*' |
    awk -v l="${log#$work/}" '/cpu/ {c += $2; n++} /output/ {o += $2}
      END {printf "%s: %d compactions, %.1f s of CPU, %.0f MB written", l, n, c / 1e6, o / 1e6}' || true
  echo ", $(grep -ciE 'Stalling writes|Stopping writes' "$log" || true) write-stall lines"
done
