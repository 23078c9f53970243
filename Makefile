# vtremote — user entry points. `make demo` and `make test` work on a fresh Debian 12 box.
# On a Mac: `make build`, then `sudo make install` (system LaunchDaemon) or `make install`
# (per-user LaunchAgent). Recipes run under macOS's /bin/sh (bash 3.2) and BSD tools too.

# `make install` as yourself on a Mac installs into ~/.local when PREFIX is not given and
# /usr/local/bin is not yours: on Apple Silicon it belongs to root (Homebrew uses
# /opt/homebrew there), so the default would fail before installing anything.
ifeq ($(origin PREFIX),undefined)
  ifeq ($(shell uname -s),Darwin)
    ifneq ($(shell id -u),0)
      ifeq ($(DESTDIR),)
        ifeq ($(shell { [ -w /usr/local/bin ] || { [ ! -e /usr/local/bin ] && [ -w /usr/local ]; }; } && echo yes),)
          PREFIX := $(HOME)/.local
          PREFIX_NOTE := /usr/local/bin is not writable by you: installing for you alone into PREFIX=$(PREFIX) (sudo make install installs system-wide)
        endif
      endif
    endif
  endif
endif
PREFIX  ?= /usr/local
DESTDIR ?=
BUILD   := build
BIN     := $(BUILD)/bin
CARGO   ?= cargo
# FFmpeg used for `make build` (full configure for users) and for tests (minimal, fast).
FFMPEG_BUILD_FLAGS ?= --full
FFMPEG_TEST_FLAGS  ?= --minimal
# Extra dist/macos/install.sh flags for `make install` on a Mac, e.g.
# MACOS_INSTALL_FLAGS="--token-file /path/to/token" or "--listen 127.0.0.1:5555".
MACOS_INSTALL_FLAGS ?=
# Where `make install` puts the systemd unit on Linux: the administrator's directory, which
# works with any PREFIX. Packages use SYSTEMD_UNITDIR=/usr/lib/systemd/system.
SYSTEMD_UNITDIR ?= /etc/systemd/system

.PHONY: all build rust ffmpeg ffmpeg-test ffmpeg-other test lint unit e2e check-dist demo bench bench-quick bench-overhead \
        bench-throughput bench-ceiling bench-tls install clean bootstrap fuzz-smoke fuzz-seeds

all: build

bootstrap:
	./scripts/bootstrap

rust: bootstrap
	$(CARGO) build --release --workspace --locked
	mkdir -p $(BIN)
	install -m 0755 target/release/vtremoted target/release/vtremote $(BIN)/

ffmpeg: rust
	./ffmpeg/build.sh $(FFMPEG_BUILD_FLAGS)

ffmpeg-test: rust
	./ffmpeg/build.sh $(FFMPEG_TEST_FLAGS)

# The patch series must also build on the newest release the distro offers.
ffmpeg-other: rust
	./ffmpeg/build.sh --version 9.0 --compile-only

build: rust ffmpeg

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	$(CARGO) clippy -p vtremote-client --features capi --all-targets --locked -- -D warnings
	$(CARGO) clippy -p vtremoted --features vt-typecheck --all-targets --locked -- -D warnings
	$(CARGO) check -p vtremoted --features vt-typecheck --locked
	$(CARGO) clippy -p vtremoted --features bench-ceiling --all-targets --locked -- -D warnings
	./scripts/vt-ffi-crosscheck --self-test
	./scripts/lint-macos-shell --self-test
	./scripts/lint-macos-shell

unit:
	$(CARGO) test --workspace --release --locked
	$(CARGO) test -p vtremote-client --features capi --release --locked
	./dist/macos/test-install.sh
	./dist/linux/test-install.sh

e2e: ffmpeg-test
	./tests/cli/run.sh $(BIN)
	./tests/ffmpeg/run.sh $(BIN)
	./tests/hostile/run.sh $(BIN)
	./tests/failover/run.sh $(BIN)
	./tests/pool/run.sh $(BIN)
	./tests/discovery/run.sh $(BIN)
	./dist/container/test-healthcheck.sh $(BIN)
	./dist/linux/test-mdwe.sh $(BIN)

# The container and Kubernetes files of dist/, without a cluster or a container engine
# (scripts/check-dist): hadolint, API schemas, our policy, and the daemon flags they use
# against this build. Its own target: the first run installs its linters from PyPI.
check-dist: rust
	./scripts/check-dist --bin $(BIN)

test: rust lint unit e2e ffmpeg-other
	FUZZ_SECONDS=10 ./scripts/fuzz-smoke
	@echo "make test: all checks passed"

demo: rust ffmpeg-test
	./scripts/demo $(BIN)

# Benchmarks (docs/benchmarks.md). Measurements, never tests: nothing asserts on time.
# bench: bytes on the wire per mode for the whole size/rate table, then the cost of going
# remote against in-process libx264. bench-quick: the CI-sized bandwidth subset; fails only
# when a run fails or moves no bytes.
bench: rust ffmpeg-test
	./scripts/bench-bandwidth --bin $(BIN)
	./scripts/bench-overhead --bin $(BIN)

bench-quick: rust ffmpeg-test
	./scripts/bench-bandwidth --quick --bin $(BIN)

bench-overhead: rust ffmpeg-test
	./scripts/bench-overhead --bin $(BIN)

# CPU of client and daemon with and without TLS, interleaved (SIZE, PIX, FRAMES, ROUNDS).
bench-tls: rust
	./scripts/bench-tls $(BIN)

# fps and CPU of both sides per mode for one 1080p30 stream through `vtremote encode`.
bench-throughput: rust
	./scripts/bench-throughput $(BIN)

# The protocol path with a fake codec: vtremoted built with the bench-ceiling feature, in
# its own target directory so the production binary in target/release never has it.
bench-ceiling: rust
	$(CARGO) build --release -p vtremoted --features bench-ceiling --locked --target-dir target/bench-ceiling
	mkdir -p $(BUILD)/bench-ceiling
	install -m 0755 target/bench-ceiling/release/vtremoted $(BUILD)/bench-ceiling/
	./scripts/bench-ceiling --daemon $(BUILD)/bench-ceiling/vtremoted --bin $(BIN)

# Coverage-guided fuzzing on the stable toolchain (docs/fuzzing.md): builds every target of
# fuzz/ and runs each FUZZ_SECONDS (default 20) from the committed seeds; fails on a crash.
# Installs cargo-fuzz if missing. `make test` runs it with FUZZ_SECONDS=10.
fuzz-smoke:
	./scripts/fuzz-smoke

# Rewrites fuzz/seeds/ from real material (ffmpeg, the sample clip) and our own encoders.
fuzz-seeds:
	./scripts/fuzz-seeds

# No rebuild here: `sudo make install` must not need root's cargo or Homebrew. Installs the
# binaries, libvtremote (static + shared), include/vtremote.h and vtremote.pc; on macOS also
# the launchd service: as root a system LaunchDaemon (a headless Mac mini serves before
# anyone logs in; it runs as an unprivileged user), otherwise a LaunchAgent for the current
# user. Either listens on 0.0.0.0:5555 with a generated token unless MACOS_INSTALL_FLAGS
# says otherwise (dist/macos/README.md). On Linux, as root or with DESTDIR, the hardened
# systemd unit (into SYSTEMD_UNITDIR) and /etc/vtremoted.token (generated, 0600, kept if
# present); without DESTDIR the service is then enabled and (re)started
# (dist/linux/install.sh).
install:
	@for f in $(BIN)/vtremoted $(BIN)/vtremote $(BUILD)/lib/libvtremote.a; do \
	  [ -e $$f ] || { echo "make install: $$f is missing; run 'make build' first (as yourself, not root)" >&2; exit 1; }; done
	@$(if $(PREFIX_NOTE),echo "make install: $(PREFIX_NOTE)",true)
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 0755 $(BIN)/vtremoted $(BIN)/vtremote "$(DESTDIR)$(PREFIX)/bin/"
	for b in ffmpeg ffprobe; do if [ -x $(BIN)/$$b ]; then install -m 0755 $(BIN)/$$b "$(DESTDIR)$(PREFIX)/bin/"; fi; done
	DESTDIR="$(DESTDIR)" ./ffmpeg/build.sh --install-capi "$(PREFIX)"
	@if [ "$$(uname -s)" = Darwin ] && [ -z "$(DESTDIR)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then dist/macos/install.sh --system --bin "$(PREFIX)/bin/vtremoted" $(MACOS_INSTALL_FLAGS); \
	  else dist/macos/install.sh --bin "$(PREFIX)/bin/vtremoted" $(MACOS_INSTALL_FLAGS); fi; fi
	@if [ "$$(uname -s)" = Linux ]; then \
	  if [ -n "$(DESTDIR)" ] || [ "$$(id -u)" = 0 ]; then \
	    DESTDIR="$(DESTDIR)" dist/linux/install.sh --prefix "$(PREFIX)" --unitdir "$(SYSTEMD_UNITDIR)"; \
	  else echo "make install: not root: the systemd service was not installed (sudo make install installs it)"; fi; fi

clean:
	$(CARGO) clean
	rm -rf $(BUILD) ffmpeg/work
