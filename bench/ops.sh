#!/usr/bin/env bash
# Operations API benchmark (issue 5): trace search and metrics summary latency over a store holding
# EVENTS trace events (default 1,000,000) and DAYS days (default 30) of hourly rows for 50 tenants x 4
# channels. Seeds a fresh SQLite data directory through Sluice's own stores, starts Sluice (Release) on it,
# then times each query shape COUNT times (default 300), one call at a time. Loopback only, bounded.
#   bench/ops.sh            EVENTS=1000000 DAYS=30 COUNT=300
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
EVENTS=${EVENTS:-1000000}
DAYS=${DAYS:-30}
COUNT=${COUNT:-300}
KEY=sk_bench_admin_key_0123456789abcdef
PORT=18080
STATE=$(mktemp -d /tmp/sluice-bench.XXXXXX)
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ)-ops.jsonl"
mkdir -p "$ROOT/bench/results"

dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
dotnet build -c Release -nologo -clp:ErrorsOnly bench/Sluice.Load >/dev/null
LOAD="dotnet $ROOT/bench/Sluice.Load/bin/Release/net10.0/Sluice.Load.dll"

$LOAD ops-seed --target sluice --url "http://127.0.0.1:$PORT" --warmup 0 --data-dir "$STATE/data" --events "$EVENTS" --days "$DAYS" | tee -a "$OUT"
echo "database: $(du -sh "$STATE/data" | cut -f1)"

dotnet "$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll" --urls "http://127.0.0.1:$PORT" \
  --Sluice:Store sqlite --Sluice:DataDir "$STATE/data" --Sluice:AdminKey "$KEY" \
  --Logging:LogLevel:Default Warning ${SLUICE_ARGS:-} >"$STATE/sluice.log" 2>&1 &
SLUICE_PID=$!
trap 'kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; rm -rf "$STATE"' EXIT
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done

$LOAD ops --target sluice --url "http://127.0.0.1:$PORT" --key "$KEY" --pids "$SLUICE_PID" --warmup 0 \
  --events "$EVENTS" --days "$DAYS" --count "$COUNT" | tee -a "$OUT"
echo "results: $OUT"
