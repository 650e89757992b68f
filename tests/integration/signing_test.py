#!/usr/bin/env python3
"""tests/integration/signing_test.py — the offline signing commands through
the real `thespian` binary: keygen, gensrc, tlsinfo. Keys are made during
the test (ours and openssl's), bundles from real plugin builds. Hostile
command lines check the exit code and the message. TAP output."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import zipfile

import taplib  # the shared TAP runner, beside this file

THESPIAN = os.environ["THESPIAN"]
HELLO = os.environ["TH_PLUGIN_hello"]
COLLIDE = os.environ["TH_PLUGIN_collide_v1"]
LIBCOLLIDE = os.environ["TH_PLUGIN_libcollide_v1"]
ESCAPE_RUNPATH = os.environ["TH_PLUGIN_escape_runpath"]
ESCAPE_RPATH = os.environ["TH_PLUGIN_escape_rpath"]
GNU_UNIQUE = os.environ["TH_PLUGIN_gnu_unique"]
CTOR_MARKER = os.environ["TH_PLUGIN_ctor_marker"]

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def run(args, env=None, cwd=None, expect=0, contains=None, stdin=None):
    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([THESPIAN] + args, env=e, cwd=cwd, capture_output=True,
                       text=True, timeout=60, stdin=stdin)
    out = p.stdout + p.stderr
    if p.returncode != expect:
        raise AssertionError(f"{args}: exit {p.returncode}, wanted {expect}:\n{out}")
    if contains and contains not in out:
        raise AssertionError(f"{args}: output lacks {contains!r}:\n{out}")
    return out


class Env:
    """A director directory with a key pair and a sources directory."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.root = self.tmp.name
        self.dd = os.path.join(self.root, "director")
        self.src = os.path.join(self.root, "src")
        os.mkdir(self.dd)
        os.mkdir(self.src)
        os.symlink(HELLO, os.path.join(self.src, "hello.so"))
        run(["keygen", "dev", "--bits", "2048", "--dir", self.root])
        os.rename(os.path.join(self.root, "dev_tls.key"),
                  os.path.join(self.dd, "dev_tls.key"))
        self.key = os.path.join(self.root, "dev.pem")
        self.env = {"THESPIAN_DIRECTOR_DIR": self.dd}

    def gensrc(self, *args, **kw):
        return run(["gensrc", *args], env=self.env, **kw)


@case
def keygen_writes_a_private_and_a_public_key():
    with tempfile.TemporaryDirectory() as d:
        out = run(["keygen", "k1", "--bits", "2048", "--dir", d])
        assert "fingerprint: sha256:" in out
        priv = os.stat(os.path.join(d, "k1.pem"))
        pub = os.path.join(d, "k1_tls.key")
        assert stat.S_IMODE(priv.st_mode) == 0o600, oct(priv.st_mode)
        assert open(pub).read().startswith("-----BEGIN PUBLIC KEY-----")
        # never overwrites, bad names and sizes are usage errors
        run(["keygen", "k1", "--dir", d], expect=1, contains="not overwritten")
        run(["keygen", "bad/name", "--dir", d], expect=2, contains="key name")
        run(["keygen", "k2", "--bits", "1024", "--dir", d], expect=2,
            contains="--bits")
        run(["keygen"], expect=2, contains="missing argument")


@case
def gensrc_is_reproducible_and_tlsinfo_names_the_key():
    t = Env()
    out = t.gensrc("hello", t.key, t.src, "version:1.0", "*.so")
    h, path = out.split()[0], out.split()[1]
    assert path == os.path.join(t.dd, "hello-1.0.tls"), path
    import hashlib
    data = open(path, "rb").read()
    assert hashlib.sha256(data).hexdigest() == h  # the source hash
    again = os.path.join(t.root, "again.tls")
    t.gensrc("hello", t.key, t.src, "version:1.0", "-o", again, "**/*.so")
    assert open(again, "rb").read() == data, "not byte-identical"
    info = run(["tlsinfo", path], env=t.env)
    assert "signed by:   dev_tls.key" in info and h in info, info
    lst = run(["tlsinfo", path, "contents"], env=t.env)
    assert "plugin    hello.so" in lst, lst
    member = subprocess.run([THESPIAN, "tlsinfo", path, "hello.so"],
                            env={**os.environ, **t.env}, capture_output=True)
    assert member.returncode == 0 and member.stdout == open(HELLO, "rb").read()
    # standard zip tools can list it
    z = subprocess.run(["unzip", "-l", path], capture_output=True, text=True)
    assert z.returncode == 0 and "MANIFEST.json" in z.stdout, z.stdout


def doc_block(path, heading):
    """The first ```sh block under `heading` in a doc of this repo."""
    text = open(os.path.join(os.environ["THESPIAN_DOCS"], path)).read()
    part = text.split("\n## " + heading + "\n", 1)[1]
    return part.split("```sh\n", 1)[1].split("```", 1)[0]


@case
def bundle_verifies_with_openssl_alone():
    """docs/bundle-format.md's openssl recipe, run as written."""
    t = Env()
    path = t.gensrc("hello", t.key, t.src, "version:1.0", "*.so").split()[1]
    pub = os.path.join(t.dd, "dev_tls.key")
    recipe = doc_block("bundle-format.md", "Verifying with openssl")
    keys = run(["keys", "list"], env=t.env)

    def verify(f):
        with tempfile.TemporaryDirectory() as w:
            return subprocess.run(["bash", "-euc", recipe], cwd=w,
                                  env=dict(os.environ, FILE=f, PUB=pub),
                                  capture_output=True, text=True,
                                  timeout=60)
    r = verify(path)
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = r.stdout.split()
    assert lines[0:2] == ["Verified", "OK"], r.stdout
    assert len(lines) == 4 and lines[2] == lines[3], r.stdout
    assert lines[2] in keys, (lines[2], keys)  # the fingerprint thespian shows
    # one byte changed in the signed range: openssl refuses it
    data = bytearray(open(path, "rb").read())
    data[100] ^= 1
    bad = os.path.join(t.root, "bad.tls")
    open(bad, "wb").write(bytes(data))
    r = verify(bad)
    assert r.returncode != 0 and "Verified OK" not in r.stdout, r.stdout


@case
def tlsinfo_shows_members_as_zip_tools_do():
    t = Env()
    path = t.gensrc("hello", t.key, t.src, "version:1.0", "*.so").split()[1]
    z = zipfile.ZipFile(path)
    names = z.namelist()
    assert "MANIFEST.json" in names, names
    lst = run(["tlsinfo", path, "contents"], env=t.env).splitlines()
    assert sorted(l.split()[-1] for l in lst) == sorted(names), (lst, names)
    assert lst[0].split() == [str(z.getinfo("MANIFEST.json").file_size),
                              "manifest", "MANIFEST.json"], lst
    for name in names:
        m = subprocess.run([THESPIAN, "tlsinfo", path, name],
                           env={**os.environ, **t.env}, capture_output=True)
        assert m.returncode == 0, (name, m.stderr)
        assert m.stdout == z.read(name), name


@case
def gensrc_versions_date_and_unversioned():
    t = Env()
    out = t.gensrc("hello", t.key, t.src, "*.so")
    assert out.split()[1].endswith("/hello.tls"), out
    assert "(unversioned)" in run(["tlsinfo", out.split()[1]], env=t.env)
    out = t.gensrc("hello", t.key, t.src, "version:date", "*.so")
    v = os.path.basename(out.split()[1])[len("hello-"):-len(".tls")]
    assert len(v) == 12 and v.isdigit(), v


@case
def openssl_keys_work_the_same():
    t = Env()
    priv = os.path.join(t.root, "ossl.pem")
    pub = os.path.join(t.dd, "ossl_tls.key")
    subprocess.run(["openssl", "genrsa", "-out", priv, "2048"], check=True,
                   capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", priv, "-pubout", "-out", pub],
                   check=True, capture_output=True)
    out = t.gensrc("hello", priv, t.src, "version:2", "*.so")
    info = run(["tlsinfo", out.split()[1]], env=t.env)
    assert "signed by:   ossl_tls.key" in info, info


@case
def gensrc_refuses_a_so_that_is_not_a_plugin_unless_listed_in_deps():
    t = Env()
    os.symlink(COLLIDE, os.path.join(t.src, "collide.so"))
    os.symlink(LIBCOLLIDE, os.path.join(t.src, "libcollide.so.1"))
    # the library alone, not in deps: not a plugin
    t.gensrc("c", t.key, t.src, "libcollide.so.1", expect=1,
             contains="not a thespian-c plugin")
    # the plugin without its private library: the ELF policy says which
    t.gensrc("c", t.key, t.src, "collide.so", expect=1,
             contains="plugin collide.so: NEEDED libcollide.so.1 is neither "
                      "a library of the bundle nor in the system's trusted "
                      "library directories")
    deps = os.path.join(t.root, "deps.txt")
    open(deps, "w").write("# private libraries\nlibcollide.so.1\n")
    out = t.gensrc("c", t.key, t.src, "deps:" + deps, "collide.so")
    lst = run(["tlsinfo", out.split()[1], "contents"], env=t.env)
    assert "library   libcollide.so.1" in lst and "plugin    collide.so" in lst
    open(deps, "w").write("../../etc/passwd\n")
    t.gensrc("c", t.key, t.src, "deps:" + deps, "collide.so", expect=1,
             contains="deps.txt line 1")


@case
def gensrc_refuses_what_a_host_would_refuse_and_runs_nothing_with_the_key():
    t = Env()
    out_path = os.path.join(t.root, "x.tls")
    # a plugin with RUNPATH /tmp (or the old RPATH) and a NEEDED library
    # outside the bundle: refused before anything of it is mapped
    for so in (ESCAPE_RUNPATH, ESCAPE_RPATH):
        src = os.path.join(t.root, "esc-" + os.path.basename(so))
        os.mkdir(src)
        os.symlink(so, os.path.join(src, "escape.so"))
        t.gensrc("e", t.key, src, "-o", out_path, "escape.so", expect=1,
                 contains='plugin escape.so: RPATH/RUNPATH entry "/tmp" is '
                          'not $ORIGIN-relative')
        assert not os.path.exists(out_path)
    # an STB_GNU_UNIQUE symbol: no host could ever unmap the plugin
    src = os.path.join(t.root, "unique")
    os.mkdir(src)
    os.symlink(GNU_UNIQUE, os.path.join(src, "gnu_unique.so"))
    t.gensrc("u", t.key, src, "-o", out_path, "gnu_unique.so", expect=1,
             contains="plugin gnu_unique.so: defines the STB_GNU_UNIQUE "
                      "symbol th_test_unique_count")
    assert not os.path.exists(out_path)
    # a plugin is mapped once, in the child that reads its descriptor
    # (forked before the key is read), and its name and classes go into
    # the signed manifest
    src = os.path.join(t.root, "marker")
    os.mkdir(src)
    os.symlink(CTOR_MARKER, os.path.join(src, "ctor_marker.so"))
    marker = os.path.join(t.root, "marker.txt")
    env = dict(t.env, TH_TEST_MARKER=marker)
    out = run(["gensrc", "m", t.key, src, "-o", out_path, "ctor_marker.so"],
              env=env)
    assert open(marker).read() == "ctor_marker loaded\n"  # once, in the child
    with zipfile.ZipFile(out_path) as z:
        man = json.loads(z.read("MANIFEST.json"))
    entry = [f for f in man["files"] if f["path"] == "ctor_marker.so"][0]
    assert entry["plugin"] == "ctor_marker" and entry["classes"] == ["Marker"]
    assert out.split()[1] == out_path


@case
def gensrc_and_tlsinfo_json():
    t = Env()
    out = t.gensrc("hello", t.key, t.src, "version:1.2", "--json", "*.so")
    g = json.loads(out)
    path = os.path.join(t.dd, "hello-1.2.tls")
    import hashlib
    assert g == {"hash": hashlib.sha256(open(path, "rb").read()).hexdigest(),
                 "path": path, "group": "hello", "version": "1.2"}, g
    info = json.loads(run(["tlsinfo", path, "--json"], env=t.env))
    assert (info["group"], info["version"], info["hash"], info["signedBy"],
            info["files"], info["tli"]) == ("hello", "1.2", g["hash"],
                                            "dev_tls.key", 1, False), info
    lst = json.loads(run(["tlsinfo", path, "contents", "--json"], env=t.env))
    assert lst == [{"path": "hello.so", "size": os.path.getsize(HELLO),
                    "kind": "plugin"}], lst
    run(["tlsinfo", path, "hello.so", "--json"], env=t.env, expect=2,
        contains="--json")


@case
def gensrc_refuses_two_plugins_of_one_name():
    t = Env()
    os.symlink(HELLO, os.path.join(t.src, "again.so"))  # plugin "hello" too
    t.gensrc("twins", t.key, t.src, "version:1", "*.so", expect=1,
             contains="declares plugin hello twice")
    assert not os.path.exists(os.path.join(t.dd, "twins-1.tls"))


@case
def gensrc_checks_the_tli():
    t = Env()
    tli = os.path.join(t.root, "g.tli")
    open(tli, "w").write("{not json")
    t.gensrc("g", t.key, t.src, "tli:" + tli, "*.so", expect=1,
             contains="not valid JSON")
    open(tli, "w").write('{"Actors": {"hello.Nobody": {"Role": "r"}}}')
    t.gensrc("g", t.key, t.src, "tli:" + tli, "*.so", expect=1,
             contains="the TLI names class hello.Nobody, which no plugin "
                      "of the bundle declares")
    open(tli, "w").write('{"Actors": {}, "Surprise": 1}')
    t.gensrc("g", t.key, t.src, "tli:" + tli, "*.so", expect=1,
             contains='unknown field "Surprise"')
    open(tli, "w").write('{"Actors": {"hello.Greeter": {"OnLoad": '
                         '{"Message": {"type": "bad type!"}}}}}')
    t.gensrc("g", t.key, t.src, "tli:" + tli, "*.so", expect=1,
             contains="OnLoad.Message")
    open(tli, "w").write('{"Actors": {"hello.Greeter": {"Role": "greeter"}},'
                         ' "AutoUnload": true, "TLS_Keep_Limit": 2}')
    t.gensrc("g", t.key, t.src, "tli:" + tli, "*.so")


@case
def gensrc_bad_command_lines():
    t = Env()
    fifo = os.path.join(t.root, "fifo")
    os.mkfifo(fifo)
    t.gensrc("bad group!", t.key, t.src, "*.so", expect=2, contains="group")
    t.gensrc("g", t.key, t.src, "version:1..2", "*.so", expect=2,
             contains="version")
    t.gensrc("g", t.key, t.src, "*.nothing", expect=1, contains="matches no file")
    t.gensrc("g", t.key, t.src, "version:1", expect=2, contains="no GLOB")
    t.gensrc("g", t.key, "/nonexistent", "*.so", expect=1,
             contains="not a directory")
    t.gensrc("g", t.key, HELLO, "*.so", expect=1, contains="not a directory")
    t.gensrc("g", t.root, t.src, "*.so", expect=1, contains="is a directory")
    t.gensrc("g", fifo, t.src, "*.so", expect=1, contains=fifo)
    t.gensrc("g", os.path.join(t.dd, "dev_tls.key"), t.src, "*.so", expect=1,
             contains="public key")
    t.gensrc("g", "/nonexistent.pem", t.src, "*.so", expect=1,
             contains="/nonexistent.pem")
    # no director directory and no -o
    run(["gensrc", "g", t.key, t.src, "*.so"], expect=1,
        env={"THESPIAN_DIRECTOR_DIR": "/nonexistent"}, contains="does not exist")
    t.gensrc("g", t.key, t.src, expect=2, contains="missing argument")


@case
def tlsinfo_refusals():
    t = Env()
    out = t.gensrc("hello", t.key, t.src, "version:1", "*.so")
    path = out.split()[1]
    # signed by a key this director directory does not hold
    other = Env()
    run(["tlsinfo", path], env=other.env, expect=1, contains="unknown key")
    # a flipped byte
    data = bytearray(open(path, "rb").read())
    data[len(data) // 3] ^= 1
    bad = os.path.join(t.root, "bad.tls")
    open(bad, "wb").write(data)
    run(["tlsinfo", bad], env=t.env, expect=1, contains="does not verify")
    run(["tlsinfo", "/nonexistent.tls"], env=t.env, expect=1,
        contains="/nonexistent.tls")
    run(["tlsinfo", t.src], env=t.env, expect=1, contains="not a regular file")
    run(["tlsinfo", path, "no/such/member"], env=t.env, expect=1,
        contains="no member")
    # an unusable key file is skipped with a warning; the good one still works
    open(os.path.join(t.dd, "junk_tls.key"), "w").write("garbage")
    out = run(["tlsinfo", path], env=t.env)
    assert "junk_tls.key" in out and "signed by:   dev_tls.key" in out, out


@case
def usage_and_help():
    run(["no-such-command"], expect=2)
    for c in ["keygen", "gensrc", "tlsinfo"]:
        out = run([c, "--help"])
        assert out.startswith("usage: thespian " + c), out
    run(["tlsinfo", "a", "b", "c"], expect=2, contains="unexpected argument")



if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
