#!/usr/bin/env python3
"""Reads Prometheus text from orderflow endpoints: `metrics.py value URL METRIC [label=value ...]` prints
the sum of matching samples; `metrics.py quantiles URL METRIC` prints p50/p95/p99 (ms) estimated from
the histogram buckets (summed over labels), the way Prometheus' histogram_quantile does.

`metrics.py watch --producer URL --payment URL --notification URL --orders N [--timeout S] [--pid P]...`
(the demo's live view): prints a line a second — orders sent, paid, notified, dead-lettered, each with its
rate over the last second (in place on a terminal, a line each otherwise) — and exits 0 once N orders were
sent and every one of them was paid or dead-lettered and notified; 1 at the timeout; 3 when a --pid is gone.
Counters are cumulative: N counts the orders of earlier phases too."""
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
    ap = argparse.ArgumentParser(prog="metrics.py watch")
    ap.add_argument("--producer", required=True)
    ap.add_argument("--payment", required=True)
    ap.add_argument("--notification", required=True)
    ap.add_argument("--orders", type=int, required=True, help="orders sent in all, this phase included")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--pid", type=int, action="append", default=[])
    a = ap.parse_args(argv)
    tty = sys.stdout.isatty()
    start = time.monotonic()
    deadline = start + a.timeout
    next_line = start + 1.0
    last = {"sent": 0.0, "paid": 0.0, "notified": 0.0}
    last_t = start
    sent = 0.0  # the producer's endpoint closes when it exits: keep its last answer
    first = True
    while True:
        for pid in a.pid:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                if tty:
                    print()
                return 3
        prod, pay, note = pipeline_counts(a.producer, a.payment, a.notification)
        if prod is not None:
            sent = prod["sent"]
        now = time.monotonic()
        if pay is not None and note is not None:
            handled = pay["pay_done_ok"] + pay["pay_done_declined"] + pay["pay_dlq"]
            # An order is handled only after it was sent (acknowledged): the producer's endpoint closes
            # when it exits, so its last scrape may be behind what the services have seen.
            sent = max(sent, handled)
            done = handled >= a.orders and note["notified"] >= 2 * pay["paid"] and note["note_dlq"] >= pay["pay_dlq"]
            if first:
                last = {"sent": sent, "paid": pay["paid"], "notified": note["notified"]}
                first = False
            if now >= next_line or done:
                dt = max(now - last_t, 1e-3)
                cur = {"sent": sent, "paid": pay["paid"], "notified": note["notified"]}
                rate = {k: (cur[k] - last[k]) / dt for k in cur}
                line = ("  t=%4.1fs  sent %7d (%6d/s)  paid %7d (%6d/s)  notified %7d (%6d/s)  dead-lettered %d"
                        % (now - start, cur["sent"], rate["sent"], cur["paid"], rate["paid"], cur["notified"],
                           rate["notified"], pay["pay_dlq"]))
                print(("\r" + line) if tty else line, end="" if tty else "\n", flush=True)
                last, last_t = cur, now
                next_line = now + 1.0
            if done:
                if tty:
                    print()
                return 0
        if now >= deadline:
            if tty:
                print()
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
