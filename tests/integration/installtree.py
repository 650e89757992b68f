"""tests/integration/installtree.py — the build as `meson install` leaves
it: one `meson install --destdir` into a scratch directory per test
process, and where things landed in it. Shared by the tests that check the
installed tree (embed_test.py, install_test.py)."""
import atexit
import glob
import os
import shutil
import subprocess
import tempfile

_STATE = {}


def dest():
    """The scratch DESTDIR the build was installed into (once; removed at
    exit). Needs $MESON_BUILD_ROOT (and $MESON, else meson on PATH)."""
    if "dest" not in _STATE:
        d = tempfile.mkdtemp(prefix="th-install-")
        atexit.register(shutil.rmtree, d, True)
        subprocess.run([os.environ.get("MESON", "meson"), "install", "-C",
                        os.environ["MESON_BUILD_ROOT"], "--no-rebuild",
                        "--quiet", "--destdir", d],
                       check=True, stdout=subprocess.DEVNULL)
        _STATE["dest"] = d
    return _STATE["dest"]


def find_one(pattern):
    """The one installed path matching the glob pattern (** allowed)."""
    hits = glob.glob(os.path.join(dest(), "**", pattern), recursive=True)
    assert len(hits) == 1, f"{pattern} not installed once: {hits}"
    return hits[0]


def pc_env(name):
    """(environment for pkg-config to find NAME.pc in the installed tree,
    the installed LIBDIR)."""
    pc = find_one(name + ".pc")
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = os.path.dirname(pc)
    env["PKG_CONFIG_SYSROOT_DIR"] = dest()
    return env, os.path.dirname(os.path.dirname(pc))
