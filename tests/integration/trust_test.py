#!/usr/bin/env python3
"""tests/integration/trust_test.py — what a host trusts, through a real
thespiand started by `thespian start`: keys made here (thespian keygen,
openssl for a weak exponent), bundles signed by `thespian gensrc` from real
plugin builds. A client cannot move the host's trust (the Source
Authority's old Configure, a second authority, an authority from a loaded
bundle): the attacker's bundle is refused and its constructor never runs
(ctor_marker writes a marker file when mapped). Unsafe key files and key
directories are skipped with a warning naming them, the other keys keep
working, and `thespian config` / `thespian keys` list what is trusted.
TAP output."""
import json
import os
import shutil
import subprocess
import sys

import taplib
from sources_test import Host, MARKER_SO, RTACTORS, THESPIAN

CASES = []


def case(fn):
    CASES.append(fn)
    return fn


def log_of(h):
    return open(os.path.join(h.root, "log")).read()


def attacker_key(h, name):
    """A key pair the host does not trust, in a directory of the
    attacker's: NAME.pem and NAME_tls.key."""
    d = os.path.join(h.root, "attacker")
    os.makedirs(d, exist_ok=True)
    h.run(["keygen", name, "--bits", "2048", "--dir", d])
    return d, os.path.join(d, name + ".pem")


def evil_bundle(h, key):
    """A bundle whose plugin has a constructor that writes the marker."""
    if not os.path.exists(os.path.join(h.src, "ctor_marker.so")):
        os.symlink(MARKER_SO, os.path.join(h.src, "ctor_marker.so"))
    return h.gensrc("evil", "1.0", "ctor_marker.so", key=key)[1]


def marker_absent(h):
    assert not os.path.exists(h.env["TH_TEST_MARKER"]), "refused code ran"


@case
def configure_cannot_move_the_key_directory():
    h = Host()
    try:
        adir, akey = attacker_key(h, "evil")
        evil = evil_bundle(h, akey)
        # the old hijack: point the authority at the attacker's keys
        h.run(["tell", "SourceAuthority", "Configure",
               json.dumps({"directorDir": adir})])
        h.run(["load", evil], expect=1, contains="unknown key")
        marker_absent(h)
        assert all(s["group"] != "evil" for s in h.sources())
        h.probe()
        # the host's own keys still work
        _, good = h.gensrc("examples", "1.0", "hello.so")
        h.run(["load", good])
        assert [s["group"] for s in h.sources()] == ["examples"]
    except BaseException:
        h.close(failed=True)
        raise
    h.close()


@case
def no_second_authority_from_a_client_or_a_bundle():
    h = Host()
    try:
        # a client creating another authority: its registration is refused,
        # so its init fails and the create with it
        h.run(["create", "director.SourceAuthority", "--name", "rogue"],
              expect=1)
        # a validly signed bundle whose actor tries to become the authority
        os.symlink(RTACTORS, os.path.join(h.src, "rtactors.so"))
        hsh, b = h.gensrc("rt", "1.0", "rtactors.so")
        h.run(["load", b])
        h.run(["create", "rtactors.SilentAuthority", "--source", hsh[:12]],
              expect=1)
        assert "Source Authority registration refused" in log_of(h)
        # loads still go through the host's keys and the real authority:
        # a silent rogue authority would make this one time out
        adir, akey = attacker_key(h, "evil")
        h.run(["load", evil_bundle(h, akey)], expect=1,
              contains="unknown key")
        marker_absent(h)
        _, good = h.gensrc("examples", "1.0", "hello.so")
        h.run(["load", good])
        h.probe()
    except BaseException:
        h.close(failed=True)
        raise
    h.close()


def weak_exponent_key(path):
    """An RSA public key with e = 3, made by openssl."""
    gen = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
         "rsa_keygen_bits:2048", "-pkeyopt", "rsa_keygen_pubexp:3"],
        capture_output=True, check=True)
    subprocess.run(["openssl", "pkey", "-pubout", "-out", path],
                   input=gen.stdout, capture_output=True, check=True)


@case
def unsafe_keys_are_skipped_with_a_warning():
    h = Host()
    try:
        h.run(["shutdown"])
        # valid keys, placed unsafely, each with a bundle signed by it
        signed = {}
        for name in ("link", "world"):
            d = os.path.join(h.root, name)
            os.mkdir(d)
            h.run(["keygen", name, "--bits", "2048", "--dir", d])
            signed[name] = h.gensrc("g" + name, "1.0", "hello.so",
                                    key=os.path.join(d, name + ".pem"))[1]
        os.symlink(os.path.join(h.root, "link", "link_tls.key"),
                   os.path.join(h.dd, "link_tls.key"))
        world = os.path.join(h.dd, "world_tls.key")
        shutil.copy(os.path.join(h.root, "world", "world_tls.key"), world)
        os.chmod(world, 0o646)
        weak_exponent_key(os.path.join(h.dd, "e3_tls.key"))
        h.run(["start", "--pidfile", os.path.join(h.root, "pid"),
               "--logfile", os.path.join(h.root, "log")])
        log = log_of(h)
        for f in ("link_tls.key", "world_tls.key", "e3_tls.key"):
            assert f"key file skipped: {h.dd}/{f}" in log, log
        assert "exponent is not 65537" in log, log
        for name, b in signed.items():
            h.run(["load", b], expect=1, contains="unknown key")
        # the good key keeps working
        _, good = h.gensrc("examples", "1.0", "hello.so")
        h.run(["load", good])
        h.probe()
        # config lists the trusted key with its fingerprint, and the rest
        # with their reasons
        fp = subprocess.run(
            "openssl pkey -pubin -in dev_tls.key -outform DER | sha256sum",
            shell=True, cwd=h.dd, capture_output=True, text=True,
            check=True).stdout.split()[0]
        out = h.run(["config"])
        assert f"dev_tls.key" in out and f"sha256:{fp}" in out, out
        for f, why in (("link_tls.key", "symbolic link"),
                       ("world_tls.key", "world-writable"),
                       ("e3_tls.key", "exponent")):
            line = [l for l in out.splitlines() if f in l]
            assert line and "SKIPPED" in line[0] and why in line[0], out
        keys = json.loads(h.run(["config", "--json"]))["keys"]
        assert [k["fingerprint"] for k in keys["trusted"]] == [fp], keys
    except BaseException:
        h.close(failed=True)
        raise
    h.close()


@case
def world_writable_directory_trusts_no_key():
    h = Host()
    try:
        h.run(["shutdown"])
        os.chmod(h.dd, 0o777)
        _, b = h.gensrc("examples", "1.0", "hello.so")
        h.run(["start", "--pidfile", os.path.join(h.root, "pid"),
               "--logfile", os.path.join(h.root, "log")])
        log = log_of(h)
        assert f"key directory {h.dd} is world-writable" in log, log
        assert "no trusted key" in log, log
        h.run(["load", b], expect=1,
              contains=f"no trusted key: key directory {h.dd} is "
                       "world-writable")
        h.probe()
        # the operator repairs it and reloads: the key is trusted again
        os.chmod(h.dd, 0o755)
        out = h.run(["keys", "reload"])
        assert "dev_tls.key" in out and "sha256:" in out, out
        h.run(["load", b])
    except BaseException:
        h.close(failed=True)
        raise
    h.close()


if __name__ == "__main__":
    sys.exit(taplib.run(CASES))
