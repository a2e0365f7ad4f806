# cephboot — build, test, demo. Everything runs as root on a Debian 12 host; `make test`
# installs what it needs first (scripts/install-deps is idempotent).
CARGO ?= cargo
STATE ?= $(CURDIR)/state/demo
BIN := target/debug/cephboot

.PHONY: all guest-bin release-roots-bg system-image-bg system-test clean-release-roots deps build lint test unit-test integration-test vm-test demo demo-clean bench fuzz man install deb clean

all: build

deps:
	@scripts/install-deps
	@tests/openstack/install

build: deps
	$(CARGO) build --workspace --all-targets

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The whole suite: unit tests (no root needed), integration tests on loop devices and a
# real Ceph cluster (root; Ceph 16 on the host, 18 and 20 in Debian roots), real OpenStack
# services, Ansible, the Debian package, and vm-tests: the device layer on a stock Debian
# kernel with udevd, in QEMU (docs/vm-tests.md). scripts/run-tests builds the test binaries
# once and runs them in two queues side by side with the vm-tests (two threads per binary:
# each cluster test runs its own mon/mgr/osd); logs in target/test-logs.
test: deps release-roots-bg system-image-bg lint guest-bin
	scripts/run-tests

# The system guests' cephboot (Cargo.toml's `guest` profile: optimized, with the test hooks),
# built before the queues start: built beside them it took 7.6 minutes (2.3 alone) of the
# critical path, the @core guest's lane waiting for it.
guest-bin: deps
	$(CARGO) build --profile guest --bin cephboot

# The Debian roots with Ceph 18 and 20 (tests/releases.rs) build in the background while the
# code is linted and built; the release tests wait for them (the script locks per suite).
release-roots-bg:
	@mkdir -p state/releases
	@( tests/releases/root build trixie && tests/releases/root umount trixie && \
	   tests/releases/root build sid && tests/releases/root umount sid ) \
	   > state/releases/prefetch.log 2>&1 &
	@echo "release roots: building in the background (state/releases/prefetch.log)"

# The system guest's image (vm-tests/system/build-image: debootstrap, packages, mkfs.ext4 -d;
# cached under state/vm-tests/system) builds in the background while the code is linted and
# built; vm-tests/system/run waits for it (the build takes a lock).
system-image-bg:
	@mkdir -p state/vm-tests
	@( vm-tests/fetch $(CURDIR)/state/vm-tests/cache && vm-tests/system/build-image ) \
	   > state/vm-tests/system-prefetch.log 2>&1 &
	@echo "system guest image: building in the background (state/vm-tests/system-prefetch.log)"

# Only the system guest's cases (docs/vm-tests.md, "The system guest's cases").
system-test: deps
	vm-tests/system/run

unit-test: deps
	$(CARGO) test --workspace --lib --bins

# Only the QEMU guest cases (vm-tests/run builds cephboot and the table driver first).
vm-test: deps
	vm-tests/run

# Man pages (one per command) and shell completions, generated from the clap definitions.
man: build
	$(BIN) manpages target/man
	$(BIN) completions bash > target/man/cephboot.bash

# make install [PREFIX=/usr/local] [DESTDIR=]: the release binary, man pages, completions,
# the systemd unit and an example daemon config (scripts/install-files lists each file).
PREFIX ?= /usr/local
DESTDIR ?=
install:
	$(CARGO) build --release
	scripts/install-files target/release/cephboot "$(DESTDIR)" "$(PREFIX)"

# A Debian package of the release binary in target/deb (scripts/package-deb).
deb:
	$(CARGO) build --release
	scripts/package-deb target/release/cephboot target/deb

demo: build
	scripts/demo "$(STATE)"

demo-clean:
	scripts/demo-clean "$(STATE)"

bench: deps
	$(CARGO) build --release
	bench/inventory/run
	bench/inventory/reads
	bench/prepare/run
	bench/prepare/many
	bench/activate/many
	bench/pools/run
	bench/daemon/run

# Every fuzz target for FUZZ_SECONDS each, from the committed seeds in fuzz/corpus/<target>
# (new inputs go to state/fuzz/<target>); cargo-fuzz is installed if missing. libFuzzer needs
# nightly-only flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them (docs/fuzzing.md).
FUZZ_SECONDS ?= 60
fuzz: deps
	scripts/fuzz $(FUZZ_SECONDS)

# The Debian roots of tests/releases.rs, unmounted first (their /dev is the host's: never
# `rm -rf state` while one is mounted).
clean-release-roots:
	tests/releases/root remove trixie
	tests/releases/root remove sid

clean:
	$(CARGO) clean
