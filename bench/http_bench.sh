#!/usr/bin/env bash
# HTTP benchmarks for issue 3, each beside the hello-world RESTinio server
# measured in the same run. Loopback only; stops by itself.
# Usage: bench/http_bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bash scripts/install-deps.sh >/dev/null
if ! command -v wrk >/dev/null; then  # the load generator, for benchmarks only
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
work=$(mktemp -d)
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef"
export CRMD_TOKEN="$CRMD_ADMIN_TOKEN"
./build/bench/hello_server 18090 & hello=$!
./build/app/crmd serve --data-dir "$work/data" --port 18091 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $hello $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18091/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_TOKEN"
for t in 0 1 2 3 4 5 6 7; do
  curl -sf -X POST localhost:18091/api/admin/tenants -H "$auth" -H 'Content-Type: application/json' \
       -d "{\"id\":\"t$t\",\"name\":\"Bench $t\"}" >/dev/null
done
for i in $(seq 30); do
  curl -sf -X POST localhost:18091/api/business/t0/prompts -H "$auth" -H 'Content-Type: application/json' \
       -d "{\"title\":\"seed $i\",\"body\":\"seed\"}" >/dev/null
done

run() {  # name, wrk args...; keeps the best of repeated runs of one name
  local name=$1; shift
  local out
  out=$(wrk --latency -t2 -c32 -d"${secs}s" "$@")
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf "%-34s %12s req/s   p99 %8s   non-2xx %s\n" "$name" "$rps" "$p99" "${non2xx:-0}"
  if [ ! -f "$work/$name.rps" ] || awk -v a="$rps" -v b="$(cat "$work/$name.rps")" 'BEGIN {exit !(a > b)}'; then
    echo "$rps" > "$work/$name.rps"
  fi
}

echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
# The baseline and the cheap route alternate three times (best of each
# counts): on a shared 2-core machine one run alone swings by 30 %.
for round in 1 2 3; do
  run hello_world http://127.0.0.1:18090/
  run crmd_get_health http://127.0.0.1:18091/health
done
run crmd_post_prompt_8_tenants -s bench/post_prompt.lua http://127.0.0.1:18091
run crmd_get_prompt_list_page -s bench/get_with_token.lua "http://127.0.0.1:18091/api/business/t0/prompts?limit=25"
base=$(cat "$work/hello_world.rps")
for n in crmd_get_health crmd_post_prompt_8_tenants crmd_get_prompt_list_page; do
  awk -v a="$(cat "$work/$n.rps")" -v b="$base" -v n="$n" 'BEGIN {printf "ratio %-28s %.2f of hello-world\n", n, a / b}'
done
curl -s localhost:18091/health -H "$auth"; echo
