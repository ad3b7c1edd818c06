"""The one rule for a test that cannot run here.

A test that needs what this machine lacks (root, network namespaces, BPF, a
command `make` installs as root) is skipped with a message saying why; under
CI=true, where the machine is set up to run everything, the same reason is a
failure instead. A skip that is not about the machine (a kernel without
MPTCP, a platform the test is not for) stays a plain skip.

    skip(why)        in a test (or a fixture): skips saying why, or fails on CI
    require(why)     the same when why is not None (why: a host.why_no_*
                     answer), else nothing
    needs(why)       decorator of a test class or function: require(why)
                     before each test it holds
    verdict(...)     the summary of a script keeping its own tally (tests/docs):
                     a skipped check is a failure under CI=true
"""

import functools
import os
import unittest

#: CI runs as root on a machine with everything installed: a test that
#: cannot run there is a broken setup, not a reason to skip.
ON_CI = os.environ.get("CI") == "true"


class MissingOnCi(AssertionError):
    """What a skip becomes under CI=true."""


def skip(why):
    """Skips the running test saying why; under CI=true fails with the reason."""
    if ON_CI:
        raise MissingOnCi(f"{why}, and CI=true: there every test must run")
    raise unittest.SkipTest(why)


def require(why):
    """skip(why) when why is not None (a reason not to run), else nothing."""
    if why is not None:
        skip(why)


def needs(why):
    """Decorates a TestCase class or a test function: when why is not None,
    every test it holds is skipped saying why (a failure under CI=true)."""
    def decorate(obj):
        if why is None:
            return obj
        if isinstance(obj, type):
            def set_up_class(cls):
                skip(why)
            obj.setUpClass = classmethod(set_up_class)
            return obj

        @functools.wraps(obj)
        def cannot_run(*args, **kwargs):
            skip(why)
        return cannot_run
    return decorate


def first(*whys):
    """The first reason that is not None, or None."""
    return next((why for why in whys if why is not None), None)


def verdict(passed, failed, skipped, what="check"):
    """For a script that keeps its own tally (tests/docs): prints the summary
    and returns the exit status; under CI=true each skipped WHAT counts as a
    failure."""
    if ON_CI and skipped:
        print(f"CI=true: a skipped {what} is a failure here")
        failed += skipped
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
