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

# log_stats PORT: "batches events decide_us_per_batch write_us_per_batch" of
# crmd's event log so far (from /api/health).
log_stats() {
  curl -sf "localhost:$1/api/health" |
    sed 's/.*"batches":\([0-9]*\),"events":\([0-9]*\),"decide_us_per_batch":\([0-9]*\),"write_us_per_batch":\([0-9]*\).*/\1 \2 \3 \4/'
}

# log_delta BEFORE AFTER: group commits between two log_stats readings.
log_delta() {
  read -r b0 e0 d0 w0 <<<"$1"
  read -r b1 e1 d1 w1 <<<"$2"
  awk -v b="$((b1 - b0))" -v e="$((e1 - e0))" -v w0="$((w0 * b0))" -v w1="$((w1 * b1))" \
    -v d0="$((d0 * b0))" -v d1="$((d1 * b1))" \
    'BEGIN {if (b > 0) printf "log during the run: %d group commits, %.1f events each, %.0f us deciding and %.0f us in the synced write per commit\n", b, e / b, (d1 - d0) / b, (w1 - w0) / b}'
}

# proc_cpu PID: "cpu_ticks minor_faults context_switches" of a process so far
# (switches of its live threads).
proc_cpu() {
  echo "$(awk '{print $14 + $15, $10}' "/proc/$1/stat") $(cat /proc/"$1"/task/*/status 2>/dev/null |
    awk '/ctxt_switches/ {n += $2} END {print n}')"
}

# proc_delta NAME BEFORE AFTER: the process's CPU time, switches and page faults per
# request of run NAME (from its $work/NAME.rps and $secs).
proc_delta() {
  read -r c0 f0 x0 <<<"$2"
  read -r c1 f1 x1 <<<"$3"
  awk -v n="$(cat "$work/$1.rps")" -v s="$secs" -v c="$((c1 - c0))" -v f="$((f1 - f0))" -v x="$((x1 - x0))" \
    -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "crmd during the run: per request %.0f us of CPU, %.1f context switches, %.1f page faults (%.2f cores)\n",
      c / hz * 1e6 / (n * s), x / (n * s), f / (n * s), c / hz / s}'
}

# bench_run_crmd NAME PORT PID [wrk args...]: bench_run against crmd (listening
# on PORT, process PID), then the log's group commits and crmd's CPU,
# switches and page faults per request during that run.
bench_run_crmd() {
  local name=$1 port=$2 pid=$3
  shift 3
  local before after cpu0 cpu1
  before=$(log_stats "$port") cpu0=$(proc_cpu "$pid")
  bench_run "$name" "$@"
  after=$(log_stats "$port") cpu1=$(proc_cpu "$pid")
  log_delta "$before" "$after"
  proc_delta "$name" "$cpu0" "$cpu1"
}
