"""tests/integration/install_test.py — thespian-c as a new user meets it:
`meson install --destdir` into a scratch directory (installtree.py), then,
with a clean environment (PATH = the installed bin and the system's, a
fresh HOME; no LD_LIBRARY_PATH, no build paths): the README's plugin
source built with the README's build line against the installed SDK, the
README's signing block run as it is written (keygen, director directory,
start, gensrc, tlsinfo, load), ask, a hot swap to version 2 by hand, the
installed Python client asking the same actor, and shutdown. Needs
$MESON_BUILD_ROOT, $MESON, $README (meson passes them)."""
import os
import re
import subprocess
import sys
import tempfile
import time

import installtree
import taplib
from taplib import free_port

TLI = ('{"Actors": {"hello.Greeter": {"Role": "greeter", '
       '"GlobalName": "greeter"}}, "AutoUnload": true}\n')


def readme_block(section, lang):
    """The first ```LANG block under the README heading `section`."""
    text = open(os.environ["README"]).read()
    part = text.split("\n## " + section + "\n", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```" + lang + r"\n(.*?)```", part, re.S)
    assert m, f"no {lang} block under {section}"
    return m.group(1)


class User:
    """A clean environment over the installed tree, in a scratch HOME."""

    def __init__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="th-user-")
        self.work = self.tmp.name
        home = os.path.join(self.work, "home")
        os.mkdir(home)
        bindir = os.path.dirname(installtree.find_one("bin/thespian"))
        pcdir = os.path.dirname(installtree.find_one("thespian-sdk.pc"))
        self.env = {"PATH": bindir + ":/usr/bin:/bin", "HOME": home,
                    "THESPIAN_ENDPOINT": f"tcp://127.0.0.1:{free_port()}",
                    # where the installed SDK's .pc files are: a prefix
                    # outside the system paths needs these (README)
                    "PKG_CONFIG_PATH": pcdir,
                    "PKG_CONFIG_SYSROOT_DIR": installtree.dest()}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            if k in os.environ:
                self.env[k] = os.environ[k]
        self.dd = os.path.join(home, ".thespian", "director")

    def sh(self, script, check=True):
        r = subprocess.run(["bash", "-euc", script], cwd=self.work,
                           env=self.env, capture_output=True, text=True,
                           timeout=120)
        if check:
            assert r.returncode == 0, (script, r.returncode, r.stdout,
                                       r.stderr)
        return r

    def greeting(self, want, tries=50):
        out = ""
        for _ in range(tries):
            r = self.sh("thespian ask greeter Greet '{}'", check=False)
            out = r.stdout + r.stderr
            if want in r.stdout:
                return
            time.sleep(0.1)
        raise AssertionError(f"no {want!r} from greeter: {out}")

    def close(self):
        self.sh("thespian shutdown --timeout 10 || true", check=False)
        self.tmp.cleanup()


def readme_story_from_the_installed_tree():
    u = User()
    try:
        src = readme_block("Writing an actor", "c")
        build_line = readme_block("Writing an actor", "sh").strip()
        with open(os.path.join(u.work, "hello.c"), "w") as f:
            f.write(src)
        u.sh(build_line)  # exactly the README's line
        with open(os.path.join(u.work, "build", "hello.tli"), "w") as f:
            f.write(TLI)  # the README's Hot swap: the Director runs it
        u.sh(readme_block("Signing and loading", "sh"))
        # the installed thespiand found the installed authority itself
        assert os.path.exists(os.path.join(u.dd, "hello-1.0.tls"))
        u.greeting("Hello!")
        # hot swap by hand: version 2 of the same source, same build line
        with open(os.path.join(u.work, "hello.c"), "w") as f:
            f.write(src.replace('"Hello!"', '"Hello, v2!"'))
        u.sh(build_line)
        u.sh("thespian gensrc hello mykey.pem build/ version:2.0 '*.so' && "
             f"thespian load {u.dd}/hello-2.0.tls")
        u.greeting("Hello, v2!")
        # the installed Python client, from the prefix's site-packages
        site = os.path.dirname(installtree.find_one("thespian_client.py"))
        env = dict(u.env, PYTHONPATH=site)
        if os.environ.get("LD_PRELOAD"):  # the ASan runtime first
            env["LD_PRELOAD"] = os.environ["LD_PRELOAD"]
        code = ("import thespian_client as t\n"
                "assert t.__file__.startswith(%r), t.__file__\n"
                "with t.ActorSystem() as a:\n"
                "    r = a.ask(a.lookup('greeter'), 'Greet', {}, timeout=10)\n"
                "    print(r.type, r.json()['text'])\n" % site)
        r = subprocess.run([sys.executable, "-c", code], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout.strip() == "Greeting Hello, v2!", r.stdout
        r = u.sh("thespian shutdown --timeout 10")
    finally:
        u.close()


def installed_binaries_use_no_build_path():
    root = os.environ["MESON_BUILD_ROOT"]
    for name in ("bin/thespian", "bin/thespiand", "thespian/authority.so",
                 "libthespian-client.so.0.*", "libthespian-host.so.0.*"):
        path = installtree.find_one(name)
        out = subprocess.run(["readelf", "-d", path], check=True,
                             capture_output=True, text=True).stdout
        assert root not in out, (path, out)
        if name == "bin/thespian":  # it links libthespian-client
            assert "$ORIGIN/" in out, (path, out)


def host_without_trusted_key_warns_at_start():
    u = User()
    try:
        os.makedirs(u.dd)
        log = os.path.join(u.work, "host.log")
        u.sh(f"thespian start --logfile {log}")
        text = open(log).read()
        assert "no trusted key" in text, text
    finally:
        u.close()


def python_client_names_a_missing_library():
    site = os.path.dirname(installtree.find_one("thespian_client.py"))
    code = ("import thespian_client as t\n"
            "try:\n"
            "    t.ActorSystem('tcp://127.0.0.1:9')\n"
            "except t.ActorSystemStartupFailure as e:\n"
            "    print(e.name, e)\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": site,
           "THESPIAN_CLIENT_LIB": "/nonexistent/libthespian-client.so.0"}
    r = subprocess.run([sys.executable, "-c", code], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.stdout, r.stderr)
    out = r.stdout
    assert out.startswith("LibraryNotFound "), out
    for want in ("/nonexistent/libthespian-client.so.0",
                 "$THESPIAN_CLIENT_LIB", "meson install"):
        assert want in out, (want, out)


def main():
    return taplib.run([installed_binaries_use_no_build_path,
                       readme_story_from_the_installed_tree,
                       host_without_trusted_key_warns_at_start,
                       python_client_names_a_missing_library])


if __name__ == "__main__":
    sys.exit(main())
