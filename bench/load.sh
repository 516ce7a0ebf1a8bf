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

source bench/lib.sh
ensure_load_tools
cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-target}/release/rosetta
mkdir -p "$(dirname "$OUT")"
with_cleanup

"${core1[@]}" "$BIN" demo-backend --listen 127.0.0.1:$BACKEND_PORT >/dev/null & pids+=($!)
"${core0[@]}" env ROSETTA_DEMO_GRPC=127.0.0.1:$BACKEND_PORT RUST_LOG=warn \
  "$BIN" serve -c examples/demo/gateway.yaml --listen 127.0.0.1:$GATEWAY_PORT & pids+=($!)
gateway_pid=$!
wait_for http://127.0.0.1:$GATEWAY_PORT/v1/users/1
sleep 1
idle_rss_kib=$(awk '/VmRSS/ {print $2}' /proc/$gateway_pid/status)

# GetUserRequest{id: 1} as one gRPC frame: no compression, length 2, field 1 = 1.
printf '\x00\x00\x00\x00\x02\x08\x01' > "$TMP/getuser1.grpc"
h2() {
  "${core1[@]}" h2load -t1 "$@" -D "$DURATION" --warm-up-time=1 -d "$TMP/getuser1.grpc" \
    -H 'content-type: application/grpc' -H 'te: trailers' \
    http://127.0.0.1:$BACKEND_PORT/demo.v1.Users/GetUser 2>&1
}
wrkrun() {
  "${core1[@]}" wrk -t1 "$@" -d"${DURATION}s" --latency http://127.0.0.1:$GATEWAY_PORT/v1/users/1 2>&1
}
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
  echo "peak RSS of rosetta serve: $(peak_rss_mib $gateway_pid) MiB"
} | tee "$OUT"
