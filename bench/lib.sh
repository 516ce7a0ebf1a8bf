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
# "req/s<TAB>p50 us<TAB>p99 us<TAB>non-2xx responses<TAB>CPU µs per request" (the CPU time
# the processes in $CPU_PIDS, comma-separated, spent per measured request; empty without).
wrk_measure() { # warm-up-seconds url [lua-script]
  local script=()
  [ -n "${3:-}" ] && script=(-s "$3")
  "${core1[@]}" wrk -t1 -c"$CONNS" -d"$1s" "${script[@]}" "$2" >/dev/null 2>&1
  local before after out cpu=""
  before=$(cpu_ticks "${CPU_PIDS:-}")
  out=$("${core1[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "${script[@]}" "$2" 2>&1)
  after=$(cpu_ticks "${CPU_PIDS:-}")
  local rps
  rps=$(wrk_rps "$out")
  if [ -n "${CPU_PIDS:-}" ]; then
    cpu=$(awk -v d=$((after - before)) -v t="$(getconf CLK_TCK)" -v r="$rps" -v s="$DURATION" \
      'BEGIN { if (r > 0) printf "%.1f", d / t * 1e6 / (r * s) }')
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$rps" "$(wrk_pct "$out" 50%)" "$(wrk_pct "$out" 99%)" "$(grep -c 'Non-2xx' <<<"$out" || true)" "$cpu"
}

# CPU time (user + system, in clock ticks) of a comma-separated list of processes.
cpu_ticks() { local t=0 p; for p in ${1//,/ }; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }

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

# The start of a script that uses the shared peer harness ($PEERS_DIR, default ../shared/peers
# beside the repository; state in $PEERS_HOME): $OUT/config/mappings made, load tools and peers
# installed, rosetta and the SOAP bench peers built in release ($BIN, $TARGET), and on exit the
# processes in `pids` and every peer stopped.
start_with_peers() { # script-name out-dir
  PEERS_DIR=${PEERS_DIR:-../shared/peers}
  export PEERS_HOME=${PEERS_HOME:-${TMPDIR:-/tmp}/rosetta-peers}
  OUT=$2
  mkdir -p "$OUT/config/mappings"
  [ -d "$PEERS_DIR" ] || { echo "$1: no peer harness at $PEERS_DIR (set PEERS_DIR)" >&2; exit 1; }
  ensure_load_tools
  bash "$PEERS_DIR/setup.sh" >"$OUT/setup.log" 2>&1 || { echo "$1: peer setup failed, see $OUT/setup.log" >&2; exit 1; }
  cargo build --release --quiet --bin rosetta --example bench_soap_peers
  TARGET=${CARGO_TARGET_DIR:-target}/release
  BIN=$TARGET/rosetta
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$PEERS_DIR/start-all.sh" stop >/dev/null 2>&1 || true' EXIT
  trap "exit 130" INT TERM
}

# Pins every process of a peer's process group (the peer scripts record its id) to a core.
pin_group() { # peer-name core
  for p in $(pgrep -g "$(cat "$PEERS_HOME/run/$1.pid")"); do taskset -a -p -c "$2" "$p" >/dev/null 2>&1 || true; done
}

# A bearer token: HS256 with $JWT_SECRET, subject "bench", valid for two hours.
bench_jwt() {
  python3 - <<'PY'
import base64, hashlib, hmac, json, os, time
b = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()
head = b(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
body = b(json.dumps({"sub": "bench", "exp": int(time.time()) + 7200}).encode())
sig = b(hmac.new(os.environ["JWT_SECRET"].encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
print(f"{head}.{body}.{sig}")
PY
}
