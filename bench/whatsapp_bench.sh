#!/usr/bin/env bash
# Issue 7: messages.upsert ingestion, one message per request, at 32
# connections (secret check, parse, sender -> lead, one durable idempotent
# append), beside the hello-world RESTinio server in the same run.
# Loopback only; stops by itself. Usage: bench/whatsapp_bench.sh [seconds, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bash scripts/install-deps.sh >/dev/null
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
work=$(mktemp -d)
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef" INTERNAL_SECRET="bench-bridge-secret"
./build/bench/hello_server 18094 & hello=$!
./build/app/crmd serve --data-dir "$work/data" --port 18095 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $hello $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18095/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_ADMIN_TOKEN"
curl -sf -X POST localhost:18095/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' -d '{"id":"t0","name":"Bench"}' >/dev/null
wrk -t2 -c8 -d2s -s bench/wa_upsert.lua http://127.0.0.1:18095 >/dev/null  # the 1000 senders become leads

run() {  # name, wrk args...
  local name=$1; shift
  local out
  out=$(wrk --latency -t2 -c32 -d"${secs}s" "$@")
  printf "%-26s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n" "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $4}' <<<"$out")"
  awk '/Requests\/sec/ {print $2}' <<<"$out" > "$work/$name.rps"
}
echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
run hello_world http://127.0.0.1:18094/
run messages_upsert -s bench/wa_upsert.lua http://127.0.0.1:18095
run hello_world_again http://127.0.0.1:18094/
awk -v a="$(cat "$work/messages_upsert.rps")" -v b="$(cat "$work/hello_world.rps")" -v c="$(cat "$work/hello_world_again.rps")" \
  'BEGIN {printf "ratio messages_upsert / hello_world: %.3f (%.3f against the second baseline)\n", a / b, a / c}'
echo "messages stored: $(curl -sf "localhost:18095/api/wa/messages?business_id=t0&limit=1" -H "$auth" | sed 's/.*"total":\([0-9]*\).*/\1/')"
