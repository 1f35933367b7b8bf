#!/usr/bin/env bash
# interop_test.sh — librdkafka (kcat) against the real Apache Kafka broker, checked with Kafka's own tools.
#
#   interop_test.sh [--bootstrap-file F | --bootstrap H:P] [--jars DIR] [--partitions N] [--group G]
#                   [--topic T] [--count N] [--check-only] [--wait S]
#
# 1. TopicCommand --describe: the topics of docs/contract.md §4 Topics exist with N partitions (default 6),
#    replication 1.
# 2. kcat -P (idempotent producer) writes COUNT keyed records (default 100) to TOPIC; kcat -G consumes them
#    back as consumer group G and the payloads must match.
# 3. ConsumerGroupCommand --describe --group G: every partition of TOPIC has a committed offset and lag 0.
# TOPIC defaults to a fresh topic made (and deleted) by this script, because the broker is shared with the
# other kafka tests: 100 non-order records in `orders` would be poison for a service test reading it.
# --check-only skips step 2 and waits up to --wait S (default 60) for G's lag on TOPIC to reach 0: the
# service-level check, e.g. `--check-only --group payment-service --topic orders` after order-producer ran.
# Exit: 0 pass; 1 fail; 77 skip (no broker bootstrap file, or kcat missing); 2 usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kafka_local=$here/../../tools/kafka-local/kafka-local.sh
skip=77

bootstrap_file=${ORDERFLOW_KAFKA_BOOTSTRAP_FILE:-} bootstrap="" jars=${ORDERFLOW_KAFKA_JARS_DIR:-}
partitions=6 group="" topic="" count=100 check_only=0 wait_s=60
while [[ $# -gt 0 ]]; do
  case $1 in
    --bootstrap-file) bootstrap_file=$2; shift 2 ;;
    --bootstrap) bootstrap=$2; shift 2 ;;
    --jars) jars=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --group) group=$2; shift 2 ;;
    --topic) topic=$2; shift 2 ;;
    --count) count=$2; shift 2 ;;
    --check-only) check_only=1; shift ;;
    --wait) wait_s=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "interop_test: unknown argument $1" >&2; exit 2 ;;
  esac
done

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

if [[ -z $bootstrap ]]; then
  if [[ -z $bootstrap_file || ! -s $bootstrap_file ]]; then
    echo "SKIP: no real Kafka broker (bootstrap file '${bootstrap_file}' absent: fixture real_kafka skipped)"
    exit $skip
  fi
  bootstrap=$(<"$bootstrap_file")
fi
command -v kcat >/dev/null 2>&1 || { echo "SKIP: kcat is not installed (apt-get install kcat)"; exit $skip; }
jar_args=()
[[ -n $jars ]] && jar_args=(--jars "$jars")
ktool() { "$kafka_local" tool "${jar_args[@]}" "$@"; }

nonce=$$-$RANDOM
own_topic=0
if [[ -z $topic ]]; then
  [[ $check_only == 1 ]] && { echo "interop_test: --check-only needs --topic" >&2; exit 2; }
  topic=orderflow-interop-$nonce
  own_topic=1
fi
[[ -n $group ]] || group=orderflow-interop-$nonce
work=$(mktemp -d)
cleanup() {
  rm -rf "$work"
  if [[ $own_topic == 1 ]]; then
    ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --delete --topic "$topic" \
      >/dev/null 2>&1 || echo "note: could not delete topic $topic" >&2
  fi
}
trap cleanup EXIT
echo "broker $bootstrap, topic $topic, group $group"

# 1. Topics, described by Kafka's TopicCommand (one JVM: --topic takes a regex for --describe).
if [[ $own_topic == 1 ]]; then
  step "TopicCommand --create $topic"
  ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create --topic "$topic" \
    --partitions "$partitions" --replication-factor 1 >/dev/null || fail "could not create topic $topic"
fi
contract=(orders payments notifications payment-service.retry payment-service.dlq notification-service.retry
  notification-service.dlq)
regex=$(printf '%s|' "${contract[@]}" "$topic" | sed 's/\./\\./g; s/|$//')
step "TopicCommand --describe"
ktool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --describe --topic "$regex" \
  >"$work/describe" || fail "TopicCommand --describe failed"
for t in "${contract[@]}" "$topic"; do
  line=$(grep -P "^Topic: \Q$t\E\t" "$work/describe" || true)
  [[ -n $line ]] || { cat "$work/describe"; fail "topic $t does not exist"; }
  n=$(sed -n 's/.*PartitionCount: \([0-9]*\).*/\1/p' <<<"$line")
  rf=$(sed -n 's/.*ReplicationFactor: \([0-9]*\).*/\1/p' <<<"$line")
  if [[ " ${contract[*]} " == *" $t "* || $own_topic == 1 ]]; then
    [[ $n == "$partitions" ]] || fail "topic $t has $n partitions, expected $partitions"
  else
    [[ $n -ge 1 ]] || fail "topic $t has no partitions"
  fi
  [[ $rf == 1 ]] || fail "topic $t has replication factor $rf, expected 1"
  echo "ok topic $t partitions=$n replication=$rf"
done

# 2. librdkafka round trip: idempotent produce, consume as a group (auto-commit, final commit on close).
if [[ $check_only == 0 ]]; then
  step "kcat -P $count records"
  for ((i = 0; i < count; i++)); do printf 'customer-%d\t{"seq":%d,"nonce":"%s"}\n' $((i % 17)) "$i" "$nonce"; done \
    >"$work/produced"
  timeout 60 kcat -P -b "$bootstrap" -t "$topic" -K $'\t' -X enable.idempotence=true -X acks=all \
    -X linger.ms=5 <"$work/produced" || fail "kcat -P failed"

  step "kcat -G $group: consume $count records"
  timeout 90 kcat -b "$bootstrap" -G "$group" -c "$count" -f '%k\t%s\n' -X auto.offset.reset=earliest \
    -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 -q "$topic" >"$work/consumed" ||
    fail "kcat -G did not consume $count records within 90 s (got $(wc -l <"$work/consumed"))"
  sort "$work/produced" >"$work/produced.sorted"
  sort "$work/consumed" >"$work/consumed.sorted"
  cmp -s "$work/produced.sorted" "$work/consumed.sorted" || {
    diff "$work/produced.sorted" "$work/consumed.sorted" | head -n 10
    fail "consumed records differ from the produced ones"
  }
  echo "ok $count records produced and consumed back, payloads identical"
fi

# 3. Committed offsets and lag, as Kafka's ConsumerGroupCommand reports them.
describe_group() {
  ktool org.apache.kafka.tools.consumer.group.ConsumerGroupCommand --bootstrap-server "$bootstrap" \
    --describe --group "$group" 2>&1
}
# Prints "parts=N lag=L committed=C missing=M" for $topic from ConsumerGroupCommand output on stdin.
summarise() {
  awk -v topic="$topic" '
    $1 == "GROUP" { for (i = 1; i <= NF; i++) col[$i] = i; next }
    col["TOPIC"] && $col["TOPIC"] == topic {
      n++
      cur = $col["CURRENT-OFFSET"]; lag = $col["LAG"]; end = $col["LOG-END-OFFSET"]
      # An empty partition has nothing to commit; a non-empty one without a committed offset is lag.
      if (cur == "-" || lag == "-") { if (end != "0") missing++ } else { committed += cur; total_lag += lag }
    }
    END { printf "parts=%d lag=%d committed=%d missing=%d\n", n, total_lag, committed, missing }'
}
step "ConsumerGroupCommand --describe --group $group"
deadline=$((SECONDS + (check_only ? wait_s : 15)))
while :; do
  out=$(describe_group) || true
  read -r summary <<<"$(summarise <<<"$out")"
  eval "$summary" # parts= lag= committed= missing=
  if [[ $parts -ge 1 && $lag == 0 && $missing == 0 ]] &&
    [[ $check_only == 1 || $committed == "$count" ]]; then
    break
  fi
  if ((SECONDS >= deadline)); then
    echo "$out"
    fail "group $group on $topic: $summary (want lag=0, missing=0$([[ $check_only == 0 ]] && echo ", committed=$count"))"
  fi
  sleep 1
done
echo "$out" | grep -E "^(GROUP|$group)[[:space:]]" | sed 's/^/    /'
echo "ok group $group: $summary"
echo "PASS"
