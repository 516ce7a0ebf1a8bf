#!/usr/bin/env bash
# Two rosetta binaries on the passthrough route (a `proxy` mapping in front of the peer
# harness's nginx backend), alternating, so that a change's cost shows above the machine's
# drift: rosetta on core 0, nginx and wrk on core 1, loopback only.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY      # 3 rounds of 5 s each (ROUNDS, DURATION)
#
# Build the old one from a worktree, e.g.
#   git worktree add /tmp/old <commit> && (cd /tmp/old && CARGO_TARGET_DIR=/tmp/old-target cargo build --release --bin rosetta)
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[ $# -eq 2 ] || { sed -n '2,9p' "$0" >&2; exit 2; }
export PEERS_HOME=${PEERS_HOME:-${TMPDIR:-/tmp}/rosetta-peers}
PEERS_DIR=${PEERS_DIR:-../shared/peers}
ensure_load_tools
bash "$PEERS_DIR/setup.sh" >/dev/null
with_cleanup
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; bash "$PEERS_DIR/start-nginx.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
bash "$PEERS_DIR/start-nginx.sh" start >/dev/null
pin_group nginx-backend 1
mkdir -p "$TMP/mappings"
printf 'version: 1\n' >"$TMP/gateway.yaml"
printf 'version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:8090\nproxy:\n  path: /px\n' >"$TMP/mappings/proxy.yaml"
DURATION=${DURATION:-5} CONNS=32
printf 'binary\treq/s\tp50 us\tp99 us\tnon-2xx\tCPU us/req\n'
for _ in $(seq "${ROUNDS:-3}"); do
  for bin in "$1" "$2"; do
    "${core0[@]}" env RUST_LOG=warn "$bin" serve -c "$TMP/gateway.yaml" --listen 127.0.0.1:18600 & pids+=($!)
    pid=$!
    wait_for http://127.0.0.1:18600/px/v1/users/1
    printf '%s\t%s\n' "$bin" "$(CPU_PIDS=$pid wrk_measure 2 http://127.0.0.1:18600/px/v1/users/1)"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
