#!/usr/bin/env bash
# Identity benchmarks (issue 4), loopback only, stops by itself:
#  1. an authenticated GET of a prompt list page with a user's JWT against the
#     same request with the operator token (alternating, best of 3 each);
#  2. the KDF cost per core (kdf_bench) and the login rate through crmd with
#     production hashing (600000 rounds, one KDF thread);
#  3. wrong password vs unknown e-mail: mean login latency of each.
# Usage: bench/auth_bench.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
bash scripts/install-deps.sh >/dev/null
if ! command -v wrk >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
fi
bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
work=$(mktemp -d)
export CRMD_ADMIN_TOKEN="bench-token-0123456789abcdef"
# The failure limit would answer 429 during the timing comparison.
export CRMD_AUTH_FAILURES_PER_MINUTE=100000
export BENCH_EMAIL="owner@bench.test" BENCH_PASSWORD="correct horse battery"
./build/app/crmd serve --data-dir "$work/data" --port 18092 > "$work/serve.log" 2>&1 & crmd=$!
trap 'kill $crmd 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for i in $(seq 50); do curl -sf localhost:18092/health >/dev/null && break; sleep 0.1; done
auth="Authorization: Bearer $CRMD_ADMIN_TOKEN"
json='Content-Type: application/json'
curl -sf -X POST localhost:18092/api/admin/tenants -H "$auth" -H "$json" -d '{"id":"t0","name":"Bench"}' >/dev/null
curl -sf -X POST localhost:18092/api/admin/users -H "$auth" -H "$json" \
  -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\",\"role\":\"owner\",\"tenant_id\":\"t0\"}" >/dev/null
for i in $(seq 30); do
  curl -sf -X POST localhost:18092/api/business/t0/prompts -H "$auth" -H "$json" \
       -d "{\"title\":\"seed $i\",\"body\":\"seed\"}" >/dev/null
done
jwt=$(curl -sf -X POST localhost:18092/api/auth/login -H "$json" \
        -d "{\"email\":\"$BENCH_EMAIL\",\"password\":\"$BENCH_PASSWORD\"}" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')

run() {  # name, wrk args...; keeps the best of repeated runs of one name
  local name=$1; shift
  local out rps p99 non2xx
  out=$(wrk --latency "$@")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  printf "%-30s %12s req/s   p99 %8s   non-2xx %s\n" "$name" "$rps" "$p99" "${non2xx:-0}"
  if [ ! -f "$work/$name.rps" ] || awk -v a="$rps" -v b="$(cat "$work/$name.rps")" 'BEGIN {exit !(a > b)}'; then
    echo "$rps" > "$work/$name.rps"
  fi
}

url="http://127.0.0.1:18092/api/business/t0/prompts?limit=25"
echo "wrk -t2 -c32 -d${secs}s, 127.0.0.1, $(nproc) cores shared by client and server"
for round in 1 2 3; do
  CRMD_TOKEN="$CRMD_ADMIN_TOKEN" run list_operator_token -t2 -c32 -d"${secs}s" -s bench/get_with_token.lua "$url"
  CRMD_TOKEN="$jwt" run list_user_jwt -t2 -c32 -d"${secs}s" -s bench/get_with_token.lua "$url"
done
awk -v a="$(cat "$work/list_user_jwt.rps")" -v b="$(cat "$work/list_operator_token.rps")" \
  'BEGIN {printf "ratio user JWT / operator token: %.2f\n", a / b}'

./build/bench/kdf_bench 600000 5
run login_600k_rounds -t1 -c2 -d"${secs}s" -s bench/login.lua http://127.0.0.1:18092/api/auth/login

one() {  # email password: seconds of one login
  curl -s -o /dev/null -w '%{time_total}' -X POST localhost:18092/api/auth/login -H "$json" \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}"
}
# Alternating, so that drift in machine load hits both alike.
for i in $(seq 20); do
  echo "wrong $(one "$BENCH_EMAIL" 'wrong password!')"
  echo "unknown $(one nobody@bench.test 'wrong password!')"
done | awk '{s[$1] += $2; n[$1]++} END {printf "login latency (mean of %d each, alternating): wrong password %.1f ms, unknown e-mail %.1f ms, ratio %.2f\n", n["wrong"], 1000 * s["wrong"] / n["wrong"], 1000 * s["unknown"] / n["unknown"], s["unknown"] / s["wrong"]}'
