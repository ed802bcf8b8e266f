#!/usr/bin/env bash
# CRM benchmarks (issue 5), loopback only, stops by itself: a tenant with
# 100k customers and one customer with 10k timeline items; list page,
# timeline page and q search latency at 32 connections; peak RSS growth of a
# CSV export of all customers.
# Usage: bench/crm_bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bash scripts/install-deps.sh >/dev/null
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
work=$(mktemp -d)
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef" CRMD_TOKEN="bench-token-0123456789abcdef"
./build/app/crmd serve --data-dir "$work/data" --port 18098 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18098/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_TOKEN"
curl -sf -X POST localhost:18098/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' -d '{"id":"t0","name":"Bench"}' >/dev/null
total() { curl -sf "localhost:18098/api/crm/customers?business_id=t0&limit=1&min_position=$(curl -sf localhost:18098/health | sed 's/.*"log_position":\([0-9]*\).*/\1/')" -H "$auth" | sed 's/.*"total":\([0-9]*\).*/\1/'; }
t0=$(date +%s.%N)
while [ "$(total)" -lt 100000 ]; do wrk -t2 -c32 -d3s -s bench/crm_seed.lua http://127.0.0.1:18098 >/dev/null; done
echo "seeded $(total) customers in $(echo "$(date +%s.%N) - $t0" | bc) s"
cust=$(curl -sf "localhost:18098/api/crm/customers?business_id=t0&limit=1" -H "$auth" | sed 's/.*"id":"\(L[0-9]*\)".*/\1/')
items() { curl -sf "localhost:18098/api/customers/$cust/timeline?business_id=t0&limit=1&min_position=$(curl -sf localhost:18098/health | sed 's/.*"log_position":\([0-9]*\).*/\1/')" -H "$auth" | sed 's/.*"total":\([0-9]*\).*/\1/'; }
while [ "$(items)" -lt 10000 ]; do NOTE_ON=$cust wrk -t2 -c32 -d1s -s bench/crm_seed.lua http://127.0.0.1:18098 >/dev/null; done
echo "customer $cust has $(items) timeline items"

# Let the store settle: seeding leaves RocksDB flushing and compacting on one
# of the two cores for a while; reads are measured once crmd has been idle
# (under 3% of a core) for a second, or after 60 s.
settle() {
  local t0 t1 waited=0
  while [ $waited -lt 60 ]; do
    t0=$(awk '{print $14+$15}' /proc/$crmd/stat); sleep 1; t1=$(awk '{print $14+$15}' /proc/$crmd/stat)
    waited=$((waited + 1))
    [ $((t1 - t0)) -le 3 ] && break
  done
  echo "settled after ${waited} s"
}
settle

run() {  # name url
  local out
  out=$(wrk --latency -t2 -c32 -d"${secs}s" -s bench/get_with_token.lua "$2")
  printf "%-26s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n" "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $4}' <<<"$out")"
}
echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
run customers_list_page "http://127.0.0.1:18098/api/crm/customers?business_id=t0&limit=25&page=7"
run timeline_page "http://127.0.0.1:18098/api/customers/$cust/timeline?business_id=t0&limit=25&page=3"
# A tenant's first search builds its index (one scan of its contacts): timed
# on its own, then the steady state.
cold=$(curl -s -o /dev/null -w "%{time_total}" "localhost:18098/api/crm/customers?business_id=t0&limit=25&q=warm" -H "$auth")
echo "first search of the tenant (builds the index): ${cold} s"
run search_q "http://127.0.0.1:18098/api/crm/customers?business_id=t0&limit=25&q=Customer%20123"

rss() { awk '/VmRSS/ {print $2}' /proc/$crmd/status; }
hwm() { awk '/VmHWM/ {print $2}' /proc/$crmd/status; }
# Peak RSS during each of three exports: the peak is reset first (writing 5
# to clear_refs), so each line is that export's own growth. The first also
# fills RocksDB's block cache (32 MiB) with the view; the later ones show
# what streaming itself holds.
for pass in 1 2 3; do
  echo 5 > /proc/$crmd/clear_refs
  before=$(rss)
  bytes=$(curl -sf "localhost:18098/api/crm/customers.csv?business_id=t0" -H "$auth" | wc -c)
  peak=$(hwm)
  echo "CSV export $pass: $bytes bytes; RSS before $before KiB, peak during $peak KiB (+$(( (peak - before) / 1024 )) MiB)"
done
