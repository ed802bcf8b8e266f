#!/usr/bin/env bash
# Issue 6: signed incoming_call webhooks end to end (signature check, lead
# lookup, durable call_started, TwiML) at 32 connections, beside the
# hello-world RESTinio server in the same run. Loopback only; stops by itself.
# Usage: bench/twilio_bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
source bench/lib.sh
bench_prepare
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef" TWILIO_AUTH_TOKEN="bench-twilio-token"
export PUBLIC_HOST="https://crm.example.test"
./build/bench/hello_server 18092 & hello=$!
env ${BENCH_SERVER_ENV:-} "${BENCH_CRMD:-./build/app/crmd}" serve --data-dir "$work/data" --port 18093 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $hello $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18093/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_ADMIN_TOKEN"
curl -sf -X POST localhost:18093/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' -d '{"id":"t0","name":"Bench"}' >/dev/null
curl -sf -X PUT localhost:18093/api/admin/tenants/t0/phone_numbers -H "$auth" -H 'Content-Type: application/json' -d '{"phone_numbers":["+97233763805"]}' >/dev/null
url="$PUBLIC_HOST/webhook/incoming_call"
./build/bench/twilio_requests "$TWILIO_AUTH_TOKEN" "$url" 1000 "$work/warm.txt" W
./build/bench/twilio_requests "$TWILIO_AUTH_TOKEN" "$url" 400000 "$work/calls.txt" R
# Warm-up: the 1000 callers become leads (first calls create them).
TWILIO_REQUESTS="$work/warm.txt" wrk -t2 -c8 -d2s -s bench/twilio_incoming.lua http://127.0.0.1:18093 >/dev/null

echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
bench_run hello_world http://127.0.0.1:18092/
export TWILIO_REQUESTS="$work/calls.txt"
bench_run_crmd incoming_call 18093 "$crmd" -s bench/twilio_incoming.lua http://127.0.0.1:18093
bench_run hello_world_again http://127.0.0.1:18092/
bench_ratio incoming_call hello_world hello_world_again
calls=$(curl -sf "localhost:18093/api/calls?business_id=t0&limit=1" -H "$auth" | sed 's/.*"total":\([0-9]*\).*/\1/')
echo "calls recorded: $calls"
grep -c "crmd twilio" "$work/serve.log" | sed 's/^/twilio log lines: /' || true
