#!/usr/bin/env python3
"""tests/integration/director_cli_test.py — the director directory commands
through the real CLI: config (good files, and each malformed kind naming
the file), avail (versions newest first, loaded/active marks from a real
host, a bundle signed by an unknown key listed as unverified), load GROUP
and FILE.tli (the newest verified bundle), refresh (the newest of every
group; a no-op the second time), bootstart nostart (the unit's lines; a bad
NAME). Every host started here is shut down. TAP output."""
import json
import os
import subprocess
import sys
import tempfile

import taplib  # the shared TAP runner, beside this file
from taplib import free_port

THESPIAN = os.environ["THESPIAN"]
HELLO = os.environ["TH_PLUGIN_hello"]
RTACTORS = os.environ["TH_PLUGIN_rtactors"]

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


class Dir:
    """A director directory with a trusted key and a sources dir; a host
    on a free port only once start() is called."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.dd = os.path.join(self.root, "director")
        self.src = os.path.join(self.root, "src")
        os.mkdir(self.dd)
        os.mkdir(self.src)
        os.symlink(HELLO, os.path.join(self.src, os.path.basename(HELLO)))
        self.env = dict(os.environ)
        self.env["THESPIAN_ENDPOINT"] = f"tcp://127.0.0.1:{free_port()}"
        self.env["THESPIAN_DIRECTOR_DIR"] = self.dd
        self.started = False
        self.key = self.keygen("dev", trusted=True)

    def keygen(self, name, trusted):
        self.run(["keygen", name, "--bits", "2048", "--dir", self.root])
        if trusted:
            os.rename(os.path.join(self.root, name + "_tls.key"),
                      os.path.join(self.dd, name + "_tls.key"))
        return os.path.join(self.root, name + ".pem")

    def run(self, args, expect=0, contains=None, env=None):
        return taplib.run_cli(THESPIAN, args, env or self.env, expect, contains)

    def stdout(self, args):
        p = subprocess.run([THESPIAN] + args, env=self.env,
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"{args}: exit {p.returncode}:\n"
                                 f"{p.stdout}{p.stderr}")
        return p.stdout

    def gensrc(self, group, version, key=None, src=None, tli=None):
        extra = []
        if tli is not None:
            path = os.path.join(self.root, f"{group}-{version}.tli")
            with open(path, "w") as f:
                f.write(tli)
            extra = ["tli:" + path]
        out = self.run(["gensrc", group, key or self.key, src or self.src,
                        "version:" + version, *extra, "*.so"])
        return out.split()[0], os.path.basename(out.split()[1])

    def log(self):
        with open(os.path.join(self.root, "log"), errors="replace") as f:
            return f.read()

    def start(self):
        self.started = True
        self.run(["start", "--pidfile", os.path.join(self.root, "pid"),
                  "--logfile", os.path.join(self.root, "log")])

    def loaded(self):
        return {s["hash"] for s in json.loads(self.stdout(["list", "--json"]))}

    def write(self, name, text):
        with open(os.path.join(self.dd, name), "w") as f:
            f.write(text)

    def close(self):
        if self.started:
            subprocess.run([THESPIAN, "shutdown", "--timeout", "10"],
                           env=self.env, capture_output=True, timeout=60)
        self.tmp.cleanup()


@case
def config_good_files():
    d = Dir()
    try:
        d.write("convleader.cfg", '"10.0.0.1:1900"')
        d.write("othercaps.cfg", '{"gpu": true, "zone": "a"}')
        d.write("thesplog.cfg", '{"level": "INFO", "file": "/tmp/x.log"}')
        d.write("thesplogd.cfg", '{}')
        d.write("custom.cfg", '[1, 2, 3]')
        d.write("not-config.txt", 'ignored, not JSON')
        cfg = json.loads(d.stdout(["config", "--json"]))
        assert cfg["directorDir"] == d.dd, cfg
        assert cfg["endpoint"] == d.env["THESPIAN_ENDPOINT"], cfg
        assert cfg["config"] == {
            "convleader.cfg": "10.0.0.1:1900",
            "othercaps.cfg": {"gpu": True, "zone": "a"},
            "thesplog.cfg": {"level": "INFO", "file": "/tmp/x.log"},
            "thesplogd.cfg": {},
            "custom.cfg": [1, 2, 3]}, cfg
        text = d.stdout(["config"])
        assert d.dd in text and "10.0.0.1:1900" in text, text
        # the endpoint by the rule: adminendpoint.cfg when nothing else
        d.write("adminendpoint.cfg", "19999")
        env = dict(d.env)
        del env["THESPIAN_ENDPOINT"]
        out = d.run(["config", "--json"], env=env)
        assert json.loads(out)["endpoint"] == "tcp://127.0.0.1:19999", out
        d.run(["config", "extra"], expect=2)
        d.run(["config", "--help"], contains="usage: thespian config")
    finally:
        d.close()


@case
def config_malformed_files_name_the_file():
    bad = [("convleader.cfg", "{not json", "not JSON"),
           ("othercaps.cfg", '"a string"', "JSON object"),
           ("thesplog.cfg", '{"level": 3}', '"level"'),
           # the same schema thespiand applies (docs/logging.md)
           ("thesplog.cfg", '{"format": "%(color)s"}', "unknown field"),
           ("thesplogd.cfg", '{"level": "INFO", "colour": "red"}',
            'unknown key "colour"'),
           ("adminendpoint.cfg", '"no-colon"', "endpoint"),
           ("adminendpoint.cfg", "70000", "port"),
           ("custom.cfg", '{"a": 1, "a": 2}', "duplicate"),
           ("big.cfg", '"' + "x" * (70 * 1024) + '"', "over the limit")]
    for name, text, why in bad:
        d = Dir()
        try:
            d.write(name, text)
            out = d.run(["config"], expect=1, contains=name)
            assert why in out, (name, out)
        finally:
            d.close()
    d = Dir()
    try:
        fifo = os.path.join(d.dd, "fifo.cfg")
        os.mkfifo(fifo)  # a reader must not wait for a writer
        d.run(["config"], expect=1, contains="fifo.cfg: not a regular file")
        os.unlink(fifo)
        os.mkdir(os.path.join(d.dd, "dir.cfg"))
        d.run(["config", "--json"], expect=1,
              contains="dir.cfg: not a regular file")
    finally:
        d.close()


@case
def avail_marks_and_unverified():
    d = Dir()
    try:
        h1, f1 = d.gensrc("ex", "1.9")
        h2, f2 = d.gensrc("ex", "1.10")
        stranger = d.keygen("stranger", trusted=False)
        _, fz = d.gensrc("zz", "1.0", key=stranger)
        os.mkfifo(os.path.join(d.dd, "fifo.tls"))  # listed, not waited on
        # no host: said once, no marks
        p = subprocess.run([THESPIAN, "avail", "--json"], env=d.env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stderr.count("no host answers") == 1, p.stderr
        a = json.loads(p.stdout)
        assert [e["file"] for e in a["ex"]] == [f2, f1], a  # newest first
        assert not any(e["loaded"] or e["active"] for e in a["ex"]), a
        assert [u["file"] for u in a["unverified"]] == ["fifo.tls", fz], a
        assert "not a regular file" in a["unverified"][0]["reason"], a
        assert "unknown key" in a["unverified"][1]["reason"], a
        assert "zz" not in a, a
        d.start()
        d.run(["load", os.path.join(d.dd, f1)])
        a = json.loads(d.stdout(["avail", "--json"]))
        e2, e1 = a["ex"]
        assert (e2["version"], e2["hash"]) == ("1.10", h2), a
        assert not e2["loaded"] and not e2["active"], a
        assert e1["loaded"] and e1["active"], a
        text = d.stdout(["avail"])
        lines = text.splitlines()
        i2 = next(i for i, l in enumerate(lines) if f2 in l)
        i1 = next(i for i, l in enumerate(lines) if f1 in l)
        assert i2 < i1 and h1[:12] in lines[i1], text
        assert "loaded active" in lines[i1] and "loaded" not in lines[i2]
        assert "unverified" in text and fz in text, text
        # both loaded: the newer is the active one
        d.run(["load", os.path.join(d.dd, f2)])
        a = json.loads(d.stdout(["avail", "ex", "--json"]))
        assert [(e["loaded"], e["active"]) for e in a["ex"]] == \
            [(True, True), (True, False)], a
        d.run(["avail", "bad group!"], expect=2)
    finally:
        d.close()


@case
def load_group_and_tli_pick_the_newest():
    d = Dir()
    try:
        d.gensrc("ex", "1.9")
        h2, f2 = d.gensrc("ex", "1.10")
        d.start()
        out = d.run(["load", "ex"], contains=f2)
        assert h2[:12] in out, out
        assert d.loaded() == {h2}
        # FILE.tli names the group by its base name (its content unused)
        hy, fy = d.gensrc("why", "2")
        tli = os.path.join(d.root, "why.tli")
        open(tli, "w").write("{}")
        d.run(["load", tli], contains=fy)
        assert d.loaded() == {h2, hy}
        d.run(["load", "nosuch"], expect=1, contains="nosuch")
        stranger = d.keygen("stranger", trusted=False)
        d.gensrc("zz", "1.0", key=stranger)
        d.run(["load", "zz"], expect=1, contains="group zz")
        d.run(["load", "bad name"], expect=2)
        d.run(["load"], expect=2)
    finally:
        d.close()


@case
def refresh_loads_newest_then_is_a_noop():
    d = Dir()
    try:
        d.gensrc("ex", "1.0")
        hx, _ = d.gensrc("ex", "2.0")
        hy, _ = d.gensrc("why", "0.1")
        d.run(["refresh"], expect=1, contains="nothing accepts")  # no host
        d.start()
        out = d.stdout(["refresh"])
        assert out.count("loaded") == 2 and "unchanged" not in out, out
        assert d.loaded() == {hx, hy}
        out = d.stdout(["refresh"])
        assert out.count("unchanged") == 2 and "loaded " not in out, out
        assert d.loaded() == {hx, hy}
        d.run(["refresh", "--wait", "soon"], expect=2)
    finally:
        d.close()


@case
def bootstart_writes_the_unit():
    d = Dir()
    try:
        sd = os.path.join(d.root, "systemd")
        os.mkdir(sd)
        env = dict(d.env, THESPIAN_SYSTEMD_DIR=sd)
        out = d.run(["bootstart", "web", "nostart"], env=env)
        unit = os.path.join(sd, "thespian-web.service")
        assert unit in out, out
        lines = open(unit).read().splitlines()
        ep = d.env["THESPIAN_ENDPOINT"]
        exe = os.path.realpath(THESPIAN)
        rdd = os.path.realpath(d.dd)
        execs = [l for l in lines if l.startswith("ExecStart=")]
        assert len(execs) == 1, lines
        words = execs[0][len("ExecStart="):].split()
        assert os.path.isabs(words[0]) and \
            os.path.basename(words[0]) == "thespiand", words
        assert words[1:] == ["--foreground", "--director-dir", rdd,
                             "--endpoint", ep], words
        assert f"Environment=THESPIAN_DIRECTOR_DIR={rdd}" in lines, lines
        assert (f"ExecStartPost=-{exe} --endpoint {ep} refresh --wait 30"
                in lines), lines
        assert "Restart=on-failure" in lines, lines
        assert "WantedBy=multi-user.target" in lines, lines
        # the default name; nostart alone
        d.run(["bootstart", "nostart"], env=env)
        assert os.path.exists(os.path.join(sd, "thespian-thespian.service"))
        for bad in (["a b", "nostart"], ["../x", "nostart"],
                    ["web", "later"], ["x" * 65]):
            d.run(["bootstart"] + bad, env=env, expect=2)
        # starting it now: systemctl (a recording stand-in on PATH) is asked
        # to reload and to enable --now the unit; its failure is reported
        fake = os.path.join(d.root, "bin")
        os.mkdir(fake)
        calls = os.path.join(d.root, "calls")
        with open(os.path.join(fake, "systemctl"), "w") as f:
            f.write(f'#!/bin/sh\necho "$@" >> {calls}\n'
                    f'[ -e {d.root}/fail ] && exit 3\nexit 0\n')
        os.chmod(os.path.join(fake, "systemctl"), 0o755)
        penv = dict(env, PATH=fake + ":" + os.environ["PATH"])
        d.run(["bootstart", "web"], env=penv)
        assert open(calls).read().splitlines() == [
            "daemon-reload", "enable --now thespian-web.service"], \
            open(calls).read()
        # --json: what was written and whether it was started
        p = subprocess.run([THESPIAN, "bootstart", "api", "nostart", "--json"],
                           env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        r = json.loads(p.stdout)
        api = os.path.join(sd, "thespian-api.service")
        assert r["unit"] == api and os.path.exists(api), r
        assert r["service"] == "thespian-api.service" and \
            r["started"] is False, r
        assert r["directorDir"] == rdd and r["endpoint"] == ep, r
        assert r["exec"] == exe and os.path.basename(r["thespiand"]) == \
            "thespiand" and r["user"], r
        assert f"User={r['user']}" in open(api).read().splitlines(), r
        os.unlink(api)
        p = subprocess.run([THESPIAN, "bootstart", "web", "--json"],
                           env=penv, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert json.loads(p.stdout)["started"] is True, p.stdout
        open(os.path.join(d.root, "fail"), "w").close()
        d.run(["bootstart", "web"], env=penv, expect=1,
              contains="systemctl daemon-reload failed")
        # a failure with --json: exit 1, the reason (and the unit written)
        # on standard error, nothing on standard output
        p = subprocess.run([THESPIAN, "bootstart", "web", "--json"],
                           env=penv, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 1 and p.stdout == "" and \
            "systemctl daemon-reload failed" in p.stderr and \
            "unit written" in p.stderr, (p.stdout, p.stderr)
        assert sorted(os.listdir(sd)) == ["thespian-thespian.service",
                                          "thespian-web.service"]
    finally:
        d.close()

GOOD_TLI = ('{"Actors": {"hello.Greeter": {"Role": "greet", '
            '"GlobalName": "greeter"}}}')
BAD_TLI = ('{"Actors": {"rtactors.FailInit": {"Role": "greet", '
           '"GlobalName": "greeter"}}}')


@case
def load_and_refresh_say_when_a_version_does_not_start():
    d = Dir()
    try:
        bad_src = os.path.join(d.root, "bad")
        os.mkdir(bad_src)
        os.symlink(RTACTORS, os.path.join(bad_src, "rtactors.so"))
        h1, f1 = d.gensrc("kv", "1.0", tli=GOOD_TLI)
        h4, f4 = d.gensrc("kv", "4.0", src=bad_src, tli=BAD_TLI)
        d.start()
        out = d.run(["load", os.path.join(d.dd, f1)], contains="active")
        # the version whose init fails: exit 1, and never "loaded"
        p = subprocess.run([THESPIAN, "load", os.path.join(d.dd, f4)],
                           env=d.env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 1, p
        assert "loaded" not in p.stdout, p.stdout
        assert "did not start" in p.stderr and h4[:12] in p.stderr, p.stderr
        assert "failed to start" in p.stderr, p.stderr
        # again (the same failure twice is told apart from the first)
        p = subprocess.run([THESPIAN, "load", os.path.join(d.dd, f4),
                            "--json"], env=d.env, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 1, p
        r = json.loads(p.stdout)
        assert (r["state"], r["hash"], r["group"]) == ("failed", h4, "kv"), r
        # refresh (what the boot unit runs): exit 1 every time, naming it
        for _ in range(2):
            p = subprocess.run([THESPIAN, "refresh"], env=d.env,
                               capture_output=True, text=True, timeout=60)
            assert p.returncode == 1, p
            assert "loaded" not in p.stdout, p.stdout
            assert f4 in p.stderr and "did not start" in p.stderr, p.stderr
        p = subprocess.run([THESPIAN, "refresh", "--json"], env=d.env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, p
        r = json.loads(p.stdout)
        assert [(g["group"], g["state"]) for g in r["groups"]] == \
            [("kv", "failed")], r
        # the good version still runs
        assert d.loaded() == {h1}
        # a rollback refusal names the option that allows it
        os.unlink(os.path.join(d.dd, f4))
        h2, f2 = d.gensrc("kv", "2.0", tli=GOOD_TLI)
        out = d.run(["refresh", "--json"])
        assert json.loads(out)["groups"][0]["state"] == "active", out
        _, f05 = d.gensrc("kv", "0.5", tli=GOOD_TLI)
        d.run(["load", os.path.join(d.dd, f05)], expect=1,
              contains="--allow-rollback")
        # the host log: loads and swaps at the default level, and not one
        # clean session reported as dropped
        log = d.log()
        assert f"source {h1[:12]} loaded: group kv version 1.0" in log, log
        assert (f"group kv: version 2.0 ({h2[:12]}) active, replacing "
                f"version 1.0 ({h1[:12]})") in log, log
        assert "without a goodbye" not in log, log
    finally:
        d.close()


@case
def unload_and_status_name_the_source():
    d = Dir()
    try:
        h1, f1 = d.gensrc("kv", "1.0", tli=GOOD_TLI)
        h2, f2 = d.gensrc("kv", "2.0", tli=GOOD_TLI)
        d.start()
        d.run(["load", os.path.join(d.dd, f1)])
        # an actor of v1 made by hand: the Director does not own it
        mine = d.stdout(["create", "hello.Greeter", "--source", h1[:8],
                         "--name", "mine"]).strip()
        d.run(["load", os.path.join(d.dd, f2)], contains="active")
        # status: each actor's group, version and source hash
        st = d.stdout(["status"])
        row = next(l for l in st.splitlines() if l.startswith(mine))
        assert f"kv 1.0 {h1[:12]}" in row, st
        row = next(l for l in st.splitlines() if " greeter " in l)
        assert f"kv 2.0 {h2[:12]}" in row, st
        js = json.loads(d.stdout(["status", "--json"]))
        srcs = {a["address"]: a.get("source")
                for a in js["system"]["actors"]}
        assert srcs[mine] == h1, srcs
        # v2 took the name; v1 still runs `mine`: unload says so
        p = subprocess.run([THESPIAN, "unload", h1[:12]], env=d.env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p
        assert "1 actor still runs" in p.stdout and mine in p.stdout, p
        assert "asked to exit;" not in p.stdout, p.stdout
        out = json.loads(d.stdout(["unload", h2[:12], "--json"]))
        assert out == {"hash": h2, "state": "unloaded", "running": []}, out
    finally:
        d.close()


@case
def create_names_the_sources_of_an_ambiguous_class():
    d = Dir()
    try:
        ha, fa = d.gensrc("alpha", "1.0")
        hb, fb = d.gensrc("beta", "3.1")
        d.start()
        d.run(["load", os.path.join(d.dd, fa)])
        d.run(["load", os.path.join(d.dd, fb)])
        p = subprocess.run([THESPIAN, "create", "hello.Greeter"], env=d.env,
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 1, p
        assert "ambiguous" in p.stderr, p.stderr
        for h, g in ((ha, "group alpha version 1.0"),
                     (hb, "group beta version 3.1")):
            assert f"--source {h[:12]}  ({g})" in p.stderr, p.stderr
        d.run(["create", "hello.Greeter", "--source", hb[:12]])
    finally:
        d.close()


@case
def thespian_director_files():
    d = Dir()
    try:
        # Thespian writes plain text: a port, a system base name
        d.write("adminport.cfg", "19777\n")
        d.write("thespbase.cfg", "multiprocTCPBase\n")
        env = dict(d.env)
        del env["THESPIAN_ENDPOINT"]
        out = d.run(["config"], env=env)
        assert "tcp://127.0.0.1:19777" in out, out
        assert "no effect" in out and "multiprocTCPBase" in out, out
        cfg = json.loads(d.run(["config", "--json"], env=env))
        assert cfg["endpoint"] == "tcp://127.0.0.1:19777", cfg
        assert cfg["config"]["thespbase.cfg"] == "multiprocTCPBase", cfg
        # adminendpoint.cfg wins over Thespian's port file
        d.write("adminendpoint.cfg", "19888")
        cfg = json.loads(d.run(["config", "--json"], env=env))
        assert cfg["endpoint"] == "tcp://127.0.0.1:19888", cfg
        os.unlink(os.path.join(d.dd, "adminendpoint.cfg"))
        # what they must hold, said clearly
        d.write("adminport.cfg", "not-a-port")
        d.run(["config"], env=env, expect=1, contains="adminport.cfg")
        d.write("adminport.cfg", "70000")
        d.run(["config"], env=env, expect=1, contains="port number")
        d.run(["status"], env=env, expect=1, contains="adminport.cfg")
        d.write("adminport.cfg", "19777")
        d.write("thespbase.cfg", "multi proc\n")
        d.run(["config"], env=env, expect=1, contains="system base name")
    finally:
        d.close()


if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
