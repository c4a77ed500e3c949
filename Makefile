# Thin wrapper: `make demo` and `make check` install their own dependencies, build and run.
BUILD ?= build

.PHONY: all deps build demo check check-vm bench clean

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

# A real OSTree OS booted by GRUB under qemu (TCG): the image is built once and cached in /var/tmp/upkeep-vm
# (about 7-10 minutes the first time), then each scenario boots a throw-away overlay (tests/vm/README.md).
check-vm: build
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vm_boot.py
	/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/vm/test_vm_agent.py

bench: build
	./scripts/install-deps --bench
	./bench/graph.sh $(BUILD)
	./bench/lock.sh $(BUILD)
	./bench/agent.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build-release
