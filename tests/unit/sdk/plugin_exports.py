#!/usr/bin/env python3
"""tests/unit/sdk/plugin_exports.py — every built plugin exports exactly one
symbol, the descriptor th_plugin_v1 (STYLE.md §3.1, §9), and the
no-descriptor test plugin exports none.

Usage: plugin_exports.py [--nm NM] [--absent SO]... PLUGIN.so...
Lists each file's defined dynamic symbols with `nm -D --defined-only -P`
and prints TAP, one line per file.

What "exactly" means. With ld.bfd 2.40 and -fvisibility=hidden a plugin's
dynamic symbol table defines th_plugin_v1 and nothing else, and that is what
is required. Two toolchain set-ups add symbols of their own that are not
plugin code; each is tolerated by exact name, reported as a TAP comment,
and nothing else is:
  - _edata, _end, __bss_start: section-boundary symbols that ld.gold (and
    ld.bfd before 2.35) put in the dynamic table of every shared object;
  - __odr_asan.th_plugin_v1: the one-byte ODR-violation marker that
    -fsanitize=address gives each exported global, here the descriptor.
Any other symbol, a versioned th_plugin_v1@..., or a descriptor that is not
a strong data object (nm type D or R) fails.
"""

import argparse
import subprocess
import sys

DESCRIPTOR = "th_plugin_v1"
DESCRIPTOR_TYPES = {"D", "R"}  # initialised data, read-only data; strong
LINKER_BOUNDARY = {"_edata", "_end", "__bss_start"}
ASAN_ODR_MARKER = "__odr_asan." + DESCRIPTOR


def defined_dynamic_symbols(nm, path):
    """Return {name: nm type letter} for the defined dynamic symbols."""
    out = subprocess.run([nm, "-D", "--defined-only", "-P", path],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError("%s failed on %s: %s"
                           % (nm, path, out.stderr.strip()))
    symbols = {}
    for line in out.stdout.splitlines():
        # POSIX format: NAME TYPE [VALUE [SIZE]]
        fields = line.split()
        if len(fields) < 2:
            raise RuntimeError("unexpected nm line: %r" % line)
        symbols[fields[0]] = fields[1]
    return symbols


def split_tolerated(symbols):
    """Separate the toolchain's own symbols from everything else."""
    tolerated = {n: t for n, t in symbols.items()
                 if n in LINKER_BOUNDARY or n == ASAN_ODR_MARKER}
    rest = {n: t for n, t in symbols.items() if n not in tolerated}
    return tolerated, rest


def check_plugin(symbols):
    """Problems with a plugin that must export exactly the descriptor."""
    tolerated, rest = split_tolerated(symbols)
    problems = []
    if DESCRIPTOR not in rest:
        problems.append("%s is not exported" % DESCRIPTOR)
    elif rest[DESCRIPTOR] not in DESCRIPTOR_TYPES:
        problems.append("%s has nm type %s, not a data object (D/R)"
                        % (DESCRIPTOR, rest[DESCRIPTOR]))
    extra = sorted(n for n in rest if n != DESCRIPTOR)
    if extra:
        problems.append("also exports: " + ", ".join(
            "%s (%s)" % (n, rest[n]) for n in extra))
    return problems, tolerated


def check_absent(symbols):
    """Problems with the plugin that must not have a descriptor."""
    tolerated, rest = split_tolerated(symbols)
    problems = []
    if DESCRIPTOR in symbols or ASAN_ODR_MARKER in symbols:
        problems.append("%s is exported" % DESCRIPTOR)
    if not rest:
        # It exports a function on purpose; an empty table means this is
        # not the file the test was meant to look at.
        problems.append("exports nothing at all")
    return problems, tolerated


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--absent", action="append", default=[],
                    help="a plugin that must NOT export th_plugin_v1")
    ap.add_argument("plugins", nargs="+")
    args = ap.parse_args()

    cases = [(p, check_plugin) for p in args.plugins]
    cases += [(p, check_absent) for p in args.absent]
    print("1..%d" % len(cases))
    failed = 0
    for i, (path, check) in enumerate(cases, 1):
        try:
            problems, tolerated = check(defined_dynamic_symbols(args.nm, path))
        except (OSError, RuntimeError) as e:
            problems, tolerated = [str(e)], {}
        what = "exports only %s" % DESCRIPTOR if check is check_plugin \
            else "does not export %s" % DESCRIPTOR
        if problems:
            failed += 1
            print("not ok %d - %s %s" % (i, path, what))
            for p in problems:
                print("# %s" % p)
        else:
            print("ok %d - %s %s" % (i, path, what))
        if tolerated:
            print("# toolchain symbols tolerated: " + ", ".join(
                sorted(tolerated)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
