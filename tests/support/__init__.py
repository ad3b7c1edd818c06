"""What every Python test suite of the project shares (Python standard
library only, so that demo.py and the helper programs run without pytest).

    skips    the one rule for a test that cannot run here: skipped saying
             why, and under CI=true a failure instead
    host     why this machine cannot run a kind of test (root, ip netns,
             BTF, cgroup v2, a command, pidfd_getfd, ...), or None
    built    where the built programs are (set by the pytest options of
             tests/conftest.py: --bin, --build, --keepalive, --probes,
             --preload)
    proc     running a program and waiting for its output lines
    examples the article's two C programs: their names, their lines' stamps
    flags    the shared flags (-d -i -c -u -D) and the range sentence
    netlab   a two-host lab of network namespaces (and the base of any
             lab), and vanish(port) for a namespace of one's own
    natlab   a client / NAT router / server lab
    report   printing a measured figure beside the test's name

The suites under tests/ run through one runner: pytest with
tests/conftest.py (see tests/pytest.ini); python/tests imports this package
by path for its namespace tests.
"""
