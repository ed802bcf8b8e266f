# Shared by the benchmark scripts (source it from the repository root):
# preparing the machine, and one wrk run printed the same way everywhere.

# Installs what is missing (and wrk, for benchmarks only), builds with the
# benchmarks, and makes a scratch directory $work.
bench_prepare() {
  bash scripts/install-deps.sh >/dev/null
  if ! command -v wrk >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  fi
  bash scripts/build.sh -DCRMD_BUILD_BENCH=ON >/dev/null
  work=$(mktemp -d)
}

# bench_run NAME [wrk args...]: wrk --latency -t2 -c32 -d$secs; prints one
# line and keeps the rate in $work/NAME.rps.
bench_run() {
  local name=$1; shift
  local out
  out=$(wrk --latency -t2 -c32 -d"${secs}s" "$@")
  printf "%-26s %10s req/s   p50 %8s   p99 %8s   non-2xx %s\n" "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1=="50%" {print $2}' <<<"$out")" \
    "$(awk '$1=="99%" {print $2}' <<<"$out")" "$(awk '/Non-2xx/ {print $4}' <<<"$out")"
  awk '/Requests\/sec/ {print $2}' <<<"$out" > "$work/$name.rps"
}

# bench_ratio NAME BASELINE SECOND_BASELINE: NAME's rate against both.
bench_ratio() {
  awk -v a="$(cat "$work/$1.rps")" -v b="$(cat "$work/$2.rps")" -v c="$(cat "$work/$3.rps")" -v n="$1" \
    'BEGIN {printf "ratio %s / hello_world: %.3f (%.3f against the second baseline)\n", n, a / b, a / c}'
}
