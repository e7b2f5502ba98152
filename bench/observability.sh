#!/usr/bin/env bash
# The cost of observability on the hot path (issue 6): the fan-out scenario with metrics exported (the
# default) and with Sluice:Telemetry:Metrics=false, alternating in one run so both see the same machine.
#   bench/observability.sh [rounds]     (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-2}
for round in $(seq 1 "$ROUNDS"); do
  for metrics in true false; do
    echo "# round $round, metrics $metrics"
    PEERS="" SLUICE_ARGS="--Sluice:Telemetry:Metrics $metrics" bench/run.sh fanout | grep '^{'
  done
done
