"""tests/integration/boot_test.py — a host at boot, from the installed tree
(installtree.py): the unit `thespian bootstart` writes passes
`systemd-analyze verify` with no warning and carries Type=notify, User=
and the hardening options; its ExecStart, run as systemd runs it (the
unit's Environment=, $NOTIFY_SOCKET on a datagram socket this test binds),
sends READY=1 once, and only when the host answers with its keys and
Source Authority in place (a load right after succeeds); its
ExecStartPost (refresh) loads the director directory's bundles. A start
that fails sends nothing. Records on a standard error that is the journal
($JOURNAL_STREAM) carry their syslog priority. Needs $MESON_BUILD_ROOT,
$MESON, $HELLO_SO (meson passes them)."""
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import installtree
import taplib
from taplib import free_port


class Box:
    """A director directory with a trusted key and a signed hello bundle,
    the installed binaries, a clean environment."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="th-boot-")
        self.root = self.tmp.name
        self.dd = os.path.join(self.root, "director")
        os.mkdir(self.dd, 0o700)
        self.bindir = os.path.dirname(installtree.find_one("bin/thespian"))
        self.ep = f"tcp://127.0.0.1:{free_port()}"
        self.env = {"PATH": self.bindir + ":/usr/bin:/bin",
                    "HOME": self.root, "THESPIAN_DIRECTOR_DIR": self.dd,
                    "THESPIAN_ENDPOINT": self.ep}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.procs = []
        src = os.path.join(self.root, "src")
        os.mkdir(src)
        shutil.copy(os.environ["HELLO_SO"], os.path.join(src, "hello.so"))
        with open(os.path.join(src, "hello.tli"), "w") as f:
            f.write('{"Actors": {"hello.Greeter": {"Role": "greeter", '
                    '"GlobalName": "greeter"}}}\n')
        self.cli(["keygen", "k", "--dir", self.root])
        shutil.copy(os.path.join(self.root, "k_tls.key"), self.dd)
        self.cli(["gensrc", "hello", os.path.join(self.root, "k.pem"), src,
                  "version:1.0", "*.so"])

    def cli(self, args, check=True):
        r = subprocess.run(["thespian"] + args, env=self.env, cwd=self.root,
                           capture_output=True, text=True, timeout=60)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def notify_socket(self):
        path = os.path.join(self.root, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        return s, path

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.tmp.cleanup()


def unit_lines(text, key):
    return [l[len(key) + 1:] for l in text.splitlines()
            if l.startswith(key + "=")]


def bootstart_unit_verifies_and_serves():
    b = Box()
    try:
        sd = os.path.join(b.root, "systemd")
        os.mkdir(sd)
        env = dict(b.env, THESPIAN_SYSTEMD_DIR=sd)
        r = subprocess.run(["thespian", "bootstart", "boot", "nostart"],
                           env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        unit = os.path.join(sd, "thespian-boot.service")
        text = open(unit).read()
        v = subprocess.run(["systemd-analyze", "verify", unit],
                           env={"PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, timeout=60)
        assert v.returncode == 0 and v.stderr == "" and v.stdout == "", \
            (v.returncode, v.stdout, v.stderr, text)
        for want in ("Type=notify", "NoNewPrivileges=yes",
                     "ProtectSystem=strict", f"ReadWritePaths={b.dd}",
                     "PrivateTmp=no",  # the director directory is in /tmp
                     "ProtectHome=yes", "Restart=on-failure"):
            assert want in text.splitlines(), (want, text)
        assert unit_lines(text, "User") == \
            [pwd.getpwuid(os.stat(b.dd).st_uid).pw_name], text
        # run it as systemd would: the unit's environment, a notify socket
        start = shlex.split(unit_lines(text, "ExecStart")[0])
        assert start[0] == os.path.join(b.bindir, "thespiand"), start
        uenv = dict(k.split("=", 1) for k in
                    shlex.split(" ".join(unit_lines(text, "Environment"))))
        s, path = b.notify_socket()
        s.settimeout(60)
        penv = dict(uenv, NOTIFY_SOCKET=path, PATH="/usr/bin:/bin")
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                penv[k] = os.environ[k]
        p = subprocess.Popen(start, env=penv, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        b.procs.append(p)
        msg = s.recv(4096).decode()
        fields = dict(l.split("=", 1) for l in msg.splitlines() if l)
        assert fields.get("READY") == "1", msg
        assert fields.get("MAINPID") == str(p.pid), msg
        # ready means answering, keys and the Source Authority in place:
        # the status and a load of a signed bundle work at once
        b.cli(["status"])
        post = shlex.split(unit_lines(text, "ExecStartPost")[0].lstrip("-"))
        r = subprocess.run(post, env=dict(b.env, **uenv),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (post, r.stdout, r.stderr)
        out = b.cli(["ask", "greeter", "Greet", '{"name": "boot"}']).stdout
        assert "Hello" in out, out
        s.settimeout(0.5)
        try:
            extra = s.recv(4096)
        except socket.timeout:
            extra = None
        assert extra is None, extra  # READY once
        b.cli(["shutdown", "--timeout", "10"])
        assert p.wait(30) == 0
        # a start that fails is never reported ready
        bad = start + ["--authority", "/nonexistent/authority.so"]
        r = subprocess.run(bad, env=penv, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 1, (r.stdout, r.stderr)
        try:
            got = s.recv(4096)
        except socket.timeout:
            got = None
        assert got is None, got
    finally:
        b.close()


def journal_records_carry_priority():
    b = Box()
    try:
        empty = os.path.join(b.root, "empty")  # no key: a warning at start
        os.mkdir(empty, 0o700)
        for journal in (True, False):
            err = os.path.join(b.root, f"stderr-{journal}")
            env = dict(b.env, THESPLOG_THRESHOLD="INFO",
                       THESPIAN_DIRECTOR_DIR=empty)
            with open(err, "w") as f:
                st = os.fstat(f.fileno())
                # another stream being the journal does not count
                ino = st.st_ino if journal else st.st_ino + 1
                env["JOURNAL_STREAM"] = f"{st.st_dev}:{ino}"
                p = subprocess.Popen(["thespiand", "--foreground"], env=env,
                                     stdout=subprocess.DEVNULL, stderr=f)
                b.procs.append(p)
            for _ in range(300):
                if "serving" in open(err).read() or p.poll() is not None:
                    break
                time.sleep(0.1)
            r = subprocess.run(["thespian", "shutdown", "--timeout", "10"],
                               env=env, capture_output=True, text=True,
                               timeout=60)
            assert r.returncode == 0, (r.stdout, r.stderr)
            assert p.wait(30) == 0
            lines = [l for l in open(err).read().splitlines() if l]
            warn = [l for l in lines if "no trusted key" in l]
            info = [l for l in lines if "serving" in l]
            assert warn and info, lines
            if journal:
                assert all(l.startswith("<4>") for l in warn), lines
                assert all(l.startswith("<6>") for l in info), lines
            else:
                assert not any(l.startswith("<") for l in lines), lines
    finally:
        b.close()


def main():
    return taplib.run([bootstart_unit_verifies_and_serves,
                       journal_records_carry_priority])


if __name__ == "__main__":
    sys.exit(main())
