"""tests/integration/taplib.py — the TAP runner the Python integration tests
share: each case is a function that raises on failure; the run prints the
plan, one ok / not ok line per case with the traceback as comments, and
returns the exit status.

Before the cases run, the process gets admin keys of its own
(docs/security.md): $THESPIAN_KEY_DIR names a fresh directory, so every
host a case starts makes its CurveZMQ key pair and operator key there at
first start, and every client (CLI, C or Python) finds them. It is removed
at exit."""
import atexit
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import traceback


def keys():
    """The test process's key directory (made once, set in the
    environment that hosts and clients started from here inherit)."""
    d = os.environ.get("THESPIAN_KEY_DIR")
    if not d:
        d = tempfile.mkdtemp(prefix="th-keys-")
        os.environ["THESPIAN_KEY_DIR"] = d
        atexit.register(shutil.rmtree, d, True)
    return d


def run(cases):
    keys()
    print(f"1..{len(cases)}")
    failed = 0
    for i, fn in enumerate(cases, 1):
        try:
            fn()
            print(f"ok {i} - {fn.__name__}")
        except Exception:
            failed += 1
            print(f"not ok {i} - {fn.__name__}")
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    return 1 if failed else 0


def free_port():
    """A loopback port for a host to bind: free now, and chosen below the
    kernel's ephemeral range, so no outgoing connection of a parallel
    test (which takes its local port from that range) can grab it before
    the host binds it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    top = max(min(low, 65536) - 1, 2048)
    for _ in range(200):
        port = random.randint(max(top - 12000, 1025), top)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_cli(cmd, args, env, expect=0, contains=None):
    """Run `cmd args` (the thespian CLI) with `env`; its stdout + stderr.
    Raises unless it exits `expect` and, if given, prints `contains`."""
    p = subprocess.run([cmd] + args, env=env, capture_output=True, text=True,
                       timeout=60)
    out = p.stdout + p.stderr
    if p.returncode != expect:
        raise AssertionError(
            f"{args}: exit {p.returncode}, wanted {expect}:\n{out}")
    if contains and contains not in out:
        raise AssertionError(f"{args}: output lacks {contains!r}:\n{out}")
    return out
