# The Python wheel: crates/keepalive-py (pyo3) + python/ (the package, stubs,
# tests, examples). See docs/python.md.
#
#   build-py  $(TOP)/.venv with maturin, ziglang, auditwheel, abi3audit, pytest,
#             mypy, at the versions python/build-requirements.txt pins with
#             hashes (pip --require-hashes); the abi3 wheel, linked by zig against glibc 2.17
#             (manylinux2014), into build/wheels/ (exactly one), and the sdist
#             into target/sdist/
#   test-py   auditwheel show (manylinux_2_17) and abi3audit (the stable ABI of
#             3.9 only) on that wheel; a fresh venv with only that wheel, pytest,
#             mypy and the recipes' HTTP/Redis clients: mypy --strict on the
#             examples and tests, mypy's stubtest against the installed module,
#             pytest on python/tests; then the sdist, pip-installed (compiled
#             here) into another fresh venv, and the suites that need nothing
#             else run against it; and the wheel on CPython 3.9, 3.10, 3.12,
#             3.13 where the machine has them

.PHONY: build-py test-py
BUILD_TARGETS += build-py
TEST_TARGETS  += test-py

PYTHON       ?= python3
PY_VENV      := $(TOP)/.venv
PY_WHEELS    := $(BUILD)/wheels
# This machine's wheel; build/wheels also holds the aarch64 one (mk/wheel-arm64.mk).
PY_ARCH      := $(shell uname -m)
PY_WHEEL     := $(PY_WHEELS)/libkeepalive-*_$(PY_ARCH).whl
# Outside build/ so that `make install` never copies them.
PY_TEST_VENV := $(TOP)/target/py-test-venv
PY_SDIST     := $(TOP)/target/sdist
PY_SDIST_VENV := $(TOP)/target/py-sdist-venv
# The tag the wheel must carry: glibc 2.17 (RHEL 7+, Amazon Linux 2, Ubuntu
# 14.04+), which zig links against whatever glibc this machine has.
PY_MANYLINUX := manylinux2014
# What the recipes' tests use; installed in the test venv only, never
# required by the wheel (types-requests: requests has no inline types).
PY_TEST_CLIENTS := requests urllib3 httpx redis types-requests
# Other CPythons the wheel is tested on when the machine has them.
PY_OTHER_VERSIONS := 3.9 3.10 3.12 3.13
# The suites that need no client library, run again on the sdist's build
# and on the other CPythons.
PY_SDIST_SUITES := tests/test_api.py tests/test_errors.py tests/test_socket_options.py \
                   tests/test_call_paths.py tests/test_deadline.py tests/test_concurrency.py \
                   tests/test_limits.py tests/test_readback.py
# maturin builds pyo3 with PYO3_BUILD_EXTENSION_MODULE set; a target dir of
# its own keeps that from rebuilding pyo3 at every switch with build-rust.
PY_TARGET    := $(TOP)/target/wheel

# python3 -m venv needs Debian's python3-venv when python3 is Debian's.
define py_make_venv
	$(PYTHON) -m venv --clear $(1) 2>/dev/null || { $(APT_ENSURE) python3-venv && $(PYTHON) -m venv --clear $(1); }
endef

# The build tools, pinned with their hashes (python/build-requirements.txt,
# generated from build-requirements.in): the same zig links the same wheel
# on every machine. Remade when this file or the pins change.
PY_BUILD_PINS := $(TOP)/python/build-requirements.txt
$(PY_VENV)/.ready: $(TOP)/mk/python.mk $(PY_BUILD_PINS)
	$(call py_make_venv,$(PY_VENV))
	$(PY_VENV)/bin/python -m pip install -q --require-hashes -r $(PY_BUILD_PINS)
	touch $@

# maturin finds zig as `python -m ziglang` of the python on PATH: the venv's.
build-py: build-rust $(PY_VENV)/.ready
	rm -f $(PY_WHEEL)
	cd python && PATH=$(PY_VENV)/bin:$$PATH $(PY_VENV)/bin/maturin build --release \
		--zig --compatibility $(PY_MANYLINUX) --out $(PY_WHEELS) --target-dir $(PY_TARGET)
	@# One wheel, abi3 (CPython 3.9+), tagged manylinux2014 = manylinux_2_17.
	@wheels=($(PY_WHEEL)); \
	if [[ $${#wheels[@]} != 1 || $${wheels[0]} != *-cp39-abi3-$(PY_MANYLINUX)_*.manylinux_2_17_*.whl ]]; then \
		echo "build-py: expected one cp39-abi3-$(PY_MANYLINUX) (manylinux_2_17) wheel, got: $${wheels[*]}" >&2; exit 1; \
	fi; echo "== wheel: $${wheels[0]#$(TOP)/}"
	@# Its output goes to a log, shown only if it fails: maturin sdist
	@# prints "error: manifest path `Cargo.toml` does not exist" (it looks in
	@# python/ before it reads pyproject's manifest-path, and it cannot be
	@# given a pyproject.toml) although nothing failed.
	rm -rf $(PY_SDIST)
	cd python && $(PY_VENV)/bin/maturin sdist --out $(PY_SDIST) >$(TOP)/target/sdist.log 2>&1 || \
		{ cat $(TOP)/target/sdist.log; exit 1; }
	@echo "== sdist: $$(cd $(TOP) && ls target/sdist/libkeepalive-*.tar.gz)"

test-py: build-py
	$(PY_VENV)/bin/python $(TOP)/mk/py-pins.py $(PY_BUILD_PINS)
	@# As root, the vanished-client test runs in a network namespace with an
	@# nftables rule, and the redis-py recipe against Debian's redis-server.
	if [[ $$(id -u) == 0 ]]; then $(APT_ENSURE) nft=nftables unshare=util-linux ip=iproute2 redis-server=redis-server; fi
	@# The wheel as auditwheel sees it: nothing newer than glibc 2.17. And
	@# abi3audit: the module uses only the stable ABI of CPython 3.9.
	$(PY_VENV)/bin/auditwheel show $(PY_WHEEL) | tee $(TOP)/target/auditwheel.txt
	tr -s ' \n' ' ' <$(TOP)/target/auditwheel.txt | grep -q 'consistent with the following platform tag: "manylinux_2_17_x86_64"'
	$(PY_VENV)/bin/abi3audit --strict --verbose $(PY_WHEEL)
	rm -rf $(PY_TEST_VENV)
	$(call py_make_venv,$(PY_TEST_VENV))
	$(PY_TEST_VENV)/bin/python -m pip install -q $(PY_WHEEL) pytest mypy $(PY_TEST_CLIENTS)
	cd python && $(PY_TEST_VENV)/bin/mypy --strict --cache-dir $(PY_TEST_VENV)/mypy-cache examples tests
	@# The stubs against the installed module (from outside python/, so that
	@# the source tree's package does not shadow it); no allowlist.
	cd $(PY_TEST_VENV) && bin/python -m mypy.stubtest --mypy-config-file $(TOP)/python/pyproject.toml keepalive
	@# pytest last but for the sdist, so that its summary line ends the output;
	@# no test collected (exit status 5) fails like any other failure.
	cd python && $(PY_TEST_VENV)/bin/pytest -p no:cacheprovider tests
	@# The sdist, built from source by pip in a fresh venv (maturin from PyPI,
	@# the Rust crates from crates.io, this machine's toolchain).
	@# A fresh target dir too: the sdist's files carry maturin's fixed 2006
	@# mtimes, so cargo would take a cached build of the core as fresh.
	rm -rf $(PY_SDIST_VENV) $(TOP)/target/sdist-build
	$(call py_make_venv,$(PY_SDIST_VENV))
	CARGO_TARGET_DIR=$(TOP)/target/sdist-build $(PY_SDIST_VENV)/bin/python -m pip install -q \
		$(PY_SDIST)/libkeepalive-*.tar.gz pytest
	cd python && $(PY_SDIST_VENV)/bin/pytest -p no:cacheprovider $(PY_SDIST_SUITES)
	@# The one abi3 wheel on the other CPythons this machine has (3.9 takes
	@# pyo3's entry points, 3.10+ the vectorcall ones): each found on PATH or
	@# under pyenv is tested, each missing one says so.
	for v in $(PY_OTHER_VERSIONS); do \
		py=; for c in $$(ls -d $$HOME/.pyenv/versions/$$v.*/bin/python$$v 2>/dev/null) $$(command -v python$$v); do \
			if "$$c" -c 'import venv' 2>/dev/null; then py=$$c; fi; \
		done; \
		if [[ -z $$py ]]; then echo "SKIP CPython $$v: not on this machine"; continue; fi; \
		echo "== CPython $$v ($$py)"; \
		venv=$(TOP)/target/py-$$v-venv; rm -rf $$venv; \
		$$py -m venv $$venv && $$venv/bin/python -m pip install -q $(PY_WHEEL) pytest && \
		(cd python && $$venv/bin/pytest -q -p no:cacheprovider $(PY_SDIST_SUITES)) || exit 1; \
	done
