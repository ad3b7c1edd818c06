"""Where the built programs are. tests/conftest.py sets them from the
runner's options before any test module is imported, so a test module reads
them at import time (`from support import built`, then `built.KEEPALIVE`):

    --build DIR       the staged prefix (default: build)
    --bin DIR         tcp_keepalive_client and _server (default: BUILD/bin;
                      make test-e2e also points it at sanitized copies)
    --keepalive PATH  the operator's tool (default: BUILD/bin/keepalive)
    --preload PATH    the LD_PRELOAD library (default:
                      BUILD/lib/libkeepalive-preload.so)
    --probes DIR      tests/cgroup's probe programs, built by make
                      test-cgroup (default: target/cgroup-tests)
"""

import os

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BUILD = os.path.join(TOP, "build")
BIN = os.path.join(BUILD, "bin")
KEEPALIVE = os.path.join(BIN, "keepalive")
PRELOAD = os.path.join(BUILD, "lib", "libkeepalive-preload.so")
PROBES = os.path.join(TOP, "target", "cgroup-tests")


def configure(build=None, bin=None, keepalive=None, preload=None, probes=None):
    """Sets the paths (absolute); the ones not given follow from build."""
    global BUILD, BIN, KEEPALIVE, PRELOAD, PROBES
    BUILD = os.path.abspath(build or BUILD)
    BIN = os.path.abspath(bin or os.path.join(BUILD, "bin"))
    KEEPALIVE = os.path.abspath(keepalive or os.path.join(BUILD, "bin", "keepalive"))
    PRELOAD = os.path.abspath(preload or os.path.join(BUILD, "lib", "libkeepalive-preload.so"))
    PROBES = os.path.abspath(probes or PROBES)


def existing(path, make="make build"):
    """path, when it is an executable file; else fails clearly, naming the
    make target that builds it."""
    if not os.access(path, os.X_OK):
        raise AssertionError(f"{path} is missing: run `{make}` first")
    return path


def program(name):
    """Absolute path of a built program in BIN (the runner's --bin)."""
    return existing(os.path.join(BIN, name))
