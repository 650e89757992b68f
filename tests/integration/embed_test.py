"""tests/integration/embed_test.py — the embeddable runtime as it is
installed: `meson install --destdir` into a scratch directory, then a
program (embed_app.c) built with only `pkg-config --cflags --libs
thespian-host` from that directory runs a real plugin; the library exports
th_* names only. Needs $MESON, $MESON_BUILD_ROOT, $EMBED_APP_C, $HELLO_SO, $CC and
$SANITIZE (meson passes them)."""
import glob
import re
import json
import os
import shlex
import subprocess
import sys

import installtree
import taplib


def installed():
    return installtree.dest()


def pc_env(dest):
    return installtree.pc_env("thespian-host")


def header_and_pc_installed():
    dest = installed()
    hdrs = glob.glob(os.path.join(dest, "**", "thespian", "host.h"),
                     recursive=True)
    assert len(hdrs) == 1, hdrs
    text = open(hdrs[0]).read()
    assert not re.search(r'#\s*include\s*[<"]loader/', text), \
        "host.h still includes a loader header"
    env, _ = pc_env(dest)
    out = subprocess.run(["pkg-config", "--cflags", "--libs",
                          "thespian-host"], env=env, check=True,
                         capture_output=True, text=True).stdout
    assert "-lthespian-host" in out, out


def embedder_builds_and_runs():
    dest = installed()
    env, libdir = pc_env(dest)
    flags = subprocess.run(["pkg-config", "--cflags", "--libs",
                            "thespian-host"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    san = os.environ.get("SANITIZE", "none")
    extra = [f"-fsanitize={san}"] if san != "none" else []
    exe = os.path.join(dest, "embed_app")
    cmd = (shlex.split(os.environ["CC"]) + ["-std=c11", "-Wall", "-Werror"] +
           extra + [os.environ["EMBED_APP_C"], "-o", exe] + flags)
    subprocess.run(cmd, check=True)
    run_env = dict(os.environ)
    run_env["LD_LIBRARY_PATH"] = libdir
    out = subprocess.run([exe, os.environ["HELLO_SO"]], env=run_env,
                         check=True, capture_output=True, text=True,
                         timeout=60).stdout
    lines = out.splitlines()
    assert len(lines) == 2, out
    for i, line in enumerate(lines, 1):
        kind, body = line.split(" ", 1)
        assert kind == "Greeting", out
        assert json.loads(body)["count"] == i, out


def exports_only_public_names():
    dest = installed()
    _, libdir = pc_env(dest)
    so = os.path.join(libdir, "libthespian-host.so")
    out = subprocess.run(["nm", "-D", "--defined-only", so], check=True,
                         capture_output=True, text=True).stdout
    names = [l.split()[-1] for l in out.splitlines() if l.strip()]
    bad = [n for n in names if not n.startswith("th_")]
    assert not bad, f"non-public exports: {bad[:10]}"
    assert "th_system_create" in names


def main():
    return taplib.run([header_and_pc_installed, embedder_builds_and_runs,
                       exports_only_public_names])


if __name__ == "__main__":
    sys.exit(main())
