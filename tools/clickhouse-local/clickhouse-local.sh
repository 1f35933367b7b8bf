#!/usr/bin/env bash
# clickhouse-local.sh — a real single-node ClickHouse server on 127.0.0.1 for local runs and the tests of the
# analytics sink. Runs the server binary of the Debian package (clickhouse-server, 18.16 on Debian 12) or of
# an official release directly, as the current user, with a config of its own: the system service that the
# package installs is neither needed nor touched.
#
#   clickhouse-local.sh start  [--port P] [--tcp-port T] [--dir D] [--fresh] [--timeout S] [--http-file F]
#                              [--max-lifetime S]
#   clickhouse-local.sh stop   [--dir D] [--wipe]
#   clickhouse-local.sh kill   [--dir D]
#   clickhouse-local.sh status [--dir D]
#   clickhouse-local.sh query  [--dir D | --port P] [--file F] [--data F] ['SQL']
#
# Defaults: --port 8123 (HTTP; 0 = pick a free port below the ephemeral range), --tcp-port 0 (the native
# protocol of clickhouse-client; 0 = a free port, kept across restarts), --dir run/clickhouse (relative to the
# repo root), --timeout 60. `start` writes D/config.xml and D/users.xml on every start (listening on
# 127.0.0.1 only, no interserver or other listeners, caches and memory sized for a small box), keeps the
# data in D/data across restarts (--fresh wipes it first), waits until GET /ping answers `Ok.` and prints
# `ready http=127.0.0.1:P` on stdout; --http-file F also writes `127.0.0.1:P` to F.
# A detached watchdog stops the server when `start` dies before the server is ready, when D disappears, or
# after --max-lifetime S seconds (0 = never; tests use it so an interrupted ctest run leaves no server behind).
# `kill` ends the server with SIGKILL (a crash, for tests of the sink): no shutdown, the data dir is kept, and
# `start --dir D --port P` brings it back on the same port with what it had acknowledged.
# `query` sends SQL over HTTP (to the server of D, or to --port P) and prints the result: the SQL argument, or
# with --file F each statement of F in order (a statement ends with `;` at the end of a line; lines starting
# with `--` are skipped; e.g. --file deploy/clickhouse/schema.sql), or with --data F the SQL (an INSERT …
# FORMAT …) goes in the URL and F (`-` = stdin) is the request body.
# Env: CLICKHOUSE_SERVER (the server command, e.g. "/opt/ch/clickhouse server"; default: clickhouse-server
# from PATH or /usr/sbin, else `clickhouse server`).
# Exit: 0 ok; 1 error (message on stderr); 2 usage; `status` exits 3 when not running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

lsrv_name=clickhouse-local lsrv_noun=server
# shellcheck source=../lib/local-server.sh
source "$here/../lib/local-server.sh"

cmd=${1:-}
[[ -z $cmd ]] && usage 2
shift
[[ $cmd == -h || $cmd == --help || $cmd == help ]] && usage 0
case $cmd in start | stop | kill | status | query) ;; *) bad_usage "unknown command '$cmd' (start|stop|kill|status|query)" ;; esac

port=8123 port_given=0 tcp_port=0 dir=$root/run/clickhouse timeout_s=60 http_file="" max_lifetime=0 fresh=0
wipe=0 sql="" sql_file="" data_file=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --port) need_arg "$@"; port=$2; port_given=1; shift 2 ;;
    --tcp-port) need_arg "$@"; tcp_port=$2; shift 2 ;;
    --dir) need_arg "$@"; dir=$(realpath -m "$2"); shift 2 ;;
    --timeout) need_arg "$@"; timeout_s=$2; shift 2 ;;
    --http-file) need_arg "$@"; http_file=$(realpath -m "$2"); shift 2 ;;
    --max-lifetime) need_arg "$@"; max_lifetime=$2; shift 2 ;;
    --file) need_arg "$@"; sql_file=$2; shift 2 ;;
    --data) need_arg "$@"; data_file=$2; shift 2 ;;
    --fresh) fresh=1; shift ;;
    --wipe) wipe=1; shift ;;
    -h | --help) usage 0 ;;
    --*) bad_usage "unknown option $1 (see --help)" ;;
    *)
      [[ $cmd == query && -z $sql ]] || bad_usage "unexpected argument $1"
      sql=$1; shift ;;
  esac
done
need_numbers port tcp_port timeout_s max_lifetime
need_port_number --port "$port"
need_port_number --tcp-port "$tcp_port"
((timeout_s >= 1)) || bad_usage "--timeout must be >= 1"
if [[ $cmd == query ]]; then
  [[ -n $sql_file && (-n $sql || -n $data_file) ]] && bad_usage "query: --file runs the statements of a file; no SQL or --data with it"
  [[ -n $sql || -n $sql_file ]] || bad_usage "query needs SQL or --file F (see --help)"
fi

pid_file=$dir/clickhouse.pid
watchdog_pid_file=$dir/watchdog.pid
conf=$dir/config.xml
users=$dir/users.xml
logs=$dir/logs
data=$dir/data

# --- the server binary -----------------------------------------------------------------------------------
server_cmd=()
find_server() { # fills server_cmd; Debian ships /usr/sbin/clickhouse-server, official releases a `clickhouse` multi-tool
  if [[ -n ${CLICKHOUSE_SERVER:-} ]]; then
    read -r -a server_cmd <<<"$CLICKHOUSE_SERVER"
    command -v "${server_cmd[0]}" >/dev/null 2>&1 || die "CLICKHOUSE_SERVER='$CLICKHOUSE_SERVER': ${server_cmd[0]} not found"
    return 0
  fi
  local c
  for c in "$(command -v clickhouse-server 2>/dev/null || true)" /usr/sbin/clickhouse-server /usr/bin/clickhouse-server; do
    [[ -n $c && -x $c ]] && { server_cmd=("$c"); return 0; }
  done
  c=$(command -v clickhouse 2>/dev/null) && { server_cmd=("$c" server); return 0; }
  die "no ClickHouse server binary: install clickhouse-server (scripts/install-deps.sh) or set CLICKHOUSE_SERVER"
}
need_curl() { command -v curl >/dev/null 2>&1 || die "curl not found (scripts/install-deps.sh installs it)"; }

# --- processes -------------------------------------------------------------------------------------------
is_ours() { # the PID is a ClickHouse server started with this dir's config.xml
  alive "$1" && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "--config-file=$conf "
}
configured_port() { sed -n 's#^ *<http_port>\([0-9]*\)</http_port>.*#\1#p' "$conf" 2>/dev/null; }
configured_tcp_port() { sed -n 's#^ *<tcp_port>\([0-9]*\)</tcp_port>.*#\1#p' "$conf" 2>/dev/null; }

# --- HTTP ------------------------------------------------------------------------------------------------
# Every request goes to 127.0.0.1: --noproxy so that an http_proxy / all_proxy of the caller never sees it.
ping_ok() { [[ $(curl -s --noproxy "*" --max-time 2 "http://127.0.0.1:$1/ping" 2>/dev/null) == Ok. ]]; }
urlencode() {
  local LC_ALL=C s=$1 i c out=""
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case $c in [a-zA-Z0-9.~_-]) out+=$c ;; *) printf -v c '%%%02X' "'$c"; out+=$c ;; esac
  done
  echo "$out"
}
http_query() { # http_query PORT SQL [BODY_FILE]: the result on stdout; ClickHouse's message on stderr, exit 1
  local p=$1 q=$2 body=${3:-} out code
  out=$(mktemp)
  # wait_end_of_query: the server buffers the result, so an error half-way through a SELECT becomes an HTTP
  # error status instead of a 200 whose body ends in an exception text.
  if [[ -n $body ]]; then
    code=$(curl -sS --noproxy "*" -o "$out" -w '%{http_code}' --data-binary "@$body" \
      "http://127.0.0.1:$p/?wait_end_of_query=1&query=$(urlencode "$q")") || code=000
  else
    code=$(curl -sS --noproxy "*" -o "$out" -w '%{http_code}' --data-binary "$q" "http://127.0.0.1:$p/?wait_end_of_query=1") ||
      code=000
  fi
  if [[ $code == 200 ]]; then
    cat "$out"
    rm -f "$out"
    return 0
  fi
  if [[ $code == 000 ]]; then
    echo "clickhouse-local: error: no answer from http://127.0.0.1:$p/ (is the server running? $0 status)" >&2
  else
    echo "clickhouse-local: error: HTTP $code from ClickHouse: $(tr -s '\n' ' ' <"$out")" >&2
  fi
  rm -f "$out"
  return 1
}
split_statements() { # the statements of file $1, NUL-terminated, without their `;`
  awk '
    /^[[:space:]]*--/ { next }
    { buf = buf $0 "\n" }
    /;[[:space:]]*$/ { sub(/;[[:space:]]*\n$/, "\n", buf); if (buf ~ /[^[:space:]]/) printf "%s%c", buf, 0; buf = "" }
    END { if (buf ~ /[^[:space:]]/) printf "%s%c", buf, 0 }' "$1"
}

# --- server ----------------------------------------------------------------------------------------------
server_log_tail() { log_tail '<Error>|<Fatal>|Exception|Cannot' 10 400 "$logs/stderr.log" "$logs/server.err.log"; }
address_in_use() { grep -qsE 'Address already in use|Net Exception: Address' "$logs/stderr.log" "$logs/server.err.log"; }
explain_failure() {
  if address_in_use; then
    note "hint: a port is in use (HTTP $port or TCP $tcp_port); pick another with --port / --tcp-port"
  elif grep -qsE 'Cannot lock file|Another server instance' "$logs/server.err.log" "$logs/stderr.log"; then
    note "hint: another server uses $data; stop it first ($0 stop --dir $dir)"
  elif grep -qsE 'Unknown (data type|table engine)|Cannot attach|Cannot parse|metadata' "$logs/server.err.log"; then
    note "hint: $data may have been written by another ClickHouse version; wipe it: $0 stop --dir $dir --wipe (or start --fresh)"
  fi
}

write_config() {
  # <yandex> is the root element 18.16 knows; current releases name it <clickhouse> and treat the two alike.
  # Listeners that are not configured are not opened: no interserver_http_port, https, mysql, postgresql, grpc.
  cat >"$conf" <<EOF
<?xml version="1.0"?>
<!-- Written by tools/clickhouse-local/clickhouse-local.sh on each start; edits are overwritten. -->
<yandex>
    <logger>
        <level>information</level>
        <log>$logs/server.log</log>
        <errorlog>$logs/server.err.log</errorlog>
        <size>20M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$port</http_port>
    <tcp_port>$tcp_port</tcp_port>
    <path>$data/</path>
    <tmp_path>$dir/tmp/</tmp_path>
    <user_files_path>$dir/user_files/</user_files_path>
    <format_schema_path>$dir/format_schemas/</format_schema_path>
    <users_config>$users</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <!-- DateTime without an explicit zone is shown in UTC whatever the machine's zone is. -->
    <timezone>UTC</timezone>
    <!-- Small footprint for a 2-core box shared with builds: the packaged defaults are 5 GiB of mark cache,
         8 GiB of uncompressed cache, 100 concurrent queries and 4096 connections. -->
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>134217728</uncompressed_cache_size>
    <max_concurrent_queries>32</max_concurrent_queries>
    <max_connections>256</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <mlock_executable>false</mlock_executable>
</yandex>
EOF
  # Only settings that exist under these names in 18.16 and in current releases, so that neither rejects the
  # profile as unknown.
  cat >"$users" <<EOF
<?xml version="1.0"?>
<!-- Written by tools/clickhouse-local/clickhouse-local.sh on each start; edits are overwritten. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>2000000000</max_memory_usage>
            <max_threads>2</max_threads>
            <use_uncompressed_cache>0</use_uncompressed_cache>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default></default>
    </quotas>
</yandex>
EOF
}

cmd_start() {
  local pid t0 version
  find_server
  need_curl
  t0=$(now_ms)

  if pid=$(running_pid); then
    local running_port
    running_port=$(configured_port)
    if [[ $port_given == 0 || $port == 0 || $port == "$running_port" ]]; then
      note "already running (pid $pid, dir $dir)"
      [[ -n $http_file ]] && echo "127.0.0.1:$running_port" >"$http_file"
      echo "ready http=127.0.0.1:$running_port"
      return 0
    fi
    die "a server from $dir is already running on port $running_port (pid $pid); stop it first: $0 stop --dir $dir"
  fi
  clear_stale_start

  local auto_port=0
  if [[ $port == 0 ]]; then auto_port=1; port=$(pick_free_port); fi
  need_free_port "$port" --port "(or stop what holds it: $0 stop --dir D)"
  if [[ $tcp_port == 0 ]]; then # the native port: kept across restarts so a clickhouse-client line stays valid
    tcp_port=$(cat "$dir/tcp.port" 2>/dev/null || true)
    if [[ ! $tcp_port =~ ^[0-9]+$ || $tcp_port == "$port" ]] || port_in_use "$tcp_port"; then
      tcp_port=$(pick_free_port "$port")
    fi
  elif [[ $tcp_port == "$port" ]]; then
    die "--tcp-port must differ from --port ($port)"
  else
    need_free_port "$tcp_port" --tcp-port
  fi
  [[ $fresh == 1 ]] && rm -rf "$data" "$logs" "$dir/tmp" "$dir/tcp.port" "$dir/http"
  mkdir -p "$dir" "$logs" "$data" "$dir/tmp" "$dir/user_files" "$dir/format_schemas"
  echo "$tcp_port" >"$dir/tcp.port"
  write_config

  # setsid: the server must not share the caller's process group or stdio (ctest waits for its pipes).
  # The error log is emptied so that a failure is explained by this start's messages, not an older one's.
  rm -f "$dir/http"
  : >"$logs/server.err.log"
  setsid "${server_cmd[@]}" --config-file="$conf" </dev/null >"$logs/stderr.log" 2>&1 &
  pid=$!
  echo "$pid" >"$pid_file"
  start_watchdog "$pid" $$ "--config-file=$conf " http 1

  local rc=0
  wait_ready "$pid" $((SECONDS + timeout_s)) 0.2 ping_ok "$port" || rc=$?
  if ((rc == 1)); then
    start_died "$logs"
    server_log_tail
    explain_failure
    # Another process can take a port between the pick and the server's bind: pick again, a few times.
    if [[ $auto_port == 1 ]] && address_in_use && ((${CLICKHOUSE_LOCAL_PORT_TRIES:-0} < 3)); then
      note "retrying with other ports"
      rm -f "$dir/tcp.port"
      CLICKHOUSE_LOCAL_PORT_TRIES=$((${CLICKHOUSE_LOCAL_PORT_TRIES:-0} + 1)) exec "$0" start --port 0 --dir "$dir" --timeout "$timeout_s" --max-lifetime "$max_lifetime" \
        ${http_file:+--http-file "$http_file"}
    fi
    exit 1
  elif ((rc == 2)); then
    note "the server did not answer GET /ping on 127.0.0.1:$port within $timeout_s s; stopping it"
    server_log_tail
    abort_start "$pid"
  fi

  local addr=127.0.0.1:$port
  echo "$addr" >"$dir/http"
  [[ -n $http_file ]] && echo "$addr" >"$http_file"
  version=$(http_query "$port" "SELECT version()" 2>/dev/null || echo "?")
  note "ClickHouse $version up in $(fmt_s $(($(now_ms) - t0))) (pid $pid, tcp 127.0.0.1:$tcp_port, data $data," \
    "logs $logs)"
  echo "ready http=$addr"
}

cmd_stop() { stop_command "$dir/http"; }

cmd_kill() {
  local pid i
  stop_watchdog
  if ! pid=$(running_pid); then
    note "not running ($dir)"
    rm -f "$pid_file" "$dir/http"
    return 0
  fi
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  alive "$pid" && die "server pid $pid survived SIGKILL"
  reaped "$pid"
  rm -f "$pid_file" "$dir/http"
  note "killed (pid $pid, SIGKILL); data kept in $data"
}

cmd_status() {
  local pid p
  if pid=$(running_pid); then
    p=$(configured_port)
    if ping_ok "$p"; then
      echo "running pid=$pid http=127.0.0.1:$p tcp=127.0.0.1:$(configured_tcp_port) dir=$dir"
    else
      echo "running (not answering yet) pid=$pid http=127.0.0.1:$p dir=$dir"
    fi
    return 0
  fi
  echo "not running ($dir)"
  return 3
}

cmd_query() {
  local p stmt body=""
  need_curl
  if [[ $port_given == 1 ]]; then
    p=$port
  elif [[ -f $dir/http ]] && running_pid >/dev/null; then
    p=$(<"$dir/http") p=${p##*:}
  else
    die "no server running from $dir (start it: $0 start, or give --port P)"
  fi
  if [[ -n $sql_file ]]; then
    [[ -r $sql_file ]] || die "cannot read $sql_file"
    while IFS= read -r -d '' stmt; do
      http_query "$p" "$stmt" || { echo "clickhouse-local: the failing statement of $sql_file:" >&2; echo "$stmt" >&2; exit 1; }
    done < <(split_statements "$sql_file")
    return 0
  fi
  if [[ -n $data_file ]]; then
    [[ $data_file == - || -r $data_file ]] || die "cannot read $data_file"
    body=$data_file
  fi
  http_query "$p" "$sql" "$body" || exit 1
}

case $cmd in
  start) cmd_start ;;
  stop) cmd_stop ;;
  kill) cmd_kill ;;
  status) cmd_status ;;
  query) cmd_query ;;
esac
