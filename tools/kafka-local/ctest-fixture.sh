#!/usr/bin/env bash
# ctest-fixture.sh start TEST_DIR KAFKA_DIR | stop TEST_DIR — the CTest fixture `real_kafka`
# (cmake/kafka_fixture.cmake registers real_kafka_start / real_kafka_stop with it).
#
# start: fetches the jars into KAFKA_DIR/lib if needed (no-op when present), starts a fresh broker on a free
#   port with its data in TEST_DIR/broker, creates the contract topics and writes `127.0.0.1:PORT` to
#   TEST_DIR/bootstrap. Exit 77 (CTest SKIP_RETURN_CODE) when there is deliberately no real broker:
#   ORDERFLOW_TEST_BROKER=mock, or no jars because Maven Central / java / mvn are unavailable — exit 1
#   instead under ORDERFLOW_REQUIRE_ALL=1 (CI). Exit 1 when the jars are there but the broker does not come
#   up: that is a failure, not a skip.
# stop: stops the broker (SIGTERM, then SIGKILL), removes TEST_DIR/broker and TEST_DIR/bootstrap, keeps the
#   broker's logs in TEST_DIR/last-run-logs.
#
# Tests that need the broker run only when TEST_DIR/bootstrap exists (see orderflow_kafka_variant), because
# CTest (3.25) still runs the dependents of a *skipped* fixture setup; it only withholds them on failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip=77
# ORDERFLOW_REQUIRE_ALL=1 (.ci/run sets it): a real broker that cannot be had is a failure, not a skip — the
# dependents then do not run and count as failed, so a green run always includes the real-Kafka tests.
no_broker() { # no_broker REASON...: skip (77), or fail under ORDERFLOW_REQUIRE_ALL=1
  if [[ ${ORDERFLOW_REQUIRE_ALL:-0} == 1 ]]; then
    echo "FAIL (ORDERFLOW_REQUIRE_ALL=1, a skip is a failure): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit $skip
}

usage() { echo "usage: $(basename "$0") start TEST_DIR KAFKA_DIR | stop TEST_DIR" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
cmd=$1 test_dir=$(realpath -m "$2")
broker_dir=$test_dir/broker
bootstrap_file=$test_dir/bootstrap

case $cmd in
  start)
    [[ $# -eq 3 ]] || usage
    kafka_dir=$(realpath -m "$3")
    mkdir -p "$test_dir"
    rm -f "$bootstrap_file" # a file from an earlier run must never make the dependents think we are up
    if [[ ${ORDERFLOW_TEST_BROKER:-} == mock ]]; then
      no_broker "ORDERFLOW_TEST_BROKER=mock, the real-Kafka tests are skipped"
    fi
    "$here/fetch-jars.sh" "$kafka_dir" # exits 0 with a warning when Maven Central cannot be reached
    if [[ ! -f $kafka_dir/lib/.stamp ]]; then
      no_broker "no Kafka jars in $kafka_dir/lib (Maven Central, java or mvn unavailable: see the warning" \
        "above); run 'make kafka-jars' once online"
    fi
    # A broker left by an interrupted run (its watchdog would get it too, but not before this start).
    "$here/kafka-local.sh" stop --dir "$broker_dir" --wipe >/dev/null 2>&1 || true
    # --timeout 180: a busy 2-core CI box (load 10) has needed 35 s; the ctest TIMEOUT (420 s) bounds it all.
    exec "$here/kafka-local.sh" start --port 0 --fresh --timeout 180 --dir "$broker_dir" --jars "$kafka_dir/lib" \
      --bootstrap-file "$bootstrap_file" --max-lifetime "${ORDERFLOW_KAFKA_MAX_LIFETIME:-7200}"
    ;;
  stop)
    [[ $# -eq 2 ]] || usage
    rm -f "$bootstrap_file"
    [[ -d $broker_dir ]] || { echo "no broker dir $broker_dir: nothing to stop"; exit 0; }
    "$here/kafka-local.sh" stop --dir "$broker_dir"
    # Keep the broker's logs of the last run for post-mortems; the data goes.
    rm -rf "$test_dir/last-run-logs"
    mv "$broker_dir/logs" "$test_dir/last-run-logs" 2>/dev/null || true
    rm -rf "$broker_dir"
    ;;
  *) usage ;;
esac
