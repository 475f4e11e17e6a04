#!/bin/sh
# Builds one u-boot platform from Debian's u-boot source package, as
# Debian's debian/rules builds each platform of its u-boot-* packages: the
# package's patches applied, the platform's defconfig, CONFIG_LOCALVERSION
# set to the Debian revision, the changelog's date as the build date.
# Deterministic: the same sources and toolchain give the same bytes in any
# directory (paths are mapped away, time is the changelog's).
# Usage: debian-u-boot.sh SOURCE.dsc PLATFORM CROSS_COMPILE OUTDIR
set -eu
dsc=$1 platform=$2 cross=$3
out=$(cd "$4" && pwd)

# clic checked the .dsc and the tarballs against their pins; dpkg-source
# checks the tarballs against the .dsc again (no keyring: the signature
# check only warns).
dpkg-source -x "$dsc" src >/dev/null
cd src
SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -STimestamp)
export SOURCE_DATE_EPOCH
revision=$(dpkg-parsechangelog -SVersion | sed -e 's,.*+dfsg,+dfsg,')
map="-ffile-prefix-map=$PWD=."
make CROSS_COMPILE="$cross" "${platform}_defconfig" >/dev/null
sed -i -e "s,^CONFIG_LOCALVERSION=.*,CONFIG_LOCALVERSION=\"$revision\"," .config
make -j"$(nproc)" CROSS_COMPILE="$cross" HOSTCFLAGS="$map" KCFLAGS="$map" u-boot.bin >/dev/null
cp u-boot.bin "$out/u-boot.bin"
