# Thin wrapper: `make demo` and `make check` install their own dependencies, build and run.
BUILD ?= build

.PHONY: all deps build demo check bench clean

all: build

deps:
	./scripts/install-deps

build: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD) -Dwerror=true
	ninja -C $(BUILD)

demo: build
	./scripts/demo $(BUILD)

check: deps
	./scripts/check

bench: build
	./scripts/install-deps --bench
	./bench/graph.sh $(BUILD)
	./bench/lock.sh $(BUILD)
	./bench/agent.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build-release
