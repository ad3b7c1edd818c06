# Benchmarks (issues 7, 10 and 13): cost against the raw syscalls, detection
# accuracy, the server under 1,000 to 100,000 clients, and the probes a
# deadline costs. Not part of `make test`. Programs and scripts in bench/,
# results in bench/out/ (table: bench/out/report.md); see bench/README.md.
#
#   make bench            every benchmark, then one table of figures and targets
#   make bench-c          keepalive_set/get vs raw setsockopt/getsockopt
#   make bench-py         keepalive.enable/get vs sock.setsockopt/getsockopt
#   make bench-preload    socket()+close() under the preload library vs libkeepalive 0.3
#   make bench-detect     dead-peer detection time vs idle + interval x count (root, netns)
#   make bench-scale      the C server with each of SCALE_SIZES clients going dark (root, netns)
#   make bench-probes     probes per 10 min at an equal deadline: ours, Go's, even (root, netns)
#   make bench-show       keepalive show --json vs ss -tnoip on 16,001 sockets (root, netns)
#   make bench-table      print the table of the latest results again

.PHONY: bench-all bench-c bench-py bench-preload bench-detect bench-scale bench-probes bench-show bench-table
BENCH_TARGETS += bench-all

# The scale benchmark's sizes, one run each, smallest first: the rows stand
# side by side so the growth shows. 100,000 waits for a quiet machine.
SCALE_SIZES ?= 1000 10000 100000
# Each size replaces the rows of every earlier size run (bench/out/scale-N.tsv).
define bench_scale_sizes
	rm -f bench/out/scale.tsv bench/out/scale-*.tsv
	for n in $(SCALE_SIZES); do $(BENCH_ENV) bench/scale.sh $$n; done
endef

# The build targets other parts define: each bench target depends on the one
# it measures once that exists (mk/ fragments are read in name order, so look
# at the files rather than at BUILD_TARGETS). A missing one makes the bench
# say "not built yet" instead of giving a figure.
bench_has = $(if $(shell grep -qs '^$(1):' $(TOP)/mk/*.mk && echo y),$(1))
BENCH_ENV := TOP=$(TOP) BUILD=$(BUILD) APT_ENSURE=$(APT_ENSURE) CC=$(CC)

# One after the other even under -j: benchmarks must not share the CPUs.
bench-all: $(call bench_has,build-c) $(call bench_has,build-py) \
           $(call bench_has,build-preload) $(call bench_has,build-examples) \
           $(call bench_has,build-tool)
	@mkdir -p bench/out && cut -d' ' -f1-3 /proc/loadavg >bench/out/load-before && date +%s >bench/out/start
	@echo "== bench: C cost vs raw syscalls (load average $$(cat bench/out/load-before))"
	$(BENCH_ENV) bench/c.sh
	@echo "== bench: Python cost vs plain socket calls"
	$(BENCH_ENV) bench/py.sh
	@echo "== bench: preload vs libkeepalive 0.3"
	$(BENCH_ENV) bench/preload.sh
	@echo "== bench: detection accuracy (namespaces)"
	$(BENCH_ENV) bench/detect.sh
	@echo "== bench: $(SCALE_SIZES) clients (namespaces)"
	$(bench_scale_sizes)
	@echo "== bench: probe economy at an equal deadline (namespaces)"
	$(BENCH_ENV) bench/probes.sh
	@echo "== bench: keepalive show --json vs ss -tnoip (namespace)"
	$(BENCH_ENV) bench/show.sh
	@$(BENCH_ENV) bench/table.sh && rm -f bench/out/load-before
	@echo "== make bench took $$(($$(date +%s) - $$(cat bench/out/start))) s" && rm -f bench/out/start

bench-c: $(call bench_has,build-c)
	$(BENCH_ENV) bench/c.sh
bench-py: $(call bench_has,build-py)
	$(BENCH_ENV) bench/py.sh
bench-preload: $(call bench_has,build-preload)
	$(BENCH_ENV) bench/preload.sh
bench-detect: $(call bench_has,build-c)
	$(BENCH_ENV) bench/detect.sh
bench-scale: $(call bench_has,build-examples)
	$(bench_scale_sizes)
bench-probes: $(call bench_has,build-c)
	$(BENCH_ENV) bench/probes.sh
bench-show: $(call bench_has,build-tool)
	$(BENCH_ENV) bench/show.sh
bench-table:
	@$(BENCH_ENV) bench/table.sh
