#!/usr/bin/env python3
"""Reads Prometheus text from orderflow endpoints: `metrics.py value URL METRIC [label=value ...]` prints
the sum of matching samples; `metrics.py quantiles URL METRIC` prints p50/p95/p99 (ms) estimated from
the histogram buckets (summed over labels), the way Prometheus' histogram_quantile does.

`metrics.py watch --producer URL --payment URL --notification URL --orders N [--timeout S] [--pid P]...
[--elapsed-file F] [--stdout F] [--stderr F] -- PRODUCER COMMAND...` (the demo's live view of one phase):
reads the services' counters, starts the producer's command, prints a line a second — orders sent, paid,
notified, dead-lettered in this phase, with their rates over the last second (in place on a terminal, a
line each otherwise) — and exits 0 once N orders were paid or dead-lettered and notified and the producer
exited 0, writing the seconds from its start to that moment to F; 1 at the timeout, 3 when a --pid is
gone, 4 when the producer failed."""
import os
import sys
import time
import urllib.request


# No proxies: the endpoints are local, and an http_proxy of the user's environment would swallow them.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def scrape(url):
    try:
        with _opener.open(url, timeout=2) as r:
            return r.read().decode()
    except Exception:
        return ""


def samples(text, metric):
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name, _, labels = name_labels.partition("{")
        if name != metric:
            continue
        labels = labels.rstrip("}")
        parsed = {}
        for part in labels.split(",") if labels else []:
            k, _, v = part.partition("=")
            parsed[k] = v.strip('"')
        yield parsed, float(value)


def value(url, metric, filters):
    want = dict(f.split("=", 1) for f in filters)
    total = 0.0
    for labels, v in samples(scrape(url), metric):
        if all(labels.get(k) == v2 for k, v2 in want.items()):
            total += v
    return total


def quantiles(url, metric):
    buckets = {}
    for labels, v in samples(scrape(url), metric + "_bucket"):
        le = labels.get("le")
        buckets[le] = buckets.get(le, 0.0) + v
    if not buckets:
        return None
    ordered = sorted(((float("inf") if le == "+Inf" else float(le)), c) for le, c in buckets.items())
    total = ordered[-1][1]
    if total == 0:
        return None
    out = []
    for q in (0.5, 0.95, 0.99):
        rank = q * total
        prev_bound, prev_count = 0.0, 0.0
        for bound, count in ordered:
            if count >= rank:
                if bound == float("inf"):
                    out.append(prev_bound * 1000)
                else:
                    frac = (rank - prev_count) / (count - prev_count) if count > prev_count else 1.0
                    out.append((prev_bound + (bound - prev_bound) * frac) * 1000)
                break
            prev_bound, prev_count = bound, count
    return out


def pipeline_counts(producer, payment, notification):
    """The demo's counters, each summed over labels; None for an endpoint that did not answer."""
    def sums(url, wanted):
        text = scrape(url)
        if not text:
            return None
        out = {}
        for key, (metric, flt) in wanted.items():
            out[key] = sum(v for labels, v in samples(text, metric)
                           if all(labels.get(k) == x for k, x in flt.items()))
        return out
    prod = sums(producer, {"sent": ("orderflow_messages_produced_total", {"topic": "orders"})})
    pay = sums(payment, {
        "paid": ("orderflow_messages_produced_total", {"topic": "payments"}),
        "pay_dlq": ("orderflow_events_processed_total", {"outcome": "dead_lettered"}),
        "pay_done_ok": ("orderflow_events_processed_total", {"outcome": "success"}),
        "pay_done_declined": ("orderflow_events_processed_total", {"outcome": "declined"})})
    note = sums(notification, {
        "notified": ("orderflow_messages_produced_total", {"topic": "notifications"}),
        "note_dlq": ("orderflow_events_processed_total", {"outcome": "dead_lettered"})})
    return prod, pay, note


def watch(argv):
    import argparse
    import subprocess
    ap = argparse.ArgumentParser(prog="metrics.py watch")
    ap.add_argument("--producer", required=True)
    ap.add_argument("--payment", required=True)
    ap.add_argument("--notification", required=True)
    ap.add_argument("--orders", type=int, required=True, help="orders this phase sends")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--elapsed-file", help="where to write the seconds from the command's start to done")
    ap.add_argument("--stdout", help="the command's stdout goes here")
    ap.add_argument("--stderr", help="the command's stderr goes here")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- the producer's command line")
    a = ap.parse_args(argv)
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        ap.error("the producer's command line is missing (after --)")
    tty = sys.stdout.isatty()

    def end_line():
        if tty:
            print()

    # The services' counters before this phase: the live line and the end condition count this phase only.
    base = None
    deadline = time.monotonic() + 30
    while base is None:
        _, pay, note = pipeline_counts(a.producer, a.payment, a.notification)
        if pay is not None and note is not None:
            base = {**pay, **note}
        elif time.monotonic() >= deadline:
            print("metrics.py watch: the services' /metrics do not answer", file=sys.stderr)
            return 1
        else:
            time.sleep(0.05)
    with open(a.stdout or os.devnull, "wb") as out, open(a.stderr or os.devnull, "wb") as err:
        start = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    deadline = start + a.timeout
    next_line = start + 1.0
    last = {"sent": 0.0, "paid": 0.0, "notified": 0.0}
    last_t = start
    sent = 0.0  # the producer's endpoint closes when it exits: keep its last answer
    while True:
        for pid in a.pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                end_line()
                proc.kill()
                proc.wait()
                return 3
        rc = proc.poll()
        if rc is not None and rc != 0:
            end_line()
            print(f"metrics.py watch: {os.path.basename(command[0])} exited {rc}", file=sys.stderr)
            return 4
        prod, pay, note = pipeline_counts(a.producer, a.payment, a.notification)
        if prod is not None:
            sent = prod["sent"]
        now = time.monotonic()
        if pay is not None and note is not None:
            cur = {k: v - base[k] for k, v in {**pay, **note}.items()}
            handled = cur["pay_done_ok"] + cur["pay_done_declined"] + cur["pay_dlq"]
            # An order is handled only after it was sent (acknowledged): the producer's endpoint closes
            # when it exits, so its last scrape may be behind what the services have seen.
            sent = max(sent, handled)
            done = handled >= a.orders and cur["notified"] >= 2 * cur["paid"] and cur["note_dlq"] >= cur["pay_dlq"]
            if now >= next_line or done:
                dt = max(now - last_t, 1e-3)
                shown = {"sent": sent, "paid": cur["paid"], "notified": cur["notified"]}
                rate = {k: (shown[k] - last[k]) / dt for k in shown}
                line = ("  t=%4.1fs  sent %7d (%6d/s)  paid %7d (%6d/s)  notified %7d (%6d/s)  dead-lettered %d"
                        % (now - start, shown["sent"], rate["sent"], shown["paid"], rate["paid"],
                           shown["notified"], rate["notified"], cur["pay_dlq"]))
                print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
                last, last_t = shown, now
                next_line = now + 1.0
            if done:
                end_line()
                if a.elapsed_file:
                    with open(a.elapsed_file, "w") as f:
                        f.write("%.2f\n" % (now - start))
                try:
                    rc = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    rc = proc.wait()
                if rc != 0:
                    print(f"metrics.py watch: {os.path.basename(command[0])} exited {rc}", file=sys.stderr)
                    return 4
                return 0
        if now >= deadline:
            end_line()
            proc.kill()
            proc.wait()
            print(f"metrics.py watch: not done after {a.timeout:.0f} s (sent {sent:.0f} of {a.orders})",
                  file=sys.stderr)
            return 1
        time.sleep(0.02)


if __name__ == "__main__":
    if sys.argv[1] == "watch":
        sys.exit(watch(sys.argv[2:]))
    if sys.argv[1] == "value":
        v = value(sys.argv[2], sys.argv[3], sys.argv[4:])
        print(int(v) if v == int(v) else v)
    elif sys.argv[1] == "quantiles":
        q = quantiles(sys.argv[2], sys.argv[3])
        print("n/a" if q is None else "p50=%.1fms p95=%.1fms p99=%.1fms" % tuple(q))
