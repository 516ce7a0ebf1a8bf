#!/usr/bin/env bash
# The overhead of composition (issue 6): a screen that needs two users, fetched by a client
# that calls the two steps itself (two REST -> gRPC requests through rosetta) vs by one
# request to a composed endpoint whose two steps rosetta runs concurrently. Same gateway
# process, same grpc-go backend, one run.
#
#   bench/compose.sh                 # 10 s per measurement, 3 repetitions (about 2 minutes)
#   DURATION=3 REPS=1 bench/compose.sh
#
# wrk -t1 -c32 on core 1 with the backend; rosetta on core 0. Installs and starts the grpc-go
# peer with the shared peer harness ($PEERS_DIR, default ../shared/peers; state in
# $PEERS_HOME), binds loopback only, stops everything it started.
# Results: target/bench/compose-<stamp>/summary.tsv and report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10} REPS=${REPS:-3} CONNS=${CONNS:-32}
ROSETTA_PORT=18500 GO_PORT=50053
start_with_peers bench/compose.sh "target/bench/compose-$(date -u +%Y%m%d-%H%M%S)"

PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null
pin_group grpc-go 1

printf 'version: 1\nschemas:\n  include: [%s/tests/peers/proto]\nbackends:\n  users:\n    protocol: grpc\n    address: http://127.0.0.1:%s\n' \
  "$PWD" "$GO_PORT" >"$OUT/config/gateway.yaml"
printf 'version: 1\nfrontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n' \
  >"$OUT/config/mappings/users.yaml"
cat >"$OUT/config/mappings/pair.yaml" <<'YAML'
version: 1
frontend: rest
compose:
  method: GET
  path: /bff/pair/{a}/{b}
  steps:
    - {name: first, call: Users.GetUser, input: {id: path.a}}
    - {name: second, call: Users.GetUser, input: {id: path.b}}
  response:
    first: steps.first
    second: steps.second
YAML
"${core0[@]}" env RUST_LOG=warn "$BIN" serve -c "$OUT/config/gateway.yaml" --listen 127.0.0.1:$ROSETTA_PORT & pids+=($!)
rosetta_pid=$!
CPU_PIDS=$rosetta_pid
wait_for http://127.0.0.1:$ROSETTA_PORT/v1/users/1
answer=$(curl -sf http://127.0.0.1:$ROSETTA_PORT/bff/pair/1/2)
grep -q '"second":{"id":"2"' <<<"$answer" || { echo "bench/compose.sh: bad answer: $answer" >&2; exit 1; }
echo "$answer" >"$OUT/answer.json"

# The client that calls the steps itself: each connection alternates between the two users.
cat >"$OUT/direct.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/v1/users/" .. (n % 2 + 1))
end
LUA

printf 'rep\ttarget\treq_s\tp50_us\tp99_us\tnon2xx\tcpu_us_per_req\n' >"$OUT/summary.tsv"
for rep in $(seq "$REPS"); do
  printf '%s\tdirect\t%s\n' "$rep" "$(wrk_measure 3 http://127.0.0.1:$ROSETTA_PORT/v1/users/1 "$OUT/direct.lua")" >>"$OUT/summary.tsv"
  printf '%s\tcomposed\t%s\n' "$rep" "$(wrk_measure 3 http://127.0.0.1:$ROSETTA_PORT/bff/pair/1/2)" >>"$OUT/summary.tsv"
done
echo "peak RSS of rosetta: $(peak_rss_mib "$rosetta_pid") MiB" >"$OUT/rss.txt"

python3 - "$OUT/summary.tsv" <<'PY' | tee "$OUT/report.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["target"], []).append(r)
med = lambda t, k: statistics.median(float(r[k]) for r in by[t])
# A screen is two users: two requests for the direct client, one for the composed endpoint.
calls = {"direct": 2, "composed": 1}
print("| client | req/s | screens/s | p50 ms per request | p99 ms per request | runs |")
print("|---|---|---|---|---|---|")
for t in ["direct", "composed"]:
    print(f"| {t} | {med(t, 'req_s'):.0f} | {med(t, 'req_s')/calls[t]:.0f} | {med(t, 'p50_us')/1000:.2f} | {med(t, 'p99_us')/1000:.2f} | {len(by[t])} |")
print()
direct, composed = med("direct", "req_s") / 2, med("composed", "req_s")
print(f"screens/s composed / direct: {composed/direct:.2f}")
print(f"screen latency (p50): composed {med('composed','p50_us')/1000:.2f} ms; direct, two requests one after the other "
      f"{2*med('direct','p50_us')/1000:.2f} ms")
PY
