"""clickhouse_versions_test.py SOURCE_DIR — the analytics SQL on ClickHouse 18.16 and 26.9 (CTest:
clickhouse_versions_test, run by clickhouse_versions_test.sh with the chdb venv's python):

  (a) two engines: Debian 12's clickhouse-server 18.16 (tools/clickhouse-local on free loopback ports in a
      temp dir, --max-lifetime so an interrupted run leaves nothing behind; everything over its HTTP
      interface on 127.0.0.1) and ClickHouse 26.9 in process (chdb-core, a session in the same temp dir);
  (b) deploy/clickhouse/schema.sql on both, split into statements as clickhouse-local.sh --file does (a
      statement ends with `;` at the end of a line, `--` lines skipped); it names its database (orderflow)
      itself, as the sink's default --clickhouse-database does, so nothing is substituted;
  (c) rows made by this test in the JSON shape of clickhouse_sink.cpp (order_row, payment_row, window_row:
      the same keys in the same order, 64-bit integers as JSON numbers, window times as Unix seconds) sent
      as `INSERT INTO orderflow.T FORMAT JSONEachRow` — over HTTP (the INSERT in the URL, the rows as the
      body, as the sink sends them) to 18.16, and as the query's inline data to chdb — with what a crash
      replay leaves: batches inserted twice, an order published again at another offset, every window
      emitted twice with a growing version and its older version replayed after the newer one. Merges are
      stopped, so every duplicate is still stored while the queries run;
  (d) every SQL statement of README.md's sections "ClickHouse (for analytics)" and "Analytics" (its ```sql
      blocks, read from README.md at run time: the test runs what the README shows, there is no second
      copy of the queries here) on both engines: each must give the same TSV on 18.16 and 26.9, equal to
      the figures this test computes from the rows it inserted (de-duplicated; the raw counts where the
      query reports them). Each README statement must match exactly one entry of EXPECTED (a substring of
      it) and each entry one statement, so a query added to the README without an expectation fails here.
Prints `ok:` / `FAIL:` lines and exits 1 on any failure.
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

failures = []


def ok(msg):
    print(f"ok:   {msg}", flush=True)


def fail(msg):
    failures.append(msg)
    print(f"FAIL: {msg}", flush=True)


# ---------------------------------------------------------------------------------------------- SQL text
def statements(text):
    """Statements of a SQL text the way clickhouse-local.sh --file splits a file: `--` lines skipped, a
    statement ends with `;` at the end of a line (the `;` itself dropped)."""
    out, cur = [], []
    for line in text.splitlines():
        if line.lstrip().startswith("--") or not line.strip():
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur).rstrip()[:-1])
            cur = []
    if cur:
        out.append("\n".join(cur))
    return out


def readme_queries(readme):
    """The statements of the ```sql blocks of the README sections that show the analytics queries."""
    sections = {"## ClickHouse (for analytics)", "## Analytics"}
    found, queries, section, in_sql, block = set(), [], None, False, []
    for line in readme.splitlines():
        if not in_sql and line.startswith("## "):
            section = line.strip() if line.strip() in sections else None
            if section:
                found.add(section)
        elif section and line.strip() == "```sql":
            in_sql, block = True, []
        elif in_sql and line.strip() == "```":
            in_sql = False
            queries += statements("\n".join(block))
        elif in_sql:
            block.append(line)
    missing = sections - found
    if missing:
        fail(f"README.md has no section {sorted(missing)}")
    return queries


def one_line(sql):
    return " ".join(sql.split())


# ---------------------------------------------------------------------------------------------- the data
BASE_MS = 1764900000000  # 2025-12-05 02:00:00 UTC
OTHER_MONTH_MS = 1767225600000  # 2026-01-01 00:00:00 UTC: a second partition (toYYYYMM)
WINDOW_S = 60
CURRENCIES = ["EUR", "USD", "CHF"]
REASONS = ["AMOUNT_LIMIT_EXCEEDED", "CARD_EXPIRED", "FRAUD_SUSPECTED"]


def dump(obj):
    # nlohmann's dump(-1): no spaces, keys in insertion order (ordered_json), UTF-8 as is
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def make_data():
    rng = random.Random(17)
    orders, payments = [], []
    next_offset = defaultdict(int)
    pay_offset = defaultdict(int)
    declined = 0
    for i in range(36):
        t = BASE_MS + i * 9_731 + rng.randrange(1000) if i < 32 else OTHER_MONTH_MS + (i - 32) * 21_007
        part = i % 3
        o = {
            "event_id": f"3f1c2a8e-0d4b-4c55-9a61-{i:012x}",
            "order_id": f"ord-{i}",
            "customer_id": f"cust-{(i * 7) % 13:02d}",
            "amount_cents": 500 + 97 * i + (i * i) % 89,
            "currency": CURRENCIES[(i * 5 + i // 4) % 3],
            "occurred_at_ms": t,
            "kafka_partition": part,
            "kafka_offset": 100 * part + next_offset[part],
        }
        next_offset[part] += 1
        orders.append(o)
        status = "DECLINED" if i % 3 == 1 or i % 7 == 0 else "AUTHORIZED"
        reason = ""
        if status == "DECLINED":
            reason = REASONS[[0, 0, 0, 1, 1, 2][declined % 6]]
            declined += 1
        p = {
            "event_id": f"9b2d7c4e-5a1f-5e3b-8c2d-{i:012x}",
            "order_id": o["order_id"],
            "order_event_id": o["event_id"],
            "customer_id": o["customer_id"],
            "status": status,
            "decline_reason": reason,
            "amount_cents": o["amount_cents"],
            "currency": o["currency"],
            "occurred_at_ms": t + 1500 + (i % 3) * 1000,
            "kafka_partition": part,
            "kafka_offset": 50 + pay_offset[part],
        }
        pay_offset[part] += 1
        payments.append(p)
    return orders, payments


def window_rows(orders, payments, version, cutoff=None):
    """The rows of window_row() for the windows of these events: each window's complete aggregate of the
    events before `cutoff` seconds into the window (None: all), with `version` + its index."""
    wins = defaultdict(lambda: {"orders": [], "payments": []})
    for o in orders:
        wins[o["occurred_at_ms"] // 1000 // WINDOW_S * WINDOW_S]["orders"].append(o)
    for p in payments:
        wins[p["occurred_at_ms"] // 1000 // WINDOW_S * WINDOW_S]["payments"].append(p)
    rows = []
    for n, start in enumerate(sorted(wins)):
        keep = (lambda e: True) if cutoff is None else (lambda e: e["occurred_at_ms"] // 1000 < start + cutoff)
        os_ = [o for o in wins[start]["orders"] if keep(o)]
        ps = [p for p in wins[start]["payments"] if keep(p)]
        counts, amounts, reasons = defaultdict(int), defaultdict(int), defaultdict(int)
        for o in os_:
            counts[o["currency"]] += 1
            amounts[o["currency"]] += o["amount_cents"]
        for p in ps:
            if p["status"] == "DECLINED":
                reasons[p["decline_reason"]] += 1
        cur = sorted(set(counts) | set(amounts))  # std::set / std::map order
        rows.append({
            "window_start": start,
            "window_end": start + WINDOW_S,
            "orders": len(os_),
            "by_currency.currency": cur,
            "by_currency.orders": [counts[c] for c in cur],
            "by_currency.amount_cents": [amounts[c] for c in cur],
            "authorized": sum(p["status"] == "AUTHORIZED" for p in ps),
            "declined": sum(p["status"] == "DECLINED" for p in ps),
            "declined_by_reason.reason": sorted(reasons),
            "declined_by_reason.payments": [reasons[r] for r in sorted(reasons)],
            "distinct_customers": len({o["customer_id"] for o in os_}),
            "version": version + n,
        })
    return rows


def batches(rows, n):
    return [rows[i:i + n] for i in range(0, len(rows), n)]


def insert_plan(orders, payments):
    """(table, rows) in the order they are inserted, replays included."""
    ob, pb = batches(orders, 8), batches(payments, 8)
    partial = window_rows(orders, payments, version=1000, cutoff=30)   # emitted first (offset 1000…)
    complete = window_rows(orders, payments, version=2000)             # re-emitted later (offset 2000…)
    republished = dict(orders[3], kafka_offset=orders[3]["kafka_offset"] + 1000)
    plan = [("orders", b) for b in ob] + [("payments", b) for b in pb]
    plan += [("order_stats", partial), ("order_stats", complete)]
    # the crash replay: the batches after the last committed offset, again; the older window emission
    # replayed after the newer one; the same order published a second time at another offset
    plan += [("orders", ob[-2]), ("orders", ob[-1]), ("payments", pb[-1])]
    plan += [("order_stats", partial), ("order_stats", complete)]
    plan += [("orders", [republished])]
    return plan, complete


# ------------------------------------------------------------------------------------- expected figures
def dt(sec):
    return datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def minute(ms):
    return dt(ms // 1000 // 60 * 60)


def num(x):
    if isinstance(x, float):
        return str(int(x)) if x == int(x) else repr(x)
    return str(x)


def arr(xs):
    return "[" + ",".join(f"'{x}'" if isinstance(x, str) else num(x) for x in xs) + "]"


def group(rows, key):
    g = defaultdict(list)
    for r in rows:
        g[key(r)].append(r)
    return g


def expected_table(orders, payments, windows, stored):
    """EXPECTED: (substring of exactly one README statement, what, its result as TSV lines)."""
    so, sp = stored["orders"], stored["payments"]
    auth = [p for p in payments if p["status"] == "AUTHORIZED"]
    dec = [p for p in payments if p["status"] == "DECLINED"]
    by_cur = group(orders, lambda o: o["currency"])
    per_currency = [f"{c}\t{len(v)}\t{sum(o['amount_cents'] for o in v)}" for c, v in sorted(by_cur.items())]
    reasons = sorted(group(dec, lambda p: p["decline_reason"]).items(), key=lambda kv: -len(kv[1]))
    top = sorted(group(orders, lambda o: (o["customer_id"], o["currency"])).items(),
                 key=lambda kv: -sum(o["amount_cents"] for o in kv[1]))[:10]
    win_cur = sorted((w["window_start"], c, a) for w in windows
                     for c, a in zip(w["by_currency.currency"], w["by_currency.amount_cents"]))

    def per_partition(stored_rows, unique_rows, extra):
        out = []
        for part, rs in sorted(group(stored_rows, lambda r: r["kafka_partition"]).items()):
            events = len({r["event_id"] for r in rs})
            out.append(f"{part}\t{events}" + (extra(rs) if extra else ""))
        return out

    return [
        ("count() AS orders, sum(amount_cents) AS amount FROM orderflow.orders FINAL GROUP BY currency",
         "orders per currency (FINAL)", per_currency),
        ("FROM orderflow.payments FINAL GROUP BY status", "payments per status (FINAL)",
         [f"{s}\t{len(v)}\t{sum(p['amount_cents'] for p in v)}"
          for s, v in sorted(group(payments, lambda p: p["status"]).items())]),
        ("count() AS payments FROM orderflow.payments FINAL WHERE status = 'DECLINED'",
         "declines per reason (FINAL)", [f"{r}\t{len(v)}" for r, v in sorted(reasons)]),
        ("any(amount_cents) AS amount FROM orderflow.orders GROUP BY event_id",
         "orders per currency (GROUP BY event_id first)", per_currency),
        ("uniqExact(customer_id) AS customers", "distinct orders and customers",
         [f"{len(orders)}\t{len({o['customer_id'] for o in orders})}"]),
        ("declined_by_reason.reason, declined_by_reason.payments, distinct_customers FROM",
         "order_stats FINAL: the highest version of each window",
         [f"{dt(w['window_start'])}\t{dt(w['window_end'])}\t{w['orders']}\t{arr(w['by_currency.currency'])}\t"
          f"{arr(w['by_currency.amount_cents'])}\t{w['authorized']}\t{w['declined']}\t"
          f"{arr(w['declined_by_reason.reason'])}\t{arr(w['declined_by_reason.payments'])}\t"
          f"{w['distinct_customers']}" for w in windows]),
        ("max(version) AS last_version", "order_stats argMax per window",
         [f"{dt(w['window_start'])}\t{w['orders']}\t{w['version']}" for w in windows]),
        ("sum(amount_cents) / 100 AS revenue", "revenue per minute and currency",
         [f"{m}\t{c}\t{num(sum(p['amount_cents'] for p in v) / 100)}"
          for (m, c), v in sorted(group(auth, lambda p: (minute(p["occurred_at_ms"]), p["currency"])).items())]),
        ("AS authorised_pct", "authorisation rate per minute",
         [f"{m}\t{len(v)}\t{num(round(100 * sum(p['status'] == 'AUTHORIZED' for p in v) / len(v), 2))}"
          for m, v in sorted(group(payments, lambda p: minute(p["occurred_at_ms"])).items())]),
        ("count() AS declines", "declines by reason, most first", [f"{r}\t{len(v)}" for r, v in reasons]),
        ("AS spent", "top customers per currency",
         [f"{cu}\t{c}\t{len(v)}\t{num(sum(o['amount_cents'] for o in v) / 100)}" for (cu, c), v in top]),
        ("argMax(distinct_customers, version) AS customers", "the windows, argMax per window",
         [f"{dt(w['window_start'])}\t{w['orders']}\t{w['authorized']}\t{w['declined']}\t{w['distinct_customers']}"
          for w in windows]),
        ("ARRAY JOIN by_currency.currency AS currency", "one row per window and currency (ARRAY JOIN)",
         [f"{dt(s)}\t{c}\t{num(a / 100)}" for s, c, a in win_cur]),
        ("min(kafka_offset) AS first_offset", "orders per Kafka partition (rows stored, offsets)",
         per_partition(so, orders, lambda rs: f"\t{len(rs)}\t{min(r['kafka_offset'] for r in rs)}"
                                              f"\t{max(r['kafka_offset'] for r in rs)}")),
        ("AS replayed_duplicates", "rows stored, events, replayed duplicates",
         [f"{len(so)}\t{len(orders)}\t{len(so) - len(orders)}"]),
        ("AS orders_in_windows", "windows against the raw rows",
         [f"{sum(w['orders'] for w in windows)}\t{len(orders)}\t"
          f"{sum(w['authorized'] + w['declined'] for w in windows)}\t{len(payments)}"]),
        ("uniqExact(event_id) AS payments FROM orderflow.payments GROUP BY kafka_partition",
         "payments per Kafka partition", per_partition(sp, payments, None)),
    ]


def no_ties(orders, payments):
    """The data must make every README ORDER BY total (a tie would let the two versions differ legally)."""
    dec = group([p for p in payments if p["status"] == "DECLINED"], lambda p: p["decline_reason"])
    counts = [len(v) for v in dec.values()]
    spent = sorted((sum(o["amount_cents"] for o in v) for v in
                    group(orders, lambda o: (o["customer_id"], o["currency"])).values()), reverse=True)
    assert len(set(counts)) == len(counts), f"test data: decline reasons tie: {counts}"
    assert len(spent) > 10 and len(set(spent[:11])) == 11, f"test data: top customers tie: {spent[:11]}"


# ---------------------------------------------------------------------------------------------- engines
class Server1816:
    """Debian 12's clickhouse-server through tools/clickhouse-local, over HTTP on 127.0.0.1."""

    def __init__(self, src, tmp):
        self.ch = str(src / "tools" / "clickhouse-local" / "clickhouse-local.sh")
        self.dir = str(tmp / "ch")
        r = subprocess.run([self.ch, "start", "--port", "0", "--dir", self.dir, "--max-lifetime", "300",
                            "--timeout", "30"], capture_output=True, text=True, timeout=60)
        m = re.fullmatch(r"ready http=(127\.0\.0\.1:\d+)", r.stdout.strip())
        if r.returncode != 0 or not m:
            raise RuntimeError(f"clickhouse-local start: exit {r.returncode}: {r.stdout} {r.stderr}")
        self.url = f"http://{m.group(1)}/"

    def post(self, body, query=None):
        url = self.url + ("?" + urllib.parse.urlencode({"query": query}) if query else "")
        req = urllib.request.Request(url, data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read().decode()
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"HTTP {e.code}: {e.read().decode()[:400]}") from None

    def version(self):
        return self.query("SELECT version()").strip()

    def load_schema(self, path):
        r = subprocess.run([self.ch, "query", "--dir", self.dir, "--file", str(path)],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"schema.sql: {r.stderr}")

    def insert(self, table, body):
        self.post(body, f"INSERT INTO orderflow.{table} FORMAT JSONEachRow")

    def query(self, sql):
        return self.post(sql)

    def close(self):
        subprocess.run([self.ch, "stop", "--dir", self.dir], capture_output=True, timeout=60)


class Chdb269:
    """ClickHouse in process (chdb-core), a session whose data lives in the test's temp dir."""

    def __init__(self, tmp):
        from chdb import session
        self.s = session.Session(str(tmp / "chdb"))

    def version(self):
        return self.query("SELECT version()").strip()

    def load_schema(self, path):
        for st in statements(path.read_text()):
            self.s.query(st)

    def insert(self, table, body):
        self.s.query(f"INSERT INTO orderflow.{table} FORMAT JSONEachRow\n{body}")

    def query(self, sql):
        try:
            return self.s.query(sql, "TSV").bytes().decode()
        except Exception as e:  # chdb's ChdbError carries ClickHouse's message
            raise RuntimeError(str(e)[:400]) from None

    def close(self):
        self.s.close()


# ------------------------------------------------------------------------------------------------- main
def main():
    src = Path(sys.argv[1]).resolve()
    t0 = time.monotonic()
    queries = readme_queries((src / "README.md").read_text())
    ok(f"README.md shows {len(queries)} analytics SQL statements")
    orders, payments = make_data()
    no_ties(orders, payments)
    plan, windows = insert_plan(orders, payments)
    stored = defaultdict(list)
    for table, rows in plan:
        stored[table] += rows
    expected = expected_table(orders, payments, windows, stored)

    # each README statement matched by exactly one expectation, and each expectation by one statement
    match = {}
    for i, q in enumerate(queries):
        keys = [k for k, _, _ in expected if k in one_line(q)]
        if len(keys) != 1:
            fail(f"README statement {i + 1} is matched by {len(keys)} entries of EXPECTED (want 1): {one_line(q)}")
        else:
            match[keys[0]] = q
    for k, what, _ in expected:
        if k not in match:
            fail(f"EXPECTED '{what}' ({k}) matches no README statement (query changed or removed?)")

    with tempfile.TemporaryDirectory(prefix="orderflow-ch-versions.") as tmpd:
        tmp = Path(tmpd)
        engines = {}
        try:
            engines["18.16"] = Server1816(src, tmp)
            engines["26.9"] = Chdb269(tmp)
            for name, e in engines.items():
                ok(f"ClickHouse {name}: version() = {e.version()}")
            schema = src / "deploy" / "clickhouse" / "schema.sql"
            for name, e in engines.items():
                for n in (1, 2):
                    e.load_schema(schema)
                tables = e.query("SELECT name FROM system.tables WHERE database = 'orderflow' ORDER BY name")
                if tables.split() == ["order_stats", "orders", "payments"]:
                    ok(f"{name}: schema.sql loaded twice, tables {tables.split()}")
                else:
                    fail(f"{name}: tables after schema.sql: {tables!r}")
                for t in ("orders", "payments", "order_stats"):
                    e.query(f"SYSTEM STOP MERGES orderflow.{t}")
            for name, e in engines.items():
                for table, rows in plan:
                    e.insert(table, "".join(dump(r) + "\n" for r in rows))
                got = e.query("SELECT (SELECT count() FROM orderflow.orders), (SELECT count() FROM orderflow.payments), "
                              "(SELECT count() FROM orderflow.order_stats)").strip()
                want = f"{len(stored['orders'])}\t{len(stored['payments'])}\t{len(stored['order_stats'])}"
                if got == want:
                    ok(f"{name}: {len(plan)} INSERTs … FORMAT JSONEachRow, every duplicate stored ({want})")
                else:
                    fail(f"{name}: rows stored {got!r}, expected {want!r} (duplicates collapsed on insert?)")

            for k, what, want in expected:
                if k not in match:
                    continue
                q = match[k]
                ordered = re.search(r"\bORDER BY\b", q) is not None
                results = {}
                for name, e in engines.items():
                    try:
                        lines = e.query(q).splitlines()
                    except RuntimeError as err:
                        lines = [f"<error: {err}>"]
                    results[name] = lines if ordered else sorted(lines)
                want = want if ordered else sorted(want)
                if results["18.16"] == results["26.9"] == want:
                    ok(f"{what}: 18.16 = 26.9 = expected ({len(want)} row(s))")
                else:
                    detail = "\n".join(f"  {n}:\n    " + "\n    ".join(v) for n, v in
                                       [("expected", want)] + list(results.items()))
                    fail(f"{what}: the results differ\n  SQL: {one_line(q)}\n{detail}")
        except Exception as err:  # an engine that did not start or a statement that failed outright
            fail(f"{type(err).__name__}: {err}")
        finally:
            for e in engines.values():
                e.close()

    print()
    if failures:
        print(f"clickhouse_versions_test: {len(failures)} check(s) FAILED")
        return 1
    print(f"clickhouse_versions_test: all checks passed in {time.monotonic() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
