#!/usr/bin/env bash
# Two rosetta binaries on one route, alternating, so that a change's cost shows above the
# machine's drift: rosetta on core 0, the backend and wrk on core 1, loopback only.
# SCENARIO picks the route:
#   proxy      (default) a `proxy` mapping in front of the peer harness's nginx backend
#   rest-grpc  GET /v1/users/1, REST -> gRPC to the grpc-go peer, no stages
#   staged     the same behind JWT authentication, a rate limit and a cache (a cache hit)
#   soap       GET /orders/1, REST -> SOAP to the fixed-envelope bench backend
#
#   bench/ab.sh OLD_BINARY NEW_BINARY      # 3 rounds of 5 s each (ROUNDS, DURATION)
#
# Build the old one from a worktree, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release --bin rosetta)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[ $# -eq 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
SCENARIO=${SCENARIO:-proxy} GO_PORT=50053
export PEERS_HOME=${PEERS_HOME:-${TMPDIR:-/tmp}/rosetta-peers}
PEERS_DIR=${PEERS_DIR:-../shared/peers}
ensure_load_tools
bash "$PEERS_DIR/setup.sh" >/dev/null
with_cleanup
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$PEERS_DIR/start-all.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
mkdir -p "$TMP/mappings"
printf 'version: 1\n' >"$TMP/gateway.yaml"
USERS="version: 1
frontend: rest
backend: {address: http://127.0.0.1:$GO_PORT}
schemas: [demo/v1/users.proto]
services: [demo.v1.Users]"
export JWT_SECRET=bench-secret-of-at-least-32-bytes-long
case $SCENARIO in
  proxy)
    bash "$PEERS_DIR/start-nginx.sh" start >/dev/null
    pin_group nginx-backend 1
    printf 'version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:8090\nproxy:\n  path: /px\n' >"$TMP/mappings/proxy.yaml"
    URL=http://127.0.0.1:18600/px/v1/users/1 ;;
  rest-grpc | staged)
    PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null
    pin_group grpc-go 1
    printf 'version: 1\nschemas:\n  include: [%s/tests/peers/proto]\nauthenticators:\n  local:\n    jwt:\n      algorithms: [HS256]\n      keys: [{secret: "${JWT_SECRET}"}]\n' "$PWD" >"$TMP/gateway.yaml"
    if [ "$SCENARIO" = staged ]; then
      printf '%s\nauth: {any_of: [local]}\nrate_limits:\n  - {key: consumer, requests: 100000000, per: 1s}\ncache: {ttl: 3600s}\n' "$USERS" >"$TMP/mappings/users.yaml"
      printf 'wrk.headers["authorization"] = "Bearer %s"\n' "$(bench_jwt)" >"$TMP/token.lua"
      LUA=$TMP/token.lua
    else
      printf '%s\n' "$USERS" >"$TMP/mappings/users.yaml"
    fi
    URL=http://127.0.0.1:18600/v1/users/1 ;;
  soap)
    cargo build --release --quiet --example bench_soap_peers
    "${core1[@]}" "${CARGO_TARGET_DIR:-target}/release/examples/bench_soap_peers" backend 18492 bench/soap/get-order-response.xml & pids+=($!)
    export SHOP_BACKEND=127.0.0.1:18492 SHOP_WSDL=$PWD/tests/soap/shop.wsdl
    cp bench/soap/mapping.yaml "$TMP/mappings/soap.yaml"
    URL=http://127.0.0.1:18600/orders/1 ;;
  *) echo "ab.sh: SCENARIO is proxy, rest-grpc, staged or soap" >&2; exit 2 ;;
esac
DURATION=${DURATION:-5} CONNS=32
printf 'binary\treq/s\tp50 us\tp99 us\tnon-2xx\tCPU us/req\n'
for _ in $(seq "${ROUNDS:-3}"); do
  for bin in "$1" "$2"; do
    "${core0[@]}" env RUST_LOG=warn "$bin" serve -c "$TMP/gateway.yaml" --listen 127.0.0.1:18600 & pids+=($!)
    pid=$!
    wait_for ${LUA:+-H "authorization: Bearer $(bench_jwt)"} "$URL"
    printf '%s\t%s\n' "$bin" "$(CPU_PIDS=$pid wrk_measure 2 "$URL" ${LUA:-})"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
