#!/usr/bin/env bash
# Installs (idempotently) the Debian 12 packages of scripts/build-packages.txt, the one list of them.
#   scripts/install-deps.sh               everything that building, testing and running orderflow needs (make deps)
#   scripts/install-deps.sh --build-only  only the packages tagged [build]: what compiling the binaries needs
#                                         (no tests, benchmarks, JDK, lint or deploy tools; deploy/Dockerfile)
#   scripts/install-deps.sh --run         [build] and [run]: what `make run` needs (the demo's tools, no tests)
#   scripts/install-deps.sh --run --kafka also [kafka]: the JDK and Maven of the real broker (make run KAFKA=real)
#   scripts/install-deps.sh [...] --list  print the selected package names, install nothing
# Quiet when everything is already present. Needs root (or passwordless sudo) only when something is missing.
set -euo pipefail

usage() { sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
build_only=0
run_only=0
with_kafka=0
list_only=0
for arg in "$@"; do
  case "$arg" in
    --build-only) build_only=1 ;;
    --run) run_only=1 ;;
    --kafka) with_kafka=1 ;;
    --list) list_only=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install-deps: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
list="${here}/build-packages.txt"
if [ "$build_only" -eq 1 ] && [ "$run_only" -eq 1 ]; then
  echo "install-deps: --build-only and --run exclude each other" >&2
  exit 2
fi
if [ "$with_kafka" -eq 1 ] && [ "$run_only" -eq 0 ]; then
  echo "install-deps: --kafka goes with --run (without either, everything is installed)" >&2
  exit 2
fi
# "name [tag]" per line after comments are removed; an unknown tag is a typo that would silently drop a
# package from a subset, so it is an error.
if bad=$(sed 's/#.*//' "$list" | awk 'NF > 2 || (NF == 2 && $2 != "[build]" && $2 != "[run]" && $2 != "[kafka]")') &&
  [ -n "$bad" ]; then
  echo "install-deps: ${list}: expected 'package' or 'package [build|run|kafka]', got: ${bad}" >&2
  exit 2
fi
if [ "$build_only" -eq 1 ]; then
  mapfile -t packages < <(sed 's/#.*//' "$list" | awk '$2 == "[build]" {print $1}')
elif [ "$run_only" -eq 1 ]; then
  mapfile -t packages < <(sed 's/#.*//' "$list" |
    awk -v kafka="$with_kafka" '$2 == "[build]" || $2 == "[run]" || (kafka == 1 && $2 == "[kafka]") {print $1}')
else
  mapfile -t packages < <(sed 's/#.*//' "$list" | awk 'NF {print $1}')
fi
if [ "$list_only" -eq 1 ]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing package(s): ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "install-deps: missing packages and not root: run 'sudo scripts/install-deps.sh' or install: ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Refresh the package index only when it is absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]; then
  $SUDO apt-get update -qq
fi
# The clickhouse-server package starts a system ClickHouse on 8123/9000; the tests and tools/clickhouse-local
# run their own on free ports, so that service is kept from starting (a policy-rc.d that refuses it alone),
# unless the machine already has a policy of its own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n[ "$1" = clickhouse-server ] && exit 101\nexit 0\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
rc=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
[ "$own_policy" -eq 0 ] || $SUDO rm -f "$policy"
[ "$rc" -eq 0 ] || exit "$rc"
echo "install-deps: done"
