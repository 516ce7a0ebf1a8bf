#!/usr/bin/env bash
# Load test of REST -> SOAP through rosetta, next to the same SOAP call made directly to the
# backend and through a plain HTTP proxy on rosetta's own stack (bench_soap_peers proxy), on
# loopback. The backend answers every call with a fixed GetOrder envelope (bench/soap/).
# Bounded in time; stops everything it starts.
#
#   bench/soap.sh            # 10 s per measurement, 3 repetitions
#   DURATION=3 REPS=1 bench/soap.sh
#
# Results are printed and written to $OUT (default target/bench-soap.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
REPS=${REPS:-3}
GATEWAY_PORT=${GATEWAY_PORT:-18490}
PROXY_PORT=${PROXY_PORT:-18491}
BACKEND_PORT=${BACKEND_PORT:-18492}
OUT=${OUT:-target/bench-soap.txt}

source bench/lib.sh
ensure_load_tools
cargo build --release --quiet --bin rosetta --example bench_soap_peers
TARGET=${CARGO_TARGET_DIR:-target}/release
mkdir -p "$(dirname "$OUT")"
with_cleanup

mkdir -p "$TMP/gw/mappings"
echo "version: 1" > "$TMP/gw/gateway.yaml"
cp bench/soap/mapping.yaml "$TMP/gw/mappings/shop.yaml"

"${core1[@]}" "$TARGET/examples/bench_soap_peers" backend $BACKEND_PORT bench/soap/get-order-response.xml & pids+=($!)
"${core0[@]}" "$TARGET/examples/bench_soap_peers" proxy $PROXY_PORT http://127.0.0.1:$BACKEND_PORT/shop & pids+=($!)
"${core0[@]}" env SHOP_BACKEND=127.0.0.1:$BACKEND_PORT SHOP_WSDL="$PWD/tests/soap/shop.wsdl" RUST_LOG=warn \
  "$TARGET/rosetta" serve -c "$TMP/gw/gateway.yaml" --listen 127.0.0.1:$GATEWAY_PORT & pids+=($!)
gateway_pid=$!
wait_for http://127.0.0.1:$GATEWAY_PORT/orders/1
sleep 1

export BODY_FILE=bench/soap/get-order-request.xml
soap_post() { "${core1[@]}" wrk -t1 "$@" -d"${DURATION}s" --latency -s bench/soap/post-envelope.lua 2>&1; }
rest_get() { "${core1[@]}" wrk -t1 "$@" -d"${DURATION}s" --latency http://127.0.0.1:$GATEWAY_PORT/orders/1 2>&1; }
row() { echo "$1 (rep $2) | $3 | $(wrk_rps "$4") | $(wrk_pct "$4" 50%) | $(wrk_pct "$4" 99%)"; }
{
  echo "# REST -> SOAP load test, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${DURATION}s x $REPS"
  echo "scenario | conns | req/s | p50 us | p99 us"
  for rep in $(seq "$REPS"); do
    for conns in 1 32; do
      soap_post -c$conns -d3s http://127.0.0.1:$PROXY_PORT/shop >/dev/null   # warm-up
      row "direct SOAP POST GetOrder" "$rep" "$conns" "$(soap_post -c$conns http://127.0.0.1:$BACKEND_PORT/shop)"
      row "proxy (same stack) POST GetOrder" "$rep" "$conns" "$(soap_post -c$conns http://127.0.0.1:$PROXY_PORT/shop)"
      rest_get -c$conns -d3s >/dev/null   # warm-up
      row "rosetta REST->SOAP GET /orders/1" "$rep" "$conns" "$(rest_get -c$conns)"
    done
  done
  echo "peak RSS of rosetta serve: $(peak_rss_mib $gateway_pid) MiB"
} | tee "$OUT"
