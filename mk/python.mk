# The Python wheel: crates/keepalive-py (pyo3) + python/ (the package, stubs,
# tests, examples). See docs/python.md.
#
#   build-py  $(TOP)/.venv with maturin, pytest, mypy; the abi3 manylinux wheel
#             into build/wheels/
#   test-py   a fresh venv holding only that wheel (plus pytest, mypy); mypy
#             --strict on the examples and tests, then pytest on python/tests

.PHONY: build-py test-py
BUILD_TARGETS += build-py
TEST_TARGETS  += test-py

PYTHON       ?= python3
PY_VENV      := $(TOP)/.venv
PY_WHEELS    := $(BUILD)/wheels
# Outside build/ so that `make install` never copies it.
PY_TEST_VENV := $(TOP)/target/py-test-venv
# maturin builds pyo3 with PYO3_BUILD_EXTENSION_MODULE set; a target dir of
# its own keeps that from rebuilding pyo3 at every switch with build-rust.
PY_TARGET    := $(TOP)/target/wheel

# python3 -m venv needs Debian's python3-venv when python3 is Debian's.
define py_make_venv
	$(PYTHON) -m venv --clear $(1) 2>/dev/null || { $(APT_ENSURE) python3-venv && $(PYTHON) -m venv --clear $(1); }
endef

$(PY_VENV)/.ready:
	$(call py_make_venv,$(PY_VENV))
	$(PY_VENV)/bin/python -m pip install -q --upgrade pip "maturin>=1.9.4,<2" pytest mypy
	touch $@

build-py: build-rust $(PY_VENV)/.ready
	rm -f $(PY_WHEELS)/libkeepalive-*.whl
	cd python && $(PY_VENV)/bin/maturin build --release --out $(PY_WHEELS) --target-dir $(PY_TARGET)
	@# One wheel, abi3 (CPython 3.9+) and manylinux-tagged (maturin's auditwheel check).
	@wheels=($(PY_WHEELS)/libkeepalive-*.whl); \
	if [[ $${#wheels[@]} != 1 || $${wheels[0]} != *-cp39-abi3-manylinux_*.whl ]]; then \
		echo "build-py: expected one cp39-abi3-manylinux wheel, got: $${wheels[*]}" >&2; exit 1; \
	fi; echo "== wheel: $${wheels[0]#$(TOP)/}"

test-py: build-py
	@# As root, the vanished-client test runs in a network namespace with an nftables rule.
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) nft=nftables unshare=util-linux ip=iproute2; fi
	rm -rf $(PY_TEST_VENV)
	$(call py_make_venv,$(PY_TEST_VENV))
	$(PY_TEST_VENV)/bin/python -m pip install -q $(PY_WHEELS)/libkeepalive-*.whl pytest mypy
	cd python && $(PY_TEST_VENV)/bin/mypy --strict --cache-dir $(PY_TEST_VENV)/mypy-cache examples tests
	@# pytest last, so that its summary line ends the output; no test
	@# collected (exit status 5) fails like any other failure.
	cd python && $(PY_TEST_VENV)/bin/pytest -p no:cacheprovider tests
