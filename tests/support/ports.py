#!/usr/bin/env python3
"""Loopback ports for the processes a test or benchmark starts, as tests/support's free_port() picks them:
below the kernel's ephemeral range (so no outgoing connection can take a port between the pick and the
child's bind), checked free with bind(), and reserved for the life of this process with an flock on
$TMPDIR/orderflow-test-ports/<port> (the C++ tests honour the same locks). ORDERFLOW_TEST_PORTS=LO-HI sets
the range. As a program: `ports.py [N]` prints N free ports, one per line (not reserved once it exits).
"""
import fcntl
import os
import random
import socket
import sys

_held = []  # lock files kept open (and locked) until the process exits


def port_range():
    env = os.environ.get("ORDERFLOW_TEST_PORTS", "")
    if env:
        lo, _, hi = env.partition("-")
        lo, hi = int(lo), int(hi or 0)
        if lo < 1024 or hi <= lo + 1 or hi > 65536:
            raise ValueError(f"ORDERFLOW_TEST_PORTS must be LO-HI with 1024 <= LO < HI <= 65536, got {env!r}")
        return lo, hi
    lo, hi = 20000, 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            first = int(f.read().split()[0])
            if first > 1024:
                hi = first
    except (OSError, ValueError, IndexError):
        pass
    return (lo, hi) if hi > lo + 1 else (lo, lo + 1000)


def _bindable(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _reserve(port):
    d = os.path.join(os.environ.get("TMPDIR") or "/tmp", "orderflow-test-ports")
    os.makedirs(d, exist_ok=True)
    try:
        os.chmod(d, 0o1777)
    except OSError:
        pass
    try:
        f = open(os.path.join(d, str(port)), "a")
    except OSError:
        return True  # cannot lock: the bind check alone
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _held.append(f)
    return True


def free_port():
    lo, hi = port_range()
    for _ in range(500):
        port = random.randrange(lo, hi)
        if _bindable(port) and _reserve(port) and _bindable(port):
            return port
    raise RuntimeError(f"no free port in {lo}-{hi} after 500 tries")


def free_ports(n):
    """n distinct free ports (each reserved, so never the same twice)."""
    return [free_port() for _ in range(n)]


if __name__ == "__main__":
    for p in free_ports(int(sys.argv[1]) if len(sys.argv) > 1 else 1):
        print(p)
