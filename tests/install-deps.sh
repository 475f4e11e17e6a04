#!/usr/bin/env bash
# Installs what building, booting and testing clic images needs on a fresh
# Debian bookworm machine (run as root). Safe to run again: it only installs
# what is missing. Newer mmdebstrap, e2fsprogs (mke2fs -d reads tarballs) and
# QEMU come from bookworm-backports.
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (building images needs it)" >&2
  exit 1
fi

. /etc/os-release
codename=${VERSION_CODENAME:-bookworm}
backports=()
if [ "$codename" = bookworm ]; then
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > /etc/apt/sources.list.d/clic-backports.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  fi
  backports=(-t bookworm-backports)
fi

# Packages from backports on bookworm (versions that matter: mmdebstrap >= 1.4,
# e2fsprogs >= 1.47.1 for `mke2fs -d TARBALL`).
bp_pkgs=(mmdebstrap e2fsprogs qemu-system-x86 qemu-system-arm qemu-user-static qemu-utils)
pkgs=(ovmf libarchive13 dosfstools mtools fdisk gdisk curl ca-certificates
      arch-test uidmap tar python3 git grub-pc-bin binfmt-support
      # tests/cli.rs checks `clic plan --json` against its schema.
      python3-jsonschema
      chromium chromium-driver openssh-client zstd zim-tools
      bmap-tools xz-utils gnupg apt-utils procps python3-pip
      # tests/cli.rs renders the man pages (`man -l`).
      man-db groff-base
      # box/poster's tests read the Wi-Fi poster's QR codes (rsvg-convert, zbarimg).
      librsvg2-bin zbar-tools
      # tests/wifi.rs checks the box's firewall ruleset (`nft -c`).
      nftables
      # gitlab-ci-local (tests/pipeline.rs) copies the project with rsync;
      # make release signs with gpg (gnupg, below).
      rsync
      # The host's dpkg-deb run inside emulated trees (builder/src/rootfs/native.rs).
      patchelf
      # Building u-boot from Debian's source (firmware/u-boot-odroid-c4.toml).
      dpkg-dev make gcc gcc-aarch64-linux-gnu bison flex bc libssl-dev
      libgnutls28-dev uuid-dev python3-dev python3-setuptools swig
      # Linkers of the box-side Rust binaries and the C libraries they link
      # with (box/targets.toml; gcc-aarch64-linux-gnu above, gcc for amd64).
      gcc-i686-linux-gnu gcc-arm-linux-gnueabihf gcc-arm-linux-gnueabi
      libc6-dev-i386-cross libc6-dev-arm64-cross libc6-dev-armhf-cross
      libc6-dev-armel-cross)

need=()
for p in "${bp_pkgs[@]}" "${pkgs[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || need+=("$p")
done
mke2fs_ok=0
if command -v mke2fs >/dev/null; then
  v=$(mke2fs -V 2>&1 | sed -n 1p | sed -E 's/^mke2fs ([0-9.]+).*/\1/')
  if [ "$(printf '%s\n1.47.1\n' "$v" | sort -V | sed -n 1p)" = 1.47.1 ]; then mke2fs_ok=1; fi
fi

if [ ${#need[@]} -gt 0 ] || [ $mke2fs_ok -eq 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${backports[@]}" "${bp_pkgs[@]}" >/dev/null
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

# Foreign architectures (arm64, armhf, armel) run through qemu-user: the
# binfmt_misc filesystem is not mounted on a fresh machine.
if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
# Backports' qemu-user-static ships systemd binfmt.d files that
# update-binfmts does not read, and PID 1 may not be systemd: register them
# directly.
for a in aarch64 arm; do
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-$a ]; then
    conf=/usr/lib/binfmt.d/qemu-$a.conf
    if [ -f "$conf" ]; then
      grep -v '^[#;]' "$conf" | grep . > /proc/sys/fs/binfmt_misc/register || true
    else
      update-binfmts --enable qemu-$a >/dev/null 2>&1 || true
    fi
  fi
done
for a in aarch64 arm; do
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-$a ]; then
    echo "install-deps: binfmt for qemu-$a is not registered (update-binfmts --enable qemu-$a)" >&2
    exit 1
  fi
done

# libzim (PyPI): tests/content.rs writes a real ZIM file with it.
if ! python3 -c 'import libzim' 2>/dev/null; then
  python3 -m pip install --quiet libzim 2>/dev/null ||
    python3 -m pip install --quiet --break-system-packages libzim
fi

if ! command -v cargo >/dev/null; then
  echo "install-deps: cargo is missing: install Rust (rustup) first" >&2
  exit 1
fi
# The box-side binaries (box/) are cross-built for every board's
# architecture (box/targets.toml). A target whose prebuilt std cannot be
# had (a mirror without it) is built from rust-src instead: clic build does
# that itself (builder/src/boxbin.rs).
targets=(x86_64-unknown-linux-gnu i686-unknown-linux-gnu aarch64-unknown-linux-gnu
         armv7-unknown-linux-gnueabihf armv5te-unknown-linux-gnueabi)
sysroot=$(rustc --print sysroot)
need_src=0
for t in "${targets[@]}"; do
  [ -d "$sysroot/lib/rustlib/$t/lib" ] && continue
  if ! command -v rustup >/dev/null; then
    echo "install-deps: Rust's std for $t is missing and there is no rustup to add it" >&2
    exit 1
  fi
  if ! rustup target add "$t" >/dev/null 2>&1; then
    echo "install-deps: rustup cannot add $t; its std will be built from rust-src" >&2
    need_src=1
  fi
done
if [ $need_src -eq 1 ] && [ ! -d "$sysroot/lib/rustlib/src/rust/library/std" ]; then
  if ! out=$(rustup component add rust-src 2>&1); then
    printf '%s\n' "$out" >&2
    exit 1
  fi
fi
# gitlab-ci-local (npm, pinned with its dependencies' hashes in
# tests/ci/package-lock.json) runs .gitlab-ci.yml locally for
# tests/pipeline.rs and make bench-release; Node.js from Debian when the
# machine has none. Not in the pipeline's own jobs (CLIC_CI_TOOLS=0).
if [ "${CLIC_CI_TOOLS:-1}" != 0 ]; then
  if ! command -v npm >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  ci_tools=$(cd "$(dirname "$0")/ci" && pwd)
  if [ "$(cat "$ci_tools/node_modules/.clic-installed" 2>/dev/null)" != "$(sha256sum <"$ci_tools/package-lock.json")" ]; then
    npm ci --prefix "$ci_tools" --no-audit --no-fund --loglevel=error >/dev/null
    sha256sum <"$ci_tools/package-lock.json" >"$ci_tools/node_modules/.clic-installed"
  fi
fi
echo "install-deps: ok ($(mmdebstrap --version), $(mke2fs -V 2>&1 | sed -n 1p), $(qemu-system-x86_64 --version | sed -n 1p))"
