#!/usr/bin/env bash
# `make run`: starts a broker (the embedded dev broker, or the real Kafka with KAFKA=real) and the two
# consuming services, then two phases, each watched live (sent / paid / notified / dead-lettered a second):
#   1. steady: DEMO_ORDERS orders (default DEMO_RATE × 5) at DEMO_RATE orders/s (default 2000, what a
#      2-core machine sustains with room to spare) — the end-to-end latency of the summary is this phase's;
#   2. backlog: DEMO_BURST orders (default 30000; 0 skips it) injected at once — how fast a backlog drains.
# Alongside, analytics-service aggregates both topics in 2 s windows and writes the raw events and the
# closed windows to a local ClickHouse (tools/clickhouse-local, a fresh data dir each run, on a free port
# unless DEMO_CLICKHOUSE_PORT is set); DEMO_ANALYTICS=0, or no clickhouse-server installed, leaves it out.
# Prints a summary and where to look next, and stops everything. Logs go to run/logs/ (DEMO_RUN_DIR=DIR:
# DIR/logs/, DIR/clickhouse, and DIR/kafka for KAFKA=real; a relative DIR is relative to the repository root).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
BIN="$BUILD_DIR/bin"
KAFKA="${KAFKA:-mock}"
PORT="${DEMO_KAFKA_PORT:-9092}"
RATE="${DEMO_RATE:-2000}"
ORDERS="${DEMO_ORDERS:-$((RATE * 5))}"
BURST="${DEMO_BURST:-30000}"
INVALID_RATIO="${DEMO_INVALID_RATIO:-0.002}"
PROD_METRICS="${DEMO_PRODUCER_METRICS:-127.0.0.1:9101}"
PAY_METRICS="${DEMO_PAYMENT_METRICS:-127.0.0.1:9102}"
NOTE_METRICS="${DEMO_NOTIFICATION_METRICS:-127.0.0.1:9103}"
ANALYTICS_METRICS="${DEMO_ANALYTICS_METRICS:-127.0.0.1:9105}"
CH_PORT="${DEMO_CLICKHOUSE_PORT:-0}"
ANALYTICS="${DEMO_ANALYTICS:-1}"
for v in RATE ORDERS BURST; do
  if ! [[ "${!v}" =~ ^[0-9]+$ ]] || { [ "$v" != BURST ] && [ "${!v}" -eq 0 ]; }; then
    echo "run-demo: DEMO_$v must be a positive whole number${v/#BURST/ (0 skips the backlog phase)}, got '${!v}'" >&2
    exit 2
  fi
done
RUN_DIR="${DEMO_RUN_DIR:-run}"
CH_DIR="$RUN_DIR/clickhouse"
if [ "$ANALYTICS" != 0 ] && ! command -v clickhouse-server >/dev/null 2>&1 && [ ! -x /usr/sbin/clickhouse-server ] &&
  ! command -v clickhouse >/dev/null 2>&1 && [ -z "${CLICKHOUSE_SERVER:-}" ]; then
  echo "run-demo: no clickhouse-server installed (make deps-run installs it): the analytics step is left out" >&2
  ANALYTICS=0
fi
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
  if [ "$ANALYTICS" != 0 ]; then tools/clickhouse-local/clickhouse-local.sh stop --dir "$CH_DIR" >/dev/null 2>&1 || true; fi
  if [ "$KAFKA" = real ]; then tools/kafka-local/kafka-local.sh stop --dir "$RUN_DIR/kafka" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
demo_ports=("$PORT" "${PROD_METRICS##*:}" "${PAY_METRICS##*:}" "${NOTE_METRICS##*:}")
if [ "$ANALYTICS" != 0 ]; then
  demo_ports+=("${ANALYTICS_METRICS##*:}")
  [ "$CH_PORT" = 0 ] || demo_ports+=("$CH_PORT")
fi
for p in "${demo_ports[@]}"; do
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
  "$BIN/kafka-dev-broker" --port "$PORT" --partitions 6 --topic order-stats --topic analytics-service.dlq \
    >"$LOGS/dev-broker.log" 2>&1 &
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

ch() { tools/clickhouse-local/clickhouse-local.sh query --dir "$CH_DIR" "$@"; }
if [ "$ANALYTICS" != 0 ]; then
  echo "== starting ClickHouse ($CH_DIR) and analytics-service"
  # --max-lifetime: should this script be killed without its EXIT trap, the server still goes away.
  tools/clickhouse-local/clickhouse-local.sh start --fresh --port "$CH_PORT" --dir "$CH_DIR" --max-lifetime 3600 \
    >"$LOGS/clickhouse.log" 2>&1 || { cat "$LOGS/clickhouse.log" >&2; exit 1; }
  CH_ADDR=$(cat "$CH_DIR/http")
  ch --file deploy/clickhouse/schema.sql >>"$LOGS/clickhouse.log" 2>&1 || { cat "$LOGS/clickhouse.log" >&2; exit 1; }
  if [ "$KAFKA" = real ]; then
    tools/kafka-local/kafka-local.sh create-topics --port "$PORT" --jars "$BUILD_DIR/kafka/lib" order-stats \
      analytics-service.dlq >>"$LOGS/kafka.log" 2>&1 || { tail -n 20 "$LOGS/kafka.log" >&2; exit 1; }
  fi
  # 2 s windows that close 1.5 s after their end (lateness 0.5 s, idle partitions after 1 s), so that the
  # windows of a demo of a few seconds are closed by its end.
  "$BIN/analytics-service" --brokers "$BROKERS" --metrics-address "$ANALYTICS_METRICS" --window-ms 2000 \
    --allowed-lateness-ms 500 --idle-timeout-ms 1000 --clickhouse-url "http://$CH_ADDR" \
    >"$LOGS/analytics-service.log" 2>&1 &
  analytics_pid=$!
  pids+=("$analytics_pid")
  analytics_ready() { alive_or_fail "$analytics_pid" analytics-service "$LOGS/analytics-service.log"; ready "$ANALYTICS_METRICS"; }
  wait_for 60 "analytics-service /readyz" analytics_ready
fi

echo "   while it runs: http://$PROD_METRICS/metrics (order-producer), http://$PAY_METRICS/metrics (payment-service),"
echo "   http://$NOTE_METRICS/metrics (notification-service)"

m() { scripts/metrics.py value "http://$1/metrics" "${@:2}"; }
# inject_and_watch PHASE COUNT RATE: order-producer (COUNT orders at RATE/s, 0 = at once) under metrics.py
# watch, which prints the live line and returns once every order of the phase is paid or dead-lettered and
# notified. Sets phase_wall (seconds, producer start → last notification).
inject_and_watch() {
  local phase=$1 count=$2 rate=$3 rc=0
  scripts/metrics.py watch --producer "http://$PROD_METRICS/metrics" --payment "http://$PAY_METRICS/metrics" \
    --notification "http://$NOTE_METRICS/metrics" --orders "$count" --timeout 120 \
    --pid "$pay_pid" --pid "$note_pid" --elapsed-file "$LOGS/phase-$phase.seconds" \
    --stdout "$LOGS/order-producer-$phase.summary" --stderr "$LOGS/order-producer-$phase.log" -- \
    "$BIN/order-producer" --brokers "$BROKERS" --count "$count" --rate "$rate" --invalid-ratio "$INVALID_RATIO" \
    --seed $((41 + phase)) --metrics-address "$PROD_METRICS" || rc=$?
  if [ "$rc" -eq 3 ]; then all_alive; fi
  if [ "$rc" -eq 4 ]; then
    echo "run-demo: order-producer failed (phase $phase); end of $LOGS/order-producer-$phase.log:" >&2
    tail -n 20 "$LOGS/order-producer-$phase.log" >&2
    exit 1
  fi
  if [ "$rc" -ne 0 ]; then echo "run-demo: phase $phase did not complete (see $LOGS/)" >&2; exit 1; fi
  cat "$LOGS/order-producer-$phase.summary"
  phase_wall=$(cat "$LOGS/phase-$phase.seconds")
}

echo "== phase 1, steady: $ORDERS orders at $RATE orders/s (invalid ratio $INVALID_RATIO)"
inject_and_watch 1 "$ORDERS" "$RATE"
steady_wall=$phase_wall
# The end-to-end latency at the steady rate: read before the backlog phase adds its queueing to it.
latency=$(scripts/metrics.py quantiles "http://$NOTE_METRICS/metrics" orderflow_end_to_end_latency_seconds)
sent=$ORDERS
if [ "$BURST" -gt 0 ]; then
  echo "== phase 2, backlog: $BURST orders injected at once"
  inject_and_watch 2 "$BURST" 0
  burst_wall=$phase_wall
  sent=$((ORDERS + BURST))
fi

authorized=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=success)
if [ "$ANALYTICS" != 0 ]; then
  # Done when analytics-service read every order and payment, closed every window and ClickHouse holds
  # every row (nothing buffered, every INSERT acknowledged).
  echo "== analytics: waiting for the last windows to close and for ClickHouse to hold every row"
  valid_orders=$(m "$PAY_METRICS" orderflow_messages_consumed_total topic=orders)
  analytics_done() {
    alive_or_fail "$analytics_pid" analytics-service "$LOGS/analytics-service.log"
    local a=$ANALYTICS_METRICS
    [ "$(m "$a" orderflow_messages_consumed_total topic=orders)" -ge "$valid_orders" ] &&
      [ "$(m "$a" orderflow_messages_consumed_total topic=payments)" -ge "$(m "$PAY_METRICS" orderflow_messages_produced_total topic=payments)" ] &&
      [ "$(m "$a" orderflow_analytics_open_windows)" = 0 ] &&
      [ "$(m "$a" orderflow_analytics_clickhouse_buffered_rows)" = 0 ]
  }
  wait_for 60 "analytics-service to close its windows" analytics_done
fi
declined=$(m "$PAY_METRICS" orderflow_events_processed_total outcome=declined)
pay_dlq=$(m "$PAY_METRICS" orderflow_messages_produced_total topic=payment-service.dlq)
notes=$(m "$NOTE_METRICS" orderflow_messages_produced_total topic=notifications)
note_dlq=$(m "$NOTE_METRICS" orderflow_messages_produced_total topic=notification-service.dlq)

echo
echo "== orderflow demo summary"
printf '  %-36s %s\n' "broker" "$KAFKA ($BROKERS)" \
  "orders sent" "$sent" \
  "payments authorized" "$authorized" \
  "payments declined" "$declined" \
  "notifications" "$notes" \
  "dead letters (payment-service)" "$pay_dlq" \
  "dead letters (notification-service)" "$note_dlq" \
  "steady phase" "$ORDERS orders at $RATE orders/s in ${steady_wall}s (producer start → last notification)" \
  "end-to-end latency at $RATE orders/s" "$latency (order occurred_at → notification)"
if [ "$BURST" -gt 0 ]; then
  printf '  %-36s %s\n' "backlog drain" "$BURST orders in ${burst_wall}s = $(awk -v n="$BURST" -v w="$burst_wall" \
    'BEGIN { printf "%.0f", n / w }') orders/s (injected at once; producer start → last notification)"
fi
if [ "$ANALYTICS" != 0 ]; then
  # De-duplicated counts (README "Analytics"): uniqExact of the event id, FINAL for the windows.
  example="SELECT count() AS payments, round(100 * countIf(status = 'AUTHORIZED') / count(), 1) AS authorised_pct FROM orderflow.payments FINAL"
  printf '  %-36s %s\n' "analytics windows closed" "$(m "$ANALYTICS_METRICS" orderflow_analytics_windows_closed_total) (2 s windows, topic order-stats)" \
    "rows in ClickHouse" "orders $(ch 'SELECT uniqExact(event_id) FROM orderflow.orders'), payments $(ch 'SELECT uniqExact(event_id) FROM orderflow.payments'), order_stats $(ch 'SELECT count() FROM orderflow.order_stats FINAL') (http://$CH_ADDR)" \
    "example query" "$example" \
    "its result" "$(ch "$example FORMAT TSKV" | tr '\t' ' ')"
fi
echo
echo "== where to look next"
printf '  %s\n' \
  "logs:          $LOGS/ (payment-service.log, notification-service.log, notifications.jsonl, …)" \
  "keep it running, each service in its own terminal (README: Running each service by hand):" \
  "  make up      # the dev broker on localhost:9092, in the background ('make down' stops it)" \
  "  $BIN/payment-service --brokers localhost:9092        # metrics: http://127.0.0.1:9102/metrics" \
  "  $BIN/notification-service --brokers localhost:9092 --sink log   # metrics: http://127.0.0.1:9103/metrics" \
  "  $BIN/order-producer --brokers localhost:9092 --count 1000 --rate 200" \
  "dead letters:  $BIN/dlq-tool count --topic payment-service.dlq" \
  "               $BIN/dlq-tool list --topic payment-service.dlq --limit 3" \
  "a topic:       kcat -b localhost:9092 -C -t payments -o -3 -e   (README: Inspecting topics)" \
  "analytics:     README \"Analytics\" has queries to paste; a ClickHouse of your own:" \
  "               tools/clickhouse-local/clickhouse-local.sh start && tools/clickhouse-local/clickhouse-local.sh query --file deploy/clickhouse/schema.sql"
echo

echo "== stopping"
rc=0
for pid in "${pids[@]}"; do
  kill -TERM "$pid" 2>/dev/null || true  # one that already died is reported by wait below
  if ! wait "$pid"; then echo "run-demo: a service exited non-zero (see $LOGS/)" >&2; rc=1; fi
done
pids=()
exit $rc
