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
