#!/usr/bin/env python3
"""run_demo_test.py SOURCE_DIR BUILD_DIR — `make run` (scripts/run-demo.sh) end to end (CTest: run_demo_test).

run-demo.sh runs as `make run` runs it, against BUILD_DIR's binaries and the dev broker, on free loopback
ports picked at run time, with DEMO_RUN_DIR in a temporary directory (the repository's run/ is left alone)
and with the services' environment variables removed (only flags from the script count).

  demo          DEMO_ORDERS=500 at DEMO_RATE=500/s, then a backlog of DEMO_BURST=500: exit 0; a live line
                per phase; the summary is printed and its figures add up (orders sent = 1000, authorized +
                declined + dead letters = sent, notifications = 2 × payments, both services dead-letter the
                same invalid orders, the steady phase took at least DEMO_ORDERS / DEMO_RATE, backlog rate =
                DEMO_BURST / its wall time); "where to look next" follows; the notifications
                file holds exactly one ORDER_RECEIVED and one PAYMENT_* for every paid order, and
                nothing of an earlier run (whose files the test leaves in DEMO_RUN_DIR first); every
                process the demo started is gone afterwards (pids, process session, ports). With
                clickhouse-server installed, the analytics step runs too: its summary lines (windows closed =
                window rows in ClickHouse, orders and payments rows = the payments of the summary, the example
                query's authorisation rate = authorized / payments) and its ClickHouse gone afterwards. With a
                dead http_proxy in the environment: the demo talks to its own loopback endpoints only.
  port in use   for each of its five ports in turn, a socket of this test listens on it: exit non-zero
                with "run-demo: port N is already in use", nothing started.
  bad knob      DEMO_RATE=fast: exit 2 with "run-demo: DEMO_RATE must be a positive whole number", nothing
                started.
  broker fails  the broker port is bound but not listening (run-demo's probe sees it free, the broker
                cannot bind it): exit non-zero with the broker's own log, well before the 15 s start-up
                timeout.

Every run of the script is bounded: at its deadline it gets SIGTERM (its EXIT trap stops what it
started), and its whole process group SIGKILL if it is still there 20 s later. Exit 0 only when every
check passed; a failure names the check and prints the demo's output and logs.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ORDERS = 500
RATE = 500
BURST = 500
INVALID_RATIO = "0.02"  # seeds 42 and 43 (fixed in run-demo.sh): a few malformed orders, so the dead-letter path runs
DEMO_BUDGET_S = 90      # the demo itself takes ~10 s on 2 cores; CTest's TIMEOUT is 180
QUICK_BUDGET_S = 10     # runs that must fail before starting anything
TERM_GRACE_S = 20       # run-demo.sh's cleanup gives each process up to 10 s after SIGTERM
BROKER_START_TIMEOUT_S = 15  # run-demo.sh's own wait for the dev broker
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")  # either case
BINARIES = ("kafka-dev-broker", "payment-service", "notification-service", "order-producer", "analytics-service")
# run-demo.sh leaves the analytics step out without a ClickHouse server binary (the places it looks in).
HAVE_CLICKHOUSE = bool(shutil.which("clickhouse-server") or os.access("/usr/sbin/clickhouse-server", os.X_OK)
                       or shutil.which("clickhouse") or os.environ.get("CLICKHOUSE_SERVER"))
ANALYTICS_LABELS = ("analytics windows closed", "rows in ClickHouse", "example query", "its result")
SUMMARY_LABELS = ("broker", "orders sent", "payments authorized", "payments declined", "notifications",
                  "dead letters (payment-service)", "dead letters (notification-service)", "steady phase",
                  f"end-to-end latency at {RATE} orders/s", "backlog drain") + (ANALYTICS_LABELS if HAVE_CLICKHOUSE else ())

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "support"))
from checks import check, failures, ok  # noqa: E402


# ------------------------------------------------------------------------------------------------ ports
# free_ports(n): below the ephemeral range, reserved while this test runs (tests/support/ports.py).
from ports import free_ports  # noqa: E402


def listening(port):
    """True when something accepts connections on port (127.0.0.1 or ::1)."""
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect((host, port))
                return True
        except OSError:
            continue
    return False


# -------------------------------------------------------------------------------------------- processes
def proc_stat(pid):
    """(state, session id, start time) of pid, or None when it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "; comm may hold spaces and ')'
    return fields[0], int(fields[3]), int(fields[19])


def proc_cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def live(pid, start_time=None):
    """pid exists, is not a zombie, and (when given) is still the process that started at start_time."""
    st = proc_stat(pid)
    return st is not None and st[0] not in ("Z", "X") and (start_time is None or st[2] == start_time)


def all_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def session_members(sid):
    out = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st is not None and st[1] == sid and st[0] not in ("Z", "X"):
            out[pid] = st[2]
    return out


def demo_processes_anywhere(markers):
    """Processes outside this test whose command line names one of markers (the run dir, the ports)."""
    found = []
    me = os.getpid()
    for pid in all_pids():
        if pid == me or not live(pid):
            continue
        cmd = " ".join(proc_cmdline(pid))
        if any(m in cmd for m in markers):
            found.append(f"{pid}: {cmd.strip()}")
    return found


# ---------------------------------------------------------------------------------------------- running
class DemoRun:
    """One bounded run of run-demo.sh in a session of its own; records every process of that session."""

    def __init__(self, source_dir, build_dir, work, env, budget_s):
        self.work = work
        self.stdout_path = work / "stdout.txt"
        self.stderr_path = work / "stderr.txt"
        self.seen = {}        # (pid, start time) -> {names}: every process of the demo's session seen running
        self.timed_out = False
        start = time.monotonic()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(["bash", str(source_dir / "scripts/run-demo.sh"), str(build_dir)],
                                         env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         start_new_session=True)
        sid = self.proc.pid
        deadline = start + budget_s
        while self.proc.poll() is None:
            for pid, start_time in session_members(sid).items():
                argv = proc_cmdline(pid)  # empty while the process exits: keep the names seen before
                names = self.seen.setdefault((pid, start_time), set())
                if argv and argv[0]:
                    names.add(os.path.basename(argv[0]))  # "bash" between fork and exec, then the program
            if time.monotonic() >= deadline:
                self.timed_out = True
                self._stop(sid)
                break
            time.sleep(0.2)  # polling interval (the loop waits for the script's exit, bounded by deadline)
        self.rc = self.proc.wait()
        self.elapsed = time.monotonic() - start
        self.sid = sid
        self.stdout = self.stdout_path.read_text(errors="replace")
        self.stderr = self.stderr_path.read_text(errors="replace")

    def _stop(self, sid):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=TERM_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(sid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def names_seen(self):
        return set().union(*self.seen.values())

    def leftovers(self):
        """Processes of this run still alive: by recorded pid (same start time) and by session."""
        names = {pid: names for (pid, start_time), names in self.seen.items() if live(pid, start_time)}
        left = set(names)
        left |= set(session_members(self.sid))
        return sorted(f"{pid} {' '.join(proc_cmdline(pid)).strip() or '/'.join(names.get(pid, ['?']))}"
                      for pid in left)

    def kill_leftovers(self):
        """SIGKILL to whatever of this run a failed check found still running (cleanup of the test)."""
        for pid, start_time in self.seen:
            if live(pid, start_time):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.killpg(self.sid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def dump(run, logs_dir):
    print("---- run-demo.sh stdout ----\n" + run.stdout + "---- run-demo.sh stderr ----\n" + run.stderr)
    if logs_dir.is_dir():
        for f in sorted(logs_dir.iterdir()):
            if f.suffix == ".log":
                lines = f.read_text(errors="replace").splitlines()
                print(f"---- {f.name} (last 30 of {len(lines)} lines) ----")
                print("\n".join(lines[-30:]))
    sys.stdout.flush()


def service_env_vars(bin_dir):
    """Environment variables the binaries read (their --help lists them), so that none leaks in."""
    names = {"ORDERFLOW_CONFIG", "KAFKA_PROPERTIES"}
    for b in BINARIES:
        try:
            text = subprocess.run([str(bin_dir / b), "--help"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            continue
        names.update(re.findall(r"^\s+([A-Z][A-Z0-9_]*)\s+→", text, re.M))
    return names


def demo_env(base, ports, run_dir, **extra):
    env = dict(base)
    env.update(KAFKA="mock", DEMO_KAFKA_PORT=str(ports[0]), DEMO_PAYMENT_METRICS=f"127.0.0.1:{ports[1]}",
               DEMO_NOTIFICATION_METRICS=f"127.0.0.1:{ports[2]}", DEMO_PRODUCER_METRICS=f"127.0.0.1:{ports[3]}",
               DEMO_ANALYTICS_METRICS=f"127.0.0.1:{ports[4]}",
               DEMO_ORDERS=str(ORDERS), DEMO_RATE=str(RATE), DEMO_BURST=str(BURST),
               DEMO_INVALID_RATIO=INVALID_RATIO, DEMO_RUN_DIR=str(run_dir))
    env.update(extra)
    return env


def parse_summary(stdout):
    lines = stdout.splitlines()
    try:
        i = lines.index("== orderflow demo summary")
    except ValueError:
        return None
    values = {}
    for line in lines[i + 1:]:
        if not line.strip():
            break
        for label in SUMMARY_LABELS:
            if line.startswith("  " + label) and line[2 + len(label):][:1].isspace():
                values[label] = line[2 + len(label):].strip()
                break
        else:
            values.setdefault("?", []).append(line)
    return values


def as_int(values, label):
    v = values.get(label, "")
    return int(v) if re.fullmatch(r"\d+", v) else None


# ------------------------------------------------------------------------------------------------ cases
def check_analytics(s, authorized, declined):
    """The analytics lines of the summary against the payment figures."""
    windows = re.fullmatch(r"(\d+) \(2 s windows, topic order-stats\)", s.get("analytics windows closed", ""))
    rows = re.fullmatch(r"orders (\d+), payments (\d+), order_stats (\d+) \(http://127\.0\.0\.1:\d+\)",
                        s.get("rows in ClickHouse", ""))
    paid = authorized + declined
    if check(windows and rows, "the analytics lines: windows closed, rows in ClickHouse",
             f"{s.get('analytics windows closed')!r}, {s.get('rows in ClickHouse')!r}"):
        n_windows = int(windows[1])
        orders, payments, stats = (int(rows[i]) for i in (1, 2, 3))
        print(f"      analytics: {n_windows} windows closed; ClickHouse: {orders} orders, {payments} payments, "
              f"{stats} windows")
        check(n_windows >= 1 and stats == n_windows, f"every closed window is in ClickHouse ({stats} = {n_windows})")
        # Every valid order was paid (the invalid ones are dead-lettered by payment-service and ignored here).
        check(orders == paid and payments == paid,
              f"ClickHouse holds one row per valid order and per payment ({orders}, {payments} = {paid})")
    check(s.get("example query", "").startswith("SELECT "), "the example query is printed", repr(s.get("example query")))
    result = re.fullmatch(r"payments=(\d+) authorised_pct=([\d.]+)", s.get("its result", ""))
    if check(result, "the example query's result is printed", repr(s.get("its result"))) and paid:
        check(int(result[1]) == paid and abs(float(result[2]) - 100 * authorized / paid) <= 0.051,
              f"its result agrees with the summary: {paid} payments, {100 * authorized / paid:.1f}% authorised",
              repr(s.get("its result")))


def case_demo(source_dir, build_dir, tmp, base_env):
    print("\n== demo: DEMO_ORDERS=%d at %d/s, DEMO_BURST=%d, free ports, DEMO_RUN_DIR in %s"
          % (ORDERS, RATE, BURST, tmp), flush=True)
    work = tmp / "demo"
    run_dir = work / "run"
    work.mkdir()
    ports = free_ports(6)
    kport, pport, nport, prport, aport, dead_proxy = ports
    # A proxy nobody listens on: requests to the demo's own endpoints must not go through it.
    proxy = f"http://127.0.0.1:{dead_proxy}"
    env = demo_env(base_env, ports[:5], run_dir, http_proxy=proxy, HTTP_PROXY=proxy, all_proxy=proxy)
    # What an earlier demo in the same DEMO_RUN_DIR leaves behind: a broker log with its ready line, and
    # its notifications. Neither may count for this run.
    (run_dir / "logs").mkdir(parents=True)
    (run_dir / "logs" / "dev-broker.log").write_text(f"ready bootstrap=localhost:{kport}\n")
    (run_dir / "logs" / "notifications.jsonl").write_text(
        json.dumps({"order_id": "earlier-run", "kind": "ORDER_RECEIVED"}) + "\n")
    repo_run = source_dir / "run"
    repo_run_before = {p: p.stat().st_mtime_ns for p in repo_run.rglob("*")} if repo_run.exists() else None

    run = DemoRun(source_dir, build_dir, work, env, DEMO_BUDGET_S)
    print(f"      run-demo.sh exited {run.rc} after {run.elapsed:.1f} s", flush=True)
    before = len(failures)
    check(not run.timed_out, f"the demo finished within {DEMO_BUDGET_S} s",
          f"stopped at the deadline; processes seen: {sorted(run.names_seen())}")
    check(run.rc == 0, "run-demo.sh exited 0", f"exit code {run.rc}")
    errors = [l for l in run.stderr.splitlines() if l.startswith("run-demo:")]
    check(not errors, "no 'run-demo:' error on stderr", "; ".join(errors))

    # What the summary prints, and whether its figures add up.
    s = parse_summary(run.stdout)
    if check(s is not None, "the summary is printed ('== orderflow demo summary')"):
        missing = [l for l in SUMMARY_LABELS if l not in s]
        check(not missing and "?" not in s, f"the summary has its {len(SUMMARY_LABELS)} lines",
              f"missing {missing}, unexpected {s.get('?')}")
        check(s.get("broker") == f"mock (localhost:{kport})", f"broker: mock (localhost:{kport})",
              repr(s.get("broker")))
        sent = as_int(s, "orders sent")
        authorized, declined = as_int(s, "payments authorized"), as_int(s, "payments declined")
        notes = as_int(s, "notifications")
        pay_dlq = as_int(s, "dead letters (payment-service)")
        note_dlq = as_int(s, "dead letters (notification-service)")
        nums = (sent, authorized, declined, notes, pay_dlq, note_dlq)
        if check(None not in nums, "the summary's counts are integers", repr(s)):
            print(f"      sent={sent} authorized={authorized} declined={declined} notifications={notes} "
                  f"dlq payment={pay_dlq} notification={note_dlq}")
            check(sent == ORDERS + BURST, f"orders sent = DEMO_ORDERS + DEMO_BURST = {ORDERS + BURST}", f"{sent}")
            producers = re.findall(r"^sent=(\d+) delivered=(\d+) failed=(\d+) ", run.stdout, re.M)
            check(producers == [(str(ORDERS), str(ORDERS), "0"), (str(BURST), str(BURST), "0")],
                  f"order-producer, each phase: sent=N delivered=N failed=0 ({ORDERS}, then {BURST})",
                  repr(producers))
            check(authorized > 0, "some payments authorized", f"{authorized}")
            check(pay_dlq > 0, f"some orders dead-lettered (DEMO_INVALID_RATIO={INVALID_RATIO})", f"{pay_dlq}")
            check(authorized + declined + pay_dlq == sent,
                  "every order sent was paid (authorized or declined) or dead-lettered: "
                  f"{authorized} + {declined} + {pay_dlq} = {sent}",
                  f"{authorized + declined + pay_dlq} != {sent}")
            check(notes == 2 * (authorized + declined),
                  f"two notifications per payment: {notes} = 2 × {authorized + declined}",
                  f"{notes} != {2 * (authorized + declined)}")
            check(note_dlq == pay_dlq, "notification-service dead-lettered the same invalid orders",
                  f"{note_dlq} != {pay_dlq}")
        steady = re.fullmatch(rf"{ORDERS} orders at {RATE} orders/s in (\d+\.\d\d)s \(producer start → last notification\)",
                              s.get("steady phase", ""))
        if check(steady, "the steady phase is reported", repr(s.get("steady phase"))):
            # order-producer paces the orders over ORDERS / RATE seconds: the phase cannot be shorter.
            check(float(steady[1]) >= 0.9 * ORDERS / RATE,
                  f"the steady phase took at least DEMO_ORDERS / DEMO_RATE = {ORDERS / RATE:.1f} s", steady[1])
        drain = re.fullmatch(rf"{BURST} orders in (\d+\.\d\d)s = (\d+) orders/s \(injected at once; producer start → last notification\)",
                             s.get("backlog drain", ""))
        if check(drain and float(drain[1]) > 0, "the backlog drain is reported", repr(s.get("backlog drain"))):
            w, t = float(drain[1]), int(drain[2])
            expect = BURST / w  # the script divides by the printed (rounded) wall time
            check(abs(t - expect) <= 0.51, f"backlog rate {t} orders/s = DEMO_BURST / wall time ({BURST} / {w} s)",
                  f"expected {expect:.1f}")
        lat_label = f"end-to-end latency at {RATE} orders/s"
        lat = re.fullmatch(r"p50=([\d.]+)ms p95=([\d.]+)ms p99=([\d.]+)ms \(order occurred_at → notification\)",
                           s.get(lat_label, ""))
        check(lat and 0 <= float(lat[1]) <= float(lat[2]) <= float(lat[3]),
              "end-to-end latency p50 ≤ p95 ≤ p99", repr(s.get(lat_label)))

        if HAVE_CLICKHOUSE and None not in nums:
            check_analytics(s, authorized, declined)

        # The notifications themselves (the sink file of this run): one of each kind per paid order.
        sink = run_dir / "logs" / "notifications.jsonl"
        if check(sink.is_file(), f"notifications written to {sink.relative_to(tmp)}") and None not in nums:
            kinds = defaultdict(list)
            bad = 0
            for line in sink.read_text().splitlines():
                try:
                    n = json.loads(line)
                    kinds[n["order_id"]].append(n["kind"])
                except (ValueError, KeyError):
                    bad += 1
            total = sum(len(k) for k in kinds.values())
            per_kind = Counter(k for ks in kinds.values() for k in ks)
            wrong = {o: ks for o, ks in kinds.items()
                     if sorted(ks) not in (["ORDER_RECEIVED", "PAYMENT_AUTHORIZED"],
                                           ["ORDER_RECEIVED", "PAYMENT_DECLINED"])}
            check(bad == 0 and total == notes, f"the sink holds the {notes} notifications of the summary",
                  f"{total} notifications, {bad} unreadable lines")
            check(len(kinds) == authorized + declined and not wrong,
                  f"{len(kinds)} orders with exactly ORDER_RECEIVED + one PAYMENT_* each",
                  f"{len(kinds)} orders, expected {authorized + declined}; e.g. {list(wrong.items())[:3]}")
            check(per_kind["PAYMENT_AUTHORIZED"] == authorized and per_kind["PAYMENT_DECLINED"] == declined,
                  "PAYMENT_AUTHORIZED / PAYMENT_DECLINED notifications match the summary", f"{dict(per_kind)}")
    # The live view: a line a second while each phase runs (stdout is not a terminal: one line each).
    live = re.findall(r"^  t=\s*[\d.]+s  sent\s+(\d+) \(\s*\d+/s\)  paid\s+(\d+) .* dead-lettered (\d+)$",
                      run.stdout, re.M)
    check(len(live) >= 2, "live lines (t=…s sent … paid … notified … dead-lettered …) are printed",
          f"{len(live)} found")
    check(bool(live) and int(live[-1][0]) == BURST, "the last live line shows every order of the last phase sent",
          repr(live[-1:]))
    check("== where to look next" in run.stdout and "dlq-tool count --topic payment-service.dlq" in run.stdout,
          "'where to look next' names the logs, the by-hand commands and dlq-tool")
    check("== stopping" in run.stdout, "the demo stopped its services ('== stopping')")

    # Nothing of the demo is left: the processes it ran, its session, anything naming its ports or dir.
    names = run.names_seen()
    check({"kafka-dev-broker", "payment-service", "notification-service"}
          | ({"analytics-service"} if HAVE_CLICKHOUSE else set()) <= names,
          "the broker and both services were seen running in the demo's session", f"seen {sorted(names)}")
    left = run.leftovers()
    check(not left, f"none of the {len(run.seen)} processes of the demo is still running", "; ".join(left))
    markers = [str(run_dir), f"127.0.0.1:{pport}", f"127.0.0.1:{nport}", f"127.0.0.1:{prport}", f"127.0.0.1:{aport}",
               f"--port {kport}"]
    stray = demo_processes_anywhere(markers)
    check(not stray, "no process anywhere names the demo's run dir or ports", "; ".join(stray))
    busy = [p for p in (kport, pport, nport, prport, aport) if listening(p)]
    check(not busy, f"ports {kport}, {pport}, {nport}, {prport}, {aport} are free again", f"still listening: {busy}")
    run.kill_leftovers()

    # Its files went to DEMO_RUN_DIR, none to the repository's run/.
    logs = sorted(p.name for p in (run_dir / "logs").glob("*")) if (run_dir / "logs").is_dir() else []
    check({"dev-broker.log", "payment-service.log", "notification-service.log"} <= set(logs),
          f"logs in DEMO_RUN_DIR: {', '.join(logs)}")
    if repo_run_before is None:
        check(not repo_run.exists(), "the repository's run/ was not created")
    else:
        touched = [str(p) for p in repo_run.rglob("*") if repo_run_before.get(p) != p.stat().st_mtime_ns]
        check(not touched, "nothing in the repository's run/ was written", ", ".join(touched[:5]))
    if len(failures) > before:
        dump(run, run_dir / "logs")
    return run.elapsed


def case_port_in_use(source_dir, build_dir, tmp, base_env):
    knobs = ("DEMO_KAFKA_PORT", "DEMO_PAYMENT_METRICS", "DEMO_NOTIFICATION_METRICS", "DEMO_PRODUCER_METRICS",
             "DEMO_ANALYTICS_METRICS")  # in demo_env's order of ports; the last is checked with the analytics step
    for i, what in enumerate(knobs if HAVE_CLICKHOUSE else knobs[:4]):
        print(f"\n== port in use: a socket of this test listens on the {what} port", flush=True)
        work = tmp / f"busy-{i}"
        run_dir = work / "run"
        work.mkdir()
        holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        holder.bind(("127.0.0.1", 0))
        holder.listen(8)
        ports = free_ports(5)
        ports[i] = holder.getsockname()[1]
        port = ports[i]
        try:
            run = DemoRun(source_dir, build_dir, work, demo_env(base_env, ports, run_dir), QUICK_BUDGET_S)
        finally:
            holder.close()
        before = len(failures)
        check(not run.timed_out and run.rc != 0, f"run-demo.sh exited non-zero ({run.rc}) in {run.elapsed:.1f} s",
              "timed out" if run.timed_out else f"exit code {run.rc}")
        check(f"run-demo: port {port} is already in use" in run.stderr,
              f"stderr says 'run-demo: port {port} is already in use'", repr(run.stderr[-300:]))
        started = sorted(n for n in run.names_seen() if n in BINARIES)
        check(not started and not (run_dir / "logs" / "dev-broker.log").exists(), "nothing was started",
              f"started {started}")
        left = run.leftovers()
        check(not left, "no process of the run is left", "; ".join(left))
        run.kill_leftovers()
        if len(failures) > before:
            dump(run, run_dir / "logs")


def case_bad_knob(source_dir, build_dir, tmp, base_env):
    print("\n== bad knob: DEMO_RATE=fast", flush=True)
    work = tmp / "bad-knob"
    run_dir = work / "run"
    work.mkdir()
    env = demo_env(base_env, free_ports(5), run_dir, DEMO_RATE="fast")
    run = DemoRun(source_dir, build_dir, work, env, QUICK_BUDGET_S)
    before = len(failures)
    check(not run.timed_out and run.rc == 2, f"run-demo.sh exited 2 ({run.rc}) in {run.elapsed:.1f} s",
          "timed out" if run.timed_out else f"exit code {run.rc}")
    check("run-demo: DEMO_RATE must be a positive whole number" in run.stderr,
          "stderr says 'run-demo: DEMO_RATE must be a positive whole number'", repr(run.stderr[-300:]))
    started = sorted(n for n in run.names_seen() if n in BINARIES)
    check(not started, "nothing was started", f"started {started}")
    run.kill_leftovers()
    if len(failures) > before:
        dump(run, run_dir / "logs")


def case_broker_fails(source_dir, build_dir, tmp, base_env):
    print("\n== broker fails to start: its port is bound (not listening) by this test", flush=True)
    work = tmp / "broker-fails"
    run_dir = work / "run"
    work.mkdir()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # no SO_REUSEADDR: the broker's bind fails
    blocker.bind(("127.0.0.1", 0))
    ports = free_ports(5)
    ports[0] = blocker.getsockname()[1]
    try:
        run = DemoRun(source_dir, build_dir, work, demo_env(base_env, ports, run_dir),
                      BROKER_START_TIMEOUT_S + QUICK_BUDGET_S)
    finally:
        blocker.close()
    before = len(failures)
    check(not run.timed_out and run.rc != 0, f"run-demo.sh exited non-zero ({run.rc}) in {run.elapsed:.1f} s",
          "timed out" if run.timed_out else f"exit code {run.rc}")
    check(run.elapsed < BROKER_START_TIMEOUT_S - 5,
          f"it did not wait for its {BROKER_START_TIMEOUT_S} s broker start-up timeout", f"{run.elapsed:.1f} s")
    check("kafka-dev-broker exited" in run.stderr and str(ports[0]) in run.stderr,
          "stderr says the broker exited, with the broker's own message", repr(run.stderr[-400:]))
    services = sorted(n for n in run.names_seen() if n in ("payment-service", "notification-service"))
    check(not services, "no service was started", f"started {services}")
    left = run.leftovers()
    check(not left, "no process of the run is left", "; ".join(left))
    run.kill_leftovers()
    if len(failures) > before:
        dump(run, run_dir / "logs")


def main():
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[0], file=sys.stderr)
        return 2
    source_dir = Path(sys.argv[1]).resolve()
    build_dir = Path(sys.argv[2]).resolve()
    bin_dir = build_dir / "bin"
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        print(f"FAIL: missing in {bin_dir}: {', '.join(missing)} (build first: cmake --build build)")
        return 1
    if shutil.which("curl") is None:
        print("FAIL: run-demo.sh needs curl")
        return 1
    drop = service_env_vars(bin_dir) | {"KAFKA"}
    base_env = {k: v for k, v in os.environ.items()
                if k not in drop and not k.startswith("DEMO_") and k.lower() not in PROXY_VARS}

    tmp = Path(tempfile.mkdtemp(prefix="run-demo-test."))
    start = time.monotonic()
    try:
        demo_s = case_demo(source_dir, build_dir, tmp, base_env)
        case_port_in_use(source_dir, build_dir, tmp, base_env)
        case_bad_knob(source_dir, build_dir, tmp, base_env)
        case_broker_fails(source_dir, build_dir, tmp, base_env)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nrun_demo: demo {demo_s:.1f} s, total {time.monotonic() - start:.1f} s")
    if failures:
        print(f"run_demo: {len(failures)} check(s) FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("run_demo: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
