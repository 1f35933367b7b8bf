#!/usr/bin/env bash
# `make images`: every image the compose stack runs, built on this machine from Debian's package mirror and
# Maven Central only (no registry is needed; Docker Hub may be unreachable):
#   orderflow/debian:<release>  debootstrap --variant=minbase <release> from the mirror this machine's apt
#                               uses, imported with `docker import`; built only when missing
#   orderflow:dev               deploy/Dockerfile's runtime definition with the orderflow binaries, which come
#                               from one of two places (--binaries):
#                                 host    the build tree's bin/ (stripped copies) on the Dockerfile's
#                                         `runtime-base` stage: no compile in Docker. Only when this machine
#                                         runs the image's Debian release (same libraries) and the build
#                                         tree is not sanitized.
#                                 source  deploy/Dockerfile as shipped (its build stage compiles the sources)
#                                 auto    host when it can, else source (the default)
#   orderflow/kafka:<version>   deploy/images/kafka: Apache Kafka's jars (tools/kafka-local/pom.xml, the same
#                               version) on Debian's JRE, with the apache/kafka image's conventions
#   orderflow/prometheus:dev    deploy/images/prometheus: Debian's prometheus package
#   orderflow/clickhouse:18.16  deploy/images/clickhouse: Debian's clickhouse-server package (18.16 on bookworm)
# Usage: deploy/images/build-images.sh [--binaries auto|host|source] [--release CODENAME] [--only orderflow]
#                                      [--tag IMAGE] [BUILD_DIR]
#   BUILD_DIR   the build tree: bin/ for --binaries host, kafka/lib (`make kafka-jars`) for the Kafka image
#   --release   the Debian release of the base (bookworm; trixie has librdkafka 2.8, see deploy/README.md)
#   --only orderflow   the base and the orderflow image, not Kafka, Prometheus and ClickHouse
#   --tag       the orderflow image's name (orderflow:dev on bookworm, orderflow:<release> otherwise)
# BUILD_JOBS=N limits the compile of --binaries source to N parallel jobs (default: ninja's, cores + 2);
# BUILD_TARGETS="a b" compiles only those binaries there (default: every one).
# Prints the image names to use, as the compose files take them:
#   KAFKA_IMAGE=orderflow/kafka:<version> PROMETHEUS_IMAGE=orderflow/prometheus:dev
#   CLICKHOUSE_IMAGE=orderflow/clickhouse:18.16 DEBIAN_IMAGE=… ORDERFLOW_IMAGE=…
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
usage() { sed -n '/^# Usage:/,/^# BUILD_TARGETS/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
binaries=auto release=bookworm only= tag= build_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --binaries) binaries=${2:?--binaries needs auto, host or source}; shift 2 ;;
    --release) release=${2:?--release needs a Debian codename}; shift 2 ;;
    --only) only=${2:?--only needs orderflow}; shift 2 ;;
    --tag) tag=${2:?--tag needs an image name}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "images: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) build_dir=$1; shift ;;
  esac
done
case "$binaries" in auto | host | source) ;; *) echo "images: --binaries auto|host|source, not '$binaries'" >&2; exit 2 ;; esac
case "$only" in '' | orderflow) ;; *) echo "images: --only orderflow, not '$only'" >&2; exit 2 ;; esac
build_dir="${build_dir:-$root/build}"
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
docker="${DOCKER:-docker}"
export DOCKER_CLI_HINTS=false
base=orderflow/debian:$release
[ -n "$tag" ] || { [ "$release" = bookworm ] && tag=orderflow:dev || tag=orderflow:$release; }
kafka_version="$(tr -d '[:space:]' <"$root/tools/kafka-local/KAFKA_VERSION")"
kafka_image="orderflow/kafka:$kafka_version"
prometheus_image=orderflow/prometheus:dev
clickhouse_image=orderflow/clickhouse:18.16
# The binaries of the image: the Makefile's RUN_TARGETS, what the Dockerfile's build stage produces.
shipped=(order-producer payment-service notification-service analytics-service dlq-tool lag-exporter kafka-dev-broker)
log() { echo "images: $*" >&2; }
die() { echo "images: $*" >&2; exit 1; }

"$docker" info >/dev/null 2>&1 || die "no Docker daemon answers ('$docker info' fails): start dockerd as root"

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
  [ -f "/usr/share/debootstrap/scripts/$release" ] || die "this debootstrap does not know '$release'"
  [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
  url=$(mirror)
  tmp=$(mktemp -d /var/tmp/orderflow-rootfs.XXXXXX)
  trap 'rm -rf "$tmp"' EXIT
  log "$base: debootstrap --variant=minbase $release from $url"
  debootstrap --variant=minbase "$release" "$tmp/root" "$url" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -n 20 "$tmp/debootstrap.log" >&2; die "debootstrap failed"; }
  # Smaller and reproducible: no package lists or caches in the base.
  rm -rf "$tmp/root/var/lib/apt/lists/"* "$tmp/root/var/cache/apt/"*.bin "$tmp/root/var/log/"*.log
  tar -C "$tmp/root" -c . | "$docker" import --change 'CMD ["/bin/bash"]' \
    --change 'ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive' - "$base" >/dev/null
  rm -rf "$tmp"
  trap - EXIT
  log "$base: imported in $((SECONDS - t0)) s"
fi

# Host binaries link against this machine's libraries: usable when the image runs the same Debian release.
host_release=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
why_not_host() {
  local b sanitize
  [ "$host_release" = "$release" ] || { echo "this machine runs '${host_release:-?}', the image $release"; return; }
  for b in "${shipped[@]}"; do
    [ -x "$build_dir/bin/$b" ] || { echo "$build_dir/bin/$b is missing (make build-run)"; return; }
  done
  sanitize=$(sed -n 's/^ORDERFLOW_SANITIZE:[A-Z]*=//p' "$build_dir/CMakeCache.txt" 2>/dev/null)
  [ -z "$sanitize" ] || echo "$build_dir is built with ORDERFLOW_SANITIZE=$sanitize"
}
reason=$(why_not_host)
case "$binaries" in
  host) [ -z "$reason" ] || die "--binaries host: $reason" ;;
  auto) if [ -z "$reason" ]; then binaries=host; else binaries=source; log "$tag: compiled in Docker: $reason"; fi ;;
esac

t=$SECONDS
if [ "$binaries" = host ]; then
  # deploy/Dockerfile's runtime-base stage (packages, user, entrypoint, healthcheck, ports, STOPSIGNAL) is
  # its first stage, so the legacy builder, which builds every stage up to the target, compiles nothing.
  log "$tag: runtime-base of deploy/Dockerfile + $build_dir/bin (stripped)"
  runtime_base=$(DOCKER_BUILDKIT=0 "$docker" build -q -f "$root/deploy/Dockerfile" --target runtime-base \
    --build-arg "DEBIAN_IMAGE=$base" "$root")
  ctx=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-image.XXXXXX")
  trap 'rm -rf "$ctx"' EXIT
  mkdir "$ctx/bin"
  for b in "${shipped[@]}"; do strip --strip-unneeded -o "$ctx/bin/$b" "$build_dir/bin/$b"; done
  printf '%s\n' 'ARG RUNTIME_BASE' 'FROM ${RUNTIME_BASE}' 'COPY bin/ /usr/local/bin/' |
    DOCKER_BUILDKIT=0 "$docker" build -q -f - --build-arg "RUNTIME_BASE=$runtime_base" -t "$tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  trap - EXIT
else
  log "$tag: docker build -f deploy/Dockerfile --build-arg DEBIAN_IMAGE=$base${BUILD_TARGETS:+ (only $BUILD_TARGETS)}"
  DOCKER_BUILDKIT=0 "$docker" build -q -f "$root/deploy/Dockerfile" --build-arg "DEBIAN_IMAGE=$base" \
    ${BUILD_JOBS:+--build-arg "BUILD_JOBS=$BUILD_JOBS"} ${BUILD_TARGETS:+--build-arg "BUILD_TARGETS=$BUILD_TARGETS"} \
    -t "$tag" "$root" >/dev/null
fi
log "$tag: $((SECONDS - t)) s ($binaries binaries)"
if [ -n "$only" ]; then
  echo "DEBIAN_IMAGE=$base ORDERFLOW_IMAGE=$tag"
  exit 0
fi

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
echo "KAFKA_IMAGE=$kafka_image PROMETHEUS_IMAGE=$prometheus_image CLICKHOUSE_IMAGE=$clickhouse_image DEBIAN_IMAGE=$base ORDERFLOW_IMAGE=$tag"
