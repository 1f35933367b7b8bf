#!/bin/bash
# The apache/kafka image's start-up, for this image: every KAFKA_* environment variable (except the JVM
# option variables) becomes a server property — prefix removed, lower case, '___' → '-', '__' → '_',
# '_' → '.' (KAFKA_LOG_DIRS → log.dirs); CLUSTER_ID formats the first log dir when it has no
# meta.properties yet; then the broker runs in the foreground (PID 1: SIGTERM stops it cleanly).
# Any other command runs as given (e.g. a shell or a tool).
set -euo pipefail
if [ "$#" -gt 0 ] && [ "$1" != kafka ]; then exec "$@"; fi

props=/opt/kafka/config/server.properties
: >"$props"
for var in $(compgen -e); do
  case "$var" in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_JMX_* | KAFKA_LOG4J_* | \
      KAFKA_TOOLS_* | KAFKA_VERSION | KAFKA_DEBUG | KAFKA_HOME)
      continue ;;
    KAFKA_*) ;;
    *) continue ;;
  esac
  name=${var#KAFKA_}
  name=${name,,}
  name=${name//___/-}
  name=${name//__/@}
  name=${name//_/.}
  name=${name//@/_}
  printf '%s=%s\n' "$name" "${!var}" >>"$props"
done
grep -q '^log\.dirs=' "$props" || echo "log.dirs=/var/lib/kafka/data" >>"$props"
log_dir=$(sed -n 's/^log\.dirs=\([^,]*\).*/\1/p' "$props")
if [ ! -f "$log_dir/meta.properties" ]; then
  : "${CLUSTER_ID:?CLUSTER_ID must be set to format a new log dir (kafka-storage.sh random-uuid makes one)}"
  echo "docker-entrypoint: formatting $log_dir for cluster $CLUSTER_ID"
  /opt/kafka/bin/kafka-storage.sh format --cluster-id "$CLUSTER_ID" --config "$props" --ignore-formatted
fi
echo "docker-entrypoint: starting Kafka $KAFKA_VERSION with $props:"
sed 's/^/  /' "$props"
exec /opt/kafka/bin/kafka-run-class.sh kafka.Kafka "$props"
