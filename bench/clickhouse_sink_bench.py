#!/usr/bin/env python3
"""The ClickHouse sink of analytics-service: rows/s into ClickHouse for a few --clickhouse-batch-rows values.

Usage: bench/clickhouse_sink_bench.py --build-dir build [--orders 200000] [--batch-rows 1000,5000,20000]
                                      [--reps 3] [--out bench/results/clickhouse-latest.json]

A dev broker (loopback, free port, 32 partitions: the mock keeps about 5 MiB per partition) with `orders` prefilled with N generated orders (seed 42),
a fresh ClickHouse (tools/clickhouse-local, temp dir, free port) with deploy/clickhouse/schema.sql loaded once
per run into a database of its own. Per batch size and repetition, analytics-service drains the whole topic
with a fresh group into that database (--clickhouse-batch-ms 1000); measured: span = first row written →
all N written (from its metrics, polled every 50 ms), rows/s = N / span, CPU seconds of analytics-service
and of the ClickHouse server over the run. Prints a markdown table and writes the JSON to --out.
Orders only: payments rows are built and sent the same way, so their rate is the same per row.
Without a ClickHouse server binary it prints why and exits 0 (`make bench` goes on).
"""
import shutil
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
from ports import free_ports  # noqa: E402

CH = REPO / "tools" / "clickhouse-local" / "clickhouse-local.sh"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def metric(port, name, label=None):
    try:
        text = NO_PROXY.open(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    total = None
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if label and label not in line:
                continue
            total = (total or 0) + float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds(pid):
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ch(dir_, *args, check=True):
    return subprocess.run([str(CH), *args, "--dir", str(dir_)] if args[0] in ("start", "stop") else
                          [str(CH), args[0], "--dir", str(dir_), *args[1:]],
                          capture_output=True, text=True, check=check).stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--orders", type=int, default=200000)
    ap.add_argument("--batch-rows", default="1000,5000,20000")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "clickhouse-latest.json"))
    a = ap.parse_args()
    if not (shutil.which("clickhouse-server") or os.access("/usr/sbin/clickhouse-server", os.X_OK)
            or shutil.which("clickhouse") or os.environ.get("CLICKHOUSE_SERVER")):
        print("clickhouse bench: skipped, no clickhouse-server (scripts/install-deps.sh installs it)")
        return 0
    bin_dir = Path(a.build_dir).resolve() / "bin"
    sizes = [int(x) for x in a.batch_rows.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="orderflow-ch-bench."))
    kport, = free_ports(1)
    broker = subprocess.Popen([str(bin_dir / "kafka-dev-broker"), "--port", str(kport), "--partitions", "32"]
                              + sum((["--topic", f"order-stats-b{s}-r{r}"] for s in sizes for r in range(a.reps)), []),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              start_new_session=True)
    chdir = tmp / "ch"
    results = []
    try:
        if not broker.stdout.readline().startswith("ready"):
            sys.exit("clickhouse bench: the dev broker did not start")
        bootstrap = f"localhost:{kport}"
        subprocess.run([str(bin_dir / "order-producer"), "--brokers", bootstrap, "--count", str(a.orders),
                        "--rate", "0", "--seed", "42", "--metrics-address", "127.0.0.1:0"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ch(chdir, "start", "--port", "0", "--max-lifetime", "3600")
        ch_pid = int((chdir / "clickhouse.pid").read_text())
        url = "http://" + (chdir / "http").read_text().strip()
        schema = (REPO / "deploy" / "clickhouse" / "schema.sql").read_text()
        for rep in range(a.reps):
            for size in sizes:  # interleaved, so that load from other processes hits every size alike
                db = f"bench_b{size}_r{rep}"
                f = tmp / f"{db}.sql"
                f.write_text(schema.replace("orderflow", db))
                ch(chdir, "query", "--file", str(f))
                mport, = free_ports(1)
                ch_cpu0 = cpu_seconds(ch_pid)
                svc = subprocess.Popen([str(bin_dir / "analytics-service"), "--brokers", bootstrap,
                                        "--metrics-address", f"127.0.0.1:{mport}", "--group-id", db,
                                        "--stats-topic", f"order-stats-b{size}-r{rep}",
                                        "--clickhouse-url", url, "--clickhouse-database", db,
                                        "--clickhouse-batch-rows", str(size), "--clickhouse-batch-ms", "1000"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                first = last = None
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    n = metric(mport, "orderflow_analytics_clickhouse_rows_written_total", 'table="orders"') or 0
                    now = time.monotonic()
                    if n > 0 and first is None:
                        first = (now, n)
                    if n >= a.orders:
                        last = now
                        break
                    if svc.poll() is not None:
                        sys.exit(f"clickhouse bench: analytics-service exited {svc.returncode}")
                    time.sleep(0.05)
                cpu = cpu_seconds(svc.pid)
                svc.send_signal(signal.SIGTERM)
                svc.wait(timeout=30)
                if last is None:
                    sys.exit(f"clickhouse bench: batch {size}: {n} of {a.orders} rows written within 120 s")
                # The first poll that saw rows saw first[1] of them: the span covers the rest.
                span = max(last - first[0], 1e-3)
                rate = (a.orders - first[1]) / span
                r = {"batch_rows": size, "rep": rep, "rows": a.orders, "span_s": round(span, 3),
                     "rows_per_s": round(rate), "service_cpu_s": round(cpu, 2),
                     "clickhouse_cpu_s": round(cpu_seconds(ch_pid) - ch_cpu0, 2)}
                results.append(r)
                print(f"  batch {size:>6}: {rate:>8.0f} rows/s (span {span:.2f} s, analytics-service CPU "
                      f"{cpu:.2f} s)", file=sys.stderr, flush=True)
    finally:
        ch(chdir, "stop", "--wipe", check=False)
        os.killpg(broker.pid, signal.SIGTERM)
        broker.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n### ClickHouse sink: {a.orders} orders from a backlog into ClickHouse 18.16 (median of {a.reps})\n")
    print("| --clickhouse-batch-rows | rows/s | span s | analytics-service CPU s | ClickHouse CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for size in sizes:
        runs = sorted((r for r in results if r["batch_rows"] == size), key=lambda r: r["rows_per_s"])
        m = runs[len(runs) // 2]
        print(f"| {size} | {m['rows_per_s']} | {m['span_s']} | {m['service_cpu_s']} | {m['clickhouse_cpu_s']} |")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"orders": a.orders, "runs": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
