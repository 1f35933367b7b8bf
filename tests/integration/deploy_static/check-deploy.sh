#!/usr/bin/env bash
# check-deploy.sh SOURCE_DIR BIN_DIR — static checks of deploy/ (CTest: deploy_static_test).
#   (a) docker-compose config -q of deploy/compose.yaml and deploy/compose.dev.yaml
#   (b) promtool check config deploy/prometheus/prometheus.yml, check rules alerts.yml, test rules alerts_test.yml
#   (c) the Grafana dashboard is valid JSON and every metric its queries use is exported by the services,
#       as scraped from payment-service, notification-service, order-producer, lag-exporter and
#       analytics-service (short windows, so that windows close) running against
#       kafka-dev-broker (loopback only) with traffic flowing, so that lazily created series exist
#   (d) every env var (and flag) compose gives our services is one the binary accepts (its --help), and
#       the binary, run through the image's entrypoint with exactly the service's compose environment
#       (as `docker-compose config` resolves it with an empty shell environment) and command plus
#       --check-config, accepts every value: exit 0 (it validates without contacting a broker)
#   (e) every shared library of every binary in BIN_DIR comes from scripts/runtime-packages.txt or from
#       the debian:bookworm-slim base (BASE_PACKAGES below)
#   (f) cross-file consistency (Kafka image = tools/kafka-local/KAFKA_VERSION, Prometheus ports =
#       METRICS_ADDRESS, group ids have .retry/.dlq topics, …), the Dockerfile's shape (its build stage
#       installs `scripts/install-deps.sh --build-only`, the [build] subset of scripts/build-packages.txt),
#       the image's entrypoint script; the healthcheck script runs against the live payment-service in (c)
# Prints one line per item; a failure names the offending item. Exit 0 only when nothing failed and nothing
# was skipped; 77 (CTest SKIP_RETURN_CODE) when a check was skipped because a tool of
# scripts/build-packages.txt is missing — a failure instead under ORDERFLOW_REQUIRE_ALL=1 (.ci/run).
set -uo pipefail

src=${1:?usage: check-deploy.sh SOURCE_DIR BIN_DIR}
bin=${2:?usage: check-deploy.sh SOURCE_DIR BIN_DIR}
src=$(cd "$src" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../support/require.sh
. "$here/../../support/require.sh"
py=("python3" "$here/deploy_checks.py")

# Packages of debian:bookworm-slim that runtime-packages.txt need not list (Essential / priority required
# and what apt itself pulls in). Keep explicit: a library from any other package must be listed.
BASE_PACKAGES=(libc6 libgcc-s1 libstdc++6 zlib1g libzstd1 liblzma5 libbz2-1.0 libcrypt1 libselinux1
  libpcre2-8-0 libacl1 libattr1 libtinfo6 libgmp10 libgnutls30 libhogweed6 libnettle8 libidn2-0
  libunistring2 libp11-kit0 libtasn1-6 libffi8 libxxhash0 libudev1 libsystemd0 libgcrypt20 libgpg-error0
  libmd0 libblkid1 libmount1 libuuid1 libsmartcols1 libcap2 libaudit1 libcap-ng0 libpam0g libseccomp2
  libdb5.3 libsemanage2 libsepol2 libext2fs2 libcom-err2 libss2 libnsl2 libtirpc3 libapt-pkg6.0
  libdebconfclient0 gcc-12-base)

failures=0
skips=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $*"; }
skip() { # a check that cannot run here: counted as skipped, or as failed under ORDERFLOW_REQUIRE_ALL=1
  if unavailable "$@"; then skips=$((skips + 1)); else failures=$((failures + 1)); fi
}
section() { echo; echo "== $* [t=${SECONDS}s]"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deploy-static.XXXXXX")
pids=()
stop_children() { # newest first (producer, services, then the broker they drain against); SIGKILL after 10 s
  local i p
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    p=${pids[i]}
    kill -TERM "$p" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  pids=()
}
cleanup() {
  stop_children
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$src"
compose_files=(deploy/compose.yaml deploy/compose.dev.yaml)

# ----------------------------------------------------------------------------------------------- (a)
section "(a) docker-compose config -q"
compose_cmd=()
if command -v docker-compose >/dev/null 2>&1; then
  compose_cmd=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
fi
if [[ ${#compose_cmd[@]} -eq 0 ]]; then
  skip "(a) neither docker-compose nor the docker compose plugin is installed (apt install docker-compose)"
else
  for f in "${compose_files[@]}"; do
    # An empty environment for interpolation: the files must be valid with their defaults alone.
    if out=$(env -i PATH="$PATH" HOME="$tmp" "${compose_cmd[@]}" -f "$f" config -q 2>&1); then
      ok "${compose_cmd[*]} -f $f config -q${out:+ ($out)}"
    else
      fail "${compose_cmd[*]} -f $f config -q: $out"
    fi
  done
fi

# ----------------------------------------------------------------------------------------------- (b)
section "(b) promtool check config"
if ! command -v promtool >/dev/null 2>&1; then
  fail "(b) promtool is not installed (apt install prometheus; scripts/build-packages.txt lists it)"
elif out=$(promtool check config deploy/prometheus/prometheus.yml 2>&1); then
  ok "promtool check config deploy/prometheus/prometheus.yml"
else
  fail "promtool check config deploy/prometheus/prometheus.yml: $out"
fi
if command -v promtool >/dev/null 2>&1; then
  if out=$(promtool check rules deploy/prometheus/alerts.yml 2>&1); then
    ok "promtool check rules deploy/prometheus/alerts.yml"
  else
    fail "promtool check rules deploy/prometheus/alerts.yml: $out"
  fi
  # Each alert fires on the series it is meant for and stays quiet otherwise (synthetic series).
  if out=$(cd deploy/prometheus && promtool test rules alerts_test.yml 2>&1); then
    ok "promtool test rules deploy/prometheus/alerts_test.yml"
  else
    fail "promtool test rules deploy/prometheus/alerts_test.yml: $out"
  fi
fi

# ----------------------------------------------------------------------------------------------- (c)
section "(c) Grafana dashboard: JSON + metric names against a live scrape"
free_port() { python3 "$here/../../support/ports.py"; }  # below the ephemeral range
scrape() { curl -fsS --noproxy '*' --max-time 3 "http://127.0.0.1:$1/metrics" 2>/dev/null; }
for b in kafka-dev-broker payment-service notification-service order-producer lag-exporter analytics-service; do
  [[ -x $bin/$b ]] || fail "(c) $bin/$b is missing (build first: cmake --build build)"
done
live=0
if [[ $failures -eq 0 || -x $bin/kafka-dev-broker ]]; then
  unset ORDERFLOW_CONFIG KAFKA_BROKERS METRICS_ADDRESS KAFKA_GROUP_ID PROCESSING_GUARANTEE INSTANCE_ID
  "$bin/kafka-dev-broker" --port 0 --topic order-stats >"$tmp/broker.out" 2>"$tmp/broker.err" &
  pids+=($!)
  bootstrap=""
  for _ in $(seq 150); do
    bootstrap=$(sed -n 's/^ready bootstrap=\(.*\)$/\1/p' "$tmp/broker.out" | head -n 1)
    [[ -n $bootstrap ]] && break
    kill -0 "${pids[0]}" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $bootstrap ]]; then
    fail "(c) kafka-dev-broker did not print 'ready bootstrap=…' within 15 s: $(tail -n 3 "$tmp/broker.err")"
  else
    ok "kafka-dev-broker ready at $bootstrap"
    pay_port=$(free_port); note_port=$(free_port); prod_port=$(free_port); lag_port=$(free_port)
    ana_port=$(free_port)
    # Failure rates and short backoffs so that the retry and dead-letter paths (and their lazily
    # created series) run too.
    "$bin/payment-service" --brokers "$bootstrap" --metrics-address "127.0.0.1:$pay_port" --log-level warn \
      --gateway-failure-rate 0.3 --retry-backoff-ms 50 --max-attempts 2 --commit-interval-ms 200 \
      >"$tmp/payment.log" 2>&1 &
    pids+=($!); pay_pid=$!
    "$bin/notification-service" --brokers "$bootstrap" --metrics-address "127.0.0.1:$note_port" --log-level warn \
      --sink-failure-rate 0.2 --retry-backoff-ms 50 --max-attempts 2 --commit-interval-ms 200 \
      >"$tmp/notification.log" 2>&1 &
    pids+=($!)
    "$bin/order-producer" --brokers "$bootstrap" --metrics-address "127.0.0.1:$prod_port" --log-level warn \
      --count 0 --rate 200 --invalid-ratio 0.2 --customers 20 --seed 7 >"$tmp/producer.log" 2>&1 &
    pids+=($!)
    "$bin/lag-exporter" --brokers "$bootstrap" --metrics-address "127.0.0.1:$lag_port" --log-level warn \
      --interval-ms 500 >"$tmp/lag-exporter.log" 2>&1 &
    pids+=($!)
    # One-second windows closed without lateness: the per-currency amount series exist only once a window
    # has been published.
    "$bin/analytics-service" --brokers "$bootstrap" --metrics-address "127.0.0.1:$ana_port" --log-level warn \
      --window-ms 1000 --allowed-lateness-ms 0 --idle-timeout-ms 500 >"$tmp/analytics.log" 2>&1 &
    pids+=($!)
    deadline=$((SECONDS + 60))
    while ((SECONDS < deadline)); do
      scrape "$pay_port" >"$tmp/payment.prom" || true
      scrape "$note_port" >"$tmp/notification.prom" || true
      scrape "$prod_port" >"$tmp/producer.prom" || true
      scrape "$lag_port" >"$tmp/lag-exporter.prom" || true
      scrape "$ana_port" >"$tmp/analytics.prom" || true
      if grep -q '^orderflow_end_to_end_latency_seconds_bucket' "$tmp/notification.prom" &&
         grep -q '^orderflow_consumer_lag' "$tmp/payment.prom" &&
         grep -q '^orderflow_messages_produced_total.*\.dlq' "$tmp/payment.prom" &&
         grep -q '^orderflow_messages_produced_total' "$tmp/producer.prom" &&
         grep -q '^orderflow_group_lag' "$tmp/lag-exporter.prom" &&
         grep -q '^orderflow_analytics_amount_cents_aggregated_total' "$tmp/analytics.prom"; then
        live=1
        break
      fi
      sleep 0.5
    done
    if ((live)); then
      ok "scraped the four services and lag-exporter with traffic flowing (e2e latency, lag, dead-letter and per-currency window series present) [t=${SECONDS}s]"
    else
      fail "(c) within 60 s the services did not export every lazily created series (e2e latency / lag / dlq / window amounts);" \
        "payment log: $(tail -n 2 "$tmp/payment.log" | tr '\n' ' ') notification log: $(tail -n 2 "$tmp/notification.log" | tr '\n' ' ')" \
        "analytics log: $(tail -n 2 "$tmp/analytics.log" | tr '\n' ' ')"
    fi
    "${py[@]}" dashboard deploy/grafana/dashboards/orderflow.json "$tmp"/*.prom || failures=$((failures + 1))
    # The image's HEALTHCHECK script (deploy/docker/healthcheck.sh) against the live payment-service: port from its --metrics-address flag,
    # then from METRICS_ADDRESS, and it must fail when nothing listens.
    if ((live)) && command -v wget >/dev/null 2>&1; then
      ORDERFLOW_HEALTHCHECK_PID=$pay_pid sh deploy/docker/healthcheck.sh &&
        ok "healthcheck: /healthz of payment-service (port from its --metrics-address flag)" ||
        fail "healthcheck: failed against the running payment-service on 127.0.0.1:$pay_port"
      ORDERFLOW_HEALTHCHECK_PID=$$ METRICS_ADDRESS="0.0.0.0:$pay_port" sh deploy/docker/healthcheck.sh &&
        ok "healthcheck: port from METRICS_ADDRESS" || fail "healthcheck: failed with METRICS_ADDRESS=0.0.0.0:$pay_port"
      dead=$(free_port)
      if ORDERFLOW_HEALTHCHECK_PID=$$ METRICS_ADDRESS="0.0.0.0:$dead" sh deploy/docker/healthcheck.sh 2>/dev/null; then
        fail "healthcheck: reported healthy although nothing listens on port $dead"
      else
        ok "healthcheck: unhealthy when nothing listens"
      fi
    elif ((live)); then
      skip "healthcheck script run: wget is not installed (deploy/docker/healthcheck.sh uses it; apt install wget)"
    fi

    stop_children   # the remaining checks need no running service
  fi
fi

# ----------------------------------------------------------------------------------------------- (d)
section "(d) compose environment and flags vs. each binary's --help and its --check-config"
"${py[@]}" compose-env "$bin" "${compose_files[@]}" || failures=$((failures + 1))

# ----------------------------------------------------------------------------------------------- (e)
section "(e) runtime packages: every shared library -> scripts/runtime-packages.txt or the slim base"
mapfile -t runtime_pkgs < <(sed 's/#.*//' scripts/runtime-packages.txt | awk 'NF {print $1}')
echo "      runtime-packages.txt: ${runtime_pkgs[*]}"
echo "      base (debian:bookworm-slim): ${BASE_PACKAGES[*]}"
if ! command -v ldd >/dev/null 2>&1 || ! command -v dpkg >/dev/null 2>&1; then
  skip "(e) needs ldd and dpkg (a Debian host); this host has $(command -v ldd || echo 'no ldd') $(command -v dpkg || echo 'no dpkg')"
else
  allowed=" ${runtime_pkgs[*]} ${BASE_PACKAGES[*]} "
  for p in "${runtime_pkgs[@]}"; do
    [[ $p == *-dev ]] && fail "scripts/runtime-packages.txt lists a -dev package: $p"
    if ! dpkg-query -W "$p" >/dev/null 2>&1 && ! apt-cache show "$p" >/dev/null 2>&1; then
      fail "scripts/runtime-packages.txt: '$p' is not a known Debian package (dpkg-query/apt-cache)"
    fi
  done
  # 1. every library every binary needs (ldd prints the transitive closure)
  declare -A needed_by=()   # library path -> first binary needing it
  nbin=0
  for b in "$bin"/*; do
    [[ -f $b && -x $b ]] || continue
    head -c 4 "$b" | grep -q 'ELF' || continue
    nbin=$((nbin + 1))
    while read -r line; do
      if [[ $line == *"not found"* ]]; then
        fail "$(basename "$b"): shared library ${line%% *} not found"
        continue
      fi
      lib=$(awk '{ if ($2 == "=>") print $3; else print $1 }' <<<"$line")
      # Sanitizer runtimes come from an ORDERFLOW_SANITIZE test build; images are built without them.
      [[ $(basename "$lib") =~ ^lib(a|ub|l|t)san\.so ]] && continue
      [[ $lib == /* && -z ${needed_by[$lib]:-} ]] && needed_by[$lib]=$(basename "$b")
    done < <(ldd "$b" 2>&1)
  done
  # 2. their packages, with one dpkg -S per round (it is slow): the real path first, then the
  #    usr-merge aliases (/lib vs /usr/lib) under which a package may have registered the file.
  declare -A owner=()
  for round in real ldd real-nousr ldd-usr ldd-nousr real-usr; do
    cands=()
    declare -A cand_of=()
    for lib in "${!needed_by[@]}"; do
      [[ -n ${owner[$lib]:-} ]] && continue
      r=$(readlink -f "$lib")
      case $round in
        real) c=$r ;; ldd) c=$lib ;; real-nousr) c=${r#/usr} ;; ldd-usr) c=/usr$lib ;;
        ldd-nousr) c=${lib#/usr} ;; real-usr) c=/usr$r ;;
      esac
      cands+=("$c")
      cand_of[$c]=$lib
    done
    ((${#cands[@]})) || break
    while IFS= read -r line; do
      pkg=${line%%: *}
      path=${line##*: }
      pkg=${pkg%%:*}
      pkg=${pkg%%,*}
      [[ -n ${cand_of[$path]:-} ]] && owner[${cand_of[$path]}]=$pkg
    done < <(dpkg -S "${cands[@]}" 2>/dev/null)
    unset cand_of
  done
  for lib in $(printf '%s\n' "${!needed_by[@]}" | sort); do
    pkg=${owner[$lib]:-}
    if [[ -z $pkg ]]; then
      fail "${needed_by[$lib]}: $lib belongs to no Debian package (built locally? the image cannot get it)"
    elif [[ $allowed == *" $pkg "* ]]; then
      ok "$(basename "$lib") <- $pkg"
    else
      fail "${needed_by[$lib]} needs $lib from package '$pkg', which is neither in scripts/runtime-packages.txt nor in the slim base"
    fi
  done
  ((nbin > 0)) || fail "(e) no ELF binaries in $bin"
  echo "      checked $nbin binaries in $bin"
fi

# ----------------------------------------------------------------------------------------------- (f)
section "(f) consistency, Dockerfile, image scripts"
"${py[@]}" consistency "$src" || failures=$((failures + 1))
df=deploy/Dockerfile
grep -Eq '^FROM .*debian:bookworm-slim|^ARG DEBIAN_IMAGE=debian:bookworm-slim' "$df" && ok "$df: based on debian:bookworm-slim" || fail "$df: not based on debian:bookworm-slim"
[[ $(grep -c '^FROM ' "$df") -ge 2 ]] && ok "$df: multi-stage" || fail "$df: not multi-stage"
# The build stage installs the [build] subset of scripts/build-packages.txt (the one package list), not the
# developer set (JDK, Maven, Prometheus, docker-compose, clang: large, and OpenJDK's postinst fails on slim).
if grep -q 'scripts/install-deps.sh --build-only' "$df"; then
  ok "$df: build stage installs through scripts/install-deps.sh --build-only"
else
  fail "$df: build stage does not run scripts/install-deps.sh --build-only"
fi
if ! build_pkgs=$(scripts/install-deps.sh --build-only --list 2>&1) || [[ -z $build_pkgs ]]; then
  fail "scripts/install-deps.sh --build-only --list: ${build_pkgs:-no packages tagged [build] in scripts/build-packages.txt}"
else
  ok "scripts/build-packages.txt [build]: $(tr '\n' ' ' <<<"$build_pkgs")"
  all_pkgs=" $(scripts/install-deps.sh --list | tr '\n' ' ') "
  for p in $build_pkgs; do
    [[ $all_pkgs == *" $p "* ]] || fail "install-deps.sh --build-only selects $p, which the full list lacks"
    if command -v apt-cache >/dev/null 2>&1 && ! dpkg-query -W "$p" >/dev/null 2>&1 && ! apt-cache show "$p" >/dev/null 2>&1; then
      fail "scripts/build-packages.txt: '$p' [build] is not a known Debian package (dpkg-query/apt-cache)"
    fi
  done
fi
grep -q 'runtime-packages.txt' "$df" && ok "$df: runtime stage installs scripts/runtime-packages.txt" || fail "$df: runtime stage does not use scripts/runtime-packages.txt"
user=$(awk '/^USER /{u=$2} END{print u}' "$df")
[[ -n $user && $user != root && $user != 0 && $user != 0:* ]] && ok "$df: runs as USER $user" || fail "$df: final USER is '${user:-unset}' (must be non-root)"
grep -q '^STOPSIGNAL SIGTERM' "$df" && ok "$df: STOPSIGNAL SIGTERM" || fail "$df: no STOPSIGNAL SIGTERM"
grep -q '^HEALTHCHECK ' "$df" && ok "$df: HEALTHCHECK" || fail "$df: no HEALTHCHECK"
while read -r srcpath; do
  for s in $srcpath; do
    [[ -e $s ]] && ok "$df: COPY source $s exists" || fail "$df: COPY source $s does not exist"
  done
done < <(awk '/^COPY / && !/--from=/ { $1=""; $NF=""; print }' "$df")
for d in build 'build-*' run .git; do
  grep -qx "$d" .dockerignore && ok ".dockerignore excludes $d" || fail ".dockerignore does not exclude $d"
done
for s in deploy/docker/entrypoint.sh deploy/docker/healthcheck.sh deploy/kafka/create-topics.sh; do
  sh -n "$s" && ok "sh -n $s" || fail "$s: shell syntax error"
done
# The entrypoint defaults INSTANCE_ID to the hostname (one per replica) and keeps an explicit value.
got=$(env -u INSTANCE_ID sh deploy/docker/entrypoint.sh sh -c 'printf %s "$INSTANCE_ID"')
[[ $got == "$(uname -n)" ]] && ok "entrypoint: INSTANCE_ID defaults to the hostname ($got)" || fail "entrypoint: INSTANCE_ID defaulted to '$got', not the hostname"
got=$(INSTANCE_ID=pay-7 sh deploy/docker/entrypoint.sh sh -c 'printf %s "$INSTANCE_ID"')
[[ $got == pay-7 ]] && ok "entrypoint: keeps an explicit INSTANCE_ID" || fail "entrypoint: INSTANCE_ID=pay-7 became '$got'"
echo
if ((failures)); then
  echo "deploy_static: $failures check(s) FAILED"
  exit 1
fi
if ((skips)); then
  echo "deploy_static: $skips check(s) SKIPPED (see SKIP: above; ORDERFLOW_REQUIRE_ALL=1 makes them failures)"
  exit $ORDERFLOW_SKIP_CODE
fi
echo "deploy_static: all checks passed"
