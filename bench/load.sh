#!/usr/bin/env bash
# Load test of REST -> gRPC through rosetta against the same call made directly to the gRPC
# backend, on loopback. Bounded in time; stops everything it starts.
#
#   bench/load.sh            # 10 s per measurement, 3 repetitions
#   DURATION=3 REPS=1 bench/load.sh
#
# Needs wrk and h2load (Debian: apt-get install wrk nghttp2-client); installs them when missing
# and apt is usable. Results are printed and written to $OUT (default target/bench-load.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
REPS=${REPS:-3}
GATEWAY_PORT=${GATEWAY_PORT:-18480}
BACKEND_PORT=${BACKEND_PORT:-18481}
OUT=${OUT:-target/bench-load.txt}

if ! command -v wrk >/dev/null || ! command -v h2load >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nghttp2-client >/dev/null
fi
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/rosetta
mkdir -p "$(dirname "$OUT")"
TMP=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
trap "exit 130" INT TERM

# Two cores: the gateway on core 0; the backend and the load generator on core 1.
# (Arrays, not functions: a backgrounded function is a subshell, and $! would be its pid.)
if command -v taskset >/dev/null; then core0=(taskset -c 0); core1=(taskset -c 1); else core0=(); core1=(); fi
pin() { shift; "${core1[@]}" "$@"; }

"${core1[@]}" "$BIN" demo-backend --listen 127.0.0.1:$BACKEND_PORT >/dev/null & pids+=($!)
"${core0[@]}" env ROSETTA_DEMO_GRPC=127.0.0.1:$BACKEND_PORT RUST_LOG=warn \
  "$BIN" serve -c examples/demo/gateway.yaml --listen 127.0.0.1:$GATEWAY_PORT & pids+=($!)
gateway_pid=$!
for _ in $(seq 50); do curl -sf -m 1 http://127.0.0.1:$GATEWAY_PORT/v1/users/1 >/dev/null && break; sleep 0.1; done
sleep 1
idle_rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$gateway_pid/status)

# GetUserRequest{id: 1} as one gRPC frame: no compression, length 2, field 1 = 1.
printf '\x00\x00\x00\x00\x02\x08\x01' > "$TMP/getuser1.grpc"
h2() {
  pin 1 h2load -t1 "$@" -D "$DURATION" --warm-up-time=1 -d "$TMP/getuser1.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    http://127.0.0.1:$BACKEND_PORT/demo.v1.Users/GetUser 2>&1
}
wrkrun() {
  pin 1 wrk -t1 "$@" -d"${DURATION}s" --latency http://127.0.0.1:$GATEWAY_PORT/v1/users/1 2>&1
}
# p50/p99 from wrk's latency distribution, in microseconds.
wrk_pct() { awk -v p="$2" '$1==p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); print v} else if (v ~ /ms$/) {sub(/ms/,"",v); print v*1000} else {sub(/s/,"",v); print v*1000000}}' <<<"$1"; }
wrk_rps() { awk '/Requests\/sec/ {print $2}' <<<"$1"; }
h2_rps() { awk '/finished in/ {print $4}' <<<"$1" | tr -d ','; }
# h2load prints the mean and sd of request times; the median needs its per-request log.
h2_pct() { awk '{print $3}' "$1" | sort -n | awk -v p="$2" '{a[NR]=$1} END {i=int(NR*p/100); if (i<1) i=1; print a[i]}'; }

{
  echo "# rosetta load test, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${DURATION}s x $REPS"
  echo "idle RSS of rosetta serve (demo config): $((idle_rss_kib / 1024)) MiB ($idle_rss_kib KiB)"
  echo "scenario | conns | req/s | p50 us | p99 us"
  for rep in $(seq "$REPS"); do
    for conns in 1 4 32; do
      out=$(wrkrun -c$conns)
      echo "rest->grpc GET /v1/users/1 (rep $rep) | $conns | $(wrk_rps "$out") | $(wrk_pct "$out" 50%) | $(wrk_pct "$out" 99%)"
      h2 -c$conns -m1 --log-file="$TMP/h2.log" >/dev/null
      out=$(h2 -c$conns -m1 --log-file="$TMP/h2.log")
      echo "direct grpc GetUser (rep $rep) | $conns | $(h2_rps "$out") | $(h2_pct "$TMP/h2.log" 50) | $(h2_pct "$TMP/h2.log" 99)"
    done
  done
  echo "peak RSS of rosetta serve: $(awk '/VmHWM/ {print int($2/1024)}' /proc/$gateway_pid/status) MiB"
} | tee "$OUT"
