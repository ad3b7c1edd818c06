# libkeepalive for C: libkeepalive.so.1 / libkeepalive.a from crates/keepalive-ffi,
# the committed include/keepalive.h and a relocatable keepalive.pc, staged in build/.
# SONAME libkeepalive.so.1, because Debian's libkeepalive0 (the classic preload
# library) owns libkeepalive.so.0; see docs/c.md.
#
#   make build-c    stage the C library into build/
#   make test-c     header freshness, exported symbols, C (shared + static, ASan+UBSan)
#                   and C++ tests against build/ through pkg-config

.PHONY: build-c test-c c-header
BUILD_TARGETS += build-c
INSTALL_TARGETS += build-c
TEST_TARGETS  += test-c

FFI_DIR := $(TOP)/crates/keepalive-ffi
# What a static link of the Rust staticlib needs (Linux, glibc), as rustc says
# for a fully static (crt-static) link; re-check with
#   cargo rustc --release -p keepalive-ffi --crate-type staticlib -- \
#       -C target-feature=+crt-static --print native-static-libs
# Not the default list: its -lgcc_s exists only as a shared library, so
# `cc -static ... $(pkg-config --static --libs keepalive)` failed with
# "cannot find -lgcc_s". libgcc_eh is the same unwinder as an archive, and
# serves a link against a shared libc just as well.
C_LIBS_PRIVATE := -lutil -lrt -lpthread -lm -ldl -lc -lgcc_eh -lgcc -lc
C_OUT := $(TOP)/tests/c/out

# install -C and the cmp below leave a file that did not change alone, mtime
# included: what is built against it (the example programs) is not rebuilt.
build-c: build-rust
	install -d $(BUILD)/lib/pkgconfig $(BUILD)/include
	@# A build/ staged before the move to .so.1 must not install a stale .so.0.
	rm -f $(BUILD)/lib/libkeepalive.so.0
	install -C -m 0755 $(RELEASE)/libkeepalive_ffi.so $(BUILD)/lib/libkeepalive.so.1
	ln -sfn libkeepalive.so.1 $(BUILD)/lib/libkeepalive.so
	install -C -m 0644 $(RELEASE)/libkeepalive_ffi.a $(BUILD)/lib/libkeepalive.a
	install -C -m 0644 $(TOP)/include/keepalive.h $(BUILD)/include/keepalive.h
	version=$$($(CARGO) pkgid -p keepalive-ffi | sed 's/.*[#@]//'); \
	sed -e "s|@VERSION@|$$version|" -e "s|@LIBS_PRIVATE@|$(C_LIBS_PRIVATE)|" \
	    $(FFI_DIR)/keepalive.pc.in > $(BUILD)/lib/pkgconfig/keepalive.pc.new; \
	cmp -s $(BUILD)/lib/pkgconfig/keepalive.pc.new $(BUILD)/lib/pkgconfig/keepalive.pc && \
	    rm $(BUILD)/lib/pkgconfig/keepalive.pc.new || \
	    mv $(BUILD)/lib/pkgconfig/keepalive.pc.new $(BUILD)/lib/pkgconfig/keepalive.pc

# Rewrites include/keepalive.h from the source after an intended API change.
c-header:
	KEEPALIVE_BLESS=1 $(CARGO) test --release -p keepalive-ffi --lib committed_header

# Tools the C tests need on a fresh Debian machine (gcc brings libasan/libubsan).
# libkeepalive0 (Debian's classic preload library, SONAME libkeepalive.so.0)
# is installed on purpose: ours must coexist with it. tests/c/run.sh runs
# `make install` into temporary prefixes itself.
test-c: build-c
	$(APT_ENSURE) cc=gcc g++=g++ pkg-config=pkg-config nm=binutils setpriv=util-linux libkeepalive0
	CARGO="$(CARGO)" MAKE="$(MAKE)" bash $(TOP)/tests/c/run.sh $(BUILD) $(C_OUT)
