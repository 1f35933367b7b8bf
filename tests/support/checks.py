"""The check-and-report helpers of the Python tests (compose_test, run_demo_test): every check prints an
`ok:` or `FAIL:` line at once, and failed ones are collected in `failures` for the test's final verdict."""

failures = []


def ok(msg):
    print(f"ok:   {msg}", flush=True)


def check(cond, msg, detail=""):
    if cond:
        ok(msg)
    else:
        failures.append(msg)
        print(f"FAIL: {msg}{(': ' + detail) if detail else ''}", flush=True)
    return cond
