# Shared helpers of the benchmark scripts (sourced, not run).

# Two cores: a gateway on core 0; backends and load generators on core 1.
# (Arrays, not functions: a backgrounded function is a subshell, and $! would be its pid.)
if command -v taskset >/dev/null; then core0=(taskset -c 0); core1=(taskset -c 1); else core0=(); core1=(); fi

ensure_load_tools() {
  if ! command -v wrk >/dev/null || ! command -v h2load >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client >/dev/null
  fi
}

# wrk's requests/s, and a percentile (50%, 99%) of its latency distribution in microseconds.
wrk_rps() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
wrk_pct() {
  awk -v p="$2" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000}}' <<<"$1"
}
# h2load's requests/s, and a percentile of the request times in its log, in microseconds.
h2_rps() { awk '/finished in/ {print $4}' <<<"$1" | tr -d ','; }
h2_pct() { awk '{print $3}' "$1" | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; print a[i]}'; }

# One wrk measurement after a warm-up, at $CONNS connections for $DURATION seconds on core 1:
# "req/s<TAB>p50 us<TAB>p99 us<TAB>non-2xx responses".
wrk_measure() { # warm-up-seconds url [lua-script]
  local script=()
  [ -n "${3:-}" ] && script=(-s "$3")
  "${core1[@]}" wrk -t1 -c"$CONNS" -d"$1s" "${script[@]}" "$2" >/dev/null 2>&1
  local out
  out=$("${core1[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$2" 2>&1)
  printf '%s\t%s\t%s\t%s\n' "$(wrk_rps "$out")" "$(wrk_pct "$out" 50%)" "$(wrk_pct "$out" 99%)" "$(grep -c 'Non-2xx' <<<"$out" || true)"
}

# Waits until a URL answers (at most 5 s).
wait_for() { for _ in $(seq 50); do curl -sf -m 1 -o /dev/null "$@" && return 0; sleep 0.1; done; return 1; }

# Peak resident memory of a process, in MiB.
peak_rss_mib() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status"; }

# A temporary directory and the processes a script starts, both gone when it ends, also on
# Ctrl-C: `with_cleanup`, then `cmd & pids+=($!)`.
with_cleanup() {
  TMP=$(mktemp -d)
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"' EXIT
  trap "exit 130" INT TERM
}
