#!/usr/bin/env bash
# clickhouse_test.sh SOURCE_DIR — ClickHouse as the analytics sink will use it (CTest: clickhouse_test):
#   (a) tools/clickhouse-local starts a server on free loopback ports in a temp dir (--max-lifetime, so an
#       interrupted run leaves nothing behind), listening on 127.0.0.1 only, HTTP and native TCP and nothing else
#   (b) deploy/clickhouse/schema.sql loads, twice (idempotent)
#   (c) JSONEachRow rows POSTed over HTTP as the sink sends them, every batch twice (a replay after a crash),
#       one order published again at another offset, an order_stats window re-emitted with a higher version
#       and its older version replayed afterwards: the de-duplicating queries of README "ClickHouse (for
#       analytics)" give exact answers while the duplicates are still stored, and a forced merge leaves one
#       row per event
#   (d) a malformed row (a string for a number; an unknown status) is refused with an HTTP error status and
#       a message naming the row, and no row of that insert is stored (the sink dead-letters the bad row)
#   (e) stop: the server and the watchdog are gone, the ports are free, status says not running; a second
#       server started with --max-lifetime 2 is stopped by its watchdog
# Without a ClickHouse server binary (scripts/install-deps.sh installs clickhouse-server) or curl it exits 77
# (CTest SKIP_RETURN_CODE), or fails under ORDERFLOW_REQUIRE_ALL=1.
set -uo pipefail

src=${1:?usage: clickhouse_test.sh SOURCE_DIR}
src=$(cd "$src" && pwd)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../support/require.sh
. "$src/tests/support/require.sh"
ch=$src/tools/clickhouse-local/clickhouse-local.sh
schema=$src/deploy/clickhouse/schema.sql
data=$here/data

# The same places clickhouse-local.sh looks in.
if [[ -z ${CLICKHOUSE_SERVER:-} ]] && ! command -v clickhouse-server >/dev/null 2>&1 &&
  [[ ! -x /usr/sbin/clickhouse-server && ! -x /usr/bin/clickhouse-server ]] && ! command -v clickhouse >/dev/null 2>&1; then
  unavailable "no ClickHouse server binary (scripts/install-deps.sh installs clickhouse-server)" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi
if ! command -v curl >/dev/null 2>&1; then
  unavailable "curl not found (scripts/install-deps.sh installs it)" || exit 1
  exit $ORDERFLOW_SKIP_CODE
fi

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok:   $*"; }
section() { echo; echo "== $* [t=${SECONDS}s]"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/orderflow-clickhouse.XXXXXX")
dir=$tmp/ch
dir2=$tmp/ch-short
cleanup() {
  "$ch" stop --dir "$dir" >/dev/null 2>&1
  "$ch" stop --dir "$dir2" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

alive() { [[ -e /proc/$1 ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
wait_gone() { # wait_gone PID SECONDS: true once PID has exited
  local deadline=$((SECONDS + $2))
  while alive "$1"; do ((SECONDS < deadline)) || return 1; sleep 0.2; done
}
listeners() { # listeners PID: "ADDR:PORT" of each listening TCP socket of PID, from /proc (no ss needed)
  local inodes line h p
  inodes=$(find "/proc/$1/fd" -lname 'socket:*' -printf '%l\n' 2>/dev/null | tr -dc '0-9\n' | sort -u | tr '\n' ' ')
  [[ -n $inodes ]] || return 0
  # /proc/net/tcp*: local address as hex "0100007F:1F90" (IPv4 in host byte order), state 0A = LISTEN
  awk -v inodes=" $inodes" 'FNR > 1 && $4 == "0A" && index(inodes, " " $10 " ") { print $2 }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null | while IFS=: read -r h p; do
    if ((${#h} == 8)); then
      line="$((16#${h:6:2})).$((16#${h:4:2})).$((16#${h:2:2})).$((16#${h:0:2}))"
    else
      line="[$h]"
    fi
    echo "$line:$((16#$p))"
  done | sort
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# POST a JSONEachRow body the way the sink does: the INSERT in the URL, the rows as the body.
# Sets $code (HTTP status) and $body (the answer).
insert() { # insert TABLE FILE
  local out
  out=$(mktemp -p "$tmp")
  code=$(curl -sS -o "$out" -w '%{http_code}' --data-binary "@$2" \
    "http://$addr/?query=INSERT%20INTO%20orderflow.$1%20FORMAT%20JSONEachRow") || code=000
  body=$(<"$out")
  rm -f "$out"
}
insert_ok() { # insert_ok TABLE FILE WHAT
  insert "$1" "$2"
  [[ $code == 200 ]] && ok "insert $3" || fail "insert $3: HTTP $code: $body"
}
q() { "$ch" query --dir "$dir" "$1"; }
expect() { # expect WHAT SQL EXPECTED (TSV)
  local got
  got=$(q "$2" 2>&1)
  if [[ $got == "$3" ]]; then ok "$1"; else fail "$1: expected"$'\n'"$3"$'\n'"got"$'\n'"$got"; fi
}

section "(a) start"
out=$("$ch" start --port 0 --dir "$dir" --max-lifetime 120 --timeout 30 --http-file "$tmp/http" 2>"$tmp/start.err")
rc=$?
if [[ $rc != 0 || ! $out =~ ^ready\ http=127\.0\.0\.1:([0-9]+)$ ]]; then
  fail "clickhouse-local start: exit $rc, stdout '$out'"
  cat "$tmp/start.err"
  exit 1
fi
port=${BASH_REMATCH[1]}
addr=127.0.0.1:$port
ok "started: $out ($(tail -n1 "$tmp/start.err"))"
[[ $(<"$tmp/http") == "$addr" ]] && ok "--http-file holds $addr" || fail "--http-file holds '$(<"$tmp/http")', not $addr"
pid=$(<"$dir/clickhouse.pid")
watchdog=$(<"$dir/watchdog.pid")
alive "$watchdog" && ok "watchdog running (pid $watchdog)" || fail "no watchdog process"
[[ $(curl -s --max-time 5 "http://$addr/ping") == Ok. ]] && ok "GET /ping answers Ok." || fail "GET /ping did not answer Ok."
tcp_port=$(<"$dir/tcp.port")
want=$(printf '127.0.0.1:%s\n' "$port" "$tcp_port" | sort)
got=$(listeners "$pid")
[[ $got == "$want" ]] && ok "listens on 127.0.0.1:$port (HTTP) and 127.0.0.1:$tcp_port (TCP) only" ||
  fail "listening sockets of pid $pid:"$'\n'"$got"$'\n'"expected"$'\n'"$want"
st=$("$ch" status --dir "$dir")
[[ $? == 0 && $st == "running pid=$pid http=$addr"* ]] && ok "status: $st" || fail "status: '$st'"
[[ $(q "SELECT version()") =~ ^[0-9]+\. ]] && ok "server version $(q "SELECT version()")" || fail "SELECT version() failed"

section "(b) schema"
for i in 1 2; do
  if err=$("$ch" query --dir "$dir" --file "$schema" 2>&1); then ok "schema.sql loaded (time $i)"; else fail "schema.sql (time $i): $err"; fi
done
expect "tables" "SELECT name FROM system.tables WHERE database = 'orderflow' ORDER BY name" $'order_stats\norders\npayments'

section "(c) replays collapse"
# Merges stay off until the end of (c), so every duplicate is still stored while the queries run: the
# answers are exact because of how they are written, not because a background merge happened first.
for t in orders payments order_stats; do q "SYSTEM STOP MERGES orderflow.$t" || fail "SYSTEM STOP MERGES orderflow.$t"; done
insert_ok orders "$data/orders-1.jsonl" "orders batch 1"
insert_ok orders "$data/orders-2.jsonl" "orders batch 2"
insert_ok payments "$data/payments.jsonl" "payments"
insert_ok order_stats "$data/order_stats-1.jsonl" "order_stats version 1 (window 02:00, partial)"
insert_ok order_stats "$data/order_stats-2.jsonl" "order_stats version 2 (window 02:00 complete, window 2026-01-01)"
# the replay: the same batches again, after the sink crashed before committing their offsets
insert_ok orders "$data/orders-1.jsonl" "orders batch 1 again"
insert_ok orders "$data/orders-2.jsonl" "orders batch 2 again"
insert_ok payments "$data/payments.jsonl" "payments again"
insert_ok order_stats "$data/order_stats-1.jsonl" "order_stats version 1 again (older than what is stored)"
insert_ok order_stats "$data/order_stats-2.jsonl" "order_stats version 2 again"
# the same order published a second time (another offset of the same partition)
grep -F '"order_id":"ord-2"' "$data/orders-1.jsonl" | sed 's/"kafka_offset":20/"kafka_offset":99/' >"$tmp/republished.jsonl"
insert_ok orders "$tmp/republished.jsonl" "order ord-2 published again at offset 99"

expect "duplicates are stored (raw count() counts them)" "SELECT count() FROM orderflow.orders" 11
expect "orders per currency, FINAL" \
  "SELECT currency, count() AS orders, sum(amount_cents) AS amount FROM orderflow.orders FINAL GROUP BY currency ORDER BY currency" \
  $'EUR\t3\t7500\nUSD\t2\t1000'
expect "orders per currency, GROUP BY event_id first" \
  "SELECT currency, count() AS orders, sum(amount) AS amount FROM (SELECT event_id, any(currency) AS currency, any(amount_cents) AS amount FROM orderflow.orders GROUP BY event_id) GROUP BY currency ORDER BY currency" \
  $'EUR\t3\t7500\nUSD\t2\t1000'
expect "distinct orders and customers" \
  "SELECT uniqExact(event_id) AS orders, uniqExact(customer_id) AS customers FROM orderflow.orders" $'5\t4'
expect "orders per minute (occurred_at, MATERIALIZED from occurred_at_ms)" \
  "SELECT toStartOfMinute(occurred_at) AS minute, count() AS orders FROM orderflow.orders FINAL GROUP BY minute ORDER BY minute" \
  $'2025-12-05 02:00:00\t4\n2026-01-01 00:00:00\t1'
expect "payments per status" \
  "SELECT status, count() AS payments, sum(amount_cents) AS amount FROM orderflow.payments FINAL GROUP BY status ORDER BY status" \
  $'AUTHORIZED\t2\t1700\nDECLINED\t3\t6800'
expect "declines per reason" \
  "SELECT decline_reason, count() AS payments FROM orderflow.payments FINAL WHERE status = 'DECLINED' GROUP BY decline_reason ORDER BY decline_reason" \
  $'AMOUNT_LIMIT_EXCEEDED\t2\nCARD_EXPIRED\t1'
expect "order_stats, FINAL: the highest version of each window" \
  "SELECT window_start, window_end, orders, by_currency.currency, by_currency.amount_cents, authorized, declined, declined_by_reason.reason, declined_by_reason.payments, distinct_customers, version FROM orderflow.order_stats FINAL ORDER BY window_start" \
  "2025-12-05 02:00:00	2025-12-05 02:01:00	4	['EUR','USD']	[3500,1000]	2	2	['AMOUNT_LIMIT_EXCEEDED','CARD_EXPIRED']	[1,1]	3	1764900060000
2026-01-01 00:00:00	2026-01-01 00:01:00	1	['EUR']	[4000]	0	1	['AMOUNT_LIMIT_EXCEEDED']	[1]	1	1767225660000"
expect "order_stats, argMax per window" \
  "SELECT window_start, argMax(orders, version) AS last_orders, argMax(by_currency.currency, version) AS currencies, argMax(by_currency.amount_cents, version) AS amounts, max(version) AS last_version FROM orderflow.order_stats GROUP BY window_start, window_end ORDER BY window_start" \
  "2025-12-05 02:00:00	4	['EUR','USD']	[3500,1000]	1764900060000
2026-01-01 00:00:00	1	['EUR']	[4000]	1767225660000"
expect "amount per currency summed over the windows (ARRAY JOIN) equals the raw orders" \
  "SELECT by_currency.currency AS currency, sum(by_currency.orders) AS currency_orders, sum(by_currency.amount_cents) AS amount FROM orderflow.order_stats FINAL ARRAY JOIN by_currency GROUP BY currency ORDER BY currency" \
  $'EUR\t3\t7500\nUSD\t2\t1000'
for t in orders payments order_stats; do
  q "SYSTEM START MERGES orderflow.$t" && q "OPTIMIZE TABLE orderflow.$t FINAL" || fail "OPTIMIZE TABLE orderflow.$t FINAL"
done
expect "after OPTIMIZE FINAL one row per event / window is left" \
  "SELECT (SELECT count() FROM orderflow.orders), (SELECT count() FROM orderflow.payments), (SELECT count() FROM orderflow.order_stats)" \
  $'5\t5\t2'

section "(d) malformed rows are refused"
good='{"event_id":"3f1c2a8e-0d4b-4c55-9a61-0b7e2f9c1d06","order_id":"ord-6","customer_id":"cust-5","amount_cents":100,"currency":"EUR","occurred_at_ms":1764900070000,"kafka_partition":0,"kafka_offset":12}'
printf '%s\n%s\n' "$good" "${good//\"amount_cents\":100/\"amount_cents\":\"12x\"}" >"$tmp/bad-number.jsonl"
insert orders "$tmp/bad-number.jsonl"
if [[ $code =~ ^(4..|5..)$ && $body == *Exception* && $body == *"row 2"* ]]; then
  ok "a string for amount_cents: HTTP $code, '${body:0:120}…'"
else
  fail "a string for amount_cents: expected a 4xx/5xx status and a message naming row 2, got HTTP $code '$body'"
fi
expect "no row of the refused insert is stored (the good row 1 included)" \
  "SELECT count() FROM orderflow.orders WHERE order_id = 'ord-6'" 0
grep -F '"order_id":"ord-1"' "$data/payments.jsonl" | sed 's/"status":"AUTHORIZED"/"status":"PENDING"/' >"$tmp/bad-status.jsonl"
insert payments "$tmp/bad-status.jsonl"
if [[ $code =~ ^(4..|5..)$ && $body == *PENDING* ]]; then
  ok "an unknown status: HTTP $code, '${body:0:120}…'"
else
  fail "an unknown status: expected a 4xx/5xx status naming PENDING, got HTTP $code '$body'"
fi
insert orders <(echo "$good")
[[ $code == 200 ]] && ok "the good row alone (what the sink sends after dead-lettering the bad one)" ||
  fail "the good row alone: HTTP $code $body"
expect "it is stored" "SELECT count() FROM orderflow.orders FINAL WHERE order_id = 'ord-6'" 1

section "(e) stop"
if "$ch" stop --dir "$dir" 2>"$tmp/stop.err"; then ok "clickhouse-local stop"; else fail "stop: $(<"$tmp/stop.err")"; fi
alive "$pid" && fail "server pid $pid still running after stop" || ok "server pid $pid gone"
alive "$watchdog" && fail "watchdog pid $watchdog still running after stop" || ok "watchdog pid $watchdog gone"
port_open "$port" && fail "HTTP port $port still accepts connections" || ok "HTTP port $port free"
port_open "$tcp_port" && fail "TCP port $tcp_port still accepts connections" || ok "TCP port $tcp_port free"
st=$("$ch" status --dir "$dir")
rc=$?
[[ $rc == 3 ]] && ok "status exits 3: $st" || fail "status after stop: exit $rc '$st'"
left=$(pgrep -f -- "--config-file=$tmp/" || true)
[[ -z $left ]] && ok "no process runs with a config of $tmp" || fail "processes left: $left"

out=$("$ch" start --port 0 --dir "$dir2" --max-lifetime 2 --timeout 30 2>"$tmp/start2.err")
if [[ $out == ready* ]]; then
  pid2=$(<"$dir2/clickhouse.pid")
  wait_gone "$pid2" 20 && ok "--max-lifetime 2: the watchdog stopped the server" ||
    fail "--max-lifetime 2: server pid $pid2 still running after 20 s"
else
  fail "second start: '$out' $(<"$tmp/start2.err")"
fi

echo
if ((failures)); then
  for f in "$dir/logs/server.err.log" "$dir2/logs/server.err.log"; do
    [[ -s $f ]] && { echo "--- last lines of $f:"; tail -n 20 "$f" | cut -c1-300; }
  done
  echo "clickhouse_test: $failures check(s) FAILED"
  exit 1
fi
echo "clickhouse_test: all checks passed in ${SECONDS}s"
