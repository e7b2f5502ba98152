#!/usr/bin/env bash
# Side-by-side load runs: Sluice (Release, its default sqlite store) and peer A (FastAPI + Redis Streams,
# ../shared/tools/sseload-peers/fastapi), each scenario against both in the same run. Loopback only, bounded.
#   bench/run.sh [scenario ...]      scenarios: idle fanout burst publish streams (default: all)
#   PEERS="peer-a" (default) | "peer-a peer-b" | ""   which peers to run beside Sluice
#   STORE=sqlite (default) | memory | redis   Sluice's store (redis: a redis-server this script starts on port
#   16390 with appendonly yes, appendfsync everysec, noeviction; its CPU is store_cpu_seconds in each line)
# Needs (Debian): python3-fastapi python3-uvicorn python3-uvloop python3-redis python3-hiredis redis-server;
# peer B also needs node + npm. Results: one JSON line per scenario and target, also in bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS_DIR=$(cd "$ROOT/../shared/tools/sseload-peers" 2>/dev/null && pwd || true)
SCENARIOS=${*:-idle fanout burst publish streams}
PEERS=${PEERS-peer-a}
STORE=${STORE:-sqlite}
KEY=sk_bench_admin_key_0123456789abcdef
PORT=18080
STATE=$(mktemp -d /tmp/sluice-bench.XXXXXX)
OUT="$ROOT/bench/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p "$ROOT/bench/results"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
dotnet build -c Release -nologo -clp:ErrorsOnly bench/Sluice.Load >/dev/null
LOAD="dotnet $ROOT/bench/Sluice.Load/bin/Release/net10.0/Sluice.Load.dll"

REDIS_PID=
STORE_ARGS=
if [ "$STORE" = redis ]; then
  mkdir -p "$STATE/redis"
  redis-server --port 16390 --bind 127.0.0.1 --dir "$STATE/redis" --appendonly yes --appendfsync everysec --save "" \
    --maxmemory-policy noeviction >"$STATE/redis.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 50); do redis-cli -p 16390 ping >/dev/null 2>&1 && break; sleep 0.1; done
  STORE_ARGS="--Sluice:Redis 127.0.0.1:16390"
fi

start_sluice() {
  rm -rf "$STATE/data"
  [ -z "$REDIS_PID" ] || redis-cli -p 16390 flushall >/dev/null
  dotnet "$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll" --urls "http://127.0.0.1:$PORT" \
    --Sluice:Store "$STORE" --Sluice:DataDir "$STATE/data" --Sluice:AdminKey "$KEY" $STORE_ARGS \
    --Logging:LogLevel:Default Warning ${SLUICE_ARGS:-} >"$STATE/sluice.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "sluice did not start; see $STATE/sluice.log" >&2; exit 1
}
stop_sluice() { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; }

start_peer() {
  case $1 in
    peer-a) "$PEERS_DIR/fastapi/start.sh" >/dev/null; PEER_URL=http://127.0.0.1:8091; PEER_PID=$(cat /tmp/sseload/fastapi.pid) ;;
    peer-b) "$PEERS_DIR/resumable-stream/start.sh" >/dev/null; PEER_URL=http://127.0.0.1:8092; PEER_PID=$(cat /tmp/sseload/resumable-stream.pid) ;;
  esac
}
stop_peer() {
  case $1 in
    peer-a) "$PEERS_DIR/fastapi/stop.sh" >/dev/null 2>&1 || true ;;
    peer-b) "$PEERS_DIR/resumable-stream/stop.sh" >/dev/null 2>&1 || true ;;
  esac
}
cleanup() { stop_sluice; [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true; for p in $PEERS; do stop_peer "$p"; done; [ -n "$PEERS_DIR" ] && "$PEERS_DIR/redis/stop.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

args_for() {
  case $1 in
    idle) echo "--connections ${IDLE_CONNECTIONS:-10000} --streams 100 --hold 10" ;;
    fanout) echo "--subscribers ${FANOUT_SUBSCRIBERS:-2000} --rate 200 --duration 10" ;;
    burst) echo "--subscribers ${BURST_SUBSCRIBERS:-2000} --history 1000" ;;
    publish) echo "--concurrency 32 --count ${PUBLISH_COUNT:-20000}" ;;
    streams) echo "--streams ${STREAMS:-2000} --rate 20 --duration 10" ;;
  esac
}

for scenario in $SCENARIOS; do
  # A fresh server per scenario and target, so one scenario's leftovers do not weigh on the next.
  start_sluice
  $LOAD "$scenario" --target sluice --url "http://127.0.0.1:$PORT" --key "$KEY" --pids "$SLUICE_PID" ${REDIS_PID:+--store-pids $REDIS_PID} $(args_for "$scenario") | tee -a "$OUT"
  stop_sluice
  for peer in $PEERS; do
    start_peer "$peer"
    $LOAD "$scenario" --target "$peer" --url "$PEER_URL" --pids "$PEER_PID" $(args_for "$scenario") | tee -a "$OUT"
    stop_peer "$peer"
    "$PEERS_DIR/redis/stop.sh" >/dev/null 2>&1 || true
  done
done
echo "results: $OUT"
