#!/bin/bash
# kafka-run-class.sh CLASS [ARGS...]: a JVM with Kafka's jars. As in Kafka's own script, KAFKA_HEAP_OPTS,
# KAFKA_JVM_PERFORMANCE_OPTS and KAFKA_OPTS are honoured; the broker (kafka.Kafka) logs to stdout, the
# tools only their warnings to stderr.
set -euo pipefail
class=${1:?usage: kafka-run-class.sh CLASS [ARGS...]}
shift
if [ "$class" = kafka.Kafka ]; then
  log4j=/opt/kafka/config/log4j2.properties
  heap=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
  perf=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
else
  log4j=/opt/kafka/config/tools-log4j2.properties
  heap=${KAFKA_HEAP_OPTS:--Xmx256m}
  perf=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true}
fi
# shellcheck disable=SC2086  # the *_OPTS are lists of JVM flags
exec java $heap $perf ${KAFKA_OPTS:-} -Dlog4j2.configurationFile="$log4j" -Dkafka.logs.dir=/opt/kafka/logs \
  -cp '/opt/kafka/libs/*' "$class" "$@"
