#!/usr/bin/env python3
"""tests/integration/edges_test.py — the edges of an actor's life through a
real thespiand: shutdown is bounded by --stop-timeout even when a handler
never returns (exit status 3, the stuck actor named in the log); status
dumps (SIGUSR1) all through load / unload cycles leave the host alive, and
`thespian status` shows how many sources are loaded; no thread of the host
takes a signal (they arrive on its signalfd). TAP output.

Environment (meson sets it): THESPIAN, THESPIAND, TH_PLUGIN_stuckactors,
TH_PLUGIN_hello; TH_EDGES_UNLOAD_CYCLES (default 8: each cycle signs and
loads through the CLI and a real daemon; the 1,000-cycle run with status
dumps is the in-process edges test)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import taplib  # the shared TAP runner, beside this file
from taplib import free_port

THESPIAN = os.environ["THESPIAN"]
THESPIAND = os.environ["THESPIAND"]
STUCK = os.environ["TH_PLUGIN_stuckactors"]
HELLO = os.environ["TH_PLUGIN_hello"]
CYCLES = int(os.environ.get("TH_EDGES_UNLOAD_CYCLES", "8"))

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


class Host:
    """A thespiand in the foreground (so its pid and exit status are ours),
    logging to a file, with a director directory holding a trusted key."""

    def __init__(self, *extra):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.dd = os.path.join(self.root, "director")
        self.src = os.path.join(self.root, "src")
        os.mkdir(self.dd)
        os.mkdir(self.src)
        os.symlink(HELLO, os.path.join(self.src, "hello.so"))
        self.log = os.path.join(self.root, "log")
        self.env = dict(os.environ)
        self.env["THESPIAN_ENDPOINT"] = f"tcp://127.0.0.1:{free_port()}"
        self.env["THESPIAN_DIRECTOR_DIR"] = self.dd
        self.env.pop("THESPLOG_FILE", None)
        self.run(["keygen", "dev", "--bits", "2048", "--dir", self.root])
        os.rename(os.path.join(self.root, "dev_tls.key"),
                  os.path.join(self.dd, "dev_tls.key"))
        self.key = os.path.join(self.root, "dev.pem")
        self.proc = subprocess.Popen(
            [THESPIAND, "--foreground", "--logfile", self.log, *extra],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(300):
            if subprocess.run([THESPIAN, "status"], env=self.env,
                              capture_output=True).returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("thespiand did not serve:\n" + self.log_text())

    def run(self, args, expect=0, contains=None):
        return taplib.run_cli(THESPIAN, args, self.env, expect, contains)

    def log_text(self):
        try:
            return open(self.log, errors="replace").read()
        except OSError:
            return ""

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.tmp.cleanup()


@case
def stuck_handler_bounds_shutdown():
    bound_ms = 1500
    h = Host("--plugin", STUCK, "--stop-timeout", str(bound_ms))
    try:
        h.run(["create", "stuckactors.Stuck", "--name", "stuck"])
        out = h.run(["ask", "stuck", "Hang", "--timeout", "10"])
        assert out.startswith("Hanging"), out  # it is in the handler now
        t0 = time.monotonic()
        h.proc.send_signal(signal.SIGTERM)
        rc = h.proc.wait(timeout=bound_ms / 1000 + 10)
        took = time.monotonic() - t0
        log = h.log_text()
        assert rc == 3, f"exit {rc}:\n{log}"
        assert took < bound_ms / 1000 + 2.0, f"took {took:.2f} s"
        assert "(stuckactors.Stuck) still running: its handler for Hang " \
               "has not returned" in log, log
        assert "exit status 3" in log, log
    finally:
        h.close()


@case
def orderly_shutdown_exits_zero():
    h = Host("--stop-timeout", "5000")
    try:
        h.run(["create", "hello.Greeter", "--name", "g"], expect=1)  # none
        h.proc.send_signal(signal.SIGTERM)
        rc = h.proc.wait(timeout=15)
        assert rc == 0, f"exit {rc}:\n{h.log_text()}"
        assert "still running" not in h.log_text()
    finally:
        h.close()


@case
def no_thread_takes_signals():
    """thespiand takes its signals on a signalfd only: every thread (the
    admin loop's, the workers, ZeroMQ's, the ZAP handler's) blocks SIGTERM,
    SIGINT, SIGHUP and SIGUSR1, so no handler cuts a ZeroMQ call short,
    and SIGUSR1 still gives a status dump."""
    h = Host()
    try:
        want = 0
        for sig in (signal.SIGUSR1, signal.SIGTERM, signal.SIGINT,
                    signal.SIGHUP):
            want |= 1 << (sig - 1)
        task = f"/proc/{h.proc.pid}/task"
        tids = os.listdir(task)
        assert len(tids) >= 5, tids
        for tid in tids:
            try:
                status = open(f"{task}/{tid}/status").read()
                comm = open(f"{task}/{tid}/comm").read().strip()
            except OSError:
                continue  # the thread ended meanwhile
            blk = int(status.split("SigBlk:")[1].split()[0], 16)
            assert blk & want == want, f"thread {tid} ({comm}): {blk:x}"
        h.proc.send_signal(signal.SIGUSR1)
        for _ in range(200):
            if "SIGUSR1: status" in h.log_text():
                break
            time.sleep(0.02)
        assert "SIGUSR1: status" in h.log_text(), h.log_text()[-2000:]
        assert sources_count(h) == 0
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(timeout=20) == 0, h.log_text()[-3000:]
    finally:
        h.close()


def sources_count(h):
    st = json.loads(h.run(["status", "--json"]))
    return st["system"]["sources"]


@case
def status_dumps_during_unload_cycles():
    h = Host()
    stop = threading.Event()
    dumps = [0]

    def usr1():
        while not stop.is_set():
            h.proc.send_signal(signal.SIGUSR1)
            dumps[0] += 1
            time.sleep(0.002)

    try:
        out = h.run(["gensrc", "examples", h.key, h.src, "version:1.0",
                     "*.so"])
        hsh, path = out.split()[0], out.split()[1]
        assert sources_count(h) == 0
        t = threading.Thread(target=usr1)
        t.start()
        try:
            for c in range(CYCLES):
                h.run(["load", path])
                assert sources_count(h) == 1
                for i in range(3):
                    h.run(["create", "hello.Greeter", "--name", f"g{i}",
                           "--source", hsh])
                    assert "Hello" in h.run(["ask", f"g{i}", "Greet",
                                             '{"name": "x"}'])
                h.run(["unload", hsh])
                for i in range(3):
                    h.run(["tell", f"g{i}", "ActorExitRequest"])
                for _ in range(400):
                    if sources_count(h) == 0:
                        break
                    time.sleep(0.01)
                assert sources_count(h) == 0, f"cycle {c}"
                assert h.proc.poll() is None, h.log_text()[-3000:]
        finally:
            stop.set()
            t.join()
        out = h.run(["status"])
        lines = [ln for ln in out.splitlines() if ln.startswith("sources")]
        assert lines and lines[0].split()[-1] == "0", out
        assert h.log_text().count("SIGUSR1: status") > 0
        print(f"# {CYCLES} cycles, {dumps[0]} SIGUSR1 sent")
        h.proc.send_signal(signal.SIGTERM)
        assert h.proc.wait(timeout=20) == 0, h.log_text()[-3000:]
    finally:
        h.close()


if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
