#!/usr/bin/env bash
# Starts or stops the local dev broker (kafka-dev-broker, an in-memory Kafka) in the background.
#   scripts/dev-broker.sh start|stop|status [BUILD_DIR]      (BUILD_DIR defaults to build)
# Port: DEV_BROKER_PORT (default 9092). Extra flags: DEV_BROKER_ARGS (e.g. "--partitions 24").
# Log: run/logs/dev-broker.log; pid: run/dev-broker.pid. Both commands are idempotent.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cmd="${1:-}"
build_dir="${2:-build}"
case "${build_dir}" in /*) ;; *) build_dir="${root}/${build_dir}" ;; esac

bin="${build_dir}/bin/kafka-dev-broker"
port="${DEV_BROKER_PORT:-9092}"
run_dir="${root}/run"
log="${run_dir}/logs/dev-broker.log"
pid_file="${run_dir}/dev-broker.pid"
ready_timeout_s=15
stop_timeout_s=10

# The pid in the pid file, if that process is alive and is a kafka-dev-broker (pids get reused).
running_pid() {
  [ -f "${pid_file}" ] || return 1
  local pid
  pid="$(cat "${pid_file}" 2>/dev/null || true)"
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  alive "${pid}" || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -q kafka-dev-broker || return 1
  echo "${pid}"
}

# True while the process exists and is not a zombie waiting to be reaped.
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [ -n "${state}" ] && [ "${state}" != "Z" ] && [ "${state}" != "X" ]
}

ready_line() { grep -m1 '^ready bootstrap=' "${log}" 2>/dev/null || true; }

start() {
  local pid
  if pid="$(running_pid)"; then
    echo "dev-broker: already running (pid ${pid}): $(ready_line)"
    return 0
  fi
  rm -f "${pid_file}"
  if [ ! -x "${bin}" ]; then
    echo "dev-broker: ${bin} not found; build first (make build)" >&2
    return 1
  fi
  mkdir -p "$(dirname "${log}")"
  : >"${log}"  # now, not in the background job: the wait below must not see an old ready line
  # setsid: the broker outlives this shell and is not hit by a later Ctrl-C in the same terminal.
  # shellcheck disable=SC2086  # DEV_BROKER_ARGS is a list of flags
  setsid "${bin}" --port "${port}" ${DEV_BROKER_ARGS:-} </dev/null >"${log}" 2>&1 &
  pid=$!
  echo "${pid}" >"${pid_file}"

  local deadline=$((SECONDS + ready_timeout_s))
  while [ -z "$(ready_line)" ]; do
    if ! alive "${pid}"; then
      rm -f "${pid_file}"
      echo "dev-broker: kafka-dev-broker exited during start-up; log ${log}:" >&2
      tail -n 20 "${log}" >&2
      return 1
    fi
    if [ "${SECONDS}" -ge "${deadline}" ]; then
      kill -KILL "${pid}" 2>/dev/null || true
      rm -f "${pid_file}"
      echo "dev-broker: not ready after ${ready_timeout_s} s; log ${log}:" >&2
      tail -n 20 "${log}" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "dev-broker: started (pid ${pid}, log ${log}): $(ready_line)"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "${pid_file}"
    echo "dev-broker: not running"
    return 0
  fi
  kill -TERM "${pid}" 2>/dev/null || true
  local deadline=$((SECONDS + stop_timeout_s))
  while alive "${pid}"; do
    if [ "${SECONDS}" -ge "${deadline}" ]; then
      echo "dev-broker: still running ${stop_timeout_s} s after SIGTERM; sending SIGKILL" >&2
      kill -KILL "${pid}" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  rm -f "${pid_file}"
  echo "dev-broker: stopped (pid ${pid})"
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "dev-broker: running (pid ${pid}): $(ready_line)"
  else
    echo "dev-broker: not running"
    return 3
  fi
}

case "${cmd}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *)
    echo "usage: $0 start|stop|status [BUILD_DIR]" >&2
    exit 2
    ;;
esac
