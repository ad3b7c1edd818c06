# A newcomer's first hour: manual pages and documentation in the prefix, and
# the tests that hold the README and the first commands to what they say.
#
#   make build-docs  share/man/man1/*.1, generated from the command-line
#                    definitions (keepalive generate-man: clap_mangen, and
#                    keepalive-run's help text), and share/doc/libkeepalive/
#                    (README.md, docs/*.md, the examples' README), in build/
#                    and so in every `make install` PREFIX
#   make test-docs   the README's code blocks run as printed (tests/docs/readme.py),
#                    the manual pages render without a warning and match a
#                    fresh generation, `make demo`'s build is quiet and a
#                    second one rebuilds nothing, no placeholder URL ships
#                    (tests/docs/first_hour.py)

.PHONY: build-docs test-docs
BUILD_TARGETS   += build-docs
INSTALL_TARGETS += build-docs
TEST_TARGETS    += test-docs

DOC_DIR := $(BUILD)/share/doc/libkeepalive
MAN_DIR := $(BUILD)/share/man/man1

build-docs: build-tool
	rm -rf $(MAN_DIR) $(DOC_DIR)
	$(BUILD)/bin/keepalive generate-man $(MAN_DIR)
	install -d $(DOC_DIR)/docs $(DOC_DIR)/c-examples
	install -m 0644 $(TOP)/README.md $(TOP)/LICENSE-MIT $(TOP)/LICENSE-APACHE $(DOC_DIR)/
	install -m 0644 $(TOP)/docs/*.md $(DOC_DIR)/docs/
	install -m 0644 $(TOP)/c-examples/README.md $(DOC_DIR)/c-examples/

# The README's Python blocks run against the wheel, its C blocks against
# build/, its Rust block in a new crate outside the checkout.
test-docs: build-docs build-examples build-py build-preload
	$(APT_ENSURE) python3=python3 man=man-db cc=gcc pkg-config=pkg-config
	python3 $(TOP)/tests/docs/first_hour.py --build $(BUILD)
	python3 $(TOP)/tests/docs/readme.py --build $(BUILD)
