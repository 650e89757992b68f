#!/usr/bin/env python3
"""tests/integration/cli_test.py -- the thespian CLI against a thespiand it
starts itself (daemon mode, random loopback port): start (and a second
start using the existing system), status (table and --json), create,
tell, ask, shutdown, the endpoint rule (--endpoint, $THESPIAN_ENDPOINT,
the director directory), help on every command, and the exit codes
(0 ok, 1 failed, 2 usage). Prints TAP.

Environment (meson sets it): THESPIAN_CLI, THESPIAND, HELLO_SO.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import taplib  # the shared TAP runner, beside this file
from taplib import free_port

CLI = os.environ["THESPIAN_CLI"]
COMMANDS = ["start", "shutdown", "status", "create", "tell", "ask", "help"]


def run(*args, env=None, timeout=60):
    e = dict(os.environ)
    e.pop("THESPIAN_ENDPOINT", None)
    e.pop("THESPIAN_DIRECTOR_DIR", None)
    e.update(env or {})
    p = subprocess.run([CLI] + list(args), capture_output=True, text=True,
                       env=e, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect(want_rc, *args, env=None, out=None, err=None):
    rc, o, e = run(*args, env=env)
    check(rc == want_rc, "thespian %s: exit %d, want %d\nstdout: %s\n"
          "stderr: %s" % (" ".join(args), rc, want_rc, o, e))
    if out is not None:
        check(out in o, "thespian %s: stdout lacks %r: %r" %
              (" ".join(args), out, o))
    if err is not None:
        check(err in e, "thespian %s: stderr lacks %r: %r" %
              (" ".join(args), err, e))
    return o, e


class Daemon:
    """A host started by `thespian start`, stopped by pid at the end."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="th-cli-")
        self.port = free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.pidfile = os.path.join(self.dir, "t.pid")
        self.logfile = os.path.join(self.dir, "t.log")

    def start(self, *extra):
        return expect(0, "start", "--endpoint", self.endpoint, "--plugin",
                      os.environ["HELLO_SO"], "--pidfile", self.pidfile,
                      "--logfile", self.logfile, *extra)

    def cleanup(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
            os.kill(pid, 15)
            for _ in range(500):
                os.kill(pid, 0)
                time.sleep(0.02)
        except (OSError, ValueError):
            pass
        if os.path.exists(self.logfile):
            with open(self.logfile, errors="replace") as f:
                log = f.read()
            check("Sanitizer" not in log, "sanitizer report: " + log)
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- cases ----------------------------------------------------------------------------


def help_and_usage_errors():
    o, _ = expect(0, "--help")
    for c in COMMANDS:
        check(c in o, "overview lacks " + c)
    expect(0, "help", out="Commands:")
    for c in COMMANDS:
        expect(0, c, "--help", out="usage: thespian " + c)
        expect(0, "help", c, out="usage: thespian " + c)
    expect(2, err="usage: thespian")
    expect(2, "frobnicate", err="no command named")
    expect(2, "help", "frobnicate", err="no command named")
    expect(2, "--bogus", "status", err="unknown option")
    expect(2, "status", "--bogus", err="unknown option --bogus")
    expect(2, "status", "extra", err="unexpected argument")
    expect(2, "create", err="missing argument")
    expect(2, "tell", "x", err="missing argument")
    expect(2, "tell", "x", "T", "{not json", err="not JSON")
    expect(2, "ask", "x", "T", "--timeout", "soon", err="--timeout")
    expect(2, "create", "hello.Greeter", "--req", "[1]", err="--req")
    expect(2, "status", "--endpoint", err="needs a value")
    # an endpoint that is not one is a usage error (2, docs/cli.md),
    # before or after the command, naming it
    expect(2, "status", "--endpoint", "udp://x", err="udp://x")
    expect(2, "--endpoint", "tcp://nope", "shutdown", err="tcp://nope")
    # ... while a bad setting (not the command line) is a failure (1)
    expect(1, "status", env={"THESPIAN_ENDPOINT": "udp://y"}, err="udp://y")


def conventions():
    # --version: the meson project's version, on both programs
    o, _ = expect(0, "--version")
    check(o == "thespian %s\n" % os.environ["TH_PROJECT_VERSION"], o)
    p = subprocess.run([os.environ["THESPIAND"], "--version"],
                       capture_output=True, text=True, timeout=30)
    check(p.returncode == 0 and
          p.stdout == "thespiand %s\n" % os.environ["TH_PROJECT_VERSION"],
          p.stdout + p.stderr)
    # a missing argument is named as the usage writes it
    expect(2, "create", err="missing argument CLASS (0 given, 1 needed)")
    expect(2, "tell", "x", err="missing argument TYPE (1 given")
    expect(2, "gensrc", "g", err="missing argument PRIVKEY SOURCES_DIR GLOB")
    expect(2, "load", err="missing argument FILE.tls|FILE.tli|GROUP")
    # stopping what is not running is done already: exit 0, saying so
    ep = "tcp://127.0.0.1:%d" % free_port()
    expect(0, "shutdown", "--endpoint", ep, out="nothing to shut down")


def lifecycle_through_the_cli():
    d = Daemon()
    try:
        o, _ = d.start()
        check("serving" in o, o)
        o, _ = d.start()  # a second start uses the existing system
        check("already running" in o, o)
        ep = ["--endpoint", d.endpoint]
        o, _ = expect(0, "status", *ep, out="endpoint")
        check(d.endpoint in o and "live actors" in o, o)
        o, _ = expect(0, "create", "hello.Greeter", "--name", "g", *ep)
        addr = o.strip()
        check(addr.startswith("th1:"), o)
        o, _ = expect(0, "ask", "g", "Greet", '{"name":"cli"}', *ep)
        typ, body = o.strip().split(" ", 1)
        check(typ == "Greeting", o)
        check(json.loads(body)["text"] == "Hello, cli!", o)
        o, _ = expect(0, "ask", addr, "Greet", '{"name":"by addr"}', *ep)
        check("by addr" in o, o)
        # the JSON forms of create and ask
        o, _ = expect(0, "create", "hello.Greeter", "--json", *ep)
        check(json.loads(o)["address"].startswith("th1:"), o)
        o, _ = expect(0, "ask", "g", "Greet", '{"name":"j"}', "--json", *ep)
        r = json.loads(o)
        check(r["type"] == "Greeting" and r["body"]["text"] == "Hello, j!"
              and r["sender"] == addr, o)
        expect(0, "tell", "g", "Greet", '{"name":"t"}', *ep)
        o, _ = expect(0, "status", "--json", *ep)
        st = json.loads(o)
        check(st["admin"]["endpoint"] == d.endpoint, o)
        check(any(a["class"] == "hello.Greeter"
                  for a in st["system"]["actors"]), o)
        o, _ = expect(0, "status", *ep)
        check("hello.Greeter" in o and " g " in o, o)
        # failures: exit 1 with Thespian's names
        expect(1, "create", "hello.Nope", *ep,
               err="InvalidActorSpecification")
        expect(1, "create", "hello.Greeter", "--req", '{"gpu":1}', *ep,
               err="NoCompatibleSystemForActor")
        expect(1, "create", "hello.Greeter", "--source", "abc", *ep,
               err="InvalidActorSourceHash")
        expect(1, "ask", "nobody", "Greet", *ep, err="nobody")
        expect(1, "ask", "th1:garbage", "Greet", *ep,
               err="InvalidActorAddress")
        expect(1, "tell", "g", "PoisonMessage", *ep, err="reserved")
        t0 = time.time()  # g exits on this ask and says nothing
        expect(1, "ask", "g", "ActorExitRequest", "--timeout", "0.3", *ep,
               err="ActorSystemRequestTimeout")
        check(time.time() - t0 < 5, "ask --timeout 0.3 took too long")
        # a second start with another director directory: that host
        # trusts other keys, so it is not silently used
        other = os.path.join(d.dir, "other-director")
        os.mkdir(other)
        expect(1, "start", *ep, env={"THESPIAN_DIRECTOR_DIR": other},
               err="director directory")
        expect(0, "shutdown", *ep, out="has shut down")
        expect(1, "status", *ep, err=d.endpoint)
        # a second shutdown: nothing runs, nothing to do
        expect(0, "shutdown", *ep, out="nothing to shut down")
        check(not os.path.exists(d.pidfile), "pid file left behind")
    finally:
        d.cleanup()


def endpoint_rule():
    d = Daemon()
    try:
        d.start()
        # $THESPIAN_ENDPOINT
        expect(0, "status", env={"THESPIAN_ENDPOINT": d.endpoint},
               out=d.endpoint)
        # the director directory's adminendpoint.cfg (a port number)
        with open(os.path.join(d.dir, "adminendpoint.cfg"), "w") as f:
            f.write("%d\n" % d.port)
        expect(0, "status", env={"THESPIAN_DIRECTOR_DIR": d.dir},
               out=d.endpoint)
        # the global option and the command's own option
        expect(0, "--endpoint", d.endpoint, "status", out=d.endpoint)
        # precedence: --endpoint over $THESPIAN_ENDPOINT over the file
        bad = "tcp://127.0.0.1:%d" % free_port()
        expect(0, "status", "--endpoint", d.endpoint,
               env={"THESPIAN_ENDPOINT": bad}, out=d.endpoint)
        expect(1, "status", env={"THESPIAN_ENDPOINT": bad,
                                 "THESPIAN_DIRECTOR_DIR": d.dir}, err=bad)
        # a bad file is an error naming it
        with open(os.path.join(d.dir, "adminendpoint.cfg"), "w") as f:
            f.write("{nope")
        expect(1, "status", env={"THESPIAN_DIRECTOR_DIR": d.dir},
               err="adminendpoint.cfg")
        expect(0, "shutdown", "--endpoint", d.endpoint)
    finally:
        d.cleanup()


def start_failures():
    d = Daemon()
    try:
        expect(1, "start", "--endpoint", d.endpoint, "--plugin",
               "/nonexistent/x.so", "--pidfile", d.pidfile, "--logfile",
               d.logfile, err="/nonexistent/x.so")
        expect(1, "start", "--endpoint", d.endpoint, "--capabilities",
               "[1]", "--pidfile", d.pidfile, "--logfile", d.logfile,
               err="JSON object")
        expect(1, "start", "--endpoint", d.endpoint, "--pidfile",
               d.pidfile, env={"THESPIAND": "/nonexistent/thespiand"},
               err="/nonexistent/thespiand")
    finally:
        d.cleanup()


def log_tells_clean_from_dropped():
    """A clean client session is no warning, even with many clients at
    once reusing file descriptors within one monitor tick; a client
    killed mid-ask is one. thespiand logs at INFO by default."""
    d = Daemon()
    try:
        d.start()
        ep = ["--endpoint", d.endpoint]
        expect(0, "create", "hello.Greeter", "--name", "g", *ep)
        procs = [subprocess.Popen([CLI, c, *ep], stdout=subprocess.DEVNULL)
                 for _ in range(10) for c in ("status", "list")]
        for p in procs:
            p.wait(timeout=60)
        for _ in range(5):
            expect(0, "ask", "g", "Greet", '{"name":"x"}', *ep)
        time.sleep(0.5)  # the monitor is read every 100 ms
        with open(d.logfile) as f:
            log = f.read()
        check("without a goodbye" not in log, log)
        check("INFO" in log and "serving" in log, log)  # the default level
        # an ask that never gets its answer (g exits on it, silently),
        # killed: a real drop
        p = subprocess.Popen([CLI, "ask", "g", "ActorExitRequest",
                              "--timeout", "30", *ep],
                             stdout=subprocess.DEVNULL)
        time.sleep(1.0)
        p.kill()
        p.wait()
        for _ in range(100):
            with open(d.logfile) as f:
                log = f.read()
            if "without a goodbye" in log:
                break
            time.sleep(0.1)
        check("without a goodbye" in log, log)
        expect(0, "shutdown", *ep)
    finally:
        d.cleanup()


def json_of_key_commands():
    """keygen, keygen --admin, allow and revoke with --json: one JSON
    document saying what was written or removed; a failure is exit 1 with
    the message on standard error and nothing on standard output."""
    d = tempfile.mkdtemp(prefix="th-cli-json-")
    kd = os.path.join(d, "keys")
    env = {"THESPIAN_KEY_DIR": kd}
    try:
        o, _ = expect(0, "keygen", "signer", "--bits", "2048", "--dir", d,
                      "--json")
        k = json.loads(o)
        check(k["kind"] == "rsa" and k["bits"] == 2048, o)
        check(k["private"] == os.path.join(d, "signer.pem") and
              k["public"] == os.path.join(d, "signer_tls.key"), o)
        check(os.path.exists(k["private"]) and os.path.exists(k["public"]), o)
        # the fingerprint is the one `keys` shows for the same public key
        os.makedirs(kd + "-dd", mode=0o700)
        shutil.copy(k["public"], os.path.join(kd + "-dd", "signer_tls.key"))
        o2, _ = expect(0, "keys", "--json",
                       env={"THESPIAN_DIRECTOR_DIR": kd + "-dd"})
        fps = [t["fingerprint"] for t in json.loads(o2)["trusted"]]
        check(fps == [k["fingerprint"]], (o, o2))
        o, _ = expect(0, "keygen", "--admin", "dave", "--dir", d, "--json")
        a = json.loads(o)
        check(a["kind"] == "curve" and len(a["key"]) == 40, o)
        check(a["secret"] == os.path.join(d, "dave.key") and
              a["public"] == os.path.join(d, "dave.pub"), o)
        with open(a["public"]) as f:
            check(a["key"] in f.read(), o)
        # an existing key is not overwritten: an error, no JSON
        o, e = expect(1, "keygen", "--admin", "dave", "--dir", d, "--json",
                      err="exists already")
        check(o == "", o)
        # allow/revoke need the host's allow-list directory
        os.makedirs(os.path.join(kd, "curve", "clients"))
        o, _ = expect(0, "allow", a["public"], "--json", env=env)
        r = json.loads(o)
        path = os.path.join(kd, "curve", "clients", "dave.pub")
        check(r == {"name": "dave", "key": a["key"], "path": path}, o)
        check(os.path.exists(path), path)
        o, _ = expect(1, "allow", a["public"], "--json", env=env,
                      err="revoke dave first")
        check(o == "", o)
        o, _ = expect(0, "revoke", "dave", "--json", env=env)
        check(json.loads(o) == {"name": "dave", "path": path}, o)
        check(not os.path.exists(path), path)
        o, _ = expect(1, "revoke", "dave", "--json", env=env, err=path)
        check(o == "", o)
    finally:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(kd + "-dd", ignore_errors=True)


def json_of_start():
    """start --json: the host it started (pid, endpoint, version), then
    the same host as already running; thespiand's lines stay off
    standard output. shutdown --json: shut down, then not running."""
    d = Daemon()
    try:
        o, _ = d.start("--json")
        r = json.loads(o)
        with open(d.pidfile) as f:
            pid = int(f.read())
        check(r["state"] == "started" and r["endpoint"] == d.endpoint and
              r["pid"] == pid and
              r["version"] == os.environ["TH_PROJECT_VERSION"], o)
        check(r["directorDir"] is None and os.path.isdir(r["keyDir"]), o)
        # one version everywhere: meson.build's, in the status and in the
        # capability the host advertises
        o, _ = expect(0, "status", "--json", "--endpoint", d.endpoint)
        st = json.loads(o)
        check(st["admin"]["version"] == os.environ["TH_PROJECT_VERSION"] and
              st["capabilities"]["Thespian Version"] ==
              os.environ["TH_PROJECT_VERSION"], o)
        o, _ = d.start("--json")
        r = json.loads(o)
        check(r["state"] == "running" and r["pid"] == pid, o)
        # a failure: exit 1, the reason on standard error, no JSON
        o, _ = expect(1, "start", "--endpoint", d.endpoint, "--json",
                      env={"THESPIAN_DIRECTOR_DIR": d.dir},
                      err="director directory")
        check(o == "", o)
        o, _ = expect(0, "shutdown", "--endpoint", d.endpoint, "--json")
        check(json.loads(o) == {"state": "shut down",
                                "endpoint": d.endpoint}, o)
        o, _ = expect(0, "shutdown", "--endpoint", d.endpoint, "--json")
        check(json.loads(o) == {"state": "not running",
                                "endpoint": d.endpoint}, o)
    finally:
        d.cleanup()


CASES = [help_and_usage_errors, conventions, lifecycle_through_the_cli,
         endpoint_rule, start_failures, log_tells_clean_from_dropped,
         json_of_key_commands, json_of_start]



if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
