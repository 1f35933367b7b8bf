#!/usr/bin/env python3
"""compose_test.py SOURCE_DIR BUILD_DIR — the container path end to end: `make compose-test`.

Builds the images with deploy/images/build-images.sh (`make images`: Debian base from the machine's mirror,
orderflow:dev from deploy/Dockerfile's runtime definition with BUILD_DIR's binaries when this machine runs
the image's Debian release — nothing is compiled in Docker — else from deploy/Dockerfile as shipped, Kafka
from the Maven jars, Prometheus and ClickHouse 18.16 from Debian), starts a Docker daemon when none answers (and stops only the one it started), and runs
deploy/compose.yaml (project name of its own, the locally built images through KAFKA_IMAGE / PROMETHEUS_IMAGE /
CLICKHOUSE_IMAGE; Grafana is left out: no local image) with docker-compose:
  - the three brokers, ClickHouse and Prometheus healthy, kafka-init and clickhouse-init exited 0, every
    service healthy through the image's HEALTHCHECK, analytics-service ready (/readyz);
  - N orders injected with `docker-compose run order-producer` while one broker is killed (`docker kill`,
    replication 3, min ISR 2) and started again;
  - a reader outside the services (kcat on the published listener, 127.0.0.1:29092) finds every order that
    was not dead-lettered with a payment and its two notifications, and the dead-lettered ones in both
    DLQs; duplicates are counted and printed (at-least-once);
  - Prometheus (the container) reports every scrape target up, and every query of every panel of the Grafana
    dashboard (deploy/grafana/dashboards/orderflow.json; $__rate_interval = 5m, $service = all) returns
    data from it — the dashboard would show data (the analytics row included);
  - analytics-service (5-second windows here) publishes windows of the first injection to order-stats;
    ClickHouse has the tables of deploy/clickhouse/schema.sql (clickhouse-init) and, when analytics-service's
    binary has the ClickHouse sink (--clickhouse-url in its --help) and the compose file gives it
    CLICKHOUSE_URL, holds orders, payments and windows (FINAL);
  - both services stopped (`docker-compose stop`: SIGTERM, drain) while ORDERS2 more orders arrive: the
    OrderflowServiceDown alert (deploy/prometheus/alerts.yml) fires for notification-service; the group's lag
    stays measured (lag-exporter's orderflow_group_lag in Prometheus equals the lag kafka-consumer-groups.sh
    reads) for ORDERS_STOPPED orders sent while they are down; started again, they process every order
    (nothing lost, duplicates counted);
  - payment-service scaled to 3 replicas (`up --scale`): each replica holds orders partitions (PARTITIONS
    between them, seen in each instance's consumer-lag series through Prometheus) and every order of a
    third injection is paid and notified;
  - `down -v` at the end, also on failure: no container, network or volume of the project is left.
Published ports are the compose file's (127.0.0.1:29092-29094, 9090): the test fails at once when one is
taken. Every wait is bounded; exit 0 only when every check passed.
"""
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ORDERS = 3000
RATE = 600             # orders/s: the injection lasts ~5 s, long enough to kill a broker in the middle
ORDERS2 = 1000         # the second injection, while both services are stopped (SIGTERM) and started again
RATE2 = 200
ORDERS_STOPPED = 300   # sent once both services are down: the lag lag-exporter must show
ORDERS3 = 600          # the third, after payment-service is scaled to 3 replicas
RATE3 = 200
PARTITIONS = 12        # deploy/compose.yaml TOPIC_PARTITIONS default
INVALID_RATIO = "0.02"
PORTS = (29092, 29093, 29094, 9090)
WINDOW_MS = 5000       # analytics-service's windows here: several close during the first injection
LATENESS_MS = 2000
BOOTSTRAP = "127.0.0.1:29092"
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from checks import check, failures, ok  # noqa: E402


def run(cmd, timeout, env=None, check_rc=True):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
    return p


def wait_until(what, timeout, pred, interval=0.5):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)  # polling interval of a bounded wait on a condition


def port_taken(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Daemon:
    """A Docker daemon: the one that answers, or one started here (and stopped by stop())."""

    def __init__(self, logs):
        self.proc = None
        if run(["docker", "info"], 30, check_rc=False).returncode == 0:
            ok("a Docker daemon answers")
            return
        self.proc = subprocess.Popen(["dockerd"], stdout=open(logs / "dockerd.log", "w"), stderr=subprocess.STDOUT)
        wait_until("dockerd", 60, lambda: run(["docker", "info"], 10, check_rc=False).returncode == 0)
        ok(f"started dockerd (pid {self.proc.pid})")

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            ok("stopped the dockerd this test started")


def kcat_records(topic, fmt="%p\t%o\t%h\t%s\n"):
    """Every record of topic now (bounded read, no group): list of (partition, offset, headers, value)."""
    p = run(["kcat", "-b", BOOTSTRAP, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", fmt], 60,
            check_rc=False)
    if p.returncode != 0:
        return None
    out = []
    for line in p.stdout.splitlines():
        parts = line.split("\t", 3)
        if len(parts) == 4:
            hdrs = dict(h.split("=", 1) for h in parts[2].split(",") if "=" in h)
            out.append((int(parts[0]), int(parts[1]), hdrs, parts[3]))
    return out


def main():
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    src, build = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    logs = build / "compose-test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()
    taken = [p for p in PORTS if port_taken(p)]
    if taken:
        print(f"FAIL: loopback port(s) {taken} already in use: the compose stack publishes them")
        return 1
    daemon = Daemon(logs)
    project = f"oftest{os.getpid()}"
    compose = ["docker-compose", "-p", project, "-f", str(src / "deploy/compose.yaml")]
    env = dict(os.environ)
    # ClickHouse's HTTP port on the host: a free one, a local clickhouse-server may hold 8123.
    with socket.socket() as s_:
        s_.bind(("127.0.0.1", 0))
        ch_port = s_.getsockname()[1]
    env.update(CLICKHOUSE_HTTP_PORT=str(ch_port), ANALYTICS_WINDOW_MS=str(WINDOW_MS),
               ANALYTICS_ALLOWED_LATENESS_MS=str(LATENESS_MS))
    try:
        t = time.monotonic()
        # --binaries auto: the binaries under test (this build tree's), unless they cannot run in the image.
        p = run([str(src / "deploy/images/build-images.sh"), "--binaries", "auto", str(build)], 1800)
        images = dict(kv.split("=", 1) for kv in p.stdout.split())
        env.update(images)
        how = "host binaries" if "(host binaries)" in p.stderr else "compiled in Docker"
        ok(f"images built in {time.monotonic() - t:.0f} s (orderflow:dev: {how}): {images}")
        (logs / "images.log").write_text(p.stderr)

        # The ClickHouse sink: in the binary (its --help) and switched on by the compose file (CLICKHOUSE_URL;
        # a binary without the sink ignores the variable).
        helptext = run(["docker", "run", "--rm", "orderflow:dev", "analytics-service", "--help"], 60,
                       env=env).stdout
        sink = "--clickhouse-url" in helptext
        wired = re.search(r"^\s+CLICKHOUSE_URL:", (src / "deploy/compose.yaml").read_text(), re.M) is not None
        ok(f"ClickHouse sink: {'in' if sink else 'not in'} analytics-service's --help, CLICKHOUSE_URL "
           f"{'set' if wired else 'not set'} by deploy/compose.yaml")

        t = time.monotonic()
        services = ["kafka-1", "kafka-2", "kafka-3", "kafka-init", "payment-service", "notification-service",
                    "lag-exporter", "prometheus", "clickhouse", "clickhouse-init", "analytics-service"]
        run(compose + ["up", "-d"] + services, 600, env=env)

        def inject(count, rate, log_name):
            """order-producer through `docker-compose run`, in the background; its output in logs/log_name."""
            return subprocess.Popen(
                compose + ["run", "--rm", "-e", f"ORDER_COUNT={count}", "-e", f"ORDER_RATE={rate}",
                           "-e", f"INVALID_RATIO={INVALID_RATIO}", "-e", "LOG_FORMAT=text", "order-producer"],
                env=env, stdout=open(logs / log_name, "w"), stderr=subprocess.STDOUT)

        def container(name, index=1):
            return f"{project}_{name}_{index}"

        def health(c):
            p = run(["docker", "inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}",
                     c], 30, check_rc=False)
            return p.stdout.strip()

        healthy = [container(n) for n in ("kafka-1", "kafka-2", "kafka-3", "payment-service",
                                          "notification-service", "lag-exporter", "prometheus", "clickhouse",
                                          "analytics-service")]
        if run(["docker", "inspect", container("payment-service", 2)], 30, check_rc=False).returncode == 0:
            healthy.append(container("payment-service", 2))
        wait_until("every container healthy", 300, lambda: all(health(c) == "healthy" for c in healthy), 1.0)
        for job in ("kafka-init", "clickhouse-init"):
            init_rc = run(["docker", "inspect", "-f", "{{.State.ExitCode}} {{.State.Status}}", container(job)],
                          30).stdout.split()
            check(init_rc == ["0", "exited"], f"{job} exited 0", repr(init_rc))

        def readyz(c, port):
            return run(["docker", "exec", c, "wget", "-q", "-O", "/dev/null", "-T", "2", "--tries=1",
                        f"http://127.0.0.1:{port}/readyz"], 30, check_rc=False).returncode == 0
        try:
            wait_until("analytics-service ready", 60, lambda: readyz(container("analytics-service"), 9105), 1.0)
            ok("analytics-service ready (/readyz 200: it joined its group)")
        except RuntimeError as e:
            check(False, str(e))
        ok(f"stack healthy in {time.monotonic() - t:.0f} s: {', '.join(healthy)}")

        # Orders through `docker-compose run`, a broker killed while they flow.
        t = time.monotonic()
        producer = inject(ORDERS, RATE, "order-producer.log")
        wait_until("a third of the orders", 120,
                   lambda: len(kcat_records("orders", "%p\t%o\t\t\n") or []) >= ORDERS // 3)
        run(["docker", "kill", container("kafka-2")], 60)
        ok("killed kafka-2 while orders flow")
        rc = producer.wait(timeout=300)
        check(rc == 0, "order-producer (docker-compose run) exited 0", (logs / "order-producer.log").read_text()[-800:])
        run(["docker", "start", container("kafka-2")], 60)
        ok(f"kafka-2 started again; injection with the kill took {time.monotonic() - t:.0f} s")

        # The reader outside the services.
        def settled(total):
            # The five topics read at once: each kcat run spends most of its time connecting.
            with ThreadPoolExecutor(5) as pool:
                orders, pay_dlq, payments, notes, note_dlq = pool.map(
                    kcat_records, ("orders", "payment-service.dlq", "payments", "notifications",
                                   "notification-service.dlq"))
            if None in (orders, pay_dlq, payments, notes, note_dlq):
                return None
            dead = {(int(h.get("x-original-partition", -1)), int(h.get("x-original-offset", -1)))
                    for _, _, h, _ in pay_dlq}
            valid = {}
            for p_, o_, _, v in orders:
                if (p_, o_) in dead:
                    continue
                try:
                    valid[json.loads(v)["order_id"]] = (p_, o_)
                except (ValueError, KeyError):
                    valid[f"unparsed@{p_}/{o_}"] = (p_, o_)
            paid = Counter(json.loads(v)["order_id"] for _, _, _, v in payments)
            kinds = defaultdict(list)
            for _, _, _, v in notes:
                n = json.loads(v)
                kinds[n["order_id"]].append(n["kind"])
            missing_pay = [o for o in valid if paid[o] == 0]
            missing_note = [o for o in valid if "ORDER_RECEIVED" not in kinds[o] or
                            not any(k.startswith("PAYMENT_") for k in kinds[o])]
            state = dict(orders=len(orders), valid=len(valid), dead=len(dead), note_dead=len(note_dlq),
                         payments=len(payments), dup_payments=sum(c - 1 for c in paid.values() if c > 1),
                         notifications=len(notes), missing_pay=missing_pay[:5], n_missing_pay=len(missing_pay),
                         n_missing_note=len(missing_note))
            settled.last = state
            complete = len(orders) >= total and not missing_pay and not missing_note and len(note_dlq) >= len(dead)
            return state if complete else None

        settled.last = None
        t = time.monotonic()
        try:
            s = wait_until("every valid order paid and notified", 240, lambda: settled(ORDERS), 2.0)
        except RuntimeError as e:
            s = None
            check(False, str(e), repr(settled.last))
        if s:
            print(f"      {s}", flush=True)
            check(s["orders"] == ORDERS, f"orders topic holds the {ORDERS} orders sent", str(s["orders"]))
            check(s["dead"] > 0 and s["note_dead"] == s["dead"],
                  f"the invalid orders are in both DLQs ({s['dead']} / {s['note_dead']})")
            check(s["valid"] + s["dead"] == ORDERS, "every order is either valid or dead-lettered")
            ok(f"every one of {s['valid']} valid orders has a payment and two notifications "
               f"({time.monotonic() - t:.0f} s after the injection; duplicate payments: {s['dup_payments']})")
        # Checked after the orders settle rather than before: kafka-2 restarts meanwhile (replication 3,
        # min ISR 2: the two others carry on).
        wait_until("kafka-2 healthy again", 180, lambda: health(container("kafka-2")) == "healthy", 1.0)
        ok(f"kafka-2 healthy again ({time.monotonic() - t:.0f} s after the injection)")

        # analytics-service: closed windows on order-stats (the stream has stopped, so every window of the
        # injection closes once the partitions are idle: event time then follows the clock).
        def stats_windows():
            recs = kcat_records("order-stats") or []
            wins = {}
            for _, _, _, v in recs:
                try:
                    w = json.loads(v)
                    wins[w["window_start_ms"]] = w
                except (ValueError, KeyError):
                    pass
            stats_windows.last = (len(recs), sum(w.get("orders", 0) for w in wins.values()))
            return wins if wins and stats_windows.last[1] > 0 else None
        stats_windows.last = None
        try:
            wins = wait_until("windows on order-stats", 90, stats_windows, 2.0)
            orders_in = sum(w["orders"] for w in wins.values())
            check(all(w["window_ms"] == WINDOW_MS for w in wins.values()),
                  f"order-stats windows are {WINDOW_MS} ms long")
            check(0 < orders_in <= ORDERS, f"order-stats: {len(wins)} windows count {orders_in} orders "
                  f"(at most the {ORDERS} sent)", repr(stats_windows.last))
        except RuntimeError as e:
            check(False, str(e), repr(stats_windows.last))

        def clickhouse(sql):
            p = run(["curl", "-sf", "--noproxy", "*", "--data-binary", sql, f"http://127.0.0.1:{ch_port}/"], 30,
                    check_rc=False)
            return p.stdout.strip() if p.returncode == 0 else None
        tables = clickhouse("SHOW TABLES FROM orderflow")
        check(tables is not None and {"orders", "payments", "order_stats"} <= set(tables.split()),
              f"ClickHouse on 127.0.0.1:{ch_port} has the schema of deploy/clickhouse/schema.sql", repr(tables))
        if sink and wired:
            # Every valid order of the injection reaches ClickHouse once (FINAL collapses replayed rows).
            valid = s["valid"] if s else None

            def rows():
                got = {t_: clickhouse(f"SELECT count() FROM orderflow.{t_} FINAL")
                       for t_ in ("orders", "payments", "order_stats")}
                rows.last = got
                if not all(v and v.isdigit() and int(v) > 0 for v in got.values()):
                    return None
                return got if valid is None or int(got["orders"]) >= valid else None
            rows.last = None
            try:
                got = wait_until("rows in ClickHouse", 90, rows, 2.0)
                check(valid is None or int(got["orders"]) == valid,
                      f"ClickHouse rows (FINAL): {got}; orders = the {valid} valid orders", repr(got))
            except RuntimeError as e:
                check(False, str(e), repr(rows.last))

        targets = json.loads(run(["curl", "-sf", "--noproxy", "*", "http://127.0.0.1:9090/api/v1/targets"],
                                 30).stdout)["data"]["activeTargets"]
        down = [(x["labels"].get("job"), x["health"]) for x in targets if x["health"] != "up"]
        check(targets and not down, f"Prometheus: all {len(targets)} scrape targets up", repr(down))

        # The dashboard's queries, as Grafana would send them, answered by this Prometheus.
        dash = json.loads((src / "deploy/grafana/dashboards/orderflow.json").read_text())

        def panel_targets(panels):
            for pnl in panels:
                yield from panel_targets(pnl.get("panels", []))
                for tgt in pnl.get("targets", []):
                    if tgt.get("expr"):
                        yield pnl.get("title", "?"), tgt["expr"]

        def has_data(expr):
            q = expr.replace("$__rate_interval", "5m").replace("$service", ".+")
            p = run(["curl", "-sf", "--noproxy", "*", "--get", "http://127.0.0.1:9090/api/v1/query",
                     "--data-urlencode", f"query={q}"], 30, check_rc=False)
            try:
                return bool(json.loads(p.stdout)["data"]["result"])
            except (ValueError, KeyError):
                return False

        queries = list(panel_targets(dash.get("panels", [])))
        # Every query asked at once, then the empty ones again until they have data, for 30 s in all.
        waiting = list(queries)
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(8) as pool:
            while True:
                answered = list(pool.map(lambda q: has_data(q[1]), waiting))
                waiting = [q for q, got in zip(waiting, answered) if not got]
                if not waiting or time.monotonic() >= deadline:
                    break
                time.sleep(2.0)  # polling interval of the bounded wait above
        empty = [f"{title}: {expr}" for title, expr in waiting]
        check(queries and not empty, f"Grafana dashboard: {len(queries) - len(empty)} of {len(queries)} panel "
              "queries return data from Prometheus", "; ".join(empty))

        # Both services stopped (drain on SIGTERM) while more orders arrive; the alert fires; both started.
        t = time.monotonic()
        producer = inject(ORDERS2, RATE2, "order-producer-2.log")
        wait_until("the second injection to start", 120,
                   lambda: len(kcat_records("orders", "%p\t%o\t\t\n") or []) >= ORDERS + ORDERS2 // 4)
        stop = run(compose + ["stop", "-t", "40", "payment-service", "notification-service"], 120, env=env)
        ok(f"stopped payment-service and notification-service while orders flow "
           f"({time.monotonic() - t:.0f} s)")
        exited = [run(["docker", "inspect", "-f", "{{.State.ExitCode}}", c], 30).stdout.strip()
                  for c in (container("payment-service"), container("notification-service"))]
        check(exited == ["0", "0"], "both drained and exited 0 on SIGTERM", repr(exited) + stop.stderr[-300:])
        rc = producer.wait(timeout=300)
        check(rc == 0, "the second order-producer run exited 0", (logs / "order-producer-2.log").read_text()[-800:])

        # No consumer runs: orders sent now wait, and the lag is still measured (lag-exporter, through
        # Prometheus) and equals what Kafka's own kafka-consumer-groups.sh reads from the brokers.
        producer = inject(ORDERS_STOPPED, RATE2, "order-producer-stopped.log")
        rc = producer.wait(timeout=300)
        check(rc == 0, f"{ORDERS_STOPPED} orders sent while no consumer runs",
              (logs / "order-producer-stopped.log").read_text()[-800:])
        def tool_lag():
            p = run(["docker", "exec", "-e", "KAFKA_HEAP_OPTS=-Xmx128m", container("kafka-1"),
                     "/opt/kafka/bin/kafka-consumer-groups.sh", "--bootstrap-server", "localhost:9092",
                     "--describe", "--group", "payment-service"], 120, check_rc=False)
            rows = [line.split() for line in p.stdout.splitlines()]
            lags = [int(r[5]) for r in rows if len(r) >= 6 and r[1] == "orders" and r[5].isdigit()]
            return sum(lags) if len(lags) == 12 else None

        def prometheus_lag():
            p = run(["curl", "-sf", "--noproxy", "*", "--get", "http://127.0.0.1:9090/api/v1/query",
                     "--data-urlencode", 'query=sum(orderflow_group_lag{group="payment-service", topic="orders"})'],
                    30, check_rc=False)
            try:
                return int(float(json.loads(p.stdout)["data"]["result"][0]["value"][1]))
            except (ValueError, KeyError, IndexError):
                return None
        expected = tool_lag()
        try:
            got = wait_until("Prometheus to show the stopped group's lag", 60,
                             lambda: expected is not None and prometheus_lag() == expected, 2.0)
            ok(f"consumers down: payment-service's lag on orders is {expected} in Prometheus (lag-exporter) and in "
               f"kafka-consumer-groups.sh")
            check(got and expected >= ORDERS_STOPPED,
                  f"the {ORDERS_STOPPED} orders sent while no consumer ran are counted as lag", str(expected))
        except RuntimeError as e:
            check(False, str(e), f"kafka-consumer-groups.sh: {expected}, Prometheus: {prometheus_lag()}")

        def firing():
            alerts = json.loads(run(["curl", "-sf", "--noproxy", "*", "http://127.0.0.1:9090/api/v1/alerts"],
                                    30, check_rc=False).stdout or "{}").get("data", {}).get("alerts", [])
            return [a for a in alerts if a["labels"].get("alertname") == "OrderflowServiceDown" and
                    a["labels"].get("job") == "notification-service" and a.get("state") == "firing"]
        try:
            a = wait_until("OrderflowServiceDown to fire for notification-service", 180, firing, 2.0)
            ok(f"alert OrderflowServiceDown fired for notification-service ({time.monotonic() - t:.0f} s after "
               f"the stop): {a[0]['annotations'].get('summary')}")
        except RuntimeError as e:
            check(False, str(e))
        run(compose + ["start", "payment-service", "notification-service"], 120, env=env)
        try:
            s = wait_until("every valid order of both injections paid and notified", 300,
                           lambda: settled(ORDERS + ORDERS2 + ORDERS_STOPPED), 2.0)
        except RuntimeError as e:
            s = None
            check(False, str(e), repr(settled.last))
        if s:
            print(f"      {s}", flush=True)
            check(s["orders"] == ORDERS + ORDERS2 + ORDERS_STOPPED,
                  f"orders topic holds the {ORDERS + ORDERS2 + ORDERS_STOPPED} orders sent",
                  str(s["orders"]))
            ok(f"after the stop and start, every one of {s['valid']} valid orders has a payment and two "
               f"notifications; duplicate payments: {s['dup_payments']}")

        # Scale payment-service to 3: the group spreads the orders partitions over the replicas.
        t = time.monotonic()
        run(compose + ["up", "-d", "--no-recreate", "--scale", "payment-service=3", "payment-service"], 300, env=env)
        replicas = [container("payment-service", i) for i in (1, 2, 3)]
        wait_until("3 payment-service replicas healthy", 180, lambda: all(health(c) == "healthy" for c in replicas), 1.0)
        producer = inject(ORDERS3, RATE3, "order-producer-3.log")

        def spread():
            q = 'count by (instance) (orderflow_consumer_lag{job="payment-service", topic="orders"})'
            p = run(["curl", "-sf", "--noproxy", "*", "--get", "http://127.0.0.1:9090/api/v1/query",
                     "--data-urlencode", f"query={q}"], 30, check_rc=False)
            try:
                got = {r["metric"]["instance"]: int(float(r["value"][1])) for r in json.loads(p.stdout)["data"]["result"]}
            except (ValueError, KeyError):
                return None
            spread.last = got
            return got if len(got) == 3 and sum(got.values()) == PARTITIONS and min(got.values()) > 0 else None

        spread.last = None
        try:
            got = wait_until("the orders partitions spread over 3 replicas", 120, spread, 2.0)
            ok(f"payment-service ×3: orders partitions per replica {sorted(got.values())} "
               f"({time.monotonic() - t:.0f} s after the scale)")
        except RuntimeError as e:
            check(False, str(e), repr(spread.last))
        rc = producer.wait(timeout=300)
        check(rc == 0, "the third order-producer run exited 0", (logs / "order-producer-3.log").read_text()[-800:])
        try:
            s = wait_until("every valid order of the three injections paid and notified", 240,
                           lambda: settled(ORDERS + ORDERS2 + ORDERS_STOPPED + ORDERS3), 2.0)
            total = ORDERS + ORDERS2 + ORDERS_STOPPED + ORDERS3
            check(s["orders"] == total, f"orders topic holds the {total} orders sent", str(s["orders"]))
            ok(f"with 3 replicas, every one of {s['valid']} valid orders has a payment and two notifications; "
               f"duplicate payments: {s['dup_payments']}")
        except RuntimeError as e:
            check(False, str(e), repr(settled.last))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        check(False, "the compose run", str(e)[-3000:])
    finally:
        def save_log(name):
            p = run(compose + ["logs", "--no-color", name], 60, env=env, check_rc=False)
            (logs / f"{name}.log").write_text(p.stdout + p.stderr)
        # In parallel: each docker-compose run takes a second or more to start.
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(save_log, ("kafka-1", "kafka-2", "kafka-3", "kafka-init", "payment-service",
                                     "notification-service", "prometheus", "analytics-service", "clickhouse",
                                     "clickhouse-init", "lag-exporter")))
        run(compose + ["down", "-v", "--remove-orphans", "-t", "40"], 300, env=env, check_rc=False)
        label = f"label=com.docker.compose.project={project}"
        left = [run(["docker", kind, "ls", "-q", "--filter", label] + (["-a"] if kind == "container" else []),
                    30, check_rc=False).stdout.split() for kind in ("container", "network", "volume")]
        check(not any(left), "down -v left no container, network or volume of the project", repr(left))
        daemon.stop()
    print(f"\ncompose_test: {time.monotonic() - t_start:.0f} s; logs in {logs}")
    if failures:
        print(f"compose_test: {len(failures)} check(s) FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("compose_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
