#!/usr/bin/env bash
# `make bench`: the pipeline benchmark (see bench/README.md). Usage:
#   bench/run-pipeline-bench.sh BUILD_DIR [--orders N] [--reps 3] [--eos-reps 3] [--rate 5000]
#                               [--duration 30] [--partitions 32] [--trickle-rate 200] [--trickle-count 1000]
#                               [--brokers-under-test dev,real] [--X key=value]... [--out FILE]
# --reps 0 skips the backlog stages, --duration 0 the 5,000/s chain, --trickle-count 0 the trickle; the real
# broker needs the jars of `make kafka-jars` (BUILD_DIR/kafka/lib), java and kcat (scripts/install-deps.sh).
# Prints markdown tables on stdout and writes bench/results/latest.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
shift || true
exec python3 "$here/pipeline_bench.py" --build-dir "$build" "$@"
