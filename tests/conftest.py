"""The one runner of the suites under tests/: pytest (configured by
tests/pytest.ini), this file taking what the suites need to know about the
build, and the helper package tests/support/ (on the path through
pytest.ini's `pythonpath`).

Every suite's tests are unittest.TestCase classes, which pytest runs as
they are. A test that cannot run here is skipped saying why, and fails
under CI=true instead: support/skips.py, the one place of that rule. The
suites' own conditions (root, BTF, ...) sit in their directory's conftest.py.
"""

from support import built, skips


def pytest_addoption(parser):
    group = parser.getgroup("libkeepalive", "where the built programs are (tests/support/built.py)")
    group.addoption("--build", metavar="DIR", help="the staged prefix (default: build)")
    group.addoption("--bin", metavar="DIR",
                    help="tcp_keepalive_client and _server (default: BUILD/bin)")
    group.addoption("--keepalive", metavar="PATH",
                    help="the operator's tool (default: BUILD/bin/keepalive)")
    group.addoption("--preload", metavar="PATH",
                    help="the LD_PRELOAD library (default: BUILD/lib/libkeepalive-preload.so)")
    group.addoption("--probes", metavar="DIR",
                    help="tests/cgroup's probe programs (default: target/cgroup-tests)")


def pytest_configure(config):
    """Before any test module is imported: they read the paths at import."""
    built.configure(**{name: config.getoption(name)
                       for name in ("build", "bin", "keepalive", "preload", "probes")})


def pytest_report_header(config):
    return [f"libkeepalive: build {built.BUILD}, programs {built.BIN}, "
            f"tool {built.KEEPALIVE}",
            "CI=true: a test that cannot run here fails" if skips.ON_CI else
            "not CI: a test that cannot run here is skipped saying why"]
