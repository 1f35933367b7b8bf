#!/usr/bin/env bash
# `make bench`: the pipeline benchmark (see bench/README.md). Usage:
#   bench/run-pipeline-bench.sh BUILD_DIR [--orders N] [--reps 3] [--eos-reps 3] [--rate 5000]
#                               [--duration 30] [--partitions 32] [--out FILE]
# Prints a markdown table on stdout and writes bench/results/latest.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-build}"
shift || true
exec python3 "$here/pipeline_bench.py" --build-dir "$build" "$@"
