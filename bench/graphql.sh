#!/usr/bin/env bash
# GraphQL -> unary gRPC, in one run: rosetta vs GraphQL Mesh (v0, one fork) in front of the same
# grpc-go backend, and rosetta's own REST -> gRPC for the same call (issue 4's targets: >= 10x
# Mesh's throughput at a lower p99, and >= half of rosetta's REST -> gRPC throughput).
#
#   bench/graphql.sh                 # 10 s per measurement, 3 repetitions (about 4 minutes)
#   DURATION=3 REPS=1 bench/graphql.sh
#
# Every request is GetUser(id=1) with the same fields selected (Mesh types the Timestamp as an
# object, rosetta as a DateTime). wrk -t1 -c32 on core 1 with the backend; the gateway under
# test on core 0. Mesh gets 20 s of unmeasured warm-up (its JIT needs it), rosetta 3 s.
# Installs and starts the peers with the shared peer harness ($PEERS_DIR, default
# ../shared/peers; state in $PEERS_HOME), binds loopback only, stops everything it started.
# Results: target/bench/graphql-<stamp>/summary.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10} REPS=${REPS:-3} CONNS=${CONNS:-32}
ROSETTA_PORT=18500 GO_PORT=50053 MESH_PORT=4000
start_with_peers bench/graphql.sh "target/bench/graphql-$(date -u +%Y%m%d-%H%M%S)"
PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null
pin_group grpc-go 1
GRPC_BACKEND=127.0.0.1:$GO_PORT MESH_FORKS=1 bash "$PEERS_DIR/start-mesh.sh" start >/dev/null
pin_group mesh 0

# rosetta: the peers' proto, REST (its annotations) and GraphQL in one gateway.
printf 'version: 1\nschemas:\n  include: [%s/tests/peers/proto]\nbackends:\n  users:\n    protocol: grpc\n    address: http://127.0.0.1:%s\n' \
  "$PWD" "$GO_PORT" >"$OUT/config/gateway.yaml"
for frontend in rest graphql; do
  printf 'version: 1\nfrontend: %s\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n' \
    "$frontend" >"$OUT/config/mappings/$frontend.yaml"
done
"${core0[@]}" env RUST_LOG=warn "$BIN" serve -c "$OUT/config/gateway.yaml" --listen 127.0.0.1:$ROSETTA_PORT & pids+=($!)
rosetta_pid=$!
wait_for http://127.0.0.1:$ROSETTA_PORT/v1/users/1
for _ in $(seq 100); do curl -sf -m 1 -o /dev/null http://127.0.0.1:$MESH_PORT/healthcheck && break; sleep 0.3; done

graphql_lua() { # file query
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.body = '$2'
LUA
}
graphql_lua "$OUT/rosetta.lua" '{"query":"query GetUser($id: Int64) { getUser(id: $id) { id name email role tags address { street city country } createdAt } }","variables":{"id":1}}'
graphql_lua "$OUT/mesh.lua" '{"query":"query GetUser($id: BigInt) { demo_v1_Users_GetUser(input: {id: $id}) { id name email role tags address { street city country } created_at { seconds nanos } } }","variables":{"id":1}}'

# Each answers with user 1 and no errors before anything is measured.
check() { # url lua-file
  local body
  body=$(sed -n "s/^wrk.body = '\(.*\)'$/\1/p" "$2")
  local answer
  answer=$(curl -sf -H 'content-type: application/json' -d "$body" "$1")
  grep -q '"name"' <<<"$answer" && ! grep -q '"errors"' <<<"$answer" || { echo "bench/graphql.sh: bad answer from $1: $answer" >&2; exit 1; }
  echo "$answer" >>"$OUT/answers.txt"
}
check http://127.0.0.1:$ROSETTA_PORT/graphql "$OUT/rosetta.lua"
check http://127.0.0.1:$MESH_PORT/graphql "$OUT/mesh.lua"

printf 'rep\ttarget\treq_s\tp50_us\tp99_us\tnon2xx\tcpu_us_per_req\n' >"$OUT/summary.tsv"
for rep in $(seq "$REPS"); do
  printf '%s\tmesh-graphql\t%s\n' "$rep" "$(wrk_measure 20 http://127.0.0.1:$MESH_PORT/graphql "$OUT/mesh.lua")" >>"$OUT/summary.tsv"
  printf '%s\trosetta-graphql\t%s\n' "$rep" "$(wrk_measure 3 http://127.0.0.1:$ROSETTA_PORT/graphql "$OUT/rosetta.lua")" >>"$OUT/summary.tsv"
  printf '%s\trosetta-rest\t%s\n' "$rep" "$(wrk_measure 3 http://127.0.0.1:$ROSETTA_PORT/v1/users/1)" >>"$OUT/summary.tsv"
done
echo "peak RSS of rosetta: $(peak_rss_mib "$rosetta_pid") MiB" >"$OUT/rss.txt"

python3 - "$OUT/summary.tsv" <<'PY' | tee "$OUT/report.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["target"], []).append(r)
med = lambda t, k: statistics.median(float(r[k]) for r in by[t])
print("| target | req/s (median) | p50 ms | p99 ms | runs |")
print("|---|---|---|---|---|")
for t in ["rosetta-graphql", "mesh-graphql", "rosetta-rest"]:
    print(f"| {t} | {med(t, 'req_s'):.0f} | {med(t, 'p50_us')/1000:.2f} | {med(t, 'p99_us')/1000:.2f} | {len(by[t])} |")
print()
print(f"rosetta GraphQL / Mesh: {med('rosetta-graphql','req_s')/med('mesh-graphql','req_s'):.1f}x throughput, "
      f"p99 {med('rosetta-graphql','p99_us')/1000:.2f} ms vs {med('mesh-graphql','p99_us')/1000:.2f} ms")
print(f"rosetta GraphQL / rosetta REST: {med('rosetta-graphql','req_s')/med('rosetta-rest','req_s'):.2f}")
PY
