#!/usr/bin/env bash
# Hidden costs per request, counted instead of timed (so that a change of a few per cent shows,
# which bench/ab.sh's round-to-round noise hides): the instructions a rosetta binary executes
# (valgrind's callgrind, counters zeroed after a warm-up) and the system calls it makes
# (strace -c -f, attached after the warm-up), per keep-alive request of one scenario:
#   soap    GET /orders/1, REST -> SOAP (bench/soap/mapping.yaml)
#   proxy   POST /px/shop with the SOAP request, through a `proxy` mapping
# to the fixed-envelope backend of examples/bench_soap_peers.rs. As in the other benchmarks, the
# gateway runs on core 0 (so its runtime has one worker), the backend and the client on core 1.
#
#   SCENARIO=soap bench/count.sh BINARY [BINARY ...]     # N=2000 requests per count
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
[ $# -ge 1 ] || { sed -n '2,10p' "$0" >&2; exit 2; }
if ! command -v valgrind >/dev/null || ! command -v strace >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind strace >/dev/null
fi
SCENARIO=${SCENARIO:-soap} N=${N:-2000} PORT=18601 BACKEND=18493
with_cleanup
cargo build --release --quiet --example bench_soap_peers
"${core1[@]}" "${CARGO_TARGET_DIR:-target}/release/examples/bench_soap_peers" backend $BACKEND bench/soap/get-order-response.xml & pids+=($!)
mkdir -p "$TMP/mappings"
printf 'version: 1\n' >"$TMP/gateway.yaml"
case $SCENARIO in
  soap)
    export SHOP_BACKEND=127.0.0.1:$BACKEND SHOP_WSDL=$PWD/tests/soap/shop.wsdl
    cp bench/soap/mapping.yaml "$TMP/mappings/soap.yaml"
    REQUEST=(GET /orders/1 "") ;;
  proxy)
    printf 'version: 1\nfrontend: rest\nbackend:\n  protocol: rest\n  address: http://127.0.0.1:%s\nproxy:\n  path: /px\n' $BACKEND >"$TMP/mappings/proxy.yaml"
    REQUEST=(POST /px/shop bench/soap/get-order-request.xml) ;;
  *) echo "count.sh: SCENARIO is soap or proxy" >&2; exit 2 ;;
esac

# N requests on one keep-alive connection; fails on any answer but 200.
client() { # count
  "${core1[@]}" python3 - "$PORT" "$1" "${REQUEST[@]}" <<'EOF'
import http.client, sys
port, n, method, path, body_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
body = open(body_file, 'rb').read() if body_file else None
headers = {'content-type': 'text/xml; charset=utf-8', 'soapaction': '"GetOrder"'} if body else {}
conn = http.client.HTTPConnection('127.0.0.1', port)
for _ in range(n):
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        sys.exit(f'{method} {path}: {response.status}')
EOF
}

ready() { for _ in $(seq 600); do client 1 2>/dev/null && return 0; sleep 0.1; done; echo "count.sh: the gateway did not answer" >&2; return 1; }

printf 'binary\tinstructions/request\tsyscalls/request\tby kind (top 6)\n'
for bin in "$@"; do
  "${core0[@]}" valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.out" \
    "$bin" serve -c "$TMP/gateway.yaml" --listen 127.0.0.1:$PORT >/dev/null 2>&1 & pid=$!
  ready
  client 200
  callgrind_control -z "$pid" >/dev/null
  client "$N"
  callgrind_control -d "$pid" >/dev/null
  kill "$pid"; wait "$pid" 2>/dev/null || true
  instructions=$(awk '/^summary:/ {s=$2} END {print s}' "$TMP"/cg.out.*)
  rm -f "$TMP"/cg.out*

  "${core0[@]}" env RUST_LOG=warn "$bin" serve -c "$TMP/gateway.yaml" --listen 127.0.0.1:$PORT & pid=$!
  ready
  client 200
  strace -c -f -q -o "$TMP/strace.txt" -p "$pid" & tracer=$!
  sleep 1
  client "$N"
  kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # Rows: % time, seconds, usecs/call, calls, [errors], syscall.
  rows() { awk '$1 ~ /^[0-9.]+$/ && $NF != "total" {print $NF, $4}' "$TMP/strace.txt"; }
  syscalls=$(rows | awk '{s += $2} END {print s}')
  kinds=$(rows | awk -v n="$N" '{printf "%s %.1f\n", $1, $2 / n}' | sort -k2 -nr | head -6 | paste -sd, -)
  printf '%s\t%s\t%s\t%s\n' "$bin" "$(awk -v i="$instructions" -v n="$N" 'BEGIN {printf "%.0f", i / n}')" \
    "$(awk -v s="$syscalls" -v n="$N" 'BEGIN {printf "%.1f", s / n}')" "$kinds"
done
