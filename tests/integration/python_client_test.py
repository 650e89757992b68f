#!/usr/bin/env python3
"""tests/integration/python_client_test.py -- the Python client
(sdk/python/thespian_client.py, ctypes over libthespian-client) against a
real thespiand on a random loopback port: create, tell, ask, listen,
Thespian's exceptions, private contexts from threads, capabilities,
status, load (reserved), a killed host, shutdown. Prints TAP.

Environment (meson sets it): THESPIAND, HELLO_SO, THESPIAN_CLIENT_LIB,
THESPIAN_PYTHON_DIR.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.environ["THESPIAN_PYTHON_DIR"])
import thespian_client as tc  # noqa: E402

import taplib  # the shared TAP runner, beside this file
from taplib import free_port


class Host:
    """A thespiand in the foreground, its log in a scratch directory."""

    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="th-py-")
        self.endpoint = "tcp://127.0.0.1:%d" % free_port()
        self.log_path = os.path.join(self.dir, "thespiand.log")
        env = dict(os.environ, THESPLOG_THRESHOLD="INFO")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [os.environ["THESPIAND"], "--foreground", "--endpoint",
                 self.endpoint, "--plugin", os.environ["HELLO_SO"]]
                + list(extra),
                stdout=subprocess.DEVNULL, stderr=log, env=env)
        deadline = time.time() + 20
        while True:
            try:
                tc.ActorSystem(self.endpoint, connect_timeout=0.5).close()
                return
            except tc.ActorSystemException:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("thespiand did not come up: " +
                                       self.log())
                time.sleep(0.05)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=30)
        log = self.log()
        assert "Sanitizer" not in log and "runtime error:" not in log, log
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


def expect(exc_type, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % exc_type.__name__)


# ---- cases --------------------------------------------------------------------------


def create_tell_ask_listen():
    h = Host()
    try:
        with tc.ActorSystem(h.endpoint) as asys:
            g = asys.createActor("hello.Greeter")
            r = asys.ask(g, "Greet", {"name": "Ada"}, timeout=10)
            assert r.type == "Greeting", r
            assert r.json()["text"] == "Hello, Ada!", r
            assert r.sender == g
            assert str(g).startswith("th1:")
            assert tc.ActorAddress(str(g)) == g and hash(tc.ActorAddress(
                str(g))) == hash(g)
            asys.tell(g, "Greet", {"name": "Bo"})
            m = asys.listen(timeout=10)
            assert m.json()["count"] == 2, m
            assert asys.listen(timeout=0.1) is None
            t0 = time.time()
            assert asys.ask(asys.systemAddress, "NoSuchThing", timeout=0.3) \
                is None
            assert 0.25 < time.time() - t0 < 3
            n1 = asys.createActor("hello.Greeter", globalName="greeter")
            n2 = asys.createActor("hello.Greeter", globalName="greeter")
            assert n1 == n2 and asys.lookup("greeter") == n1
            assert asys.lookup("nobody") is None
            r = asys.ask("greeter", "Greet", b'{"name":"raw"}', timeout=10)
            assert "raw" in r.json()["text"]
            r = asys.ask(g, "Crash", None, timeout=10)
            assert r.type == "PoisonMessage", r
            r = asys.ask(asys.systemAddress, "Thespian_StatusReq", timeout=10)
            assert r.type == "Thespian_SystemStatus", r
    finally:
        assert h.stop() == 0


def exceptions_follow_thespian():
    h = Host()
    try:
        with tc.ActorSystem(h.endpoint) as asys:
            expect(tc.InvalidActorSpecification, asys.createActor,
                   "hello.Nope")
            e = expect(tc.NoCompatibleSystemForActor, asys.createActor,
                       "hello.Greeter", targetActorRequirements={"gpu": 1})
            assert e.name == "NoCompatibleSystemForActor"
            expect(tc.InvalidActorSourceHash, asys.createActor,
                   "hello.Greeter", sourceHash="abc")
            expect(tc.InvalidActorAddress, asys.tell, "th1:bogus", "Greet")
            expect(tc.InvalidActorAddress, asys.tell, 42, "Greet")
            e = expect(tc.ActorSystemException, asys.tell,
                       asys.systemAddress, "PoisonMessage")
            assert e.name == "ReservedMessageType" or e.code == -7
            e = expect(tc.ActorSystemException, asys.loadActorSource,
                       os.environ["HELLO_SO"])
            assert "no trusted key" in str(e), e
    finally:
        assert h.stop() == 0
    e = expect(tc.ActorSystemFailure, tc.ActorSystem,
               "tcp://127.0.0.1:%d" % free_port(), connect_timeout=0.5)
    assert e.name == "ActorSystemShutdown", e


def private_contexts_from_threads():
    h = Host()
    try:
        with tc.ActorSystem(h.endpoint) as asys:
            g = asys.createActor("hello.Greeter")
            bad = []

            def work(i):
                with asys_lock:
                    ctx = asys.private()
                with ctx:
                    for j in range(200):
                        r = ctx.ask(g, "Greet", {"name": "t%d-%d" % (i, j)},
                                    timeout=20)
                        if r is None or r.json()["text"] != \
                                "Hello, t%d-%d!" % (i, j):
                            bad.append((i, j, r))

            asys_lock = threading.Lock()
            threads = [threading.Thread(target=work, args=(i,))
                       for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not bad, bad[:3]
            assert asys.listen(timeout=0.1) is None
    finally:
        assert h.stop() == 0


def own_caps(status):
    return {k: v for k, v in status["capabilities"].items()
            if not k.startswith("Thespian ")}


def capabilities_and_status():
    h = Host("--capabilities", '{"gpu": false}')
    try:
        with tc.ActorSystem(h.endpoint) as asys:
            st = asys.status()
            # the runtime's common capabilities are always there
            assert st["capabilities"]["Thespian Version"] == "0.1.0", st
            assert own_caps(st) == {"gpu": False}, st
            assert st["admin"]["pid"] == h.proc.pid
            asys.updateCapability("gpu", {"count": 2})
            asys.updateCapability("zone", "eu")
            asys.updateCapability("zone")
            assert own_caps(asys.status()) == {"gpu": {"count": 2}}
            try:
                asys.updateCapability("Thespian Version", "9")
                assert False, "a common capability was updated"
            except tc.ActorSystemException as e:
                assert "Thespian Version" in str(e), e
    finally:
        assert h.stop() == 0


def killed_host_raises_in_time():
    h = Host()
    asys = tc.ActorSystem(h.endpoint)
    threading.Timer(0.3, h.proc.kill).start()
    t0 = time.time()
    e = expect(tc.ActorSystemFailure, asys.ask, asys.systemAddress,
               "NoSuchThing", timeout=10)
    assert time.time() - t0 < 5, time.time() - t0
    assert "lost" in str(e), e
    asys.close()
    assert h.proc.wait(timeout=10) == -signal.SIGKILL
    shutil.rmtree(h.dir, ignore_errors=True)


def shutdown_from_python():
    h = Host()
    asys = tc.ActorSystem(h.endpoint)
    asys.createActor("hello.Greeter")
    asys.shutdown(timeout=10)
    assert h.proc.wait(timeout=10) == 0
    expect(tc.ActorSystemFailure, asys.createActor, "hello.Greeter")
    asys.close()
    assert h.stop() == 0


def admin_keys_from_python():
    """admin_key / server_key: an allow-listed key works, an unknown key
    and a wrong host key are refused (docs/security.md)."""
    h = Host()
    try:
        cli = os.environ["THESPIAN_CLI"]
        subprocess.run([cli, "keygen", "--admin", "dave", "--dir", h.dir],
                       check=True, capture_output=True)
        key = os.path.join(h.dir, "dave.key")
        pub = os.path.join(h.dir, "dave.pub")
        e = expect(tc.ActorSystemFailure, tc.ActorSystem, h.endpoint,
                   admin_key=key)
        assert e.name == "PermissionDenied" and "allow-list" in str(e), e
        e = expect(tc.ActorSystemFailure, tc.ActorSystem, h.endpoint,
                   server_key=pub)
        assert e.name == "PermissionDenied" and "handshake" in str(e), e
        subprocess.run([cli, "allow", pub], check=True, capture_output=True)
        with tc.ActorSystem(h.endpoint, admin_key=key) as asys:
            g = asys.createActor("hello.Greeter")
            r = asys.ask(g, "Greet", {"name": "Dave"}, timeout=10)
            assert r is not None and r.type == "Greeting", r
        assert "not in the allow-list" in h.log()
    finally:
        assert h.stop() == 0


CASES = [create_tell_ask_listen, exceptions_follow_thespian,
         private_contexts_from_threads, capabilities_and_status,
         killed_host_raises_in_time, shutdown_from_python,
         admin_keys_from_python]



if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
