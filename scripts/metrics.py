#!/usr/bin/env python3
"""Reads Prometheus text from orderflow endpoints: `metrics.py value URL METRIC [label=value ...]` prints
the sum of matching samples; `metrics.py quantiles URL METRIC` prints p50/p95/p99 (ms) estimated from
the histogram buckets (summed over labels), the way Prometheus' histogram_quantile does."""
import sys
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


if __name__ == "__main__":
    if sys.argv[1] == "value":
        v = value(sys.argv[2], sys.argv[3], sys.argv[4:])
        print(int(v) if v == int(v) else v)
    elif sys.argv[1] == "quantiles":
        q = quantiles(sys.argv[2], sys.argv[3])
        print("n/a" if q is None else "p50=%.1fms p95=%.1fms p99=%.1fms" % tuple(q))
