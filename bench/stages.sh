#!/usr/bin/env bash
# The cost of the gateway's stages (issue 8), one run, same gateway process and grpc-go backend:
#   passthrough  GET /v1/users/1, REST -> gRPC, no stages
#   stages       the same route with JWT authentication (HS256), a local rate limit per
#                consumer and a cache hit
#   auth-limit   JWT and the local limit without a cache: every call reaches the backend
# then, on a gateway whose limits live in Redis:
#   passthrough  again, as the baseline of this gateway
#   redis-limit  the same route with a per-client-address limit kept in Redis (one script
#                call per request), and no cache
#
#   bench/stages.sh                  # 10 s per measurement, 3 repetitions (about 3 minutes)
#   DURATION=3 REPS=1 bench/stages.sh
#
# wrk -t1 -c32 on core 1 with the backend (and Redis); rosetta on core 0. Installs and starts
# the grpc-go peer with the shared peer harness ($PEERS_DIR, default ../shared/peers; state in
# $PEERS_HOME) and redis-server from Debian when missing; binds loopback only, stops
# everything it started. Results: target/bench/stages-<stamp>/summary.tsv and report.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

DURATION=${DURATION:-10} REPS=${REPS:-3} CONNS=${CONNS:-32}
ROSETTA_PORT=18510 GO_PORT=50054 REDIS_PORT=16390
start_with_peers bench/stages.sh "target/bench/stages-$(date -u +%Y%m%d-%H%M%S)"
command -v redis-server >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

PORT=$GO_PORT bash "$PEERS_DIR/start-grpc-go.sh" start >/dev/null
pin_group grpc-go 1
"${core1[@]}" redis-server --port $REDIS_PORT --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 & pids+=($!)

export JWT_SECRET=bench-secret-of-at-least-32-bytes-long
TOKEN=$(bench_jwt)
printf 'wrk.headers["authorization"] = "Bearer %s"\n' "$TOKEN" >"$OUT/token.lua"

gateway_yaml() { # extra gateway.yaml text
  printf 'version: 1\nschemas:\n  include: [%s/tests/peers/proto]\nbackends:\n  users:\n    protocol: grpc\n    address: http://127.0.0.1:%s\nauthenticators:\n  local:\n    jwt:\n      algorithms: [HS256]\n      keys: [{secret: "${JWT_SECRET}"}]\n%b' \
    "$PWD" "$GO_PORT" "$1" >"$OUT/config/gateway.yaml"
}
USERS='version: 1\nfrontend: rest\nbackend:\n  use: users\nschemas: [demo/v1/users.proto]\nservices: [demo.v1.Users]\n'
printf "$USERS" >"$OUT/config/mappings/users.yaml"

run_gateway() {
  "${core0[@]}" env RUST_LOG=warn "$BIN" serve -c "$OUT/config/gateway.yaml" --listen 127.0.0.1:$ROSETTA_PORT & pids+=($!)
  rosetta_pid=$!
  CPU_PIDS=$rosetta_pid
  wait_for http://127.0.0.1:$ROSETTA_PORT/v1/users/1
}

printf 'rep\ttarget\treq_s\tp50_us\tp99_us\tnon2xx\tcpu_us_per_req\n' >"$OUT/summary.tsv"
measure() { # label path [lua]
  for rep in $(seq "$REPS"); do
    printf '%s\t%s\t%s\n' "$rep" "$1" "$(wrk_measure 3 "http://127.0.0.1:$ROSETTA_PORT$2" "${3:-}")" >>"$OUT/summary.tsv"
  done
}

# Local: passthrough vs JWT + local rate limit + cache hit.
gateway_yaml ''
printf "${USERS}options: {path_prefix: /staged}\nauth: {any_of: [local]}\nrate_limits:\n  - {key: consumer, requests: 100000000, per: 1s}\ncache: {ttl: 600s}\n" \
  >"$OUT/config/mappings/staged.yaml"
printf "${USERS}options: {path_prefix: /authed}\nauth: {any_of: [local]}\nrate_limits:\n  - {key: consumer, requests: 100000000, per: 1s}\n" \
  >"$OUT/config/mappings/authed.yaml"
run_gateway
curl -sf -H "authorization: Bearer $TOKEN" -D "$OUT/staged.headers" -o /dev/null http://127.0.0.1:$ROSETTA_PORT/staged/v1/users/1
curl -sf -H "authorization: Bearer $TOKEN" -D "$OUT/staged.headers" -o /dev/null http://127.0.0.1:$ROSETTA_PORT/staged/v1/users/1
grep -qi '^x-cache-status: HIT' "$OUT/staged.headers" || { echo "bench/stages.sh: the staged route does not hit the cache" >&2; exit 1; }
measure passthrough /v1/users/1
measure stages /staged/v1/users/1 "$OUT/token.lua"
measure auth-limit /authed/v1/users/1 "$OUT/token.lua"
echo "peak RSS of rosetta (local): $(peak_rss_mib "$rosetta_pid") MiB" >"$OUT/rss.txt"
kill "$rosetta_pid"; wait "$rosetta_pid" 2>/dev/null || true

# Redis: passthrough vs a per-address limit kept in Redis.
rm "$OUT/config/mappings/authed.yaml"
gateway_yaml "rate_limiting: {redis: \"redis://127.0.0.1:$REDIS_PORT\"}\n"
printf "${USERS}options: {path_prefix: /limited}\nrate_limits:\n  - {key: ip, requests: 100000000, per: 1s}\n" \
  >"$OUT/config/mappings/staged.yaml"
run_gateway
curl -sf -D "$OUT/limited.headers" -o /dev/null http://127.0.0.1:$ROSETTA_PORT/limited/v1/users/1
grep -qi '^ratelimit:' "$OUT/limited.headers" || { echo "bench/stages.sh: the Redis limit does not answer" >&2; exit 1; }
measure passthrough-redis-gw /v1/users/1
measure redis-limit /limited/v1/users/1
echo "peak RSS of rosetta (redis): $(peak_rss_mib "$rosetta_pid") MiB" >>"$OUT/rss.txt"

python3 - "$OUT/summary.tsv" <<'PY' | tee "$OUT/report.md"
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows:
    by.setdefault(r["target"], []).append(r)
med = lambda t, k: statistics.median(float(r[k]) for r in by[t])
print("| route | req/s | p50 ms | p99 ms | non-2xx | runs |")
print("|---|---|---|---|---|---|")
for t in by:
    print(f"| {t} | {med(t, 'req_s'):.0f} | {med(t, 'p50_us')/1000:.2f} | {med(t, 'p99_us')/1000:.2f} | {sum(int(r['non2xx']) for r in by[t])} | {len(by[t])} |")
print()
print(f"stages / passthrough: {med('stages','req_s')/med('passthrough','req_s'):.2f}x (target >= 0.8x)")
print(f"JWT + local limit, no cache / passthrough: {med('auth-limit','req_s')/med('passthrough','req_s'):.2f}x")
print(f"Redis-mode limit / passthrough: {med('redis-limit','req_s')/med('passthrough-redis-gw','req_s'):.2f}x")
PY
