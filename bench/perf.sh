#!/usr/bin/env bash
# Every row of issue 18's table in one run, Sluice (Release, default SQLite store) and peer A
# (../shared/tools/sseload-peers/fastapi) side by side, with clients that are not Sluice's own: node's fetch for SSE
# (bench/node/*.mjs) and wrk for publishes (bench/wrk/publish.lua). Server CPU is read from /proc (children included),
# so the figures per unit of work do not depend on whose client shares the two cores. Loopback only, bounded
# (about 6 minutes). Results: one JSON line per row and target, and a table at the end.
#   bench/perf.sh                      all rows
#   ROWS="fanout publish" bench/perf.sh
#   PEERS="" bench/perf.sh             Sluice only
#   FANOUT_RUNS="500:100:10" WARM=10   the fan-out runs (subscribers:rate:seconds) and the seconds of warm-up before each
#   SERVER_DLL=path/Sluice.Server.dll  another build (say, the commit before) for a before/after
#   SLUICE_ENV="DOTNET_X=1" SLUICE_ARGS="--Sluice:Transport:InlineScheduling true"   a knob to try
# Needs: node, wrk, curl, and for peer A Debian's python3-fastapi python3-uvicorn python3-uvloop python3-redis
# python3-hiredis redis-server.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PEERS_DIR=$(cd "$ROOT/../shared/tools/sseload-peers" 2>/dev/null && pwd || true)
ROWS=${ROWS:-fanout publish burst idle first-token}
PEERS=${PEERS-peer-a}
KEY=sk_bench_admin_key_0123456789abcdef
PORT=18080
UPSTREAM_PORT=18099
STATE=$(mktemp -d /tmp/sluice-perf.XXXXXX)
OUT="$ROOT/bench/results/perf-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
mkdir -p "$ROOT/bench/results"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ -z "${SERVER_DLL:-}" ]; then
  dotnet build -c Release -nologo -clp:ErrorsOnly src/Sluice.Server >/dev/null
  SERVER_DLL="$ROOT/src/Sluice.Server/bin/Release/net10.0/Sluice.Server.dll"
fi
URL="http://127.0.0.1:$PORT"
PEER_URL=http://127.0.0.1:8091

SLUICE_PID=
start_sluice() {
  rm -rf "$STATE/data"
  env ${SLUICE_ENV:-} dotnet "$SERVER_DLL" --urls "$URL" --Sluice:DataDir "$STATE/data" --Sluice:AdminKey "$KEY" \
    --Logging:LogLevel:Default Warning ${SLUICE_ARGS:-} "$@" >"$STATE/sluice.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 1 100); do curl -fsS "$URL/health/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "sluice did not start; see $STATE/sluice.log" >&2; exit 1
}
stop_sluice() { [ -z "$SLUICE_PID" ] || { kill -TERM "$SLUICE_PID" 2>/dev/null || true; wait "$SLUICE_PID" 2>/dev/null || true; SLUICE_PID=; }; }
PEER_PID=
start_peer() { "$PEERS_DIR/fastapi/start.sh" >/dev/null; PEER_PID=$(cat /tmp/sseload/fastapi.pid); REDIS_PID=$(cat /tmp/sseload/redis/redis.pid); }
stop_peer() { "$PEERS_DIR/fastapi/stop.sh" >/dev/null 2>&1 || true; "$PEERS_DIR/redis/stop.sh" >/dev/null 2>&1 || true; PEER_PID=; }
cleanup() { stop_sluice; [ -z "$PEERS_DIR" ] || stop_peer; }
trap cleanup EXIT
emit() { echo "{\"row\":\"$1\",\"target\":\"$2\",\"result\":$3}" | tee -a "$OUT"; }
# CPU seconds of a process and its children (uvicorn's workers), as the node clients count them.
cpu() { node --input-type=module -e "import { cpuSeconds } from '$ROOT/bench/node/cpu.mjs'; console.log(cpuSeconds('$1'))"; }

# wrk for $2 seconds against $1 (sluice|peer), after as long a warm-up; prints wrk's line with the server's CPU and
# file bytes written (/proc/PID/io wchar: the WAL and the checkpoints' copies into the database) per publish.
publish_row() {
  local api=$1 url=$2 pid=$3
  wrk -t1 -c32 -d10s -s bench/wrk/publish.lua "$url" -- "$api" "$KEY" >/dev/null
  local c0 w0 c1 w1 line
  c0=$(cpu "$pid"); w0=$(awk '/^wchar/{print $2}' "/proc/$pid/io")
  line=$(wrk -t1 -c32 -d10s -s bench/wrk/publish.lua "$url" -- "$api" "$KEY" | tail -1)
  c1=$(cpu "$pid"); w1=$(awk '/^wchar/{print $2}' "/proc/$pid/io")
  python3 -c "import json,sys; r=json.loads(sys.argv[1]); c=round($c1-$c0,2); r['server_cpu_seconds']=c; r['server_cpu_us_per_publish']=round(c/r['requests']*1e6,1); r['file_bytes_written_per_publish']=round(($w1-$w0)/r['requests']); print(json.dumps(r))" "$line"
}

for row in $ROWS; do
  case $row in
    fanout)
      for run in ${FANOUT_RUNS:-500:100:10 2000:200:10}; do
        IFS=: read -r S R D <<<"$run"
        start_sluice
        # Warm-up on the same path: with 3 s instead of 10 the JIT was still a fifth of the server's CPU in the measured 10 s.
        node bench/node/fanout.mjs "$URL" "$URL" "$KEY" "$S" "$R" "${WARM:-10}" >/dev/null
        emit "fanout-$S-$R" sluice "$(node bench/node/fanout.mjs "$URL" "$URL" "$KEY" "$S" "$R" "$D" "$SLUICE_PID")"
        stop_sluice
        for p in $PEERS; do start_peer; emit "fanout-$S-$R" "$p" "$(API=peer node bench/node/fanout.mjs "$PEER_URL" "$PEER_URL" - "$S" "$R" "$D" "$PEER_PID" "$REDIS_PID")"; stop_peer; done
      done ;;
    publish)
      start_sluice; emit publish sluice "$(publish_row sluice "$URL" "$SLUICE_PID")"; stop_sluice
      for p in $PEERS; do start_peer; emit publish "$p" "$(publish_row peer "$PEER_URL" "$PEER_PID")"; stop_peer; done ;;
    burst)
      start_sluice
      node bench/node/burst.mjs "$URL" "$KEY" 500 1000 >/dev/null # warm-up
      emit burst sluice "$(node bench/node/burst.mjs "$URL" "$KEY" 2000 1000 "$SLUICE_PID")"; stop_sluice
      for p in $PEERS; do start_peer; emit burst "$p" "$(API=peer node bench/node/burst.mjs "$PEER_URL" - 2000 1000 "$PEER_PID")"; stop_peer; done ;;
    idle)
      start_sluice
      node bench/node/idle.mjs "$URL" "$KEY" 1000 100 2 >/dev/null # warm-up: the heap sized for the connection path
      emit idle sluice "$(node bench/node/idle.mjs "$URL" "$KEY" 5000 100 10 "$SLUICE_PID")"; stop_sluice
      for p in $PEERS; do start_peer; emit idle "$p" "$(API=peer node bench/node/idle.mjs "$PEER_URL" - 5000 100 10 "$PEER_PID")"; stop_peer; done ;;
    first-token)
      start_sluice --Sluice:Providers:bench:Type openai --Sluice:Providers:bench:BaseUrl "http://127.0.0.1:$UPSTREAM_PORT/v1" --Sluice:Providers:bench:ApiKey bench
      emit first-token sluice "$(node bench/node/first-token.mjs "$UPSTREAM_PORT" "$URL" "$KEY" 300)"; stop_sluice ;;
  esac
done

echo "results: $OUT"
python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def get(row, target, key):
    for r in rows:
        if r["row"] == row and r["target"] == target:
            return r["result"].get(key)
    return None
print(f"{'figure':64} {'sluice':>10} {'peer-a':>10} {'ratio':>7}")
for label, row, key in [
    ("server CPU us per delivered event, 500 x 100 ev/s", "fanout-500-100", "server_cpu_us_per_delivered"),
    ("server CPU us per delivered event, 2,000 x 200 ev/s", "fanout-2000-200", "server_cpu_us_per_delivered"),
    ("delivery latency p99 ms, 500 x 100", "fanout-500-100", "latency_ms_p99"),
    ("durable publishes/s, wrk -t1 -c32, 64 streams", "publish", "per_second"),
    ("server CPU us per durable publish", "publish", "server_cpu_us_per_publish"),
    ("file bytes written per publish (WAL + checkpoints)", "publish", "file_bytes_written_per_publish"),
    ("burst: 2,000 x 1,000 replayed, p50 ms to full replay", "burst", "replay_ms_p50"),
    ("idle SSE connection, server RSS KiB each (5,000 held)", "idle", "server_kib_per_connection"),
    ("added first-token ms p50 (/v1/chat/completions)", "first-token", "added_ms_p50"),
    ("added first-token ms p99", "first-token", "added_ms_p99"),
]:
    s, p = get(row, "sluice", key), get(row, "peer-a", key)
    ratio = f"{s / p:.2f}" if isinstance(s, (int, float)) and isinstance(p, (int, float)) and p else ""
    print(f"{label:64} {s if s is not None else '':>10} {p if p is not None else '':>10} {ratio:>7}")
PY
