"""Printing a measured figure beside the test's name, as it happens (the
runner does not capture output: see tests/pytest.ini)."""

import sys


def report(text):
    """Prints a measurement beside the test's name, as it happens."""
    print(f"    {text}", file=sys.stderr, flush=True)


def assert_near(testcase, measured, expected, tolerance, what):
    """Asserts |measured - expected| <= tolerance, and reports the figure."""
    report(f"{what}: {measured:.3f} s (expected {expected:g} s +/- {tolerance:g} s)")
    testcase.assertLessEqual(abs(measured - expected), tolerance,
                             f"{what}: {measured:.3f} s, expected {expected} +/- {tolerance} s")
