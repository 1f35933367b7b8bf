#!/usr/bin/env bash
# kafka-local.sh — a real single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1 for local
# runs and the `kafka` test label. Runs the jars fetched by fetch-jars.sh; no Docker, no ZooKeeper.
#
#   kafka-local.sh start  [--port P] [--dir D] [--jars DIR] [--partitions N] [--no-topics] [--fresh]
#                         [--timeout S] [--bootstrap-file F] [--max-lifetime S] [--advertised-port A]
#                         [--sasl-ssl-port Q] [--sasl-user U]
#   kafka-local.sh stop   [--dir D] [--wipe]
#   kafka-local.sh status [--dir D]
#   kafka-local.sh create-topics [--port P | --bootstrap H:P] [--jars DIR] [--partitions N] [TOPIC...]
#   kafka-local.sh tool [--jars DIR] CLASS [ARG...]   run a Kafka CLI class from the jars, e.g.
#                  tool org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#
# Defaults: --port 9092 (0 = pick a free port), --dir run/kafka, --jars build/kafka/lib (both relative to the
# repo root), --partitions 6, --timeout 90. `start` formats the data dir on first use (random cluster id),
# keeps it across restarts (--fresh wipes it first), waits until the broker answers a metadata request,
# creates the topics of docs/contract.md §4 Topics (unless --no-topics) and prints `ready bootstrap=127.0.0.1:P`
# on stdout.
# --advertised-port A: the broker still listens on P but tells clients (in metadata) to connect to 127.0.0.1:A,
# e.g. a test proxy in front of it; whatever listens on A must relay to P before `start`, which creates the
# topics through it. The bootstrap printed stays 127.0.0.1:P. Default (or 0): A = P.
# A detached watchdog stops the broker when `start` dies before the broker is ready, when D disappears, or
# after --max-lifetime S seconds (0 = never; tests use it so an interrupted ctest run leaves no JVM behind).
# --sasl-ssl-port Q (0 = pick a free port): a second listener, SASL_SSL on 127.0.0.1:Q, next to PLAINTEXT on
# P (topic creation, the tools and the other tests keep using P; the controller listener is unchanged). Each
# start generates in D/security/ a throwaway CA (ca.pem), a broker certificate for 127.0.0.1 and localhost
# (subject alternative names) signed by it in a PKCS12 keystore, and a random password for the user U
# (--sasl-user, default orderflow) in D/security/password (mode 600). The listener takes SASL mechanisms
# PLAIN and SCRAM-SHA-512, the same user and password for both. Use PLAIN (over TLS) from librdkafka before
# 2.6.1, e.g. Debian 12's 2.0.2: its SCRAM client-final message repeats the client nonce, which Kafka 4
# rejects as invalid credentials (librdkafka PR 4895); Kafka's Java tools use SCRAM-SHA-512. The SCRAM user
# is added when the data dir is formatted (kafka-storage format --add-scram), or through PLAINTEXT after the
# start when the data dir already existed. After the `ready` line, stdout gets
#   sasl_ssl bootstrap=127.0.0.1:Q mechanisms=PLAIN,SCRAM-SHA-512 user=U password-file=D/security/password ca=D/security/ca.pem
# (the password itself is never printed). Client settings for the listener, password included (mode 600):
# D/security/librdkafka.properties (kcat -F), orderflow.conf (the services' --config), client.properties
# (Kafka's Java tools: `tool CLASS ... --command-config`). `stop` deletes D/security. A librdkafka client:
#   -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X sasl.username=U
#   -X sasl.password="$(cat D/security/password)" -X ssl.ca.location=D/security/ca.pem
# Env: KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m), KAFKA_JVM_OPTS (extra broker JVM flags).
# Exit: 0 ok; 1 error (message on stderr); 2 usage; `status` exits 3 when not running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
contract_topics=(orders payments notifications payment-service.retry payment-service.dlq
  notification-service.retry notification-service.dlq)

lsrv_name=kafka-local lsrv_noun=broker
# shellcheck source=../lib/local-server.sh
source "$here/../lib/local-server.sh"

cmd=${1:-}
[[ -z $cmd ]] && usage 2
shift
[[ $cmd == -h || $cmd == --help || $cmd == help ]] && usage 0
tool_jars=""
if [[ $cmd == tool && ${1:-} == --jars ]]; then
  [[ -n ${2:-} ]] || bad_usage "--jars needs a value"
  tool_jars=$(realpath -m "$2")
  shift 2
fi
tool_args=()
if [[ $cmd == tool ]]; then
  [[ $# -ge 1 ]] || bad_usage "tool needs a class name (see --help)"
  tool_args=("$@")
  set --
fi

port=9092 port_given=0 dir=$root/run/kafka jars=$root/build/kafka/lib partitions=6 timeout_s=90
create_topics=1 fresh=0 bootstrap_file="" max_lifetime=0 bootstrap="" wipe=0 topics=() advertised_port=0
sasl_port="" sasl_user=orderflow
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) need_arg "$@"; port=$2; port_given=1; shift 2 ;;
    --dir) need_arg "$@"; dir=$(realpath -m "$2"); shift 2 ;;
    --jars) need_arg "$@"; jars=$(realpath -m "$2"); shift 2 ;;
    --partitions) need_arg "$@"; partitions=$2; shift 2 ;;
    --timeout) need_arg "$@"; timeout_s=$2; shift 2 ;;
    --bootstrap-file) need_arg "$@"; bootstrap_file=$(realpath -m "$2"); shift 2 ;;
    --max-lifetime) need_arg "$@"; max_lifetime=$2; shift 2 ;;
    --advertised-port) need_arg "$@"; advertised_port=$2; shift 2 ;;
    --bootstrap) need_arg "$@"; bootstrap=$2; shift 2 ;;
    --sasl-ssl-port) need_arg "$@"; sasl_port=$2; shift 2 ;;
    --sasl-user) need_arg "$@"; sasl_user=$2; shift 2 ;;
    --no-topics) create_topics=0; shift ;;
    --fresh) fresh=1; shift ;;
    --wipe) wipe=1; shift ;;
    -h | --help) usage 0 ;;
    --*) bad_usage "unknown option $1 (see --help)" ;;
    *) [[ $cmd == create-topics ]] || bad_usage "unexpected argument $1"
       topics+=("$1"); shift ;;
  esac
done
[[ -n $tool_jars ]] && jars=$tool_jars
need_numbers port partitions timeout_s max_lifetime advertised_port
need_port_number --port "$port"
need_port_number --advertised-port "$advertised_port"
((partitions >= 1)) || bad_usage "--partitions must be >= 1"
if [[ -n $sasl_port ]]; then
  [[ $sasl_port =~ ^[0-9]+$ ]] && ((sasl_port <= 65535)) || bad_usage "--sasl-ssl-port must be 0..65535, got '$sasl_port'"
fi
# The name goes into a SCRAM credential spec ('[name=U,password=…]') and a JAAS line: keep it plain.
[[ $sasl_user =~ ^[A-Za-z0-9._-]+$ ]] ||
  bad_usage "--sasl-user must be letters, digits, '.', '_' or '-', got '$sasl_user'"

pid_file=$dir/kafka.pid
watchdog_pid_file=$dir/watchdog.pid
props=$dir/server.properties
logs=$dir/logs
data=$dir/data
sec=$dir/security

# --- processes -------------------------------------------------------------------------------------------
is_ours() { # the PID is a JVM running kafka.Kafka with this data dir's server.properties
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $props"
}
configured_port() { sed -n 's#^listeners=PLAINTEXT://127.0.0.1:\([0-9]*\),.*#\1#p' "$props" 2>/dev/null; }
configured_advertised_port() {
  sed -n 's#^advertised.listeners=PLAINTEXT://127.0.0.1:\([0-9]*\)\(,.*\)\{0,1\}$#\1#p' "$props" 2>/dev/null
}
configured_sasl_port() { sed -n 's#^listeners=.*,SASL_SSL://127.0.0.1:\([0-9]*\)$#\1#p' "$props" 2>/dev/null; }

# --- java and jars ---------------------------------------------------------------------------------------
need_java() {
  command -v java >/dev/null 2>&1 ||
    die "java not found: Kafka 4 needs Java 17+ (apt-get install openjdk-17-jre-headless)"
  local v
  v=$(java -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p')
  [[ $v =~ ^[0-9]+$ ]] && ((v >= 17)) || die "Kafka 4 needs Java 17+, but 'java' is version '${v:-unknown}'"
}
kafka_version=""
need_jars() {
  local jar
  jar=$(compgen -G "$jars/kafka_2.13-*.jar" | head -n1) ||
    die "no Kafka jars in $jars: run 'make kafka-jars' (tools/kafka-local/fetch-jars.sh build/kafka)"
  kafka_version=$(basename "$jar" .jar)
  kafka_version=${kafka_version#kafka_2.13-}
}
tool_java() { # short-lived tool JVMs: small heap, C1 only, quiet logging; bounded by $tool_timeout s (0: none)
  local t=()
  [[ ${tool_timeout:-300} == 0 ]] || t=(timeout "${tool_timeout:-300}")
  "${t[@]}" java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$here/tools-log4j2.properties" -cp "$jars/*" "$@"
}

# --- broker checks ---------------------------------------------------------------------------------------
metadata_ok() { # a metadata request to 127.0.0.1:$1 succeeds and lists the broker
  if command -v kcat >/dev/null 2>&1; then
    timeout 10 kcat -b "127.0.0.1:$1" -L -m 3 2>/dev/null | grep -q 'broker 1 at'
  else
    tool_timeout=30 tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$1" --list \
      >/dev/null 2>&1
  fi
}
broker_log_tail() { log_tail 'ERROR|FATAL|Exception|Caused by' 15 0 "$logs/kafkaServer.out" "$logs/server.log"; }
explain_failure() {
  local all
  all=$(cat "$logs/kafkaServer.out" "$logs/server.log" 2>/dev/null || true)
  if grep -q 'Address already in use' <<<"$all"; then
    note "hint: a port is in use (PLAINTEXT $port, CONTROLLER $cport${sasl_port:+ or SASL_SSL $sasl_port});" \
      "pick another with --port${sasl_port:+ / --sasl-ssl-port}"
  elif grep -qiE 'cluster.?id|meta\.properties|InconsistentClusterId|not formatted|formatted' <<<"$all"; then
    note "hint: the data dir $dir looks stale or foreign; wipe it: $0 stop --dir $dir --wipe (or start --fresh)"
  fi
}

# --- SASL_SSL (--sasl-ssl-port) ------------------------------------------------------------------------------
need_openssl() {
  command -v openssl >/dev/null 2>&1 ||
    die "openssl not found: --sasl-ssl-port makes its certificates with it (apt-get install openssl)"
}
random_secret() { # 32 letters and digits: nothing that a SCRAM spec, a JAAS line or "k=v;k=v" would split on
  local s
  s=$(head -c 64 /dev/urandom | base64 -w0 | tr -dc 'A-Za-z0-9')
  printf '%s' "${s:0:32}"
}
make_security_material() {
  # Throwaway, made anew at each start: a CA, a broker certificate signed by it for 127.0.0.1 and localhost
  # (librdkafka checks the broker's address against the subject alternative names by default), the
  # keystore the broker reads (PKCS12), the user's password and the client configurations. The CA's key is
  # deleted once the certificate is signed: nothing else is ever signed by it.
  rm -rf "$sec"
  mkdir -m 700 -p "$sec"
  (
    set -e
    umask 077
    cd "$sec"
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    openssl req -x509 "${ec[@]}" -keyout ca.key -out ca.pem -days 30 \
      -subj "/CN=kafka-local throwaway CA $(date -u +%Y%m%dT%H%M%S)-$RANDOM" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req "${ec[@]}" -keyout broker.key -out broker.csr -subj "/CN=localhost"
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile broker.ext \
      -out broker.crt
    random_secret >keystore.password
    openssl pkcs12 -export -in broker.crt -inkey broker.key -certfile ca.pem -name broker \
      -passout file:keystore.password -out broker.p12
    rm -f ca.key ca.srl broker.csr broker.ext broker.key
    random_secret >password
    chmod 644 ca.pem broker.crt
  ) >"$logs/openssl.log" 2>&1 || { cat "$logs/openssl.log" >&2; die "making the TLS material in $sec failed"; }
  write_client_configs
}
write_client_configs() { # the listener's client settings, password included: files of mode 600 in $sec
  local pw bs=127.0.0.1:$sasl_port
  pw=$(<"$sec/password")
  (
    umask 077
    # librdkafka (kcat -F FILE); PLAIN, since librdkafka before 2.6.1 fails SCRAM with Kafka 4 (header)
    printf '%s\n' "bootstrap.servers=$bs" security.protocol=SASL_SSL sasl.mechanisms=PLAIN \
      "sasl.username=$sasl_user" "sasl.password=$pw" "ssl.ca.location=$sec/ca.pem" >"$sec/librdkafka.properties"
    # orderflow's binaries (--config FILE)
    printf '%s\n' "brokers = $bs" "kafka-property = security.protocol=SASL_SSL" \
      "kafka-property = sasl.mechanisms=PLAIN" "kafka-property = sasl.username=$sasl_user" \
      "kafka-property = sasl.password=$pw" "kafka-property = ssl.ca.location=$sec/ca.pem" >"$sec/orderflow.conf"
    # Kafka's Java tools (tool CLASS --bootstrap-server 127.0.0.1:Q --command-config FILE)
    printf '%s\n' security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-512 \
      "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$sasl_user\" password=\"$pw\";" \
      ssl.truststore.type=PEM "ssl.truststore.location=$sec/ca.pem" >"$sec/client.properties"
  )
}
sasl_metadata_ok() { # a metadata request through the SASL_SSL listener, as the user, succeeds (PLAIN with kcat)
  if command -v kcat >/dev/null 2>&1; then
    timeout 10 kcat -F "$sec/librdkafka.properties" -L -m 5 2>/dev/null | grep -q 'broker 1 at'
  else
    tool_timeout=30 tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$sasl_port" \
      --command-config "$sec/client.properties" --list >/dev/null 2>&1
  fi
}
add_scram_user() { # add_scram_user PLAINTEXT_BOOTSTRAP: creates or updates the user's SCRAM-SHA-512 credential
  local out pw
  pw=$(<"$sec/password")
  out=$(tool_java kafka.admin.ConfigCommand --bootstrap-server "$1" --alter --entity-type users \
    --entity-name "$sasl_user" --add-config "SCRAM-SHA-512=[password=$pw]" 2>&1) || {
    grep -vF -- "$pw" <<<"$out" >&2
    return 1
  }
}
security_line() {
  echo "sasl_ssl bootstrap=127.0.0.1:$sasl_port mechanisms=PLAIN,SCRAM-SHA-512 user=$sasl_user" \
    "password-file=$sec/password ca=$sec/ca.pem"
}

# --- topics ----------------------------------------------------------------------------------------------
do_create_topics() { # do_create_topics BOOTSTRAP TOPIC...
  local bs=$1 t out
  shift
  if [[ -f $jars/orderflow-kafka-local.jar ]]; then
    out=$(tool_java dev.orderflow.kafkalocal.CreateTopics "$bs" "$partitions" 1 "$@" 2>&1) || {
      echo "$out" >&2
      echo "kafka-local: error: creating topics on $bs failed" >&2
      return 1
    }
  else # one JVM per topic: slower, but needs only the Kafka jars
    for t in "$@"; do
      out=$(tool_java org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --if-not-exists \
        --topic "$t" --partitions "$partitions" --replication-factor 1 2>&1) || {
        echo "$out" >&2
        echo "kafka-local: error: creating topic $t on $bs failed" >&2
        return 1
      }
    done
  fi
}

# --- commands --------------------------------------------------------------------------------------------
write_properties() {
  cat >"$props" <<EOF
# Written by tools/kafka-local/kafka-local.sh on each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport${sasl_port:+,SASL_SSL://127.0.0.1:$sasl_port}
advertised.listeners=PLAINTEXT://127.0.0.1:$((advertised_port > 0 ? advertised_port : port))${sasl_port:+,SASL_SSL://127.0.0.1:$sasl_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${sasl_port:+,SASL_SSL:SASL_SSL}
log.dirs=$data

# One node: every internal topic has one replica.
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Behave like the contract's deployment: topics are created explicitly, never on first use.
auto.create.topics.enable=false
num.partitions=$partitions
group.initial.rebalance.delay.ms=0

# Small footprint for a laptop / CI box with 2 cores.
num.network.threads=2
num.io.threads=4
background.threads=4
num.recovery.threads.per.data.dir=1
num.replica.fetchers=1
log.cleaner.threads=1
log.cleaner.dedupe.buffer.size=8388608
log.segment.bytes=16777216
log.index.size.max.bytes=1048576
log.retention.hours=24
log.retention.bytes=268435456
log.retention.check.interval.ms=60000
log.initial.task.delay.ms=1000
offsets.topic.segment.bytes=16777216
transaction.state.log.segment.bytes=16777216

# Quick start and stop: a lone node has nobody to hand leadership to.
broker.heartbeat.interval.ms=500
controlled.shutdown.enable=true
EOF
  [[ -n $sasl_port ]] || return 0
  local ks
  ks=$(<"$sec/keystore.password")
  chmod 600 "$props" # passwords below
  cat >>"$props" <<EOF

# --sasl-ssl-port: SASL (PLAIN and SCRAM-SHA-512) over TLS for clients; the broker and its controller talk
# PLAINTEXT. PLAIN's one user is defined here; SCRAM's is in the metadata log.
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$(<"$sec/password")";
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PKCS12
listener.name.sasl_ssl.ssl.keystore.location=$sec/broker.p12
listener.name.sasl_ssl.ssl.keystore.password=$ks
listener.name.sasl_ssl.ssl.key.password=$ks
EOF
}

cmd_start() {
  local pid cid formatted=0 out t0 t_format=0 t_broker t_topics=0 t scram_at_format=0
  need_java
  need_jars
  [[ -n $sasl_port ]] && need_openssl
  t0=$(now_ms)

  if pid=$(running_pid); then
    local running_port
    running_port=$(configured_port)
    if [[ $advertised_port != 0 && $advertised_port != "$(configured_advertised_port)" ]]; then
      die "a broker from $dir is already running, advertising 127.0.0.1:$(configured_advertised_port) (pid $pid);" \
        "stop it first: $0 stop --dir $dir"
    fi
    if [[ -n $sasl_port ]]; then
      local running_sasl
      running_sasl=$(configured_sasl_port)
      [[ -n $running_sasl && -s $sec/password ]] ||
        die "a broker from $dir is already running without a SASL_SSL listener (pid $pid); stop it first: $0 stop --dir $dir"
      [[ $sasl_port == 0 || $sasl_port == "$running_sasl" ]] ||
        die "a broker from $dir is already running with SASL_SSL on port $running_sasl (pid $pid); stop it first: $0 stop --dir $dir"
      sasl_port=$running_sasl
      [[ $(sed -n 's/^sasl.username=//p' "$sec/librdkafka.properties" 2>/dev/null) == "$sasl_user" ]] ||
        die "a broker from $dir is already running with another SASL user; stop it first: $0 stop --dir $dir"
    fi
    if [[ $port_given == 0 || $port == 0 || $port == "$running_port" ]]; then
      note "already running (pid $pid, dir $dir)"
      [[ -n $bootstrap_file ]] && echo "127.0.0.1:$running_port" >"$bootstrap_file"
      echo "ready bootstrap=127.0.0.1:$running_port"
      [[ -n $sasl_port ]] && security_line
      return 0
    fi
    die "a broker from $dir is already running on port $running_port (pid $pid); stop it first: $0 stop --dir $dir"
  fi
  clear_stale_start
  [[ $fresh == 1 ]] && rm -rf "$data" "$logs" "$dir/kafka.version" "$dir/controller.port" "$dir/bootstrap"
  rm -rf "$sec" # a broker that died without `stop` left it; a SASL_SSL start makes it anew
  mkdir -p "$dir" "$logs"

  if [[ -f $data/meta.properties ]]; then
    formatted=1
    local data_version
    data_version=$(cat "$dir/kafka.version" 2>/dev/null || echo unknown)
    [[ $data_version == "$kafka_version" ]] ||
      die "data dir $dir was formatted by Kafka $data_version, the jars are Kafka $kafka_version;" \
        "wipe it first: $0 stop --dir $dir --wipe (or start --fresh)"
  elif [[ -d $data && -n $(ls -A "$data" 2>/dev/null) ]]; then
    die "data dir $data is not empty but has no meta.properties (stale or foreign);" \
      "wipe it first: $0 stop --dir $dir --wipe (or start --fresh)"
  fi

  local auto_port=0
  if [[ $port == 0 ]]; then auto_port=1; port=$(pick_free_port); fi
  need_free_port "$port" --port "(or stop what holds it: $0 stop, make down)"
  cport=$(cat "$dir/controller.port" 2>/dev/null || true)
  if [[ ! $cport =~ ^[0-9]+$ || $cport == "$port" || $cport == "$sasl_port" ]] || port_in_use "$cport"; then
    cport=$(pick_free_port "$port" "$sasl_port")
  fi
  echo "$cport" >"$dir/controller.port"
  local sasl_port_asked=$sasl_port
  if [[ $sasl_port == 0 ]]; then
    sasl_port=$(pick_free_port "$port" "$cport")
  elif [[ -n $sasl_port ]]; then
    [[ $sasl_port != "$port" && $sasl_port != "$cport" ]] ||
      die "--sasl-ssl-port $sasl_port is the PLAINTEXT or the controller port; choose another"
    need_free_port "$sasl_port" --sasl-ssl-port
  fi
  [[ -n $sasl_port ]] && make_security_material
  write_properties

  if [[ $formatted == 0 ]]; then
    # Kafka's cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'.
    t=$(now_ms)
    cid=-
    while [[ $cid == -* ]]; do cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'); done
    local scram=()
    # The user goes into the metadata log with the format: no extra JVM, and it exists before any client
    # can connect. An existing data dir gets it through the Admin API after the start instead.
    [[ -n $sasl_port ]] && scram=(--add-scram "SCRAM-SHA-512=[name=$sasl_user,password=$(<"$sec/password")]")
    out=$(tool_java kafka.tools.StorageTool format --cluster-id "$cid" --config "$props" "${scram[@]}" 2>&1) || {
      [[ -n $sasl_port ]] && out=$(grep -vF -- "$(<"$sec/password")" <<<"$out")
      echo "$out" >&2
      die "formatting KRaft storage in $data failed"
    }
    [[ -n $sasl_port ]] && scram_at_format=1
    echo "$kafka_version" >"$dir/kafka.version"
    t_format=$(($(now_ms) - t))
  fi

  # setsid: the broker must not share the caller's process group or stdio (ctest waits for its pipes).
  # shellcheck disable=SC2086
  t=$(now_ms)
  setsid java ${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
    -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dkafka.logs.dir="$logs" -Dlog4j2.configurationFile="$here/log4j2.properties" \
    ${KAFKA_JVM_OPTS:-} -cp "$jars/*" kafka.Kafka "$props" </dev/null >"$logs/kafkaServer.out" 2>&1 &
  pid=$!
  echo "$pid" >"$pid_file"
  rm -f "$dir/bootstrap"
  start_watchdog "$pid" $$ "kafka.Kafka $props" bootstrap 2

  local deadline=$((SECONDS + timeout_s)) rc=0
  wait_ready "$pid" "$deadline" 0.5 metadata_ok "$port" || rc=$?
  if ((rc == 1)); then
    start_died "$logs"
    broker_log_tail
    explain_failure
    if [[ $auto_port == 1 ]] && grep -q 'Address already in use' "$logs/kafkaServer.out" "$logs/server.log" 2>/dev/null; then
      note "retrying with other ports"
      exec "$0" start --port 0 --dir "$dir" --jars "$jars" --partitions "$partitions" --timeout "$timeout_s" \
        --max-lifetime "$max_lifetime" ${bootstrap_file:+--bootstrap-file "$bootstrap_file"} \
        ${sasl_port_asked:+--sasl-ssl-port "$sasl_port_asked" --sasl-user "$sasl_user"} \
        $( ((advertised_port > 0)) && echo --advertised-port "$advertised_port") \
        $([[ $create_topics == 0 ]] && echo --no-topics)
    fi
    exit 1
  elif ((rc == 2)); then
    note "the broker did not answer a metadata request on 127.0.0.1:$port within $timeout_s s; stopping it"
    broker_log_tail
    abort_start "$pid"
  fi
  local bs=127.0.0.1:$port
  if [[ -n $sasl_port ]]; then
    if [[ $scram_at_format == 0 ]] && ! add_scram_user "$bs"; then
      note "could not add the SCRAM-SHA-512 user $sasl_user; stopping the broker"
      abort_start "$pid"
    fi
    until sasl_metadata_ok; do
      if ((SECONDS >= deadline)); then
        note "the SASL_SSL listener 127.0.0.1:$sasl_port did not answer a metadata request as $sasl_user" \
          "within $timeout_s s; stopping the broker"
        broker_log_tail
        abort_start "$pid"
      fi
      sleep 0.5
    done
  fi
  t_broker=$(($(now_ms) - t))

  if [[ $create_topics == 1 ]]; then
    t=$(now_ms)
    do_create_topics "$bs" "${contract_topics[@]}" || abort_start "$pid"
    t_topics=$(($(now_ms) - t))
  fi
  echo "$bs" >"$dir/bootstrap"
  [[ -n $bootstrap_file ]] && echo "$bs" >"$bootstrap_file"
  note "Kafka $kafka_version up in $(fmt_s $(($(now_ms) - t0))) (format $(fmt_s "$t_format"), broker" \
    "$(fmt_s "$t_broker"), topics $(fmt_s "$t_topics"); pid $pid, data $data, logs $logs)"
  echo "ready bootstrap=$bs"
  [[ -n $sasl_port ]] && security_line
  return 0
}

# $sec: the SASL_SSL listener's throwaway CA, keystore and password, made anew by each start.
cmd_stop() { stop_command "$dir/bootstrap" "$sec"; }

cmd_status() {
  local pid p
  if pid=$(running_pid); then
    p=$(configured_port)
    if metadata_ok "$p"; then
      echo "running pid=$pid bootstrap=127.0.0.1:$p dir=$dir"
    else
      echo "running (not answering yet) pid=$pid bootstrap=127.0.0.1:$p dir=$dir"
    fi
    sasl_port=$(configured_sasl_port)
    if [[ -n $sasl_port && -s $sec/librdkafka.properties ]]; then
      sasl_user=$(sed -n 's/^sasl.username=//p' "$sec/librdkafka.properties")
      security_line
    fi
    return 0
  fi
  echo "not running ($dir)"
  return 3
}

cmd_create_topics() {
  need_java
  need_jars
  if [[ -z $bootstrap ]]; then
    [[ $port_given == 0 && -f $dir/bootstrap ]] && bootstrap=$(<"$dir/bootstrap") || bootstrap=127.0.0.1:$port
  fi
  ((${#topics[@]})) || topics=("${contract_topics[@]}")
  do_create_topics "$bootstrap" "${topics[@]}" || exit 1
  note "topics present on $bootstrap: ${topics[*]}"
}

case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  create-topics) cmd_create_topics ;;
  tool) need_java; need_jars; tool_timeout=0 tool_java "${tool_args[@]}" ;;
  *) echo "kafka-local: unknown command '$cmd' (start|stop|status|create-topics)" >&2; exit 2 ;;
esac
