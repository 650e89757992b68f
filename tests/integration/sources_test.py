#!/usr/bin/env python3
"""tests/integration/sources_test.py — signed bundles through real
processes: keys made here, bundles signed by `thespian gensrc` from real
plugin builds, a real thespiand (started by `thespian start`) whose Source
host reads the trusted keys of the director directory, loads through the CLI, actors
created from the source and asked. Hostile loads check the exit code, the
message, that the host keeps answering (I3) and that nothing was loaded
(I6). TAP output."""
import json
import os
import subprocess
import sys
import tempfile
import time

import taplib  # the shared TAP runner, beside this file
from taplib import free_port

THESPIAN = os.environ["THESPIAN"]
HELLO = os.environ["TH_PLUGIN_hello"]
BANK = os.environ["TH_PLUGIN_bank"]
MARKER_SO = os.environ["TH_PLUGIN_ctor_marker"]
RTACTORS = os.environ["TH_PLUGIN_rtactors"]

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


class Host:
    """A director directory with a trusted key, a sources dir, a host."""

    def __init__(self, authority=True):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.dd = os.path.join(self.root, "director")
        self.src = os.path.join(self.root, "src")
        os.mkdir(self.dd)
        os.mkdir(self.src)
        for so in (HELLO, BANK):
            os.symlink(so, os.path.join(self.src, os.path.basename(so)))
        self.env = dict(os.environ)
        self.env["THESPIAN_ENDPOINT"] = f"tcp://127.0.0.1:{free_port()}"
        self.env["TH_TEST_MARKER"] = os.path.join(self.root, "marker")
        if authority:
            self.env["THESPIAN_DIRECTOR_DIR"] = self.dd
        else:
            self.env.pop("THESPIAN_DIRECTOR_DIR", None)
        signer = dict(self.env, THESPIAN_DIRECTOR_DIR=self.dd)
        self.run(["keygen", "dev", "--bits", "2048", "--dir", self.root],
                 env=signer)
        os.rename(os.path.join(self.root, "dev_tls.key"),
                  os.path.join(self.dd, "dev_tls.key"))
        self.key = os.path.join(self.root, "dev.pem")
        self.run(["start", "--pidfile", os.path.join(self.root, "pid"),
                  "--logfile", os.path.join(self.root, "log")])

    def run(self, args, expect=0, contains=None, env=None):
        return taplib.run_cli(THESPIAN, args, env or self.env, expect, contains)

    def gensrc(self, group, version, *globs, key=None):
        # gensrc loads each plugin to check it (the signer's own code): the
        # marker must only ever be written by a host that runs refused code
        env = dict(self.env, THESPIAN_DIRECTOR_DIR=self.dd)
        env.pop("TH_TEST_MARKER", None)
        out = self.run(["gensrc", group, key or self.key, self.src,
                        "version:" + version, *globs], env=env)
        return out.split()[0], out.split()[1]

    def sources(self):
        return json.loads(self.run(["list", "--json"]))

    def probe(self):
        """I3: the host answers, with a plugin it has."""
        assert "live actors" in self.run(["status"])

    def close(self, failed=False):
        log = os.path.join(self.root, "log")
        if failed and os.path.exists(log):
            for line in open(log).read().splitlines()[-20:]:
                print("# host: " + line)
        subprocess.run([THESPIAN, "shutdown", "--timeout", "10"], env=self.env,
                       capture_output=True, timeout=60)
        self.tmp.cleanup()


@case
def load_create_ask_unload():
    h = Host()
    try:
        hsh, path = h.gensrc("examples", "1.0", "*.so")
        out = h.run(["load", path])
        assert hsh[:12] in out, out
        s = h.sources()
        assert len(s) == 1 and s[0]["hash"] == hsh, s
        assert s[0]["group"] == "examples" and s[0]["version"] == "1.0", s
        assert s[0]["key"] == "dev_tls.key", s
        # loading it again is a no-op
        h.run(["load", path])
        assert len(h.sources()) == 1
        h.run(["create", "hello.Greeter", "--name", "g", "--source", hsh[:10]])
        out = h.run(["ask", "g", "Greet", '{"name": "src"}'])
        assert 'Hello, src!' in out, out
        h.run(["create", "bank.Bank", "--name", "b", "--source", hsh])
        assert "Opened" in h.run(["ask", "b", "Open", '{"account": "a"}'])
        assert h.sources()[0]["live_actors"] == 3  # greeter, bank, account
        h.run(["unload", hsh[:8]])
        assert h.sources()[0]["unloading"] is True
        # no new actors from it; the live ones still answer
        h.run(["create", "hello.Greeter", "--source", hsh], expect=1,
              contains="InvalidActorSourceHash")
        assert "Hello" in h.run(["ask", "g", "Greet", '{"name": "x"}'])
        h.run(["tell", "g", "ActorExitRequest"])
        h.run(["tell", "b", "ActorExitRequest"])
        for _ in range(200):
            if not h.sources():
                break
            import time
            time.sleep(0.05)
        assert h.sources() == [], h.sources()
        h.run(["unload", hsh], expect=1, contains="no loaded source")
        h.probe()
    finally:
        h.close()


@case
def refused_bundles_load_nothing():
    h = Host()
    try:
        # signed by a key the host does not trust, carrying a plugin whose
        # constructor would write a marker
        os.symlink(MARKER_SO, os.path.join(h.src, "ctor_marker.so"))
        h.run(["keygen", "stranger", "--bits", "2048", "--dir", h.root])
        _, evil = h.gensrc("evil", "1.0", "ctor_marker.so",
                           key=os.path.join(h.root, "stranger.pem"))
        h.run(["load", evil], expect=1, contains="unknown key")
        assert not os.path.exists(h.env["TH_TEST_MARKER"]), "code ran"
        # a flipped byte
        _, good = h.gensrc("examples", "1.0", "*.so")
        data = bytearray(open(good, "rb").read())
        data[len(data) // 2] ^= 1
        bad = os.path.join(h.root, "bad.tls")
        open(bad, "wb").write(data)
        h.run(["load", bad], expect=1, contains="does not verify")
        # not a bundle at all, a directory, a FIFO, a missing file
        junk = os.path.join(h.root, "junk.tls")
        open(junk, "wb").write(b"just some bytes" * 100)
        h.run(["load", junk], expect=1, contains="BadSignature")
        fifo = os.path.join(h.root, "fifo.tls")
        os.mkfifo(fifo)
        h.run(["load", fifo], expect=1)
        h.run(["load", h.root], expect=1)
        h.run(["load", "/nonexistent.tls"], expect=1, contains="nonexistent")
        h.run(["load"], expect=2)
        assert h.sources() == []                   # I6
        state = [d for d in os.listdir(h.dd) if d.startswith("state-")]
        assert len(state) == 1
        # I2: nothing of a refused bundle written (code is mapped from
        # sealed memfds; no unpack directory exists at all)
        assert "sources" not in os.listdir(os.path.join(h.dd, state[0]))
        h.probe()                                   # I3
    finally:
        h.close()


@case
def rollback_needs_the_operator():
    h = Host()
    try:
        _, v2 = h.gensrc("examples", "2.0", "*.so")
        _, v1 = h.gensrc("examples", "1.5", "*.so")
        h.run(["load", v2])
        h.run(["load", v1], expect=1, contains="older than 2.0")
        h.run(["load", v1, "--allow-rollback"])
        assert len(h.sources()) == 2
    finally:
        h.close()


@case
def keys_are_read_at_start_and_on_reload_only():
    h = Host()
    try:
        h.run(["keygen", "later", "--bits", "2048", "--dir", h.root])
        _, b = h.gensrc("examples", "1.0", "*.so",
                        key=os.path.join(h.root, "later.pem"))
        h.run(["load", b], expect=1, contains="unknown key")
        os.rename(os.path.join(h.root, "later_tls.key"),
                  os.path.join(h.dd, "later_tls.key"))
        # a key added to the directory counts only once the operator says
        h.run(["load", b], expect=1, contains="unknown key")
        out = h.run(["keys", "reload"])
        assert "later_tls.key" in out and "dev_tls.key" in out, out
        h.run(["load", b])
        assert h.sources()[0]["key"] == "later_tls.key"
        # a removed key is dropped by the next reload (SIGHUP here)
        _, b2 = h.gensrc("examples", "2.0", "*.so")
        os.unlink(os.path.join(h.dd, "dev_tls.key"))
        pid = int(open(os.path.join(h.root, "pid")).read().split()[0])
        os.kill(pid, 1)  # SIGHUP
        for _ in range(100):
            log = open(os.path.join(h.root, "log")).read()
            if "keys reloaded" in log:
                break
            time.sleep(0.05)
        h.run(["load", b2], expect=1, contains="unknown key")
        assert all(s["version"] != "2.0" for s in h.sources())
        h.probe()
    finally:
        h.close()


@case
def keep_limit_prunes_old_bundle_files():
    h = Host()
    try:
        with open(os.path.join(h.src, "examples.tli"), "w") as f:
            f.write('{"Actors": {}, "TLS_Keep_Limit": 2}')
        paths = [h.gensrc("examples", v, "*.so")[1] for v in ("1", "2", "3")]
        out = h.run(["load", paths[2]])
        assert "pruned examples-1.tls" in out, out
        assert not os.path.exists(paths[0])
        assert os.path.exists(paths[1]) and os.path.exists(paths[2])
    finally:
        h.close()


@case
def load_starts_a_host_when_none_runs():
    h = Host()
    try:
        h.run(["shutdown"])
        _, b = h.gensrc("examples", "1.0", "*.so")
        out = h.run(["load", b])
        assert "starting one" in out and "loaded" in out, out
        assert len(h.sources()) == 1
    finally:
        h.close()


@case
def host_applies_director_directory_config():
    h = Host()
    try:
        h.run(["shutdown"])
        with open(os.path.join(h.dd, "othercaps.cfg"), "w") as f:
            f.write('{"gpu": true, "zone": "eu"}')
        with open(os.path.join(h.dd, "thesplog.cfg"), "w") as f:
            f.write('{"level": "INFO"}')  # the default is WARNING
        h.run(["start", "--logfile", os.path.join(h.root, "log2")])
        st = json.loads(h.run(["status", "--json"]))
        own = {k: v for k, v in st["capabilities"].items()
               if not k.startswith("Thespian ")}  # the runtime's own
        assert own == {"gpu": True, "zone": "eu"}, st
        h.run(["shutdown"])
        log = open(os.path.join(h.root, "log2")).read()
        assert "INFO" in log and "Source Authority registered" in log, log
        # malformed: the host does not start and says which file
        with open(os.path.join(h.dd, "othercaps.cfg"), "w") as f:
            f.write('["not", "an", "object"]')
        h.run(["start"], expect=1, contains="othercaps.cfg")
        os.unlink(os.path.join(h.dd, "othercaps.cfg"))
        with open(os.path.join(h.dd, "thesplog.cfg"), "w") as f:
            f.write('{"level": "LOUD"}')
        h.run(["start"], expect=1, contains="thesplog.cfg")
        os.unlink(os.path.join(h.dd, "thesplog.cfg"))
        h.run(["start"])
    finally:
        h.close()


@case
def load_reports_a_version_that_fails_to_start():
    h = Host()
    try:
        good, _ = h.gensrc("examples", "1.0", "*.so")
        bad_src = os.path.join(h.root, "bad")
        os.mkdir(bad_src)
        os.symlink(RTACTORS, os.path.join(bad_src, "rtactors.so"))
        with open(os.path.join(bad_src, "flaky.tli"), "w") as f:
            f.write('{"Actors": {"rtactors.FailInit": {"Role": "r"}}}')
        env = dict(h.env, THESPIAN_DIRECTOR_DIR=h.dd)
        env.pop("TH_TEST_MARKER", None)
        bad = h.run(["gensrc", "flaky", h.key, bad_src, "version:2",
                     "*.so"], env=env).split()[1]
        h.run(["load", bad], expect=1, contains="failed to start")
        assert all(s["group"] != "flaky" for s in h.sources())
        out = h.run(["load", os.path.join(h.dd, "examples-1.0.tls")])
        assert "active: group examples" in out, out
    finally:
        h.close()


@case
def start_uses_the_default_director_directory():
    h = Host(authority=False)  # no $THESPIAN_DIRECTOR_DIR at all
    try:
        h.run(["shutdown"])
        home = os.path.join(h.root, "home")
        dd = os.path.join(home, ".thespian", "director")
        os.makedirs(dd)
        os.rename(os.path.join(h.dd, "dev_tls.key"),
                  os.path.join(dd, "dev_tls.key"))
        env = dict(h.env, HOME=home)
        env.pop("TH_TEST_MARKER", None)
        out = h.run(["gensrc", "examples", h.key, h.src, "version:1",
                     "*.so"], env=env)
        assert out.split()[1] == os.path.join(dd, "examples-1.tls"), out
        h.run(["start"], env=env)
        out = h.run(["load", "examples"], env=env)
        assert "active: group examples" in out, out
    finally:
        h.close()


@case
def no_director_directory_refuses_loads():
    h = Host(authority=False)
    try:
        _, b = h.gensrc("examples", "1.0", "*.so")
        h.run(["load", b], expect=1, contains="no trusted key")
        h.probe()
    finally:
        h.close()



if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
