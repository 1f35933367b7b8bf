#!/usr/bin/env python3
"""Parsing half of check-deploy.sh: each subcommand prints one line per item it checks and exits 1 when
an item fails (naming it). Needs only the standard library and PyYAML (python3-yaml, a docker-compose
dependency)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

failures = 0



def image_of(service):
    """The service's image as compose resolves it without an environment: ${VAR:-default} gives default
    (the compose files name the official images by default and take KAFKA_IMAGE, PROMETHEUS_IMAGE, ... to
    run the locally built ones: `make images`)."""
    return re.sub(r"\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}", r"\1", str(service.get("image", "")))

def ok(msg):
    print(f"ok:   {msg}")


def fail(msg):
    global failures
    failures += 1
    print(f"FAIL: {msg}")


def load_yaml(path):
    try:
        import yaml  # PyYAML resolves anchors and `<<` merge keys the way Compose does
    except ImportError:
        fail(f"cannot parse {path}: PyYAML is missing (apt install python3-yaml)")
        sys.exit(1)
    with open(path) as f:
        return yaml.safe_load(f)


def interpolate(value):
    """Compose-style ${VAR:-default} / ${VAR-default} / ${VAR} / $VAR with an empty environment; $$ is a '$'."""
    def one(m):
        if m.group(0) == "$$":
            return "$"
        return interpolate(m.group(1)) if m.group(1) is not None else ""
    return re.sub(r"\$\$|\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}|\$[A-Za-z_][A-Za-z0-9_]*", one, str(value))


def env_of(service, resolved=False):
    """A service's `environment:` as the container gets it. `resolved`: the service comes from
    `docker-compose config`, which has interpolated already (and keeps a literal '$' as '$$'). A variable
    without a value (`FOO:`, `- FOO`) is passed from the shell, empty here, so it is not set at all."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict((e.split("=", 1) + [None])[:2] for e in env)
    return {k: (str(v).replace("$$", "$") if resolved else interpolate(v)) for k, v in env.items() if v is not None}


# ------------------------------------------------------------------------------------------------ metrics
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or",
                "unless", "atan2", "inf", "nan", "start", "end"}
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                        "scrape_samples_post_metric_relabeling", "scrape_series_added"}


def metric_names(expr):
    """Metric names a PromQL expression selects (functions, keywords, labels and strings removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)        # string literals
    e = re.sub(r"\{[^}]*\}", " ", e)                                          # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                                         # range / subquery
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)  # label lists
    e = re.sub(r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?", " ", e)                     # Grafana variables
    names = set()
    for m in re.finditer(r"(?<![\w.])([A-Za-z_:][A-Za-z0-9_:]*)\b(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        names.add(word)
    return names


def scraped_names(files):
    names = set()
    for f in files:
        for line in Path(f).read_text().splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(None, 3)
                names.add(name)
                if kind.strip() == "histogram":
                    names.update({name + "_bucket", name + "_sum", name + "_count"})
                elif kind.strip() == "summary":
                    names.update({name + "_sum", name + "_count"})
            elif line and not line.startswith("#"):
                names.add(re.split(r"[{\s]", line, 1)[0])
    return names


def cmd_dashboard(dashboard, *metrics_files):
    try:
        dash = json.loads(Path(dashboard).read_text())
        ok(f"{dashboard} is valid JSON (title '{dash.get('title')}', uid '{dash.get('uid')}')")
    except (OSError, ValueError) as e:
        fail(f"{dashboard} is not valid JSON: {e}")
        return
    exported = scraped_names(metrics_files)
    ours = sorted(n for n in exported if n.startswith("orderflow_"))
    print(f"      the running services export {len(ours)} orderflow_* series names: {' '.join(ours)}")
    exprs = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((p.get("title", "?"), t["expr"]))
            walk(p.get("panels", []))
    walk(dash.get("panels", []))
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            m = re.match(r"\s*label_values\((.*?)(?:,\s*[A-Za-z_]\w*)?\)\s*$", q)
            exprs.append((f"variable ${v.get('name')}", m.group(1) if m else q))
    if not exprs:
        fail(f"{dashboard} has no queries")
    used = set()
    for title, expr in exprs:
        for name in sorted(metric_names(expr)):
            used.add(name)
            if name in exported:
                continue
            if name in PROMETHEUS_SYNTHETIC:
                continue
            fail(f"panel '{title}': metric '{name}' is not exported by any service (query: {expr})")
    ok(f"{len(exprs)} queries use {len(used)} metric names: {' '.join(sorted(used))}")
    for uid in {json.dumps(p.get('datasource')) for p in dash.get('panels', []) if p.get('datasource')}:
        pass


# ------------------------------------------------------------------------------------------------ env vars
def accepted(binary):
    """(env vars, flags) a binary accepts, from its --help."""
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=20)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} --help exited {out.returncode}")
    envs, flags = set(), set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", out.stdout))
    in_env = False
    for line in out.stdout.splitlines():
        if line.startswith("Environment variables"):
            in_env = True
            continue
        if in_env:
            m = re.match(r"\s+([A-Z][A-Z0-9_]*)\s+→\s+(--[a-z0-9-]+)", line)
            if m:
                envs.add(m.group(1))
            elif line.strip():
                in_env = False
    envs.update(re.findall(r"\benv\s+([A-Z][A-Z0-9_]*)", out.stdout))   # --config's ORDERFLOW_CONFIG
    return envs, flags


def ours(service):
    build = service.get("build") or {}
    dockerfile = build.get("dockerfile", "") if isinstance(build, dict) else ""
    return dockerfile.endswith("deploy/Dockerfile") or image_of(service).startswith("orderflow:")


# The PATH of a container made from debian:bookworm-slim (the image sets no other variable).
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def compose_tool():
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


def resolved_services(compose):
    """(services, how): the compose file's services as Compose resolves them with an empty environment
    (the files must work with their defaults alone): `docker-compose config`'s own output when the tool is
    installed — every profile enabled, so that jobs such as order-producer are included — else PyYAML
    (anchors and `<<` merge keys resolved as Compose does) with env_of() interpolating."""
    raw = load_yaml(compose)
    tool = compose_tool()
    if tool:
        profiles = sorted({p for svc in (raw.get("services") or {}).values() for p in (svc.get("profiles") or [])})
        args = tool + ["-f", compose] + [a for p in profiles for a in ("--profile", p)] + ["config"]
        with tempfile.TemporaryDirectory() as home:
            out = subprocess.run(args, capture_output=True, text=True, timeout=120,
                                 env={"PATH": os.environ.get("PATH", IMAGE_PATH), "HOME": home})
        if out.returncode == 0:
            import yaml
            services = (yaml.safe_load(out.stdout) or {}).get("services") or {}
            return {n: dict(svc, environment=env_of(svc, resolved=True)) for n, svc in services.items()}, \
                " ".join(args)
        print(f"      {' '.join(args)} failed ((a) reports it); resolving with PyYAML instead")
    return ({n: dict(svc, environment=env_of(svc)) for n, svc in (raw.get("services") or {}).items()},
            "PyYAML + Compose-style interpolation (no docker-compose)")


def cmd_compose_env(bindir, *composes):
    """Every compose service that runs one of our binaries: (1) each variable of its `environment:` and each
    flag of its `command:` is one the binary lists under --help (a misspelt variable would be ignored
    silently, so this stays), and (2) the binary, started the way the image starts it (deploy/docker/
    entrypoint.sh, which defaults INSTANCE_ID) with exactly that environment and command plus
    --check-config, accepts the configuration: exit 0. --check-config parses, validates and builds the Kafka
    clients' configuration as a start does, without contacting a broker, so a bad value (RETRY_ORDERING,
    PROCESSING_GUARANTEE, a librdkafka property in KAFKA_PROPERTIES …) fails here."""
    cache = {}
    for compose in composes:
        services, how = resolved_services(compose)
        print(f"      {compose}: environment resolved by {how}")
        entrypoint = Path(compose).resolve().parent / "docker" / "entrypoint.sh"
        for name, svc in services.items():
            if not ours(svc):
                continue
            command = svc.get("command") or ["payment-service"]   # the image's default CMD
            if isinstance(command, str):
                command = command.split()
            command = [str(a) for a in command]
            binary = command[0]
            path = Path(bindir) / binary
            if not path.exists():
                fail(f"{compose}: service {name} runs '{binary}', which is not in {bindir}")
                continue
            if binary not in cache:
                cache[binary] = accepted(path)
            envs, flags = cache[binary]
            env = svc["environment"]
            bad = sorted(set(env) - envs)
            for var in bad:
                fail(f"{compose}: service {name} sets {var}, which {binary} does not accept "
                     f"(accepted: {' '.join(sorted(envs))})")
            if not bad:
                ok(f"{compose}: {name} ({binary}) env {' '.join(sorted(env))}: all accepted")
            for arg in command[1:]:
                flag = arg.split("=", 1)[0]
                if flag.startswith("--") and flag not in flags:
                    fail(f"{compose}: service {name} passes {flag}, which {binary} does not accept")
            replicas = int((svc.get("deploy") or {}).get("replicas", 1) or 1)
            if replicas > 1 and "INSTANCE_ID" in env and "$" not in str(env["INSTANCE_ID"]):
                fail(f"{compose}: {name} has {replicas} replicas but one fixed INSTANCE_ID={env['INSTANCE_ID']}: "
                     f"exactly-once needs a distinct instance id per replica")
            # (2) the values: the binary itself with exactly the compose environment.
            run_env = {"PATH": IMAGE_PATH}
            run_env.update(env)
            argv = ["/bin/sh", str(entrypoint), str(path.resolve())] + command[1:] + ["--check-config"]
            shown = " ".join([binary] + command[1:] + ["--check-config"])
            try:
                out = subprocess.run(argv, env=run_env, capture_output=True, text=True, timeout=30,
                                     stdin=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                fail(f"{compose}: {name}: `{shown}` did not finish within 30 s")
                continue
            if out.returncode == 0:
                settings = [l for l in out.stdout.splitlines() if l and not l.startswith("#")]
                ok(f"{compose}: {name}: `{shown}` with its compose environment: exit 0 ({len(settings)} settings)")
            else:
                why = " | ".join(l.strip() for l in (out.stderr + out.stdout).strip().splitlines()[-3:])
                fail(f"{compose}: {name}: `{shown}` with its compose environment exited {out.returncode}: {why}")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------------ consistency
def cmd_consistency(src):
    src = Path(src)
    version = (src / "tools/kafka-local/KAFKA_VERSION").read_text().strip()
    prom = load_yaml(src / "deploy/prometheus/prometheus.yml")
    job_port = {}
    for job in prom.get("scrape_configs", []):
        for sd in job.get("dns_sd_configs", []):
            for n in sd.get("names", []):
                job_port[n] = int(sd["port"])
    ds = load_yaml(src / "deploy/grafana/provisioning/datasources/prometheus.yml")
    ds_uids = {d.get("uid") for d in ds.get("datasources", [])}
    dash = json.loads((src / "deploy/grafana/dashboards/orderflow.json").read_text())

    def uids(node):
        if isinstance(node, dict):
            d = node.get("datasource")
            if isinstance(d, dict) and d.get("uid"):
                yield d["uid"]
            for v in node.values():
                yield from uids(v)
        elif isinstance(node, list):
            for v in node:
                yield from uids(v)
    missing = sorted(set(uids(dash)) - ds_uids)
    if missing:
        fail(f"dashboard refers to data source uid(s) {missing}, provisioned: {sorted(ds_uids)}")
    else:
        ok(f"dashboard data source uid(s) {sorted(set(uids(dash)))} are provisioned")

    for compose in ("deploy/compose.yaml", "deploy/compose.dev.yaml"):
        doc = load_yaml(src / compose)
        services = doc.get("services") or {}
        groups = set()
        for name, svc in services.items():
            image = image_of(svc)
            if image.startswith("apache/kafka"):
                tag = image.split(":", 1)[1] if ":" in image else "latest"
                if tag == version:
                    ok(f"{compose}: {name} uses apache/kafka:{tag} = tools/kafka-local/KAFKA_VERSION")
                else:
                    fail(f"{compose}: {name} uses {image}, tools/kafka-local/KAFKA_VERSION says {version}")
            if not ours(svc):
                continue
            env = env_of(svc)
            if "KAFKA_GROUP_ID" in env:
                groups.add(env["KAFKA_GROUP_ID"])
            addr = env.get("METRICS_ADDRESS")
            if name in job_port:
                if not addr:
                    fail(f"{compose}: {name} has no METRICS_ADDRESS, Prometheus scrapes port {job_port[name]}")
                elif int(addr.rsplit(":", 1)[1]) != job_port[name]:
                    fail(f"{compose}: {name} METRICS_ADDRESS={addr} but Prometheus scrapes port {job_port[name]}")
                elif addr.rsplit(":", 1)[0] not in ("0.0.0.0", "", "[::]"):
                    fail(f"{compose}: {name} METRICS_ADDRESS={addr} is not reachable from the Prometheus container")
                else:
                    ok(f"{compose}: Prometheus scrapes {name}:{job_port[name]} = its METRICS_ADDRESS")
            else:
                fail(f"{compose}: service {name} is not scraped by deploy/prometheus/prometheus.yml")
            deps = svc.get("depends_on") or {}
            cond = (deps.get("kafka-init") or {}).get("condition") if isinstance(deps, dict) else None
            if cond != "service_completed_successfully":
                fail(f"{compose}: {name} does not wait for kafka-init (depends_on condition: service_completed_successfully)")
        init = services.get("kafka-init")
        if not init:
            fail(f"{compose}: no kafka-init service")
            continue
        init_env = env_of(init)
        init_groups = set(init_env.get("SERVICE_GROUPS", "payment-service notification-service").split())
        for g in sorted(groups - init_groups):
            fail(f"{compose}: group {g} has no .retry/.dlq topics: kafka-init SERVICE_GROUPS={sorted(init_groups)}")
        if groups <= init_groups:
            ok(f"{compose}: kafka-init creates .retry/.dlq for every group id ({' '.join(sorted(groups))})")
        ret, dlq = int(init_env.get("TOPIC_RETENTION_MS", 0)), int(init_env.get("DLQ_RETENTION_MS", 0))
        if dlq > ret > 0:
            ok(f"{compose}: .dlq retention {dlq} ms > other topics {ret} ms")
        else:
            fail(f"{compose}: .dlq retention ({dlq} ms) must be longer than the other topics' ({ret} ms)")
        for dep in (init.get("depends_on") or {}):
            cond = init["depends_on"][dep].get("condition") if isinstance(init["depends_on"], dict) else None
            if cond != "service_healthy":
                fail(f"{compose}: kafka-init depends on {dep} without condition: service_healthy")
        kafkas = [n for n, s in services.items() if image_of(s).startswith("apache/kafka") and n != "kafka-init"]
        for k in kafkas:
            if not services[k].get("healthcheck"):
                fail(f"{compose}: {k} has no healthcheck")
        rf = int(init_env.get("TOPIC_REPLICATION_FACTOR", 0))
        isr = int(init_env.get("TOPIC_MIN_INSYNC_REPLICAS", 0))
        if rf > len(kafkas) or isr > rf or (len(kafkas) >= 3 and (rf < 3 or isr < 2)):
            fail(f"{compose}: {len(kafkas)} broker(s), replication {rf}, min.insync.replicas {isr}")
        else:
            ok(f"{compose}: {len(kafkas)} broker(s), topics with replication {rf}, min.insync.replicas {isr}")


def main():
    cmd, *args = sys.argv[1:]
    {"dashboard": cmd_dashboard, "compose-env": cmd_compose_env, "consistency": cmd_consistency}[cmd](*args)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
