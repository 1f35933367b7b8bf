#!/usr/bin/env bash
# `make compose-up` / `make compose-down`: deploy/compose.yaml with the images of `make images` (no registry).
#   deploy/stack.sh up [BUILD_DIR]   builds the missing images, starts the stack and returns once every
#                                    container is healthy (kafka-init exited 0), at most 5 minutes
#   deploy/stack.sh down             removes the stack's containers, networks and volumes
# Project name `orderflow` (COMPOSE_PROJECT_NAME overrides). Grafana starts when its image is present
# locally (GRAFANA_IMAGE, default grafana/grafana:12.1.0; `docker pull` it where Docker Hub is reachable);
# without it the rest of the stack runs. Published on 127.0.0.1: Kafka 29092-29094, Prometheus 9090,
# ClickHouse 8123 (CLICKHOUSE_HTTP_PORT), Grafana 3000.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
build_dir="${2:-build}"
project="${COMPOSE_PROJECT_NAME:-orderflow}"
compose=(docker-compose -p "$project" -f "$root/deploy/compose.yaml")
die() { echo "stack: $*" >&2; exit 1; }
docker info >/dev/null 2>&1 ||
  die "no Docker daemon answers: start one (systemctl start docker, or dockerd & as root)"

case "$cmd" in
  up)
    eval "export $("$root/deploy/images/build-images.sh" "$build_dir")"
    services=(kafka-1 kafka-2 kafka-3 kafka-init payment-service notification-service lag-exporter prometheus
              clickhouse clickhouse-init analytics-service)
    grafana="${GRAFANA_IMAGE:-grafana/grafana:12.1.0}"
    if docker image inspect "$grafana" >/dev/null 2>&1; then
      services+=(grafana)
    else
      echo "stack: $grafana is not here (docker pull $grafana, or GRAFANA_IMAGE=...): Grafana left out" >&2
    fi
    "${compose[@]}" up -d "${services[@]}"
    deadline=$((SECONDS + 300))
    while :; do
      pending=()
      for c in $("${compose[@]}" ps -q); do
        state=$(docker inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$c")
        read -r name status code health <<<"$state"
        case "$name" in
          *-init*) [ "$status" = exited ] && [ "$code" = 0 ] && continue
            [ "$status" = exited ] && die "${name#/} exited $code: docker logs ${name#/}" ;;
          *) [ "$health" = healthy ] && continue ;;
        esac
        pending+=("${name#/}")
      done
      [ "${#pending[@]}" -eq 0 ] && break
      [ $SECONDS -ge $deadline ] && die "not healthy after 5 minutes: ${pending[*]} (${compose[*]} logs)"
      sleep 2  # polling interval of the bounded wait above
    done
    echo "stack: up and healthy (project $project): Kafka 127.0.0.1:29092, Prometheus http://127.0.0.1:9090," \
      "ClickHouse http://127.0.0.1:${CLICKHOUSE_HTTP_PORT:-8123}"
    echo "stack: inject orders (ORDER_COUNT, ORDER_RATE, INVALID_RATIO: deploy/compose.yaml):"
    echo "  KAFKA_IMAGE=$KAFKA_IMAGE PROMETHEUS_IMAGE=$PROMETHEUS_IMAGE CLICKHOUSE_IMAGE=$CLICKHOUSE_IMAGE" \
      "${compose[*]} run --rm order-producer"
    ;;
  down)
    "${compose[@]}" down -v --remove-orphans -t 40
    ;;
  *)
    sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit 2
    ;;
esac
