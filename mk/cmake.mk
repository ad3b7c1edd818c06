# CMake package files for the C library: lib/cmake/keepalive/ in build/ (and
# so in every PREFIX), so that a CMake project finds it with
#   find_package(keepalive CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE keepalive::keepalive)
#
#   make build-cmake  keepalive-config.cmake and keepalive-config-version.cmake
#                     from crates/keepalive-ffi/cmake/*.in
#   make test-cmake   a C and a C++ CMake project built against
#                     `make install PREFIX=...` (and a moved copy of it), shared
#                     and static, run on real sockets (tests/cmake/run.sh)

.PHONY: build-cmake test-cmake
BUILD_TARGETS += build-cmake
# Part of what `make install` needs, for a Makefile that lists that apart.
INSTALL_TARGETS += build-cmake
TEST_TARGETS  += test-cmake

CMAKE_IN  := $(TOP)/crates/keepalive-ffi/cmake
CMAKE_OUT := $(TOP)/target/cmake-tests
# The static link's libraries, from the one list keepalive.pc's Libs.private
# is made of (mk/c.mk), as a CMake list: -lgcc_s -lutil -> gcc_s;util.
cmake_empty :=
cmake_space := $(cmake_empty) $(cmake_empty)
CMAKE_LINK_LIBRARIES = $(subst $(cmake_space),;,$(strip $(patsubst -l%,%,$(C_LIBS_PRIVATE))))

build-cmake: build-c
	install -d $(BUILD)/lib/cmake/keepalive
	version=$$($(CARGO) pkgid -p keepalive-ffi | sed 's/.*[#@]//'); \
	for f in keepalive-config keepalive-config-version; do \
		sed -e "s|@VERSION@|$$version|" -e "s|@LINK_LIBRARIES@|$(CMAKE_LINK_LIBRARIES)|" \
		    $(CMAKE_IN)/$$f.cmake.in > $(BUILD)/lib/cmake/keepalive/$$f.cmake; \
	done

# Against an installed prefix, as users have it: `make install` itself.
test-cmake: build-cmake
	$(APT_ENSURE) cmake=cmake cc=gcc g++=g++
	rm -rf $(CMAKE_OUT) && mkdir -p $(CMAKE_OUT)
	$(MAKE) --no-print-directory install PREFIX=$(CMAKE_OUT)/prefix
	bash $(TOP)/tests/cmake/run.sh $(CMAKE_OUT)/prefix $(CMAKE_OUT)
