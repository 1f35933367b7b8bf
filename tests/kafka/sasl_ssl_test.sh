#!/usr/bin/env bash
# sasl_ssl_test.sh [--image IMAGE] BIN_DIR KAFKA_DIR — the real binaries through a SASL_SSL listener of a real
# Kafka broker of their own (tools/kafka-local start --sasl-ssl-port 0: a throwaway CA, a broker certificate,
# one user), not the shared real_kafka fixture, which has no such listener.
# Without --image: BIN_DIR's binaries with SASL PLAIN (this host's librdkafka), steps 1-4 below.
# With --image IMAGE (e.g. orderflow:trixie): the image's binaries, each in a container on the host's network
# (`docker run --network host`: the broker listens on 127.0.0.1), the CA mounted read-only, with
# SCRAM-SHA-512 — the image's librdkafka must be 2.6.1 or later; steps 1 (order-producer, payment-service,
# notification-service, dlq-tool) and 3 (without lag-exporter), and the password search. The test builds
# the image first (deploy/images/build-images.sh --release trixie --only orderflow: compiled from
# deploy/Dockerfile, a layer cache hit when the sources did not change) and starts a Docker daemon when none
# answers (stopping it at the end).
#
# 1. Right credentials: order-producer (-X), payment-service (KAFKA_PROPERTIES), notification-service (-X)
#    move N orders (some deliberately malformed) end to end; read back through SASL_SSL with kcat: N-K
#    payments, 2(N-K) notifications, K dead letters in each service's DLQ, one payment and two
#    notifications per valid order. lag-exporter (--config FILE, the one kafka-local writes) reports lag 0
#    for both groups; dlq-tool (KAFKA_PROPERTIES) counts and lists the payment DLQ and replays it to a
#    topic created by Kafka's Java TopicCommand with SCRAM-SHA-512 (the listener's SCRAM user works); a
#    second replay sends nothing.
# 2. librdkafka and SCRAM-SHA-512: before 2.6.1 (Debian 12 has 2.0.2) librdkafka's SCRAM is rejected by
#    Kafka 4 whatever the password (its client-final message repeats the nonce, librdkafka PR 4895), so the
#    services use PLAIN over TLS here. Pinned: kcat with the right password fails with invalid credentials,
#    and order-producer's error carries the hint; from 2.6.1 on, kcat must succeed instead.
# 3. Wrong password, then a CA that did not sign the broker's certificate: each service and tool reports
#    the authentication (TLS) failure in at most two lines (a warning when it first appears, the final
#    error), /readyz answers 503 naming it while the services retry, and they exit 1 at their start-up
#    timeout (dlq-tool too; lag-exporter keeps running, not ready).
# 4. --check-config (flags, KAFKA_PROPERTIES, --config) prints sasl.password=***.
# The right and the wrong password appear in no output of any process (stdout, stderr), no /metrics or
# /readyz body, no --check-config output, nor kafka-local's.
# Exit: 0 pass; 1 fail; 77 skip (ORDERFLOW_TEST_BROKER=mock, no jars, a tool missing, with --image no Docker
# — a failure instead under ORDERFLOW_REQUIRE_ALL=1); a failed image build is a failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../support/require.sh
source "$root/tests/support/require.sh"
kafka_local=$root/tools/kafka-local/kafka-local.sh
image=
if [[ ${1:-} == --image ]]; then
  image=${2:?--image needs an image name}
  shift 2
fi
[[ $# -eq 2 ]] || { echo "usage: $(basename "$0") [--image IMAGE] BIN_DIR KAFKA_DIR" >&2; exit 2; }
bin=$(realpath -m "$1")
kafka_dir=$(realpath -m "$2")
jars=$kafka_dir/lib

cannot_run() { unavailable "$@" && exit "$ORDERFLOW_SKIP_CODE"; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

[[ ${ORDERFLOW_TEST_BROKER:-} == mock ]] && cannot_run "ORDERFLOW_TEST_BROKER=mock: the real-Kafka tests are skipped"
for tool in java openssl kcat curl ${image:+docker}; do
  command -v "$tool" >/dev/null 2>&1 || cannot_run "$tool is not installed (scripts/build-packages.txt: make deps)"
done
"$root/tools/kafka-local/fetch-jars.sh" "$kafka_dir" # a warning and exit 0 when Maven Central is unreachable
[[ -f $jars/.stamp ]] || cannot_run "no Kafka jars in $jars (Maven Central, java or mvn unavailable); run 'make kafka-jars'"
if [[ -z $image ]]; then
  for b in order-producer payment-service notification-service dlq-tool lag-exporter; do
    [[ -x $bin/$b ]] || fail "$bin/$b is missing (build first)"
  done
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-sasl-ssl.XXXXXX")
out=$work/out # every output of every process: searched for the passwords at the end
mkdir -p "$out"
broker_dir=$work/broker
pids=() # started by this script and not reaped yet: the only processes it ever signals
forget() { local p keep=(); for p in "${pids[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; pids=("${keep[@]}"); }
exited() { # exited PID: a child of ours that has ended (a zombie until reaped) or is gone
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ -z $state || $state == Z ]]
}
stop_pid() { # TERM, up to 10 s, then KILL; reaps it
  local pid=$1 i
  if kill -TERM "$pid" 2>/dev/null; then
    for ((i = 0; i < 100; i++)); do exited "$pid" && break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  forget "$pid"
}
run_label=orderflow.sasl-ssl-test=$$-$RANDOM # on every container of this run: the only ones it removes
dockerd_pid=
cleanup() {
  local rc=$? pid
  for pid in "${pids[@]}"; do stop_pid "$pid"; done
  pids=()
  if [[ -n $image ]]; then
    docker ps -aq --filter "label=$run_label" 2>/dev/null | xargs -r docker rm -f >/dev/null 2>&1 || true
  fi
  [[ -z $dockerd_pid ]] || stop_pid "$dockerd_pid"
  "$kafka_local" stop --dir "$broker_dir" --wipe >/dev/null 2>&1 || true
  if [[ $rc != 0 && $rc != "$ORDERFLOW_SKIP_CODE" ]]; then
    local f
    for f in "$out"/*.log; do
      [[ -s $f ]] || continue
      echo "--- last lines of $(basename "$f"):" >&2
      tail -n 8 "$f" | cut -c1-400 >&2
    done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

port_in_use() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
pick_port() { # below the ephemeral range, free now
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 12000))
    port_in_use "$p" || { echo "$p"; return 0; }
  done
  fail "no free port"
}
# wait_for SECONDS DESCRIPTION COMMAND...: runs COMMAND every 0.25 s until it succeeds; fails after SECONDS.
wait_for() {
  local limit=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not within $limit s"
    sleep 0.25
  done
}
# http NAME PORT PATH: body into $out/NAME, prints the status code (000 when nothing answers)
http() { curl -s -m 5 -o "$out/$1" -w '%{http_code}' "http://127.0.0.1:$2$3" 2>/dev/null || true; }
ready() { [[ $(http "$1.readyz" "$2" /readyz) == 200 ]]; }
not_ready_because() { # NAME PORT PATTERN: /readyz is 503 and its body matches PATTERN
  [[ $(http "$1.readyz" "$2" /readyz) == 503 ]] && grep -qE "$3" "$out/$1.readyz"
}
# run_bin BINARY ARGS...: BIN_DIR's binary, or (--image) the image's in a container on the host's network
# with $cas mounted read-only; KAFKA_PROPERTIES passes through when set. In a background job (`run_bin … &`)
# it execs, so $! is the process to signal: the binary, or the docker client, which forwards SIGTERM.
run_bin() {
  local b=$1
  shift
  if [[ -z $image ]]; then
    if [[ $BASHPID != "$$" ]]; then exec "$bin/$b" "$@"; fi
    "$bin/$b" "$@"
    return
  fi
  local cmd=(docker run --rm --label "$run_label" --network host -v "$cas:$cas_in_container:ro")
  [[ -z ${KAFKA_PROPERTIES+set} ]] || cmd+=(-e KAFKA_PROPERTIES)
  cmd+=("$image" "$b" "$@")
  if [[ $BASHPID != "$$" ]]; then exec "${cmd[@]}" </dev/null; fi
  "${cmd[@]}" </dev/null
}

# --- the image: built here (a fresh clone has none), under a Docker daemon -----------------------------------
cas=$work/ca # the CAs the clients trust: the broker's and, in step 3, one that signed nothing
mkdir -p "$cas"
chmod 755 "$cas" # read by the image's user (uid 10001)
if [[ -n $image ]]; then
  cas_in_container=/etc/orderflow/kafka-ca
  if ! docker info >/dev/null 2>&1; then
    [[ $(id -u) == 0 ]] && command -v dockerd >/dev/null 2>&1 ||
      cannot_run "no Docker daemon answers and none can be started here (dockerd as root)"
    step "starting dockerd (none answers)"
    dockerd >"$work/dockerd.log" 2>&1 & # stopped by cleanup, after this run's containers are removed
    dockerd_pid=$!
    wait_for 60 "dockerd answers" docker info
  fi
  release=${image##*:}
  step "image $image: deploy/images/build-images.sh --release $release --only orderflow --binaries source"
  t_image=$SECONDS
  # Every binary (not only those run here): the image is the one users build, and most of the compile is
  # the shared libraries anyway.
  "$root/deploy/images/build-images.sh" --release "$release" --only orderflow --binaries source --tag "$image" \
    "$bin/.." >"$out/image-build.log" 2>&1 || { tail -n 30 "$out/image-build.log" >&2; fail "building $image failed"; }
  echo "$image built in $((SECONDS - t_image)) s"
  # kafka-dev-broker's --help names the librdkafka the image's binaries run with (rd_kafka_version_str()).
  image_lib=$(docker run --rm --label "$run_label" "$image" kafka-dev-broker --help 2>&1 |
    sed -n 's/.*(librdkafka \([0-9][0-9.]*\)).*/\1/p' | head -n1)
  [[ -n $image_lib ]] || fail "$image: kafka-dev-broker --help names no librdkafka version"
  echo "$image: librdkafka $image_lib"
  [[ $(printf '%s\n' "$image_lib" 2.6.1 | sort -V | head -n1) == 2.6.1 ]] ||
    fail "$image has librdkafka $image_lib: SCRAM with Kafka 4 needs 2.6.1 or later"
  mech=SCRAM-SHA-512
else
  cas_in_container=$cas
  mech=PLAIN
fi

# --- the broker ----------------------------------------------------------------------------------------------
step "kafka-local start --sasl-ssl-port 0"
t0=$SECONDS
"$kafka_local" start --port 0 --sasl-ssl-port 0 --fresh --dir "$broker_dir" --jars "$jars" --partitions 3 \
  --timeout 180 --max-lifetime 900 >"$out/kafka-local-start.log" 2>"$out/kafka-local-start.err.log" ||
  { cat "$out/kafka-local-start.err.log" >&2; fail "the broker with a SASL_SSL listener did not start"; }
plain_bs=$(sed -n 's/^ready bootstrap=//p' "$out/kafka-local-start.log")
sasl_line=$(grep '^sasl_ssl ' "$out/kafka-local-start.log") || fail "kafka-local printed no sasl_ssl line"
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$sasl_line"; }
bs=$(field bootstrap) user=$(field user) password_file=$(field password-file) ca=$(field ca)
[[ -n $plain_bs && -n $bs && -n $user && -s $password_file && -s $ca ]] || fail "unexpected start output: $sasl_line"
sec=$(dirname "$password_file")
pw=$(<"$password_file")
wrong="Wr0ng$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 16)"
[[ ${#pw} -ge 16 ]] || fail "the generated password is too short to search for (${#pw} characters)"
echo "broker up in $((SECONDS - t0)) s: PLAINTEXT $plain_bs, SASL_SSL $bs, user $user, CA $ca"
install -m 644 "$ca" "$cas/broker-ca.pem"
client_ca=$cas_in_container/broker-ca.pem # the CA's path as the binaries see it

sec_x=(-X security.protocol=SASL_SSL -X "sasl.mechanisms=$mech" -X "sasl.username=$user" -X "ssl.ca.location=$client_ca")
sec_env="security.protocol=SASL_SSL;sasl.mechanisms=$mech;sasl.username=$user;ssl.ca.location=$client_ca"
# topic_lines TOPIC FORMAT: one line per record, read to the end through SASL_SSL (kcat with kafka-local's
# librdkafka.properties: PLAIN, the password from its file)
topic_lines() { timeout 60 kcat -F "$sec/librdkafka.properties" -C -t "$1" -e -q -f "$2" 2>>"$out/kcat.log"; }
count() { topic_lines "$1" '%o\n' | wc -l; }

# --- 1. right credentials, end to end -------------------------------------------------------------------------
step "payment-service (KAFKA_PROPERTIES) and notification-service (-X) through SASL_SSL, $mech${image:+, $image}"
pay_port=$(pick_port) note_port=$(pick_port)
KAFKA_PROPERTIES="$sec_env;sasl.password=$pw" run_bin payment-service --brokers "$bs" \
  --metrics-address "127.0.0.1:$pay_port" --commit-interval-ms 200 >"$out/payment.log" 2>&1 &
pay_pid=$!
pids+=("$pay_pid")
run_bin notification-service --brokers "$bs" "${sec_x[@]}" -X "sasl.password=$pw" \
  --metrics-address "127.0.0.1:$note_port" --commit-interval-ms 200 >"$out/notification.log" 2>&1 &
note_pid=$!
pids+=("$note_pid")
wait_for 90 "payment-service ready" ready payment "$pay_port"
wait_for 90 "notification-service ready" ready notification "$note_port"

orders=300
step "order-producer (-X): $orders orders, about 10 % malformed"
run_bin order-producer --brokers "$bs" "${sec_x[@]}" -X "sasl.password=$pw" --count "$orders" --seed 15 \
  --invalid-ratio 0.1 --metrics-address 127.0.0.1:0 >"$out/order-producer.log" 2>&1 ||
  fail "order-producer exited $? through SASL_SSL"
grep -q "sent=$orders delivered=$orders failed=0" "$out/order-producer.log" || fail "not every order was acknowledged"
invalid=$(sed -n 's/.* \([0-9]*\) of the sent orders were deliberately malformed.*/\1/p' "$out/order-producer.log")
invalid=${invalid:-0}
valid=$((orders - invalid))
((invalid > 0 && valid > 0)) || fail "expected some malformed and some valid orders, got $invalid of $orders malformed"
echo "$valid valid, $invalid malformed"

landed() { # the counts of each try in landed.log, shown when the wait fails
  local now
  now="payments=$(count payments) notifications=$(count notifications)"
  now+=" payment-dlq=$(count payment-service.dlq) notification-dlq=$(count notification-service.dlq)"
  echo "$now" >>"$out/landed.log"
  [[ $now == "payments=$valid notifications=$((2 * valid)) payment-dlq=$invalid notification-dlq=$invalid" ]]
}
wait_for 120 "payments=$valid notifications=$((2 * valid)) DLQs=$invalid (landed.log: what was read)" landed
correlation_ids() { topic_lines "$1" '%h\n' | grep -o 'x-correlation-id=[^,]*' | sort; }
[[ $(correlation_ids payments | uniq | wc -l) == "$valid" ]] || fail "payments: not one per valid order"
[[ $(correlation_ids notifications | uniq -c | awk '$1 != 2' | wc -l) == 0 ]] ||
  fail "notifications: not two (received, payment) per valid order"
[[ $(correlation_ids notifications | uniq | wc -l) == "$valid" ]] || fail "notifications: not for every valid order"
echo "read back through SASL_SSL: $valid payments, $((2 * valid)) notifications, $invalid + $invalid dead letters"

if [[ -z $image ]]; then
step "lag-exporter (--config $sec/orderflow.conf): lag 0 for both groups"
lag_port=$(pick_port)
"$bin/lag-exporter" --config "$sec/orderflow.conf" --interval-ms 500 --metrics-address "127.0.0.1:$lag_port" \
  >"$out/lag-exporter.log" 2>&1 &
lag_pid=$!
pids+=("$lag_pid")
lag_zero() { # every partition of both groups' topics listed (3 partitions each: 2 + 3 topics), all at 0
  ready lag-exporter "$lag_port" && [[ $(http lag-exporter.metrics "$lag_port" /metrics) == 200 ]] &&
    [[ $(grep -c '^orderflow_group_lag{' "$out/lag-exporter.metrics") == 15 ]] &&
    ! grep '^orderflow_group_lag{' "$out/lag-exporter.metrics" | grep -qv ' 0$'
}
wait_for 90 "lag-exporter: 15 partitions at lag 0" lag_zero
stop_pid "$lag_pid"
fi

step "dlq-tool (KAFKA_PROPERTIES): count, list, replay of payment-service.dlq"
dlq() { KAFKA_PROPERTIES="$sec_env;sasl.password=$pw" run_bin dlq-tool "$@" --brokers "$bs" --timeout-s 30; }
dlq count --topic payment-service.dlq --json >"$out/dlq-count.log" 2>&1 || fail "dlq-tool count exited $?"
grep -q "\"total\":$invalid," "$out/dlq-count.log" || fail "dlq-tool count: expected total $invalid"
dlq list --topic payment-service.dlq >"$out/dlq-list.log" 2>&1 || fail "dlq-tool list exited $?"
grep -q "^listed=$invalid topic=payment-service.dlq" "$out/dlq-list.log" || fail "dlq-tool list: expected $invalid"
# The replay's target, created by Kafka's own Java client through the same listener with SCRAM-SHA-512.
"$kafka_local" tool --jars "$jars" org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" \
  --command-config "$sec/client.properties" --create --topic orders-replayed --partitions 3 \
  --replication-factor 1 >"$out/java-scram-topic.log" 2>&1 ||
  fail "Kafka's TopicCommand with SCRAM-SHA-512 through SASL_SSL failed"
dlq replay --topic payment-service.dlq --to orders-replayed >"$out/dlq-replay.log" 2>&1 ||
  fail "dlq-tool replay exited $?"
grep -q "^replayed=$invalid skipped=0 " "$out/dlq-replay.log" || fail "dlq-tool replay: expected replayed=$invalid"
[[ $(count orders-replayed) == "$invalid" ]] || fail "orders-replayed holds $(count orders-replayed), not $invalid"
dlq replay --topic payment-service.dlq --to orders-replayed >"$out/dlq-replay-again.log" 2>&1 ||
  fail "second dlq-tool replay exited $?"
grep -q "^replayed=0 " "$out/dlq-replay-again.log" || fail "a second replay sent records again"

for svc in payment:"$pay_port" notification:"$note_port"; do
  [[ $(http "${svc%%:*}.metrics" "${svc#*:}" /metrics) == 200 ]] || fail "${svc%%:*}: no /metrics"
done
stop_pid "$pay_pid"
stop_pid "$note_pid"

# --- 2. librdkafka's SCRAM against Kafka 4 ----------------------------------------------------------------
# (this host's librdkafka; the image's, 2.6.1 or later, used SCRAM-SHA-512 in step 1)
if [[ -z $image ]]; then
lib_version=$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][0-9.]*\).*/\1/p' | head -n1)
[[ -n $lib_version ]] || fail "cannot read librdkafka's version from kcat -V"
scram_x=(-X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X "sasl.username=$user" -X "ssl.ca.location=$ca")
if [[ $(printf '%s\n' "$lib_version" 2.6.1 | sort -V | head -n1) != 2.6.1 ]]; then
  step "librdkafka $lib_version: SCRAM-SHA-512 with the right password is rejected by Kafka 4 (fixed in 2.6.1)"
  if timeout 30 kcat -b "$bs" "${scram_x[@]}" -X "sasl.password=$pw" -L -m 5 >"$out/kcat-scram.log" 2>&1; then
    fail "librdkafka $lib_version authenticated with SCRAM-SHA-512: the known failure is gone, use SCRAM in docs and tests"
  fi
  grep -q "invalid credentials with SASL mechanism SCRAM-SHA-512" "$out/kcat-scram.log" ||
    fail "kcat with SCRAM failed, but not with the known invalid-credentials error"
  "$bin/order-producer" --brokers "$bs" "${scram_x[@]}" -X "sasl.password=$pw" --count 1 --timeout-s 5 \
    --metrics-address 127.0.0.1:0 >"$out/order-producer-scram.log" 2>&1 && fail "order-producer with SCRAM exited 0"
  grep -q "librdkafka before 2.6.1 fails SCRAM with Kafka 4.0" "$out/order-producer-scram.log" ||
    fail "order-producer's SCRAM failure carries no hint"
else
  step "librdkafka $lib_version: SCRAM-SHA-512 works"
  timeout 30 kcat -b "$bs" "${scram_x[@]}" -X "sasl.password=$pw" -L -m 5 >"$out/kcat-scram.log" 2>&1 ||
    fail "librdkafka $lib_version did not authenticate with SCRAM-SHA-512"
fi
fi

# --- 3. wrong password, untrusted CA --------------------------------------------------------------------------
other=$work/other-ca
mkdir -p "$other"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$other/ca.key" \
  -out "$other/ca.pem" -days 1 -subj "/CN=orderflow test: a CA that signed nothing" >"$out/openssl.log" 2>&1 ||
  fail "openssl could not make the second CA"
install -m 644 "$other/ca.pem" "$cas/untrusted-ca.pem"

# failing_case NAME PATTERN PASSWORD CA: every binary with these credentials must fail as described above
# (lag-exporter only without --image: it reads a --config file here).
failing_case() {
  local name=$1 pattern=$2 password=$3 ca_file=$4 timeout_s=12
  [[ -z $image ]] || timeout_s=20 # a container's start-up is part of it
  step "$name: every binary reports it in at most two lines, /readyz 503, exit 1 at the start-up timeout"
  local x=(-X security.protocol=SASL_SSL -X "sasl.mechanisms=$mech" -X "sasl.username=$user" -X "ssl.ca.location=$ca_file")
  local env="security.protocol=SASL_SSL;sasl.mechanisms=$mech;sasl.username=$user;ssl.ca.location=$ca_file;sasl.password=$password"
  local p_port n_port o_port l_port conf=$work/$name.conf
  p_port=$(pick_port) n_port=$(pick_port) o_port=$(pick_port) l_port=$(pick_port)
  (umask 077; printf '%s\n' "brokers = $bs" "kafka-property = security.protocol=SASL_SSL" \
    "kafka-property = sasl.mechanisms=$mech" "kafka-property = sasl.username=$user" \
    "kafka-property = sasl.password=$password" "kafka-property = ssl.ca.location=$ca_file" >"$conf")
  local started=$SECONDS p n o l= d
  run_bin payment-service --brokers "$bs" "${x[@]}" -X "sasl.password=$password" --startup-timeout-s "$timeout_s" \
    --metrics-address "127.0.0.1:$p_port" >"$out/$name-payment.log" 2>&1 &
  p=$!
  KAFKA_PROPERTIES=$env run_bin notification-service --brokers "$bs" --startup-timeout-s "$timeout_s" \
    --metrics-address "127.0.0.1:$n_port" >"$out/$name-notification.log" 2>&1 &
  n=$!
  run_bin order-producer --brokers "$bs" "${x[@]}" -X "sasl.password=$password" --timeout-s "$timeout_s" --count 5 \
    --metrics-address "127.0.0.1:$o_port" >"$out/$name-order-producer.log" 2>&1 &
  o=$!
  if [[ -z $image ]]; then
    "$bin/lag-exporter" --config "$conf" --interval-ms 500 --metrics-address "127.0.0.1:$l_port" \
      >"$out/$name-lag-exporter.log" 2>&1 &
    l=$!
    pids+=("$l")
  fi
  KAFKA_PROPERTIES=$env run_bin dlq-tool count --topic payment-service.dlq --brokers "$bs" --timeout-s "$timeout_s" \
    >"$out/$name-dlq-tool.log" 2>&1 &
  d=$!
  pids+=("$p" "$n" "$o" "$d")
  # While they retry: 503 naming the failure, and /metrics served (kept for the secret search).
  local svc port
  for svc in payment:"$p_port" notification:"$n_port" order-producer:"$o_port" ${l:+lag-exporter:"$l_port"}; do
    port=${svc#*:} svc=$name-${svc%%:*}
    wait_for $((timeout_s - 2)) "$svc: /readyz 503 naming '$pattern' while retrying" not_ready_because "$svc" "$port" "$pattern"
    [[ $(http "$svc.metrics" "$port" /metrics) == 200 ]] || fail "$svc: no /metrics while retrying"
  done
  [[ -z $l ]] || stop_pid "$l"
  # Exit 1 at the timeout (not before, not much after).
  local pid what rc
  for what in payment:"$p" notification:"$n" order-producer:"$o" dlq-tool:"$d"; do
    pid=${what#*:} what=${what%%:*}
    wait_for $((timeout_s + 30 - (SECONDS - started))) "$name: $what exits" exited "$pid"
    rc=0
    wait "$pid" || rc=$?
    forget "$pid"
    [[ $rc == 1 ]] || fail "$name: $what exited $rc, not 1"
    grep -q "cannot reach Kafka at $bs within $timeout_s s: .*$pattern" "$out/$name-$what.log" ||
      fail "$name: $what's final error does not name the failure"
  done
  ((SECONDS - started >= timeout_s - 1)) || fail "$name: gave up before the $timeout_s s start-up timeout"
  # The failure once when it appears and once at the end; lag-exporter once per group (two), or again
  # when the reason changes: never a line per reconnect.
  local log lines most
  for log in "$out/$name"-*.log; do
    lines=$(grep -cE "$pattern" "$log" || true)
    most=2
    [[ $log == *lag-exporter.log ]] && most=4
    ((lines >= 1 && lines <= most)) || fail "$(basename "$log"): $lines lines name '$pattern' (expected 1..$most)"
  done
  echo "$name: reported, 503 while retrying, exit 1 after $((SECONDS - started)) s"
}
failing_case wrong-password 'Authentication failure' "$wrong" "$client_ca"
failing_case untrusted-ca 'certificate verify failed' "$pw" "$cas_in_container/untrusted-ca.pem"

# --- 4. --check-config masks the password -------------------------------------------------------------------
if [[ -z $image ]]; then
step "--check-config (-X, KAFKA_PROPERTIES, --config): sasl.password=***"
for b in order-producer payment-service notification-service lag-exporter; do
  for secret in "$pw" "$wrong"; do
    tag=$b-$([[ $secret == "$pw" ]] && echo right || echo wrong)
    "$bin/$b" --check-config --brokers "$bs" "${sec_x[@]}" -X "sasl.password=$secret" \
      >"$out/check-$tag-flag.log" 2>&1 || fail "$b --check-config (-X) exited $?"
    KAFKA_PROPERTIES="$sec_env;sasl.password=$secret" "$bin/$b" --check-config --brokers "$bs" \
      >"$out/check-$tag-env.log" 2>&1 || fail "$b --check-config (KAFKA_PROPERTIES) exited $?"
  done
  "$bin/$b" --check-config --config "$sec/orderflow.conf" >"$out/check-$b-config.log" 2>&1 ||
    fail "$b --check-config --config exited $?"
  for f in "$out/check-$b"-*.log; do
    grep -qx 'kafka-property = sasl.password=\*\*\*' "$f" || fail "$(basename "$f"): sasl.password is not shown masked"
  done
done
fi

# --- the passwords: nowhere ---------------------------------------------------------------------------------
step "the right and the wrong password appear in no output ($(find "$out" -type f | wc -l) files)"
for secret in "$pw" "$wrong"; do
  leaks=$(grep -rlF -- "$secret" "$out" || true)
  [[ -z $leaks ]] || fail "a password appears in: $(echo "$leaks" | xargs -n1 basename | tr '\n' ' ')"
done
echo "PASS: SASL_SSL ($mech${image:+, $image with librdkafka $image_lib}) end to end ($valid payments, $((2 * valid)) notifications, $invalid dead letters replayed)," \
  "wrong password and untrusted CA reported, no secret in any output; $((SECONDS - t0)) s"
