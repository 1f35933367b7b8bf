# local-server.sh — sourced by tools/kafka-local/kafka-local.sh and tools/clickhouse-local/clickhouse-local.sh:
# what running one local server process from a data dir takes, whatever the server (messages, argument
# checks, free ports, the PID file, the detached watchdog, start-up wait, stop, timing). Not a command.
#
# The sourcing script sets, before sourcing:
#   lsrv_name   the script's name in messages (kafka-local)
#   lsrv_noun   what it runs, in messages (broker)
# and, before calling the functions below that use them:
#   dir, pid_file, watchdog_pid_file, max_lifetime, wipe   as its options and data dir say
#   is_ours PID   a function: PID is this data dir's server (alive, and its command line says so)
# shellcheck shell=bash

# --- messages and arguments ------------------------------------------------------------------------------
die() { echo "$lsrv_name: error: $*" >&2; exit 1; }
note() { echo "$lsrv_name: $*" >&2; }
bad_usage() { echo "$lsrv_name: $*" >&2; exit 2; }
usage() { # the sourcing script's header comment; on stdout for --help, on stderr for a usage error
  local text
  text=$(awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[-1]}")
  if [[ ${1:-2} == 0 ]]; then echo "$text"; else echo "$text" >&2; fi
  exit "${1:-2}"
}
need_arg() { [[ $# -ge 2 && -n $2 && $2 != --* ]] || bad_usage "$1 needs a value"; }
need_numbers() { # need_numbers VAR...: each holds digits only; the flag is the name (timeout_s → --timeout)
  local n flag
  for n in "$@"; do
    flag=${n%_s} flag=--${flag//_/-}
    [[ ${!n} =~ ^[0-9]+$ ]] || bad_usage "$flag must be a number, got '${!n}'"
  done
}
need_port_number() { # need_port_number FLAG VALUE (digits already checked)
  (($2 <= 65535)) || bad_usage "$1 must be 0..65535, got $2"
}

# --- processes -------------------------------------------------------------------------------------------
alive() { # alive PID: exists and is not a zombie
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}
running_pid() { # the PID of this data dir's server, from the PID file, if it runs
  local pid
  [[ -f $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid" && echo "$pid"
}
reaped() { # give init a moment to reap the zombie, so a process check right after stop is clean
  local i
  for ((i = 0; i < 20; i++)); do [[ -e /proc/$1 ]] || return 0; sleep 0.1; done
}
stop_process() { # stop_process PID: SIGTERM, up to 30 s, then SIGKILL
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do alive "$pid" || { reaped "$pid"; return 0; }; sleep 0.2; done
  note "$lsrv_noun pid $pid did not stop within 30 s after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || { reaped "$pid"; return 0; }; sleep 0.2; done
  die "$lsrv_noun pid $pid survived SIGKILL"
}

# --- the watchdog ----------------------------------------------------------------------------------------
start_watchdog() { # start_watchdog PID STARTER_PID CMDLINE_MARK READY_FILE INTERVAL_S
  # Stops PID (while its command line holds CMDLINE_MARK) when: the starting script STARTER_PID died before
  # the server was ready (dir/READY_FILE written; killed by a ctest timeout, Ctrl-C), --max-lifetime passed,
  # or the data dir disappeared (rm -rf build, or of a test's temp dir). Checks every INTERVAL_S.
  # The mark goes in the environment, not the arguments: the watchdog's own command line must not match a
  # search for the server's (pgrep -f).
  LSRV_WATCHDOG_MARK=$3 setsid bash -c '
    pid=$1 starter=$2 lifetime=$3 dir=$4 ready=$5 interval=$6 mark=$LSRV_WATCHDOG_MARK
    ours() { [[ -e /proc/$pid ]] && tr "\0" " " </proc/$pid/cmdline 2>/dev/null | grep -qF -- "$mark"; }
    while ours; do
      if [[ ! -f $dir/$ready ]] && ! kill -0 "$starter" 2>/dev/null ||
        ((lifetime > 0 && SECONDS >= lifetime)) || [[ ! -d $dir ]]; then
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 60; i++)); do ours || exit 0; sleep 0.5; done
        kill -KILL "$pid" 2>/dev/null
        exit 0
      fi
      sleep "$interval"
    done' "$lsrv_name-watchdog" "$1" "$2" "$max_lifetime" "$dir" "$4" "$5" </dev/null >/dev/null 2>&1 &
  echo $! >"$watchdog_pid_file"
}
stop_watchdog() {
  local w
  [[ -f $watchdog_pid_file ]] || return 0
  w=$(<"$watchdog_pid_file")
  if [[ $w =~ ^[0-9]+$ ]] && alive "$w" && tr '\0' ' ' <"/proc/$w/cmdline" | grep -q "$lsrv_name-watchdog"; then
    kill -TERM "$w" 2>/dev/null || true
  fi
  rm -f "$watchdog_pid_file"
}

# --- ports -----------------------------------------------------------------------------------------------
port_in_use() {
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
port_owner() {
  command -v ss >/dev/null 2>&1 || return 0
  ss -Hltnp "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*' | head -n1 | sed 's/users:((/ by /'
}
pick_free_port() { # pick_free_port [TAKEN...]: below the ephemeral range (32768+), so no outgoing connection holds it
  local p i t taken
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 12000)) taken=0
    for t in "$@"; do [[ $p == "$t" ]] && taken=1; done
    ((taken == 0)) && ! port_in_use "$p" && { echo "$p"; return 0; }
  done
  die "could not find a free TCP port on 127.0.0.1"
}
need_free_port() { # need_free_port PORT FLAG [HINT...]: dies when something listens on 127.0.0.1:PORT
  if port_in_use "$1"; then
    die "port $1 on 127.0.0.1 is already in use$(port_owner "$1"); choose another with $2" "${@:3}"
  fi
}

# --- start and stop --------------------------------------------------------------------------------------
clear_stale_start() { # before a start, nothing runs: a PID file and a watchdog left by a dead server go
  if [[ -f $pid_file ]]; then
    note "removing stale PID file $pid_file (process $(<"$pid_file") is gone)"
    rm -f "$pid_file"
  fi
  stop_watchdog
}
wait_ready() { # wait_ready PID DEADLINE INTERVAL_S CHECK [ARG...]: 0 once CHECK succeeds; 1 when PID exits
  # first; 2 once $SECONDS reaches DEADLINE
  local pid=$1 deadline=$2 interval=$3
  shift 3
  while :; do
    alive "$pid" || return 1
    "$@" && return 0
    ((SECONDS < deadline)) || return 2
    sleep "$interval"
  done
}
start_died() { # start_died LOGS_DIR: the server exited before it was ready
  stop_watchdog
  rm -f "$pid_file"
  note "the $lsrv_noun exited during start-up (logs in $1)"
}
abort_start() { # abort_start PID: the start failed after the server was launched: stop it and exit 1
  stop_watchdog
  stop_process "$1"
  rm -f "$pid_file"
  exit 1
}
log_tail() { # log_tail PATTERN MATCHES WIDTH FILE...: the last MATCHES lines matching PATTERN (each cut to
  # WIDTH characters; 0: whole) of each non-empty FILE, else its last 10 lines, on stderr
  local pattern=$1 matches=$2 width=$3 f
  shift 3
  for f in "$@"; do
    [[ -s $f ]] || continue
    echo "--- last lines of $f:"
    if ((width > 0)); then
      grep -E "$pattern" "$f" | tail -n "$matches" | cut -c1-"$width" | grep . || tail -n 10 "$f"
    else
      grep -E "$pattern" "$f" | tail -n "$matches" | grep . || tail -n 10 "$f"
    fi
  done >&2
  return 0
}
stop_command() { # stop_command PATH...: the `stop` command; PATH... (the ready file, …) go too; --wipe: all of dir
  local pid
  stop_watchdog
  if pid=$(running_pid); then
    stop_process "$pid"
    note "stopped (pid $pid)"
  else
    [[ $wipe == 1 ]] || note "not running ($dir)"
  fi
  rm -rf "$pid_file" "$@"
  if [[ $wipe == 1 ]]; then
    rm -rf "$dir"
    note "wiped $dir"
  fi
}

# --- timing ----------------------------------------------------------------------------------------------
now_ms() { echo $(($(date +%s%N) / 1000000)); }
fmt_s() { printf '%d.%01d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
