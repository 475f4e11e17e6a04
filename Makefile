# clic: build, boot and test CLIC! box images. See README.md.
SHELL := /bin/bash
CARGO ?= cargo
CLIC := target/release/clic
SPEC ?= specs/clic-ordinosaure.toml
OUT ?= out
PORT ?= 8080
FIRMWARE ?= bios
PREFIX ?= /usr/local
DESTDIR ?=

.PHONY: all deps build image test test-boards test-release test-power test-kiosk unit lint bench bench-release release readme install clean

all: build

deps:
	bash tests/install-deps.sh

build:
	$(CARGO) build --release --locked

# Build the default image, boot it and keep it running with the portal on
# http://127.0.0.1:$(PORT)/ until Ctrl-C.
image: deps build
	img=$$($(CLIC) build $(SPEC) --out $(OUT)) && \
	$(CLIC) boot "$$img" --firmware $(FIRMWARE) --forward 127.0.0.1:$(PORT):80 \
		--until 'login:' --http-check / --keep-running --timeout 600

# Everything: lints, unit tests, then the integration tests that build real
# images with mmdebstrap and boot them under QEMU (needs root and the
# Debian mirror; the first run fills the package cache).
# Checks beyond what every run must prove (tests named extra_*) are left
# to test-boards (extra_boot_*, extra_odroid_*, extra_pi_*), test-release
# (extra_pipeline_*) and test-power (all 20 power cuts); make test must
# stay well inside CI's 90 minutes on 2 cores.
# The integration test binaries run two at a time (tests/run-integration.sh).
test: deps lint
	$(CARGO) test --locked --workspace --lib --bins
	$(CARGO) test --locked -p clic-agora -p clic-admin --test '*'
	bash tests/run-integration.sh --include-ignored --test-threads=2 --skip extra_

# Build the default spec for every board profile and run the static boot
# check on each image (boards of one architecture share the Debian tree;
# trixie-only boards, the armel Pis, take the trixie fixture spec),
# then the extra boot tests (Odroid and armel Pi rootfs under QEMU).
test-boards: deps build
	set -e; for b in $$($(CLIC) boards --json | \
		python3 -c 'import json, sys; print(*(b["name"] for b in json.load(sys.stdin)))'); do \
		spec=$(SPEC); $(CLIC) check $$spec --board $$b >/dev/null 2>&1 || \
			spec=tests/fixtures/clic-trixie.toml; \
		img=$$($(CLIC) build $$spec --board $$b --out $(OUT)/$$b); \
		$(CLIC) inspect "$$img"; \
	done
	$(CARGO) test --locked --workspace -- --ignored --test-threads=2 extra_boot_ extra_odroid_ extra_pi_

# The release pipeline (.gitlab-ci.yml) run whole by gitlab-ci-local on two
# boards, against make release (tests/pipeline.rs; about 15 minutes).
test-release: deps
	$(CARGO) test --locked --test pipeline -- --ignored --nocapture extra_pipeline_

# The power-cut test at all 20 of its points (make test cuts at 12).
test-power: deps
	CLIC_POWER_CUTS=all $(CARGO) test --locked --test box -- --ignored --nocapture power_cuts

# The kiosk layer on its own image, its screen read through QEMU's
# screendump (tests/kiosk.rs; 5 to 10 minutes, skipped by make test).
test-kiosk: deps
	$(CARGO) test --locked --test kiosk -- --ignored --nocapture extra_boot_kiosk

# Unit tests only: no root, no network, seconds.
unit:
	$(CARGO) test --locked --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

# Figures side by side with a plain mmdebstrap baseline: the default image
# (amd64), then the arm64 Pi boards (BENCH_NAIVE=0 skips the ~25-minute
# arm64 baseline), then flashing (clic flash vs bmaptool vs dd) and zstd
# vs xz on the default image, then the default image against the default
# before participation (tests/bench-default.sh: idle RAM, compressed size),
# then a release of two boards on one machine and as the GitLab pipeline
# (tests/bench-release.sh).
bench: deps build
	bash tests/bench.sh
	bash tests/bench-speed.sh
	bash tests/bench-boards.sh
	bash tests/bench-flash.sh
	bash tests/bench-content.sh
	bash tests/bench-default.sh
	bash tests/bench-release.sh

# A release of two boards (tests/bench-release.sh): on one machine (make
# release) and as the GitLab pipeline (gitlab-ci-local), its critical
# path and the ratio.
bench-release: deps build
	bash tests/bench-release.sh

# A release on one machine: the jobs of `clic plan` (RELEASE_SPECS for
# every board they build for, or only RELEASE_BOARDS; each image named
# NAME-BOARD), one after the other: build, static check, boot under QEMU
# to the login prompt; a job that fails is named and the others go on;
# then `clic release merge` of the jobs that passed into $(RELEASE) (the
# release directory's path on stdout, missing boards on stderr). Exits
# non-zero if a job failed, after the merge. The jobs are those of
# .gitlab-ci.yml (tests/release.sh runs both).
RELEASE_SPECS ?= $(SPEC)
RELEASE_BOARDS ?=
RELEASE ?= $(OUT)/release
release: deps build
	CLIC=$(CLIC) RELEASE_SPECS="$(RELEASE_SPECS)" RELEASE_BOARDS="$(RELEASE_BOARDS)" \
		bash tests/release.sh all $(RELEASE).jobs $(RELEASE)

# Regenerate README.md's settings reference (between the
# settings-reference markers) from the layers' layer.toml.
readme:
	$(CARGO) run --quiet --locked --bin clic -- settings --markdown > README.settings.tmp
	awk -v f=README.settings.tmp \
		'/<!-- settings-reference:start -->/ { print; while ((getline l < f) > 0) print l; skip = 1; next } \
		/<!-- settings-reference:end -->/ { skip = 0 } !skip' README.md > README.md.tmp
	mv README.md.tmp README.md
	rm -f README.settings.tmp

# Install clic, its shell completions, man pages and data (profiles,
# overlays, firmware manifests, content packs: found by the installed
# binary as $(PREFIX)/share/clic). DESTDIR for packaging.
install: build
	install -Dm755 $(CLIC) $(DESTDIR)$(PREFIX)/bin/clic
	install -d $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions \
		$(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
		$(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/clic
	$(CLIC) completions bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/clic
	$(CLIC) completions zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_clic
	$(CLIC) completions fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/clic.fish
	$(CLIC) man $(DESTDIR)$(PREFIX)/share/man/man1 >/dev/null
	cp -R profiles overlays firmware content $(DESTDIR)$(PREFIX)/share/clic/
	# Layers' box binaries are cross-built from the workspace's sources at
	# build time (README: box-side binaries): they come along.
	cp -R Cargo.toml Cargo.lock builder box $(DESTDIR)$(PREFIX)/share/clic/

clean:
	rm -rf $(OUT) target
