#!/usr/bin/env bash
# How the load of a big configuration scales: FILES generated `.proto` files with ROUTES
# annotated methods in all, served by one REST and one GraphQL mapping each. Measures
# `rosetta check` (wall time and peak RSS) and `rosetta serve` (time until it answers a
# request, and its RSS then), loopback only.
#
#   bench/scale.sh                   # 100 files / 1,000 routes, then 1,000 / 10,000
#   bench/scale.sh 300 4500          # one size
#
# Then, for each size, RELOADS reloads (SIGHUP, each after the one before has taken, a second
# apart) while wrk sends GraphQL `{ __typename }` queries on 8 connections, gateway on core 0
# and wrk on core 1: every request must be answered with 200 (no socket error, wrk's 2 s
# timeout included, no other status).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
ensure_load_tools
with_cleanup
# BIN=path/to/rosetta measures another build (an old one, for an A/B).
if [ -z "${BIN:-}" ]; then
  cargo build --release --quiet --bin rosetta
  BIN=${CARGO_TARGET_DIR:-target}/release/rosetta
fi

# Writes $1 protos with $2 methods in all (each a GET with a path variable and a message of
# its own) and the mappings over them into $3.
generate() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, sys
files, routes, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
per = max(1, routes // files)
os.makedirs(f"{out}/schemas/gen", exist_ok=True)
os.makedirs(f"{out}/mappings", exist_ok=True)
services = []
for f in range(files):
    pkg = f"gen.p{f}.v1"
    lines = ['syntax = "proto3";', f"package {pkg};", 'import "google/api/annotations.proto";']
    lines.append(f"service S{f} {{")
    for m in range(per):
        lines.append(f"  rpc GetP{f}T{m}(Get{m}Request) returns (Thing{m}) {{")
        lines.append(f'    option (google.api.http) = {{ get: "/v1/p{f}/things{m}/{{id}}" }};')
        lines.append("  }")
    lines.append("}")
    for m in range(per):
        lines.append(f"message Get{m}Request {{ string id = 1; int32 page = 2; }}")
        lines.append(f"message Thing{m} {{ string id = 1; string name = 2; repeated string tags = 3; "
                     f"map<string, string> labels = 4; int64 size = 5; }}")
    open(f"{out}/schemas/gen/p{f}.proto", "w").write("\n".join(lines) + "\n")
    services.append(f"{pkg}.S{f}")
schemas = ", ".join(f"gen/p{f}.proto" for f in range(files))
names = ", ".join(services)
open(f"{out}/gateway.yaml", "w").write(
    "version: 1\nlisten: 127.0.0.1:18700\nbackends:\n  gen:\n    protocol: grpc\n"
    "    address: http://127.0.0.1:9\n")
for frontend in ["rest", "graphql"]:
    open(f"{out}/mappings/{frontend}.yaml", "w").write(
        f"version: 1\nfrontend: {frontend}\nbackend:\n  use: gen\n"
        f"schemas: [{schemas}]\nservices: [{names}]\n")
PY
}

measure() { # files routes
  local dir=$TMP/s$1
  generate "$1" "$2" "$dir"
  local check
  /usr/bin/time -o "$dir/time" -f '%e %M' "$BIN" check -c "$dir/gateway.yaml" >/dev/null 2>"$dir/check.err" || true
  check=$(tail -1 "$dir/time")
  grep -q error "$dir/check.err" && { cat "$dir/check.err" >&2; exit 1; }
  local start end rss
  start=$(date +%s.%N)
  "$BIN" serve -c "$dir/gateway.yaml" >/dev/null 2>&1 & pids+=($!)
  local pid=$!
  for _ in $(seq 600); do curl -s -o /dev/null -m 1 http://127.0.0.1:18700/ && break; sleep 0.05; done
  end=$(date +%s.%N)
  rss=$(awk '/VmRSS/ {print int($2/1024)}' "/proc/$pid/status")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%s\t%s\t%s s\t%s MiB\t%.2f s\t%s MiB\n' "$1" "$2" \
    "${check% *}" "$(( ${check#* } / 1024 ))" "$(echo "$end - $start" | bc)" "$rss"
}

# Reloads the set of `measure $1` under load.
reload_under_load() { # files
  local dir=$TMP/s$1 reloads=${RELOADS:-5}
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = "{\\"query\\": \\"{ __typename }\\"}"\n' >"$TMP/typename.lua"
  "${core0[@]}" env RUST_LOG=warn,rosetta=info,rosetta::access=off "$BIN" serve -c "$dir/gateway.yaml" >/dev/null 2>"$dir/serve.log" & pids+=($!)
  local pid=$!
  # Listening is logged once SIGHUP is caught (its default action would end the process).
  for _ in $(seq 600); do grep -q 'rosetta is listening' "$dir/serve.log" && break; sleep 0.1; done
  grep -q 'rosetta is listening' "$dir/serve.log" || { echo "scale.sh: serve did not start" >&2; return 1; }
  "${core1[@]}" wrk -t1 -c8 -d300s --latency -s "$TMP/typename.lua" http://127.0.0.1:18700/graphql >"$dir/wrk.txt" 2>&1 &
  local load=$! i
  sleep 1
  for i in $(seq "$reloads"); do
    kill -HUP "$pid"
    for _ in $(seq 600); do [ "$(grep -c reloaded "$dir/serve.log")" -ge "$i" ] && break; sleep 0.1; done
    sleep 1
  done
  kill -INT "$load"; wait "$load" || true
  local requests errors non2xx took
  requests=$(awk '/requests in/ {print $1}' "$dir/wrk.txt")
  errors=$(awk '/Socket errors/ {print $0}' "$dir/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $NF}' "$dir/wrk.txt")
  took=$(grep -c 'reloaded' "$dir/serve.log" || true)
  printf '%s\t%s\t%s of %s\t%s\t%s\t%s us\t%s\n' "$1" "$requests" "$took" "$reloads" "${non2xx:-0}" \
    "${errors:-none}" "$(wrk_pct "$(cat "$dir/wrk.txt")" 99%)" "$(awk '$1 == "Latency" {print $4}' "$dir/wrk.txt")"
  [ "$took" = "$reloads" ] && [ -z "$non2xx" ] && [ -z "$errors" ]
}

sizes=("$@")
[ $# -eq 2 ] || sizes=(100 1000 1000 10000)
printf 'files\troutes\tcheck\tcheck peak RSS\tserve ready\tserve RSS\n'
for ((i = 0; i < ${#sizes[@]}; i += 2)); do measure "${sizes[i]}" "${sizes[i + 1]}"; done
printf '\nfiles\trequests\treloads taken\tnon-2xx\tsocket errors\tp99\tmax\n'
for ((i = 0; i < ${#sizes[@]}; i += 2)); do reload_under_load "${sizes[i]}"; done
