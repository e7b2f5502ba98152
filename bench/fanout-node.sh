#!/usr/bin/env bash
# Fan-out measured with a client that is not Sluice's own (node's fetch, bench/node/fanout.mjs): server CPU per
# delivered event, delivery latency, nothing lost or twice. Sluice (Release, default SQLite store) and, with
# PEERS=peer-a (the default), peer A on the same client. Loopback only, bounded (about D + 15 s per run).
#   bench/fanout-node.sh                       500 subscribers x 100 events/s for 10 s, then 2,000 x 200
#   RUNS="500:100:10" bench/fanout-node.sh     subscribers:rate:seconds, space-separated
#   SLUICE_ENV="DOTNET_X=1" SLUICE_ARGS="--Sluice:Transport:InlineScheduling true" bench/fanout-node.sh
#   SERVER_DLL=path/to/Sluice.Server.dll       another build (say, the commit before) for a before/after
#   WARM=10                                    seconds of the same fan-out before the measured one
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS_DIR=$(cd "$ROOT/../shared/tools/sseload-peers" 2>/dev/null && pwd || true)
RUNS=${RUNS:-500:100:10 2000:200:10}
PEERS=${PEERS-peer-a}
KEY=sk_bench_admin_key_0123456789abcdef
PORT=18080
STATE=$(mktemp -d /tmp/sluice-fanout.XXXXXX)
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ -z "${SERVER_DLL:-}" ]; then
  dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
  SERVER_DLL="$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll"
fi

SLUICE_PID=
start_sluice() {
  rm -rf "$STATE/data"
  env ${SLUICE_ENV:-} dotnet "$SERVER_DLL" --urls "http://127.0.0.1:$PORT" --Sluice:DataDir "$STATE/data" \
    --Sluice:AdminKey "$KEY" --Logging:LogLevel:Default Warning ${SLUICE_ARGS:-} >"$STATE/sluice.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$PORT/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "sluice did not start; see $STATE/sluice.log" >&2; exit 1
}
stop_sluice() { [ -z "$SLUICE_PID" ] || { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=; }; }
cleanup() { stop_sluice; for p in $PEERS; do "$PEERS_DIR/fastapi/stop.sh" >/dev/null 2>&1 || true; done; [ -z "$PEERS_DIR" ] || "$PEERS_DIR/redis/stop.sh" >/dev/null 2>&1 || true; }
trap cleanup EXIT

for run in $RUNS; do
  IFS=: read -r S R D <<<"$run"
  start_sluice
  # Warm-up: the tiered JIT and dynamic PGO settle on the same path first (a Python peer has no such phase). With
  # 3 s instead of 10 the JIT was still a fifth of the server's CPU in the measured 10 s (perf: libclrjit.so 21 %).
  node bench/node/fanout.mjs "http://127.0.0.1:$PORT" "http://127.0.0.1:$PORT" "$KEY" "$S" "$R" "${WARM:-10}" >/dev/null
  echo "{\"target\":\"sluice\",\"run\":\"$run\",\"result\":$(node bench/node/fanout.mjs "http://127.0.0.1:$PORT" "http://127.0.0.1:$PORT" "$KEY" "$S" "$R" "$D" "$SLUICE_PID")}"
  stop_sluice
  for peer in $PEERS; do
    "$PEERS_DIR/fastapi/start.sh" >/dev/null
    PEER_PID=$(cat /tmp/sseload/fastapi.pid)
    REDIS_PID=$(cat "${SSELOAD_STATE:-/tmp/sseload}/redis/redis.pid" 2>/dev/null || true)
    # server_cpu is uvicorn's (its workers included); store_cpu is peer A's Redis, which does part of its fan-out.
    echo "{\"target\":\"$peer\",\"run\":\"$run\",\"result\":$(API=peer node bench/node/fanout.mjs http://127.0.0.1:8091 http://127.0.0.1:8091 - "$S" "$R" "$D" "$PEER_PID" "$REDIS_PID")}"
    "$PEERS_DIR/fastapi/stop.sh" >/dev/null 2>&1 || true
    "$PEERS_DIR/redis/stop.sh" >/dev/null 2>&1 || true
  done
done
