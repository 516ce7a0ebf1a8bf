#!/usr/bin/env bash
# The latency rosetta adds at one connection, next to what crossing cores costs on this machine
# and what nginx adds as a reverse proxy in the same layout (issue 19, target 1):
#
#   floor        a 64-byte loopback TCP round trip (bench/latency/pingpong.c), both ends on one
#                core, then on two cores
#   rest-grpc    GetUser straight to the grpc-go peer (h2load), then GET /v1/users/1 through
#                rosetta (wrk)
#   passthrough  GET straight to nginx's fixed-JSON backend, through the nginx reverse proxy,
#                through a rosetta `proxy` mapping (wrk)
#
# Each pair runs in two layouts: `split` (the gateway on core 0, backend and load generator on
# core 1, as bench/run does) and `one-core` (all three on core 1). One connection, one request
# at a time, so the time is latency, not throughput.
#
#   bench/latency.sh [BINARY]      # DURATION seconds per measurement (default 5), REPS (3)
#
# Needs gcc and the shared peer harness ($PEERS_DIR); binds loopback only; stops what it started.
# Prints a TSV (rep, layout, scenario, target, req/s, p50 us, p99 us) and keeps it in
# target/bench-latency.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
DURATION=${DURATION:-5} REPS=${REPS:-3} CONNS=1 GO_PORT=50053 PING_PORT=18497
PEERS_DIR=${PEERS_DIR:-../shared/peers}
export PEERS_HOME=${PEERS_HOME:-${TMPDIR:-/tmp}/rosetta-peers}
ensure_load_tools
bash "$PEERS_DIR/setup.sh" >/dev/null
if [ -n "${1:-}" ]; then BIN=$1; else
  cargo build --release --quiet --bin rosetta
  BIN=${CARGO_TARGET_DIR:-target}/release/rosetta
fi
with_cleanup
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$PEERS_DIR/start-all.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
gcc -O2 -o "$TMP/pingpong" bench/latency/pingpong.c

PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null
bash "$PEERS_DIR/start-nginx.sh" start >/dev/null
mkdir -p "$TMP/mappings"
printf 'version: 1\nschemas:\n  include: [%s/tests/peers/proto]\n' "$PWD" >"$TMP/gateway.yaml"
printf 'version: 1\nfrontend: rest\nbackend: {address: http://127.0.0.1:%s}\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n' $GO_PORT >"$TMP/mappings/users.yaml"
printf 'version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:8090\nproxy:\n  path: /px\n' >"$TMP/mappings/proxy.yaml"
printf '\0\0\0\0\2\10\1' >"$TMP/get.grpc"

h2_direct() {
  "${core1[@]}" h2load -t1 -c1 -m1 -D 1 -d "$TMP/get.grpc" -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$GO_PORT/demo.v1.Users/GetUser" >/dev/null 2>&1
  local out
  out=$("${core1[@]}" h2load -t1 -c1 -m1 -D "$DURATION" -d "$TMP/get.grpc" --log-file="$TMP/h2.log" \
    -H 'content-type: application/grpc' -H 'te: trailers' "http://127.0.0.1:$GO_PORT/demo.v1.Users/GetUser" 2>&1)
  printf '%s\t%s\t%s\n' "$(h2_rps "$out")" "$(h2_pct "$TMP/h2.log" 50)" "$(h2_pct "$TMP/h2.log" 99)"
}
wrk_row() { wrk_measure 1 "$1" | cut -f1-3; }
ping_row() { # server-core
  taskset -c "$1" "$TMP/pingpong" serve $PING_PORT & local server=$!
  sleep 0.2
  printf '\t%s\n' "$(taskset -c 1 "$TMP/pingpong" call $PING_PORT 50000 | cut -f1,3)"
  wait "$server" 2>/dev/null || true
}

printf 'rep\tlayout\tscenario\ttarget\treq_s\tp50_us\tp99_us\n' | tee target/bench-latency.tsv
for rep in $(seq "$REPS"); do
  for layout in split one-core; do
    gateway_core=0
    [ $layout = one-core ] && gateway_core=1
    pin_group grpc-go 1
    pin_group nginx-backend 1
    pin_group nginx-proxy $gateway_core
    taskset -c $gateway_core env RUST_LOG=warn "$BIN" serve -c "$TMP/gateway.yaml" --listen 127.0.0.1:18600 & pids+=($!)
    rosetta=$!
    wait_for http://127.0.0.1:18600/v1/users/1
    {
      printf '%s\t%s\tfloor\tpingpong\t%s\n' "$rep" $layout "$(ping_row $gateway_core)"
      printf '%s\t%s\trest-grpc\tgrpc-direct\t%s\n' "$rep" $layout "$(h2_direct)"
      printf '%s\t%s\trest-grpc\trosetta\t%s\n' "$rep" $layout "$(wrk_row http://127.0.0.1:18600/v1/users/1)"
      printf '%s\t%s\tpassthrough\thttp-direct\t%s\n' "$rep" $layout "$(wrk_row http://127.0.0.1:8090/v1/users/1)"
      printf '%s\t%s\tpassthrough\tnginx\t%s\n' "$rep" $layout "$(wrk_row http://127.0.0.1:8091/v1/users/1)"
      printf '%s\t%s\tpassthrough\trosetta\t%s\n' "$rep" $layout "$(wrk_row http://127.0.0.1:18600/px/v1/users/1)"
    } | tee -a target/bench-latency.tsv
    kill "$rosetta"; wait "$rosetta" 2>/dev/null || true
  done
done
