#!/usr/bin/env bash
# Memory per request and per connection, measured on a release rosetta in front of the
# grpc-go peer (its own process, so its memory is not counted): for each body shape, a fresh
# gateway takes one small call, then the big one; the growth of its peak RSS (VmHWM) divided
# by the body's size is the request's cost in multiples of its body. Then idle keep-alive
# connections: RSS per connection held open. Loopback only.
#
#   bench/memory.sh               # every shape at 4 MiB, then 2,000 idle connections
#
# Targets (issue 19): peak <= 8x the body for JSON, GraphQL and XML bodies; an idle
# keep-alive connection <= 8 KiB; idle RSS <= 20 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ulimit -n 65536 2>/dev/null || true  # the idle-connection part holds thousands of sockets
GO_PORT=50055 PORT=18710
PEERS_DIR=${PEERS_DIR:-../shared/peers}
export PEERS_HOME=${PEERS_HOME:-${TMPDIR:-/tmp}/rosetta-peers}
bash "$PEERS_DIR/setup.sh" >/dev/null
with_cleanup
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" stop >/dev/null 2>&1 || true; rm -rf "$TMP"' EXIT
cargo build --release --quiet --bin rosetta
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/rosetta}
PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null

mkdir -p "$TMP/mappings"
cat >"$TMP/gateway.yaml" <<YAML
version: 1
listen: 127.0.0.1:$PORT
schemas:
  include: [$PWD/tests/peers/proto]
limits:
  max_body_size: 64MiB
  max_connections: 20000
backends:
  users:
    protocol: grpc
    address: http://127.0.0.1:$GO_PORT
YAML
cat >"$TMP/mappings/rest.yaml" <<YAML
version: 1
frontend: rest
backend: {use: users}
schemas: [demo/v1/users.proto]
services: [demo.v1.Users]
YAML
cat >"$TMP/mappings/graphql.yaml" <<YAML
version: 1
frontend: graphql
backend: {use: users}
schemas: [demo/v1/users.proto]
services: [demo.v1.Users]
YAML

# The bodies, about 4 MiB each.
python3 - "$TMP" <<'PY'
import json, sys
out = sys.argv[1]
labels = {f"k{i:06d}": "v" for i in range(300_000)}              # 300,000 map keys
tags = [f"t{i:06d}" for i in range(400_000)]                     # many small list items
def write(name, user):
    open(f"{out}/{name}.json", "w").write(json.dumps({"name": "n", **user}))
    # GraphQL has no maps: a map is a list of key/value entries.
    if "labels" in user:
        user = {"labels": [{"key": k, "value": v} for k, v in user["labels"].items()]}
    query = "mutation($u: demo_v1_UserInput) { createUser(user: $u) { id name } }"
    open(f"{out}/{name}.graphql.json", "w").write(json.dumps({"query": query, "variables": {"u": {"name": "n", **user}}}))
write("map", {"labels": labels})
write("list", {"tags": tags})
PY

hwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
start() {
  "$BIN" serve -c "$TMP/gateway.yaml" >"$TMP/serve.log" 2>&1 & pids+=($!)
  GW=$!
  wait_for "http://127.0.0.1:$PORT/v1/users/1" || { cat "$TMP/serve.log" >&2; exit 1; }
}
one() { # label url file
  start
  curl -s -o /dev/null -X POST -H 'content-type: application/json' -d '{"name":"warm"}' "http://127.0.0.1:$PORT/v1/users"
  local before after size status
  before=$(hwm "$GW")
  status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'content-type: application/json' --data-binary "@$3" "$2")
  after=$(hwm "$GW")
  size=$(stat -c %s "$3")
  printf '%s\t%s\t%.1f MiB\t%.1f MiB\t%.1fx\n' "$1" "$status" "$(echo "$size/1048576" | bc -l)" \
    "$(echo "($after-$before)/1024" | bc -l)" "$(echo "($after-$before)*1024/$size" | bc -l)"
  kill "$GW"; wait "$GW" 2>/dev/null || true
}
printf 'body\tstatus\tsize\tpeak growth\tx body\n'
one "REST, 300k map keys" "http://127.0.0.1:$PORT/v1/users" "$TMP/map.json"
one "REST, 400k list items" "http://127.0.0.1:$PORT/v1/users" "$TMP/list.json"
one "GraphQL, 300k map keys" "http://127.0.0.1:$PORT/graphql" "$TMP/map.graphql.json"
one "GraphQL, 400k list items" "http://127.0.0.1:$PORT/graphql" "$TMP/list.graphql.json"

# Idle keep-alive connections: N opened and held (one request each), RSS per connection.
start
idle=$(rss "$GW")
N=${IDLE:-2000}
python3 - "$PORT" "$N" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
held = []
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /v1/users/1 HTTP/1.1\r\nhost: x\r\n\r\n")
    s.recv(65536)
    held.append(s)
open("/dev/stdout", "w").write("ready\n")
time.sleep(6)
PY
py=$!
sleep 5
held=$(rss "$GW")
wait $py || true
printf '\nidle RSS %s MiB; %s idle keep-alive connections: %.1f KiB each\n' "$((idle / 1024))" "$N" \
  "$(echo "($held-$idle)/$N" | bc -l)"
