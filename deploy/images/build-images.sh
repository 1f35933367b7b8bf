#!/usr/bin/env bash
# `make images`: every image the compose stack runs, built on this machine from Debian's package mirror and
# Maven Central only (no registry is needed; Docker Hub may be unreachable):
#   orderflow/debian:bookworm   debootstrap --variant=minbase bookworm from the mirror this machine's apt
#                               uses, imported with `docker import`; built only when missing
#   orderflow:dev               deploy/Dockerfile as shipped, with DEBIAN_IMAGE=orderflow/debian:bookworm
#   orderflow/kafka:<version>   deploy/images/kafka: Apache Kafka's jars (tools/kafka-local/pom.xml, the same
#                               version) on Debian's JRE, with the apache/kafka image's conventions
#   orderflow/prometheus:dev    deploy/images/prometheus: Debian's prometheus package
#   orderflow/clickhouse:18.16  deploy/images/clickhouse: Debian's clickhouse-server package (18.16 on bookworm)
# Usage: deploy/images/build-images.sh [BUILD_DIR]   (BUILD_DIR holds the Kafka jars: `make kafka-jars`)
# BUILD_JOBS=N limits the compile of orderflow:dev to N parallel jobs (default: ninja's, cores + 2).
# Prints the image names to use, as the compose files take them:
#   KAFKA_IMAGE=orderflow/kafka:<version> PROMETHEUS_IMAGE=orderflow/prometheus:dev
#   CLICKHOUSE_IMAGE=orderflow/clickhouse:18.16 DEBIAN_IMAGE=…
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${1:-$root/build}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
docker="${DOCKER:-docker}"
export DOCKER_CLI_HINTS=false
base=orderflow/debian:bookworm
kafka_version="$(tr -d '[:space:]' <"$root/tools/kafka-local/KAFKA_VERSION")"
kafka_image="orderflow/kafka:$kafka_version"
prometheus_image=orderflow/prometheus:dev
clickhouse_image=orderflow/clickhouse:18.16
log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

"$docker" info >/dev/null 2>&1 || die "no Docker daemon answers ('$docker info' fails): scripts/dockerd.sh start"

# The mirror this machine's apt uses (deb822 .sources first, then one-line sources.list).
mirror() {
  local m
  m=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\{0,1\} *$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
  [ -n "$m" ] || m=$(sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*debian\)\/\{0,1\} .*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1)
  echo "${m:-http://deb.debian.org/debian}"
}

t0=$SECONDS
if "$docker" image inspect "$base" >/dev/null 2>&1; then
  log "$base: present (docker rmi $base to rebuild)"
else
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap not found: scripts/install-deps.sh installs it"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  url=$(mirror)
  tmp=$(mktemp -d /var/tmp/orderflow-rootfs.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  log "$base: debootstrap --variant=minbase bookworm from $url"
  debootstrap --variant=minbase bookworm "$tmp/root" "$url" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  # Smaller and reproducible: no package lists or caches in the base.
  rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin "$tmp/root/var/log/"*.log
  tar -C "$tmp/root" -c . | "$docker" import --change 'CMD ["/bin/bash"]' \
    --change 'ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive' - "$base" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  log "$base: imported in $((SECONDS - t0)) s"
fi

t=$SECONDS
log "orderflow:dev: docker build -f deploy/Dockerfile --build-arg DEBIAN_IMAGE=$base"
DOCKER_BUILDKIT=0 "$docker" build -q -f "$root/deploy/Dockerfile" --build-arg "DEBIAN_IMAGE=$base" \
  ${BUILD_JOBS:+--build-arg "BUILD_JOBS=$BUILD_JOBS"} -t orderflow:dev "$root" >/dev/null
log "orderflow:dev: $((SECONDS - t)) s"

t=$SECONDS
jars="$build_dir/kafka/lib"
ls "$jars"/kafka_2.13-"$kafka_version".jar >/dev/null 2>&1 ||
  die "no Kafka $kafka_version jars in $jars: make kafka-jars (tools/kafka-local/fetch-jars.sh)"
ctx="$build_dir/images/kafka"
rm -rf "$ctx"
mkdir -p "$ctx/lib"
cp -a "$root/deploy/images/kafka/." "$ctx/"
# The broker's and the tools' jars; not the kafka-local helper (tools/kafka-local only).
find "$jars" -maxdepth 1 -name '*.jar' ! -name 'orderflow-kafka-local*.jar' -exec cp {} "$ctx/lib/" \;
log "$kafka_image: docker build deploy/images/kafka"
DOCKER_BUILDKIT=0 "$docker" build -q --build-arg "BASE_IMAGE=$base" --build-arg "KAFKA_VERSION=$kafka_version" \
  -t "$kafka_image" "$ctx" >/dev/null
log "$kafka_image: $((SECONDS - t)) s"

t=$SECONDS
log "$prometheus_image: docker build deploy/images/prometheus"
DOCKER_BUILDKIT=0 "$docker" build -q --build-arg "BASE_IMAGE=$base" -t "$prometheus_image" \
  "$root/deploy/images/prometheus" >/dev/null
log "$prometheus_image: $((SECONDS - t)) s"

t=$SECONDS
log "$clickhouse_image: docker build deploy/images/clickhouse"
DOCKER_BUILDKIT=0 "$docker" build -q --build-arg "BASE_IMAGE=$base" -t "$clickhouse_image" \
  "$root/deploy/images/clickhouse" >/dev/null
log "$clickhouse_image: $((SECONDS - t)) s"
log "all images in $((SECONDS - t0)) s"
echo "KAFKA_IMAGE=$kafka_image PROMETHEUS_IMAGE=$prometheus_image CLICKHOUSE_IMAGE=$clickhouse_image DEBIAN_IMAGE=$base"
