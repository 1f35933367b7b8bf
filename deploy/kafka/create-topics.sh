#!/bin/sh
# create-topics.sh: the one-shot `kafka-init` job of deploy/compose*.yaml. Creates the topics of docs/contract.md §4
# Topics with explicit partitions, replication and retention; idempotent (existing topics get their configs re-applied;
# a partition or replication mismatch is reported, never changed: adding partitions moves keys to other partitions and
# breaks per-customer order). Runs in the apache/kafka image (its CLI tools under /opt/kafka/bin). Exit 0 when every
# topic exists.
#
# Env: BOOTSTRAP_SERVERS (required); TOPIC_PARTITIONS (12); TOPIC_REPLICATION_FACTOR (3);
#      TOPIC_MIN_INSYNC_REPLICAS (2); TOPIC_RETENTION_MS (7 d); DLQ_RETENTION_MS (14 d);
#      MAIN_TOPICS ("orders payments notifications");
#      SERVICE_GROUPS ("payment-service notification-service"): each group id gets <group>.retry and
#      <group>.dlq, so a service run with another KAFKA_GROUP_ID needs its group listed here;
#      KAFKA_INIT_ATTEMPTS (10): tries of the first request while the brokers settle.
set -eu

bootstrap=${BOOTSTRAP_SERVERS:?BOOTSTRAP_SERVERS must name the brokers}
partitions=${TOPIC_PARTITIONS:-12}
replication=${TOPIC_REPLICATION_FACTOR:-3}
min_isr=${TOPIC_MIN_INSYNC_REPLICAS:-2}
retention_ms=${TOPIC_RETENTION_MS:-604800000}
dlq_retention_ms=${DLQ_RETENTION_MS:-1209600000}
main_topics=${MAIN_TOPICS:-orders payments notifications}
service_groups=${SERVICE_GROUPS:-payment-service notification-service}
bin=${KAFKA_BIN:-/opt/kafka/bin}

log() { echo "kafka-init: $*"; }

# The brokers report healthy before their metadata has settled: the first request is retried, up to
# KAFKA_INIT_ATTEMPTS times (default 10, 3 s apart), instead of failing the one-shot job.
attempts=${KAFKA_INIT_ATTEMPTS:-10}
n=1
while ! existing=$("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --list 2>/tmp/kafka-init.err); do
  if [ "$n" -ge "$attempts" ]; then
    log "ERROR: the brokers did not answer after $attempts attempts:"
    cat /tmp/kafka-init.err >&2
    exit 1
  fi
  log "brokers not answering yet (attempt $n of $attempts); retrying in 3 s"
  n=$((n + 1))
  sleep 3
done

ensure() { # topic retention_ms
  topic=$1
  retention=$2
  if printf '%s\n' "$existing" | grep -qx "$topic"; then
    log "exists: $topic; re-applying retention.ms=$retention min.insync.replicas=$min_isr"
    "$bin/kafka-configs.sh" --bootstrap-server "$bootstrap" --alter --entity-type topics --entity-name "$topic" \
      --add-config "retention.ms=$retention,min.insync.replicas=$min_isr,cleanup.policy=delete" >/dev/null
  else
    log "creating $topic: partitions=$partitions replication=$replication min.insync.replicas=$min_isr retention.ms=$retention"
    "$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --create --if-not-exists --topic "$topic" \
      --partitions "$partitions" --replication-factor "$replication" \
      --config "min.insync.replicas=$min_isr" --config "retention.ms=$retention" \
      --config cleanup.policy=delete
  fi
}

all=""
for t in $main_topics; do
  ensure "$t" "$retention_ms"
  all="$all $t"
done
for g in $service_groups; do
  ensure "$g.retry" "$retention_ms"
  ensure "$g.dlq" "$dlq_retention_ms"
  all="$all $g.retry $g.dlq"
done

# One describe for all topics: report what the cluster really has.
described=$("$bin/kafka-topics.sh" --bootstrap-server "$bootstrap" --describe --exclude-internal)
status=0
for t in $all; do
  line=$(printf '%s\n' "$described" | grep -E "^Topic: $t[[:space:]]" | head -n 1 || true)
  if [ -z "$line" ]; then
    log "ERROR: topic $t is missing after creation"
    status=1
    continue
  fi
  have_p=$(printf '%s\n' "$line" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p')
  have_r=$(printf '%s\n' "$line" | sed -n 's/.*ReplicationFactor: *\([0-9]*\).*/\1/p')
  [ "$have_p" = "$partitions" ] || log "WARNING: $t has $have_p partitions, TOPIC_PARTITIONS=$partitions (left as is)"
  [ "$have_r" = "$replication" ] || log "WARNING: $t has replication factor $have_r, TOPIC_REPLICATION_FACTOR=$replication (left as is)"
  log "ok: $t partitions=$have_p replication=$have_r"
done
exit "$status"
