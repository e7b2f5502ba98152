#!/usr/bin/env bash
# The cluster's overhead (issue 14): the same client, the same scenarios, against
#   1. one node on its default SQLite store, and
#   2. two nodes on one Redis (appendonly yes, appendfsync everysec, noeviction): publishes go to node 2,
#      subscribers alternate between node 1 and node 2, so half of every event crosses nodes through Redis.
# Scenarios: streams (2,000 streams x 1 subscriber at 20 events/s) and fanout (1 stream x 2,000 subscribers).
# CPU is the server processes' (both nodes) and Redis' (store_cpu_seconds). Loopback only, bounded in time.
#   bench/cluster.sh [scenario ...]    (default: streams fanout)
#   CLIENT=node bench/cluster.sh fanout   the fan-out with node's fetch as the client (bench/node/fanout.mjs), not ours
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SCENARIOS=${*:-streams fanout}
KEY=sk_bench_admin_key_0123456789abcdef
STATE=$(mktemp -d /tmp/sluice-cluster-bench.XXXXXX)
OUT="$ROOT/bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p "$ROOT/bench/results"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
dotnet build -c Release -nologo -clp:ErrorsOnly bench/Sluice.Load >/dev/null
LOAD="dotnet $ROOT/bench/Sluice.Load/bin/Release/net10.0/Sluice.Load.dll"
SERVER="$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll"
PIDS=()

start_node() { # port store [extra...]
  local port=$1 store=$2; shift 2
  dotnet "$SERVER" --urls "http://127.0.0.1:$port" --Sluice:Store "$store" --Sluice:DataDir "$STATE/data-$port" \
    --Sluice:AdminKey "$KEY" --Sluice:NodeId "bench-$port" --Logging:LogLevel:Default Warning "$@" >"$STATE/node-$port.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "node on $port did not start; see $STATE/node-$port.log" >&2; exit 1
}
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
  rm -rf "$STATE"/data-*
}
REDIS_PID=
cleanup() { stop_all; [ -z "$REDIS_PID" ] || kill "$REDIS_PID" 2>/dev/null || true; }
trap cleanup EXIT

args_for() {
  case $1 in
    fanout) echo "--subscribers ${FANOUT_SUBSCRIBERS:-2000} --rate 200 --duration 10" ;;
    streams) echo "--streams ${STREAMS:-2000} --rate 20 --duration 10" ;;
  esac
}

mkdir -p "$STATE/redis"
redis-server --port 16390 --bind 127.0.0.1 --dir "$STATE/redis" --appendonly yes --appendfsync everysec --save "" \
  --maxmemory-policy noeviction >"$STATE/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 50); do redis-cli -p 16390 ping >/dev/null 2>&1 && break; sleep 0.1; done

for scenario in $SCENARIOS; do
  if [ "${CLIENT:-}" = node ]; then
    start_node 18081 sqlite
    node bench/node/fanout.mjs http://127.0.0.1:18081 http://127.0.0.1:18081 "$KEY" 1000 100 10 "${PIDS[0]}" | tee -a "$OUT"
    stop_all
    redis-cli -p 16390 flushall >/dev/null
    start_node 18081 redis --Sluice:Redis 127.0.0.1:16390
    start_node 18082 redis --Sluice:Redis 127.0.0.1:16390
    node bench/node/fanout.mjs http://127.0.0.1:18082 http://127.0.0.1:18081,http://127.0.0.1:18082 "$KEY" 1000 100 10 \
      "${PIDS[0]},${PIDS[1]}" "$REDIS_PID" | tee -a "$OUT"
    stop_all
    continue
  fi
  start_node 18081 sqlite
  $LOAD "$scenario" --target sluice-1-node-sqlite --url http://127.0.0.1:18081 --key "$KEY" --pids "${PIDS[0]}" $(args_for "$scenario") | tee -a "$OUT"
  stop_all

  redis-cli -p 16390 flushall >/dev/null
  start_node 18081 redis --Sluice:Redis 127.0.0.1:16390
  start_node 18082 redis --Sluice:Redis 127.0.0.1:16390
  $LOAD "$scenario" --target sluice-2-nodes-redis --url http://127.0.0.1:18082 --subscribe-url http://127.0.0.1:18081,http://127.0.0.1:18082 \
    --key "$KEY" --pids "${PIDS[0]},${PIDS[1]}" --store-pids "$REDIS_PID" $(args_for "$scenario") | tee -a "$OUT"
  stop_all
done
echo "results: $OUT"
