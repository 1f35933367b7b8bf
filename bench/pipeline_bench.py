#!/usr/bin/env python3
"""orderflow pipeline benchmark (`make bench` → bench/run-pipeline-bench.sh BUILD_DIR).

One run on one kafka-dev-broker (librdkafka mock cluster, loopback only):
  1. prefill `orders` with N generated orders (order-producer --seed 42, full speed) and check that
     the mock kept them all (low watermark 0 on every partition);
  2. drain them, REPS times each, interleaved (raw, payment, notification, raw, ...) so that load from
     other processes on the machine hits every stage alike:
       raw_stage      bench/raw_stage.cpp: consume → produce the same bytes → commit after delivery
       payment        payment-service: orders → payments-rK (fresh group id each time)
       notification   notification-service: orders + payments-r1 → notifications-rK (--sink log → /dev/null)
       payment_eos    payment-service --guarantee exactly-once (the mock has NO real transactions:
                      no markers, offsets not stored — this measures the client-side cost only)
  3. the whole chain at a fixed offered rate for end-to-end latency (notification-service histogram
     orderflow_end_to_end_latency_seconds).

Per stage: wall time (spawn → done, includes the ~3 s group join), span = first consumed → last
produced (excludes the join), orders/s = N / span, CPU s (utime+stime of the whole process from
/proc/PID/stat, sampled just before it is stopped), CPU µs per order, peak RSS (VmHWM). Medians over
the repetitions and the ratio to raw_stage of the same run. Markdown on stdout, JSON in
bench/results/latest.json.

How the span is measured: end = largest CreateTime in the output topic (the stage's producer stamps
it when it produces, right after consuming and processing the input; ~1 ms resolution). start =
smallest CreateTime of the output when the mock kept the whole output topic; when the mock's
retention (~5 MiB/partition) dropped the oldest output records (the notification stage writes two
records per order), start = the first /metrics scrape that saw orderflow_messages_consumed_total > 0
(scraped every 20 ms until then; midpoint of the last two scrapes). raw_stage reports its own first
consumed / last delivered times as a cross-check.

librdkafka tuning passed with -X to every consumer and producer (services, raw_stage, order-producer):
  socket.nagle.disable=true   client sockets without Nagle (the dev broker does the same on its side)
  fetch.wait.max.ms=10        the mock answers an empty fetch only after fetch.wait.max.ms (500 by default):
                              with the default, a consumer reacts up to 0.5 s late at the start and
                              in the latency run
Everything else is the services' own defaults (linger.ms=5, batch.num.messages=10000, idempotence,
acks=all, manual commits after delivery every 1 s).
"""
import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
import metrics as prom  # noqa: E402  (scripts/metrics.py: Prometheus text parsing + quantiles)

CLK_TCK = os.sysconf("SC_CLK_TCK")
TUNING = ["socket.nagle.disable=true", "fetch.wait.max.ms=10"]
STAGES = ["raw_stage", "payment", "notification", "payment_eos"]

children = []


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


EXTRA_X = []  # --X KEY=VALUE: extra librdkafka properties for every stage (tuning experiments)


def xargs():
    out = []
    for kv in TUNING + EXTRA_X:
        out += ["-X", kv]
    return out


def spawn(cmd, log_path, stdout=None):
    logf = open(log_path, "w")
    p = subprocess.Popen(cmd, stdout=stdout if stdout is not None else logf, stderr=logf,
                         stdin=subprocess.DEVNULL, start_new_session=True)
    children.append(p)
    return p


def stop(p, timeout=30):
    """SIGTERM the process we started, then SIGKILL it if it does not exit in time."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if p in children:
        children.remove(p)


def cleanup():
    for p in list(children):
        stop(p, timeout=5)


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime = field 14, stime = field 15
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_hwm_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return None


def scrape(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except Exception:
        return ""


def metric_sum(text, metric, **labels):
    total = 0.0
    for lab, v in prom.samples(text, metric):
        if all(lab.get(k) == val for k, val in labels.items()):
            total += v
    return total


def histogram(text, metric, label_filter=None):
    """Buckets summed over series (optionally only series whose labels pass label_filter)."""
    buckets, count, total = {}, 0.0, 0.0
    for lab, v in prom.samples(text, metric + "_bucket"):
        if label_filter and not label_filter(lab):
            continue
        le = lab.get("le")
        buckets[le] = buckets.get(le, 0.0) + v
    for lab, v in prom.samples(text, metric + "_count"):
        if not label_filter or label_filter(lab):
            count += v
    for lab, v in prom.samples(text, metric + "_sum"):
        if not label_filter or label_filter(lab):
            total += v
    return buckets, count, total


def quantiles_ms(buckets, qs=(0.5, 0.95, 0.99)):
    """histogram_quantile over cumulative buckets (the same interpolation as scripts/metrics.py)."""
    ordered = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in buckets.items())
    if not ordered or ordered[-1][1] == 0:
        return [None] * len(qs), None
    total = ordered[-1][1]
    out = []
    for q in qs:
        rank = q * total
        prev_bound, prev_count = 0.0, 0.0
        for bound, c in ordered:
            if c >= rank:
                if bound == float("inf"):
                    out.append(prev_bound * 1000)
                else:
                    frac = (rank - prev_count) / (c - prev_count) if c > prev_count else 1.0
                    out.append((prev_bound + (bound - prev_bound) * frac) * 1000)
                break
            prev_bound, prev_count = bound, c
    # max: the upper bound of the highest non-empty bucket (a histogram keeps no exact maximum)
    max_bound, prev = None, 0.0
    for bound, c in ordered:
        if c > prev:
            max_bound = bound
        prev = c
    return out, (None if max_bound is None else max_bound * 1000)


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = Path(args.build_dir).resolve()
        self.bin = self.build / "bin"
        self.benchbin = self.build / "bench"
        self.logs = self.build / "bench-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        for exe in [self.bin / n for n in ("kafka-dev-broker", "order-producer", "payment-service",
                                           "notification-service")] + \
                   [self.benchbin / n for n in ("raw-stage", "topic-span")]:
            if not os.access(exe, os.X_OK):
                sys.exit(f"run-pipeline-bench: {exe} not found: build first (the bench/ targets need "
                         f"Google Benchmark, Debian package libbenchmark-dev)")
        self.broker = None
        self.brokers = None
        self.broker_log = None
        self.run_id = uuid.uuid4().hex[:8]

    # ------------------------------------------------------------------------------------- broker
    def input_topics(self):
        return ["orders", "payments-r1"]

    def broker_cpu_s(self):
        return proc_cpu_s(self.broker.pid)

    def start_broker(self, partitions, topics, name):
        if self.broker is not None:
            stop(self.broker)
        cmd = [str(self.bin / "kafka-dev-broker"), "--port", "0", "--partitions", str(partitions)]
        for t in topics:
            cmd += ["--topic", t]
        out_path = self.logs / f"{name}.out"
        self.broker_log = self.logs / f"{name}.log"
        self.broker = spawn(cmd, self.broker_log, stdout=open(out_path, "w"))
        deadline = time.time() + 30
        while time.time() < deadline:
            m = re.search(r"^ready bootstrap=(\S+)", out_path.read_text(), re.M)
            if m:
                self.brokers = m.group(1)
                return
            if self.broker.poll() is not None:
                sys.exit("run-pipeline-bench: kafka-dev-broker exited:\n" + self.broker_log.read_text())
            time.sleep(0.1)
        sys.exit("run-pipeline-bench: kafka-dev-broker not ready in 30 s")

    def dropped(self):
        """Topic → partitions whose low watermark rose (from the dev broker's warnings)."""
        out = {}
        for m in re.finditer(r"WARNING: (\S+)\[(\d+)\] low watermark is (\d+)", self.broker_log.read_text()):
            out.setdefault(m.group(1), []).append(int(m.group(2)))
        return out

    def check_inputs_kept(self):
        bad = {t: p for t, p in self.dropped().items() if t in self.input_topics()}
        if bad:
            sys.exit(f"run-pipeline-bench: FAILED: the mock dropped input records {bad} "
                     f"(it keeps ~5 MiB per partition): use more --partitions or fewer --orders")

    def topic_span(self, topic):
        out = subprocess.run([str(self.benchbin / "topic-span"), "--brokers", self.brokers, "--topic", topic],
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"topic-span {topic}: {out.stderr.strip()}")
        return json.loads(out.stdout)

    # ------------------------------------------------------------------------------------ prefill
    def prefill(self):
        n = self.a.orders
        log(f"prefilling orders with {n} orders")
        t0 = time.time()
        p = subprocess.run([str(self.bin / "order-producer"), "--brokers", self.brokers, "--count", str(n),
                            "--seed", "42", "--metrics-address", "127.0.0.1:0", "--log-level", "warn"] + xargs(),
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            sys.exit(f"run-pipeline-bench: order-producer failed:\n{p.stderr}")
        summary = p.stdout.strip().splitlines()[-1]
        span = self.topic_span("orders")
        if span["records"] != n or span["low_nonzero"]:
            sys.exit(f"run-pipeline-bench: orders topic holds {span['records']} records "
                     f"(low watermark > 0 on {span['low_nonzero']} partitions), expected {n}")
        log(f"prefill: {summary} ({time.time() - t0:.1f} s)")
        return {"summary": summary, "seconds": round(time.time() - t0, 2)}

    # ----------------------------------------------------------------------------- stage runners
    def run_raw(self, rep):
        n = self.a.orders
        out_topic = f"raw-r{rep}"
        cmd = [str(self.benchbin / "raw-stage"), "--brokers", self.brokers, "--group",
               f"bench-raw-{self.run_id}-{rep}", "--input", "orders", "--output", out_topic,
               "--expect", str(n)] + xargs()
        load = loadavg()
        t0 = time.time()
        broker_cpu0 = self.broker_cpu_s()
        p = spawn(cmd, self.logs / f"raw-r{rep}.log", stdout=subprocess.PIPE)
        try:
            out, _ = p.communicate(timeout=self.a.stage_timeout)
        except subprocess.TimeoutExpired:
            stop(p)
            raise RuntimeError("raw-stage timed out")
        wall = time.time() - t0
        broker_cpu = self.broker_cpu_s() - broker_cpu0
        children.remove(p)
        if p.returncode != 0:
            raise RuntimeError(f"raw-stage exited {p.returncode}")
        self_report = json.loads(out.decode().strip().splitlines()[-1])
        span = self.topic_span(out_topic)
        res = self.result("raw_stage", rep, n, wall, self_report["cpu_s"], self_report["vm_hwm_kb"] / 1024.0,
                          span, None, load)
        res["broker_cpu_s"] = round(broker_cpu, 3)
        res["self_report"] = self_report
        res["self_span_s"] = (self_report["last_delivered_ms"] - self_report["first_consumed_ms"]) / 1000.0
        return res

    def run_service(self, stage, rep, cmd, out_topic, expected_processed, stdout=None):
        port = free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        cmd = cmd + ["--brokers", self.brokers, "--metrics-address", f"127.0.0.1:{port}",
                     "--log-level", "warn"] + xargs()
        load = loadavg()
        t0 = time.time()
        broker_cpu0 = self.broker_cpu_s()
        p = spawn(cmd, self.logs / f"{stage}-r{rep}.log", stdout=stdout)
        first_consumed = None
        prev_scrape = t0
        deadline = t0 + self.a.stage_timeout
        processed = 0.0
        while True:
            if p.poll() is not None:
                raise RuntimeError(f"{stage} exited early ({p.returncode}); see {self.logs}")
            if time.time() > deadline:
                stop(p)
                raise RuntimeError(f"{stage} did not finish within {self.a.stage_timeout} s "
                                   f"(processed {processed} of {expected_processed})")
            sent = time.time()
            text = scrape(url)
            if first_consumed is None:
                if text and metric_sum(text, "orderflow_messages_consumed_total") > 0:
                    first_consumed = (prev_scrape + sent) / 2
                prev_scrape = sent
            processed = metric_sum(text, "orderflow_events_processed_total") if text else 0.0
            if processed >= expected_processed:
                break
            time.sleep(0.02 if first_consumed is None else 0.2)
        wall = time.time() - t0
        broker_cpu = self.broker_cpu_s() - broker_cpu0
        cpu = proc_cpu_s(p.pid)
        hwm = proc_hwm_mib(p.pid)
        final_text = text
        stop(p)
        span = self.topic_span(out_topic)
        res = self.result(stage, rep, self.a.orders, wall, cpu, hwm, span, first_consumed, load)
        res["broker_cpu_s"] = round(broker_cpu, 3)
        res["processed"] = processed
        res["produced"] = metric_sum(final_text, "orderflow_messages_produced_total")
        res["dead_lettered"] = metric_sum(final_text, "orderflow_events_processed_total", outcome="dead_lettered")
        res["exit_code"] = p.returncode
        return res

    def run_payment(self, rep, eos=False):
        stage = "payment_eos" if eos else "payment"
        out_topic = f"payments-eos-r{rep}" if eos else f"payments-r{rep}"
        group = f"bench-{stage}-{self.run_id}-{rep}"
        cmd = [str(self.bin / "payment-service"), "--group-id", group, "--orders-topic", "orders",
               "--payments-topic", out_topic]
        if eos:
            # Work-around: payment-service does not start in exactly-once mode with its own defaults
            # (Producer sets message.timeout.ms=300000 > librdkafka's transaction.timeout.ms=60000:
            # "`message.timeout.ms` must be set <= `transaction.timeout.ms`").
            cmd += ["--guarantee", "exactly-once", "--instance-id", f"{self.run_id}-{rep}",
                    "-X", "transaction.timeout.ms=300000"]
        return self.run_service(stage, rep, cmd, out_topic, self.a.orders)

    def run_notification(self, rep):
        out_topic = f"notifications-r{rep}"
        group = f"bench-notification-{self.run_id}-{rep}"
        cmd = [str(self.bin / "notification-service"), "--group-id", group, "--orders-topic", "orders",
               "--payments-topic", "payments-r1", "--notifications-topic", out_topic, "--sink", "log"]
        return self.run_service("notification", rep, cmd, out_topic, 2 * self.a.orders,
                                stdout=subprocess.DEVNULL)

    def result(self, stage, rep, n, wall, cpu, hwm, span, first_consumed_metrics, load):
        kept_all = span["low_nonzero"] == 0
        if kept_all:
            start_ms, source = span["first_ts_ms"], "output CreateTime"
        else:
            start_ms, source = first_consumed_metrics * 1000.0, "first /metrics scrape with consumed>0"
        span_s = max(1e-3, (span["last_ts_ms"] - start_ms) / 1000.0)
        res = {
            "stage": stage, "rep": rep, "orders": n, "wall_s": round(wall, 3), "span_s": round(span_s, 3),
            "orders_per_s": round(n / span_s, 1), "cpu_s": round(cpu, 3),
            "cpu_us_per_order": round(cpu * 1e6 / n, 2), "peak_rss_mib": None if hwm is None else round(hwm, 1),
            "span_start_source": source, "output_records": span["records"],
            "output_low_watermark_nonzero_partitions": span["low_nonzero"], "loadavg_before": load,
        }
        if first_consumed_metrics is not None and kept_all:
            res["span_s_metrics_start"] = round((span["last_ts_ms"] - first_consumed_metrics * 1000.0) / 1000.0, 3)
        log(f"{stage} r{rep}: {res['orders_per_s']:.0f} orders/s, span {span_s:.2f} s, wall {wall:.1f} s, "
            f"cpu {cpu:.2f} s ({res['cpu_us_per_order']:.1f} us/order), rss {res['peak_rss_mib']} MiB, "
            f"load {load[0]:.2f}")
        return res

    # ---------------------------------------------------------------------------------- latency
    def latency_run(self):
        rate, dur = self.a.rate, self.a.duration
        count = int(rate * dur)
        self.start_broker(self.a.latency_partitions, ["orders-lat", "payments-lat", "notifications-lat"],
                          "dev-broker-latency")
        log(f"latency run: {count} orders at {rate}/s through the whole chain "
            f"(fresh dev broker at {self.brokers}, {self.a.latency_partitions} partitions per topic)")
        pay_port, note_port = free_port(), free_port()
        pay = spawn([str(self.bin / "payment-service"), "--brokers", self.brokers, "--group-id",
                     f"bench-lat-pay-{self.run_id}", "--orders-topic", "orders-lat", "--payments-topic",
                     "payments-lat", "--metrics-address", f"127.0.0.1:{pay_port}", "--log-level", "warn"] + xargs(),
                    self.logs / "latency-payment.log")
        note = spawn([str(self.bin / "notification-service"), "--brokers", self.brokers, "--group-id",
                      f"bench-lat-note-{self.run_id}", "--orders-topic", "orders-lat", "--payments-topic",
                      "payments-lat", "--notifications-topic", "notifications-lat", "--sink", "log",
                      "--metrics-address", f"127.0.0.1:{note_port}", "--log-level", "warn"] + xargs(),
                     self.logs / "latency-notification.log", stdout=subprocess.DEVNULL)

        def ready(port):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    return r.status == 200
            except Exception:
                return False

        deadline = time.time() + 60
        while not (ready(pay_port) and ready(note_port)):
            if time.time() > deadline or pay.poll() is not None or note.poll() is not None:
                raise RuntimeError("latency run: services not ready within 60 s")
            time.sleep(0.1)
        time.sleep(1.0)  # let the fetchers start on every assigned partition
        load = loadavg()
        t0 = time.time()
        broker_cpu0 = self.broker_cpu_s()
        prod = subprocess.run([str(self.bin / "order-producer"), "--brokers", self.brokers, "--topic", "orders-lat",
                               "--count", str(count), "--rate", str(rate), "--seed", "7", "--metrics-address",
                               "127.0.0.1:0", "--log-level", "warn"] + xargs(),
                              capture_output=True, text=True, timeout=dur * 3 + 60)
        if prod.returncode != 0:
            raise RuntimeError("latency run: order-producer failed: " + prod.stderr[-500:])
        note_url = f"http://127.0.0.1:{note_port}/metrics"
        deadline = time.time() + 60
        while metric_sum(scrape(note_url), "orderflow_events_processed_total") < 2 * count:
            if time.time() > deadline:
                raise RuntimeError("latency run: notification-service did not finish")
            time.sleep(0.2)
        wall = time.time() - t0
        text = scrape(note_url)
        pay_text = scrape(f"http://127.0.0.1:{pay_port}/metrics")
        res = {"rate": rate, "duration_s": dur, "orders": count, "producer_summary": prod.stdout.strip(),
               "partitions": self.a.latency_partitions, "wall_s": round(wall, 2), "loadavg_before": load,
               "loadavg_after": loadavg(),
               "broker_cpu_pct_of_one_core": round(100 * (self.broker_cpu_s() - broker_cpu0) / wall, 1),
               # informational: the consumers tail the head, so records the mock drops after they were
               # consumed do not matter (every order was processed, checked above)
               "dropped_partitions": {t: len(p) for t, p in self.dropped().items()}}
        for name, flt in (("all_kinds", None),
                          ("order_received", lambda lab: lab.get("kind") == "ORDER_RECEIVED"),
                          ("payment_outcome", lambda lab: lab.get("kind", "").startswith("PAYMENT_"))):
            b, c, s = histogram(text, "orderflow_end_to_end_latency_seconds", flt)
            qs, mx = quantiles_ms(b)
            res[name] = {"count": int(c), "mean_ms": round(s / c * 1000, 2) if c else None,
                         "p50_ms": qs[0] and round(qs[0], 2), "p95_ms": qs[1] and round(qs[1], 2),
                         "p99_ms": qs[2] and round(qs[2], 2), "max_bucket_ms": mx}
        b, c, s = histogram(pay_text, "orderflow_processing_seconds")
        qs, _ = quantiles_ms(b)
        res["payment_processing_p99_ms"] = qs[2] and round(qs[2], 3)
        for label, p in (("payment", pay), ("notification", note)):
            res[f"{label}_cpu_s"] = round(proc_cpu_s(p.pid), 2)
            res[f"{label}_cpu_pct_of_one_core"] = round(100 * proc_cpu_s(p.pid) / wall, 1)
            res[f"{label}_peak_rss_mib"] = round(proc_hwm_mib(p.pid), 1)
        stop(pay)
        stop(note)
        a = res["all_kinds"]
        log(f"latency: p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, p99 {a['p99_ms']} ms, "
            f"max <= {a['max_bucket_ms']} ms (chain/payment kinds p99 {res['payment_outcome']['p99_ms']} ms)")
        return res

    # -------------------------------------------------------------------------------------- run
    def run(self):
        started = time.time()
        meta = {
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "host_cpus": os.cpu_count(),
            "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip(),
            "loadavg_start": loadavg(), "orders": self.a.orders, "partitions": self.a.partitions,
            "reps": self.a.reps, "eos_reps": self.a.eos_reps, "tuning_X": TUNING + EXTRA_X, "build_dir": str(self.build),
            "git": subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                                  capture_output=True, text=True).stdout.strip(),
        }
        runs = []
        if self.a.reps > 0:
            topics = []
            for r in range(1, self.a.reps + 1):
                topics += [f"raw-r{r}", f"payments-r{r}", f"notifications-r{r}"]
            for r in range(1, self.a.eos_reps + 1):
                topics += [f"payments-eos-r{r}"]
            self.start_broker(self.a.partitions, topics, "dev-broker-drain")
            log(f"dev broker at {self.brokers} ({self.a.partitions} partitions per topic)")
            meta["prefill"] = self.prefill()
        for rep in range(1, self.a.reps + 1):
            runs.append(self.run_raw(rep))
            runs.append(self.run_payment(rep))
            if rep == 1:
                self.check_inputs_kept()  # payments-r1 is the notification stage's input
            runs.append(self.run_notification(rep))
            if rep <= self.a.eos_reps:
                runs.append(self.run_payment(rep, eos=True))
        if self.a.reps > 0:
            self.check_inputs_kept()
            meta["dropped_output_partitions"] = {t: len(p) for t, p in self.dropped().items()}
        latency = None if self.a.duration <= 0 else self.latency_run()
        meta["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        meta["loadavg_end"] = loadavg()
        meta["total_seconds"] = round(time.time() - started, 1)
        return self.summarise(meta, runs, latency)

    def summarise(self, meta, runs, latency):
        summary = {}
        for stage in STAGES:
            rs = [r for r in runs if r["stage"] == stage]
            if not rs:
                continue
            med = lambda k: statistics.median(r[k] for r in rs if r[k] is not None)  # noqa: E731
            summary[stage] = {"reps": len(rs), "wall_s": round(med("wall_s"), 2), "span_s": round(med("span_s"), 3),
                              "orders_per_s": round(med("orders_per_s"), 0), "cpu_s": round(med("cpu_s"), 2),
                              "cpu_us_per_order": round(med("cpu_us_per_order"), 2),
                              "peak_rss_mib": round(med("peak_rss_mib"), 1),
                              "peak_rss_mib_max": max(r["peak_rss_mib"] for r in rs),
                              "broker_cpu_s": round(med("broker_cpu_s"), 2)}
        raw = summary.get("raw_stage")
        for s in summary.values():
            s["throughput_vs_raw"] = round(s["orders_per_s"] / raw["orders_per_s"], 3)
            s["cpu_per_order_vs_raw"] = round(s["cpu_us_per_order"] / raw["cpu_us_per_order"], 2)
        targets = []

        def target(name, value, ok, limit):
            targets.append({"target": name, "value": value, "limit": limit, "holds": bool(ok)})

        if "payment" in summary:
            p = summary["payment"]
            target("payment throughput >= 80% of raw_stage", p["throughput_vs_raw"], p["throughput_vs_raw"] >= 0.8, 0.8)
            target("payment CPU/order <= 1.5x raw_stage", p["cpu_per_order_vs_raw"], p["cpu_per_order_vs_raw"] <= 1.5, 1.5)
        if "notification" in summary:
            n = summary["notification"]
            target("notification throughput >= 60% of raw_stage", n["throughput_vs_raw"], n["throughput_vs_raw"] >= 0.6, 0.6)
        if latency:
            p99 = latency["all_kinds"]["p99_ms"]
            target(f"chain end-to-end p99 < 50 ms at {latency['rate']:g}/s (all kinds)", p99, p99 is not None and p99 < 50, 50)
            p99c = latency["payment_outcome"]["p99_ms"]
            target(f"chain end-to-end p99 < 50 ms at {latency['rate']:g}/s (payment notifications: 2 hops)", p99c,
                   p99c is not None and p99c < 50, 50)
        for stage in ("payment", "notification"):
            if stage in summary:
                v = summary[stage]["peak_rss_mib_max"]
                target(f"{stage} peak RSS < 64 MiB (max over reps, {self.a.orders}-order drain)", v, v < 64, 64)
        if "payment_eos" in summary:
            e = summary["payment_eos"]
            target("exactly-once payment throughput >= 50% of raw_stage (MOCK: no real transactions)",
                   e["throughput_vs_raw"], e["throughput_vs_raw"] >= 0.5, 0.5)
        return {"meta": meta, "summary": summary, "targets": targets, "latency": latency, "runs": runs}


def markdown(result):
    m, s = result["meta"], result["summary"]
    lines = [f"## orderflow pipeline benchmark — {m['date']}", "",
             f"{m['orders']} orders, {m['partitions']} partitions, kafka-dev-broker (librdkafka mock), "
             f"{m['host_cpus']} CPUs, medians of {m['reps']} repetitions (exactly-once: {m['eos_reps']}). "
             f"Load average at start {m['loadavg_start']}, at end {m['loadavg_end']}. "
             f"-X {' -X '.join(m['tuning_X'])}.", "",
             "| stage | orders/s | vs raw | span s | wall s | CPU s | CPU µs/order | vs raw | peak RSS MiB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    names = {"raw_stage": "raw_stage (C, no JSON)", "payment": "payment-service",
             "notification": "notification-service (orders+payments)",
             "payment_eos": "payment-service exactly-once (MOCK: no txn markers)"}
    for stage, v in s.items():
        lines.append(f"| {names[stage]} | {v['orders_per_s']:.0f} | {v['throughput_vs_raw']:.2f} | {v['span_s']:.2f} | "
                     f"{v['wall_s']:.1f} | {v['cpu_s']:.2f} | {v['cpu_us_per_order']:.1f} | "
                     f"{v['cpu_per_order_vs_raw']:.2f} | {v['peak_rss_mib']:.1f} (max {v['peak_rss_mib_max']:.1f}) |")
    lat = result.get("latency")
    if lat:
        lines += ["", f"End-to-end latency, whole chain at {lat['rate']:g} orders/s for {lat['duration_s']:g} s "
                      f"(notification-service histogram; max = upper bound of the highest non-empty bucket; "
                      f"load before {lat['loadavg_before']}):", "",
                  "| notifications | count | p50 ms | p95 ms | p99 ms | max ≤ ms | mean ms |", "|---|---:|---:|---:|---:|---:|---:|"]
        for k in ("all_kinds", "order_received", "payment_outcome"):
            v = lat[k]
            lines.append(f"| {k} | {v['count']} | {v['p50_ms']} | {v['p95_ms']} | {v['p99_ms']} | {v['max_bucket_ms']} | {v['mean_ms']} |")
        lines.append(f"\nLatency run: {lat['partitions']} partitions per topic; producer: {lat['producer_summary']}.")
        lines.append(f"CPU in the latency run: dev broker {lat['broker_cpu_pct_of_one_core']}% of a core, payment-service {lat['payment_cpu_pct_of_one_core']}% of a core, "
                     f"notification-service {lat['notification_cpu_pct_of_one_core']}%; peak RSS "
                     f"{lat['payment_peak_rss_mib']} / {lat['notification_peak_rss_mib']} MiB.")
    lines += ["", "| target | value | holds |", "|---|---:|:---:|"]
    for t in result["targets"]:
        lines.append(f"| {t['target']} | {t['value']} | {'yes' if t['holds'] else '**NO**'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--orders", type=int, default=200000)
    ap.add_argument("--partitions", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--eos-reps", type=int, default=3, help="exactly-once repetitions (0 = skip)")
    ap.add_argument("--rate", type=float, default=5000, help="offered orders/s of the latency run")
    ap.add_argument("--duration", type=float, default=30, help="seconds of the latency run (0 = skip)")
    ap.add_argument("--latency-partitions", type=int, default=8,
                    help="partitions per topic of the latency run's own dev broker")
    ap.add_argument("--stage-timeout", type=float, default=240)
    ap.add_argument("--out", default=str(REPO / "bench" / "results" / "latest.json"))
    ap.add_argument("--X", action="append", default=[], metavar="KEY=VALUE",
                    help="extra -X for raw_stage, the services and order-producer (repeatable)")
    args = ap.parse_args()
    args.eos_reps = min(args.eos_reps, args.reps)
    EXTRA_X.extend(args.X)

    def on_signal(signo, _frame):
        cleanup()
        sys.exit(128 + signo)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bench = Bench(args)
    try:
        result = bench.run()
    finally:
        cleanup()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(markdown(result))
    print(f"\n(results: {args.out}; logs: {bench.logs}; {result['meta']['total_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
