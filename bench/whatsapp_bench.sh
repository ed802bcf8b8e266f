#!/usr/bin/env bash
# Issue 7: messages.upsert ingestion, one message per request, at 32
# connections (secret check, parse, sender -> lead, one durable idempotent
# append), beside the hello-world RESTinio server in the same run.
# Loopback only; stops by itself. Usage: bench/whatsapp_bench.sh [seconds, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
source bench/lib.sh
bench_prepare
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef" INTERNAL_SECRET="bench-bridge-secret"
./build/bench/hello_server 18094 & hello=$!
env ${BENCH_SERVER_ENV:-} "${BENCH_CRMD:-./build/app/crmd}" serve --data-dir "$work/data" --port 18095 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $hello $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18095/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_ADMIN_TOKEN"
curl -sf -X POST localhost:18095/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' -d '{"id":"t0","name":"Bench"}' >/dev/null
wrk -t2 -c8 -d2s -s bench/wa_upsert.lua http://127.0.0.1:18095 >/dev/null  # the 1000 senders become leads

echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
bench_run hello_world http://127.0.0.1:18094/
bench_run_crmd messages_upsert 18095 "$crmd" -s bench/wa_upsert.lua http://127.0.0.1:18095
bench_run hello_world_again http://127.0.0.1:18094/
bench_ratio messages_upsert hello_world hello_world_again
echo "messages stored: $(curl -sf "localhost:18095/api/wa/messages?business_id=t0&limit=1" -H "$auth" | sed 's/.*"total":\([0-9]*\).*/\1/')"
