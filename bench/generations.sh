#!/usr/bin/env bash
# Generation benchmarks (issue 4), Sluice only: the peers have no generations.
#   bench/generations.sh [generations] [overhead]     (default: both)
#   STORE=sqlite (default) | memory;  CONCURRENCY=64 TOKENS=16 DURATION=10 COUNT=500
# generations: simulated provider, zero think time, each generation read to its end by its own SSE client.
# overhead: an OpenAI-wire upstream inside the load tool stamps its first token with its clock; the client
#   reads it once directly and once through Sluice; the difference is what Sluice adds. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SCENARIOS=${*:-generations overhead}
STORE=${STORE:-sqlite}
KEY=sk_bench_admin_key_0123456789abcdef
PORT=18080
UPSTREAM_PORT=18090
STATE=$(mktemp -d /tmp/sluice-bench.XXXXXX)
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-generations.jsonl"
mkdir -p "$ROOT/bench/results"

dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
dotnet build -c Release -nologo -clp:ErrorsOnly bench/Sluice.Load >/dev/null
LOAD="dotnet $ROOT/bench/Sluice.Load/bin/Release/net10.0/Sluice.Load.dll"

start_sluice() {
  rm -rf "$STATE/data"
  dotnet "$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll" --urls "http://127.0.0.1:$PORT" \
    --Sluice:Store "$STORE" --Sluice:DataDir "$STATE/data" --Sluice:AdminKey "$KEY" \
    --Sluice:Providers:bench:Type openai --Sluice:Providers:bench:BaseUrl "http://127.0.0.1:$UPSTREAM_PORT/v1" \
    --Sluice:Providers:bench:ApiKey unused --Logging:LogLevel:Default Warning ${SLUICE_ARGS:-} >"$STATE/sluice.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "sluice did not start; see $STATE/sluice.log" >&2; exit 1
}
stop_sluice() { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; }
trap stop_sluice EXIT

for scenario in $SCENARIOS; do
  start_sluice
  case $scenario in
    generations) args="--concurrency ${CONCURRENCY:-64} --tokens ${TOKENS:-16} --duration ${DURATION:-10}" ;;
    overhead) args="--count ${COUNT:-500} --upstream-port $UPSTREAM_PORT" ;;
  esac
  # Warm-up by the scenario itself (a first short run), then the measured run on the same server.
  $LOAD "$scenario" --target sluice --url "http://127.0.0.1:$PORT" --key "$KEY" --pids "$SLUICE_PID" --warmup 2000 $args >/dev/null
  $LOAD "$scenario" --target sluice --url "http://127.0.0.1:$PORT" --key "$KEY" --pids "$SLUICE_PID" --warmup 0 $args | tee -a "$OUT"
  stop_sluice
done
echo "results: $OUT"
