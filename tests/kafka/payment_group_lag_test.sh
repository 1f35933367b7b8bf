#!/usr/bin/env bash
# payment_group_lag_test.sh BIN_DIR — payment-service on the real Kafka broker, checked with Kafka's own
# tools: 500 orders are produced to a fresh topic, payment-service drains it as group G, then
# ConsumerGroupCommand must list G with lag 0 on that topic (its committed offsets are the real ones).
# Exit: 0 pass; 1 fail; 77 skip (no real broker).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$1
bootstrap_file=${ORDERFLOW_KAFKA_BOOTSTRAP_FILE:-}
if [[ -z $bootstrap_file || ! -s $bootstrap_file ]]; then
  echo "SKIP: no real Kafka broker (fixture real_kafka skipped)"; exit 77
fi
bootstrap=$(<"$bootstrap_file")
nonce=$$-$RANDOM
orders=orders-lag-$nonce payments=payments-lag-$nonce group=payment-service-lag-$nonce
"$here/../../tools/kafka-local/kafka-local.sh" create-topics --bootstrap "$bootstrap" --partitions 6 \
  ${ORDERFLOW_KAFKA_JARS_DIR:+--jars "$ORDERFLOW_KAFKA_JARS_DIR"} \
  "$orders" "$payments" "$group.retry" "$group.dlq" >/dev/null

log=$(mktemp)
cleanup() { [[ -n ${pid:-} ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -f "$log"; }
trap cleanup EXIT

"$bin/order-producer" --brokers "$bootstrap" --topic "$orders" --count 500 --seed 5 --metrics-address 127.0.0.1:0
"$bin/payment-service" --brokers "$bootstrap" --orders-topic "$orders" --payments-topic "$payments" \
  --group-id "$group" --metrics-address 127.0.0.1:0 --commit-interval-ms 200 >"$log" 2>&1 &
pid=$!
"$here/interop_test.sh" --bootstrap "$bootstrap" --check-only --group "$group" --topic "$orders" --wait 90 \
  ${ORDERFLOW_KAFKA_JARS_DIR:+--jars "$ORDERFLOW_KAFKA_JARS_DIR"} || { cat "$log" >&2; exit 1; }
kill -TERM "$pid"; wait "$pid"; rc=$?; pid=""
[[ $rc == 0 ]] || { echo "FAIL: payment-service exited $rc" >&2; cat "$log" >&2; exit 1; }
echo "PASS: group $group has lag 0 on $orders after a drain"
