#!/usr/bin/env bash
# `make run`: starts a broker (the embedded dev broker, or the real Kafka with KAFKA=real), the two
# consuming services, injects orders, waits until every valid order has its two notifications, prints
# a summary and stops everything. Logs go to run/logs/ (DEMO_RUN_DIR=DIR: DIR/logs/, and DIR/kafka for
# KAFKA=real; a relative DIR is relative to the repository root).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
BIN="$BUILD_DIR/bin"
KAFKA="${KAFKA:-mock}"
PORT="${DEMO_KAFKA_PORT:-9092}"
ORDERS="${DEMO_ORDERS:-10000}"
INVALID_RATIO="${DEMO_INVALID_RATIO:-0.002}"
PAY_METRICS="${DEMO_PAYMENT_METRICS:-127.0.0.1:9102}"
NOTE_METRICS="${DEMO_NOTIFICATION_METRICS:-127.0.0.1:9103}"
RUN_DIR="${DEMO_RUN_DIR:-run}"
LOGS="$RUN_DIR/logs"
mkdir -p "$LOGS"
pids=()

broker_pid=""
stop_pids() {  # SIGTERM to each, up to 10 s for each to exit, then SIGKILL
  local pid
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "$@"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
}
cleanup() {
  # The services first, then the broker: on SIGTERM they drain, commit and flush, which they cannot do
  # against a broker that is already gone (they then hung until the SIGKILL 10 s later).
  stop_pids "${pids[@]}"
  if [ -n "$broker_pid" ]; then stop_pids "$broker_pid"; fi
  if [ "$KAFKA" = real ]; then tools/kafka-local/kafka-local.sh stop --dir "$RUN_DIR/kafka" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$PORT" "${PAY_METRICS##*:}" "${NOTE_METRICS##*:}"; do
  if port_busy "$p"; then
    echo "run-demo: port $p is already in use (is 'make up' or another demo running? try 'make down')" >&2
    exit 1
  fi
done

# Ends the run at once, with the end of its log, when a process the demo waits on has exited (instead of
# waiting for a timeout that can only come).
alive_or_fail() {  # alive_or_fail PID NAME LOG
  kill -0 "$1" 2>/dev/null && return 0
  echo "run-demo: $2 exited (pid $1); end of $3:" >&2
  tail -n 20 "$3" >&2
  exit 1
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ $SECONDS -ge $deadline ]; then echo "run-demo: timed out after ${secs}s waiting for $what" >&2; return 1; fi
    sleep 0.2
  done
}

echo "== starting the broker ($KAFKA) on localhost:$PORT"
if [ "$KAFKA" = real ]; then
  tools/kafka-local/fetch-jars.sh "$BUILD_DIR/kafka"
  tools/kafka-local/kafka-local.sh start --port "$PORT" --dir "$RUN_DIR/kafka" --jars "$BUILD_DIR/kafka/lib" >"$LOGS/kafka.log" 2>&1 ||
    { cat "$LOGS/kafka.log" >&2; exit 1; }
else
  # Emptied here, not (only) by the background job's redirection: the wait below must not see the ready
  # line of a previous run before the new broker has even started.
  : >"$LOGS/dev-broker.log"
  "$BIN/kafka-dev-broker" --port "$PORT" --partitions 6 >"$LOGS/dev-broker.log" 2>&1 &
  broker_pid=$!
  broker_ready() { alive_or_fail "$broker_pid" kafka-dev-broker "$LOGS/dev-broker.log"; grep -q '^ready ' "$LOGS/dev-broker.log"; }
  wait_for 15 "the dev broker" broker_ready
fi
BROKERS="localhost:$PORT"

echo "== starting payment-service and notification-service (logs in $LOGS/)"
: >"$LOGS/notifications.jsonl"  # the file sink appends; this run's notifications only
"$BIN/payment-service" --brokers "$BROKERS" --metrics-address "$PAY_METRICS" >"$LOGS/payment-service.log" 2>&1 &
pay_pid=$!
pids+=("$pay_pid")
"$BIN/notification-service" --brokers "$BROKERS" --metrics-address "$NOTE_METRICS" \
  --sink "file:$LOGS/notifications.jsonl" >"$LOGS/notification-service.log" 2>&1 &
note_pid=$!
pids+=("$note_pid")
all_alive() {
  if [ -n "$broker_pid" ]; then alive_or_fail "$broker_pid" kafka-dev-broker "$LOGS/dev-broker.log"; fi
  alive_or_fail "$pay_pid" payment-service "$LOGS/payment-service.log"
  alive_or_fail "$note_pid" notification-service "$LOGS/notification-service.log"
}
# Loopback only: an http_proxy / all_proxy of the user's environment must not see these requests.
ready() { all_alive && curl -sf --noproxy '*' --max-time 2 "http://$1/readyz" >/dev/null; }
wait_for 60 "payment-service /readyz" ready "$PAY_METRICS"
wait_for 60 "notification-service /readyz" ready "$NOTE_METRICS"

echo "== injecting $ORDERS orders (invalid ratio $INVALID_RATIO)"
start_ns=$(date +%s%N)
"$BIN/order-producer" --brokers "$BROKERS" --count "$ORDERS" --invalid-ratio "$INVALID_RATIO" --seed 42 \
  --metrics-address 127.0.0.1:0 2>"$LOGS/order-producer.log" | tee "$LOGS/order-producer.summary"
sent=$(sed -n 's/^sent=\([0-9]*\).*/\1/p' "$LOGS/order-producer.summary")

m() { scripts/metrics.py value "http://$1/metrics" "${@:2}"; }
pay_done() {
  local done
  all_alive
  done=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=success)
  done=$((done + $(m "$PAY_METRICS" orderflow_events_processed_total outcome=declined)))
  done=$((done + $(m "$PAY_METRICS" orderflow_events_processed_total outcome=dead_lettered)))
  [ "$done" -ge "$sent" ]
}
notes_done() {
  local payments notes pay_dlq note_dlq
  all_alive
  payments=$(m "$PAY_METRICS" orderflow_messages_produced_total topic=payments)
  notes=$(m "$NOTE_METRICS" orderflow_messages_produced_total topic=notifications)
  pay_dlq=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=dead_lettered)
  note_dlq=$(m "$NOTE_METRICS" orderflow_events_processed_total outcome=dead_lettered)
  [ "$notes" -ge $((2 * payments)) ] && [ "$note_dlq" -ge "$pay_dlq" ]
}
wait_for 120 "every order to be paid" pay_done
wait_for 120 "every notification" notes_done
end_ns=$(date +%s%N)
wall=$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')

authorized=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=success)
declined=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=declined)
pay_dlq=$(m "$PAY_METRICS" orderflow_messages_produced_total topic=payment-service.dlq)
notes=$(m "$NOTE_METRICS" orderflow_messages_produced_total topic=notifications)
note_dlq=$(m "$NOTE_METRICS" orderflow_messages_produced_total topic=notification-service.dlq)
latency=$(scripts/metrics.py quantiles "http://$NOTE_METRICS/metrics" orderflow_end_to_end_latency_seconds)
throughput=$(awk -v n="$sent" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')

echo
echo "== orderflow demo summary"
printf '  %-34s %s\n' "broker" "$KAFKA ($BROKERS)" \
  "orders sent" "$sent" \
  "payments authorized" "$authorized" \
  "payments declined" "$declined" \
  "notifications" "$notes" \
  "dead letters (payment-service)" "$pay_dlq" \
  "dead letters (notification-service)" "$note_dlq" \
  "wall time (inject → last notification)" "${wall}s" \
  "throughput" "${throughput} orders/s" \
  "end-to-end latency" "$latency"
echo

echo "== stopping"
rc=0
for pid in "${pids[@]}"; do
  kill -TERM "$pid" 2>/dev/null || true  # one that already died is reported by wait below
  if ! wait "$pid"; then echo "run-demo: a service exited non-zero (see $LOGS/)" >&2; rc=1; fi
done
pids=()
exit $rc
