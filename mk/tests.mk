# The one runner of the Python suites under tests/ (e2e, middlebox,
# operator, cgroup, watch): pytest, with tests/conftest.py taking the
# options (--bin, --build, --keepalive, --preload, --probes) and the helper
# package tests/support/ (namespaces, running programs, reporting, and the
# skip rule: a test that cannot run here is skipped saying why, a failure
# under CI=true). pytest comes from the project's .venv (pinned with hashes
# in python/build-requirements.txt), whose python runs the suites: standard
# library only besides pytest. Each suite's target runs
#
#   $(TESTS_PYTEST) tests/SUITE [options]
#
# after depending on test-runner.

.PHONY: test-runner
test-runner: $(PY_VENV)/.ready

TESTS_PYTEST = $(PY_VENV)/bin/python -m pytest

# The same rule for a test make runs itself (a Rust test that needs root, a
# namespace scenario in a recipe): SKIP saying why, or under CI=true a
# failure. Use: $(call skip_or_fail,WHY) in a recipe's shell.
skip_or_fail = { if [[ "$${CI:-}" == true ]]; then echo "FAIL: $(1), and CI=true" >&2; exit 1; fi; echo "SKIP $(1)"; }
