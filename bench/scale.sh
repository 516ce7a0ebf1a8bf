#!/usr/bin/env bash
# How the load of a big configuration scales: FILES generated `.proto` files with ROUTES
# annotated methods in all, served by one REST and one GraphQL mapping each. Measures
# `rosetta check` (wall time and peak RSS) and `rosetta serve` (time until it answers a
# request, and its RSS then), loopback only.
#
#   bench/scale.sh                   # 100 files / 1,000 routes, then 1,000 / 10,000
#   bench/scale.sh 300 4500          # one size
#
# Targets (issue 19): 100 files / 1,000 routes in <= 1 s and <= 100 MiB; 1,000 files /
# 10,000 routes in <= 5 s and <= 500 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
with_cleanup
cargo build --release --quiet --bin rosetta
BIN=${CARGO_TARGET_DIR:-target}/release/rosetta

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

printf 'files\troutes\tcheck\tcheck peak RSS\tserve ready\tserve RSS\n'
if [ $# -eq 2 ]; then measure "$1" "$2"; else measure 100 1000; measure 1000 10000; fi
