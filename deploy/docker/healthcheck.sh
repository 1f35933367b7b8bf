#!/bin/sh
# orderflow-healthcheck: the image's HEALTHCHECK. GET http://127.0.0.1:PORT/healthz of the process
# running as PID 1 (200 while it runs). PORT is taken from, in the binaries' own order of precedence:
# a --metrics-address flag on PID 1's command line, METRICS_ADDRESS, the binary's default
# (order-producer 9101, payment-service 9102, notification-service 9103, lag-exporter 9104,
# analytics-service 9105). Port 0 (metrics disabled):
# healthy as long as PID 1 runs. Tools without an HTTP endpoint (dlq-tool, kafka-dev-broker): healthy.
# ORDERFLOW_HEALTHCHECK_PID (default 1) names another process; the static deploy test uses it.
set -euf
pid=${ORDERFLOW_HEALTHCHECK_PID:-1}
addr=""
prog=""
prev=""
# /proc/PID/cmdline is NUL-separated: one argument per line, blanks kept as \037 through the split.
for arg in $(tr '\0' '\n' <"/proc/${pid}/cmdline" | tr ' ' '\037'); do
  arg=$(printf '%s' "$arg" | tr '\037' ' ')
  [ -z "$prog" ] && prog=${arg##*/}
  case "$arg" in
    --metrics-address=*) addr=${arg#--metrics-address=} ;;
    *) [ "$prev" = "--metrics-address" ] && addr=$arg ;;
  esac
  prev=$arg
done
if [ -z "$addr" ]; then
  addr=${METRICS_ADDRESS:-}
fi
if [ -z "$addr" ]; then
  case "$prog" in
    order-producer) addr=:9101 ;;
    payment-service) addr=:9102 ;;
    notification-service) addr=:9103 ;;
    lag-exporter) addr=:9104 ;;
    analytics-service) addr=:9105 ;;
    *) exit 0 ;;
  esac
fi
port=${addr##*:}
[ "$port" = "0" ] && exit 0
exec wget -q -O /dev/null -T 2 --tries=1 --no-proxy "http://127.0.0.1:${port}/healthz"
