#!/usr/bin/env bash
# make bench, flashing part: from one run,
#   1. a 1 GiB image with about 30% of its blocks mapped (FAT boot
#      partition, ext4 root from mke2fs -d with random files) written to a
#      loop device (direct I/O) by
#        clic flash        (bmap; O_DIRECT writes, then a read-back verify)
#        bmaptool copy     (bmap; checks range checksums while reading)
#        dd conv=fsync     (every byte)
#      page cache dropped before each; ratios against clic flash.
#   2. zstd vs xz on the default image: time and size, same level of effort
#      as a release (zstd -6, xz -6), both on every core. The image is
#      $IMAGE, else the one tests/image.rs left, else out/, else built.
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/bench-lib.sh
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-flash.XXXXXX")
loop=
cleanup() {
  [ -n "$loop" ] && losetup -d "$loop" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }
mib() { echo $(( $1 / 1048576 )); }

echo "bench-flash: $(nproc) cores, $(date -u +%F)"
# 1. The image: 1 GiB, MBR, 64 MiB FAT + ext4.
mkdir -p "$work/tree/srv" "$work/tree/etc"
head -c 300M /dev/urandom > "$work/tree/srv/data.bin"
for i in $(seq 1 200); do head -c $((i * 900)) /dev/urandom > "$work/tree/etc/f$i"; done
img="$work/bench.img"
truncate -s 1G "$img"
printf 'label: dos\nstart=2048,size=131072,type=c,bootable\nstart=133120,type=83\n' | sfdisk -q "$img"
truncate -s 64M "$work/fat"
mkfs.vfat -F 32 "$work/fat" >/dev/null
head -c 20M /dev/urandom > "$work/kernel"
mcopy -i "$work/fat" "$work/kernel" ::/KERNEL
truncate -s $(( (1 << 30) - 133120 * 512 )) "$work/root"
mke2fs -q -t ext4 -d "$work/tree" "$work/root"
dd if="$work/fat" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root" of="$img" bs=512 seek=133120 conv=notrunc,sparse status=none
rm -rf "$work/tree" "$work/fat" "$work/root" "$work/kernel"
$CLIC release "$img" >/dev/null 2>"$work/release.log"
mapped=$(sed -n 's/.*<MappedBlocksCount> *\([0-9]*\).*/\1/p' "$img.bmap")
blocks=$(sed -n 's/.*<BlocksCount> *\([0-9]*\).*/\1/p' "$img.bmap")

truncate -s 1100M "$work/device"
loop=$(losetup --find --show --direct-io=on "$work/device" 2>/dev/null || losetup --find --show "$work/device")
# Untimed: fill the device once, so that no writer pays for the backing
# file's block allocation (the first one would).
dd if=/dev/zero of="$loop" bs=4M count=275 conv=fsync status=none

cold; t0=$(now); $CLIC flash "$img" "$loop" --yes >/dev/null 2>"$work/flash.log"; t1=$(now)
t_clic=$(secs "$t0" "$t1")
cold; t0=$(now); bmaptool copy --bmap "$img.bmap" "$img" "$loop" 2>"$work/bmaptool.log"; t1=$(now)
t_bmap=$(secs "$t0" "$t1")
cold; t0=$(now); dd if="$img" of="$loop" bs=4M conv=fsync status=none; t1=$(now)
t_dd=$(secs "$t0" "$t1")

printf '\nflash: 1024 MiB image, %s%% mapped (%s of %s blocks), loop device with direct I/O\n' \
  $((100 * mapped / blocks)) "$mapped" "$blocks"
printf '%-44s %8s %14s\n' "writer" "seconds" "vs clic flash"
printf '%-44s %8s %14s\n' "clic flash (write + read-back verify)" "$t_clic" "1.00"
printf '%-44s %8s %14s\n' "bmaptool copy (checksums while reading)" "$t_bmap" "$(ratio "$t_bmap" "$t_clic")"
printf '%-44s %8s %14s\n' "dd bs=4M conv=fsync (every byte)" "$t_dd" "$(ratio "$t_dd" "$t_clic")"
bench_result "flash: clic flash / bmaptool copy" "$t_clic" s "bmaptool copy" "$t_bmap" "$(ratio "$t_clic" "$t_bmap")"
bench_result "flash: clic flash / dd" "$t_clic" s "dd bs=4M conv=fsync" "$t_dd" "$(ratio "$t_clic" "$t_dd")"
grep -h "written and verified" "$work/flash.log" | sed 's/^clic: /  clic: /' || true
rm -f "$img" "$img.zst" "$img.bmap"

# 2. zstd vs xz on the default image (BENCH_COMPRESS=0 skips it: xz -6
# takes minutes on two cores).
[ "${BENCH_COMPRESS:-1}" = 0 ] && exit 0
name=$($CLIC check --json "$SPEC" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["resolved"]["name"])')
default=${IMAGE:-}
for c in "target/tmp/clic-image-tests/a/$name.img" "out/$name.img"; do
  [ -z "$default" ] && [ -f "$c" ] && default=$c
done
if [ -z "$default" ]; then
  default=$($CLIC build "$SPEC" --out "$work/build" 2>"$work/build.log")
fi
size=$(stat -c %s "$default")
threads=$(nproc)
cold; t0=$(now); zstd -q -6 -T"$threads" -c "$default" > "$work/img.zst"; t1=$(now)
t_zstd=$(secs "$t0" "$t1"); s_zstd=$(stat -c %s "$work/img.zst")
cold; t0=$(now); xz -q -6 -T"$threads" -c "$default" > "$work/img.xz"; t1=$(now)
t_xz=$(secs "$t0" "$t1"); s_xz=$(stat -c %s "$work/img.xz")
cold; t0=$(now); zstd -q -d -c "$work/img.zst" > /dev/null; t1=$(now)
d_zstd=$(secs "$t0" "$t1")
cold; t0=$(now); xz -q -d -T"$threads" -c "$work/img.xz" > /dev/null; t1=$(now)
d_xz=$(secs "$t0" "$t1")

printf '\ncompression: %s, %s MiB, %s threads\n' "$default" "$(mib "$size")" "$threads"
printf '%-10s %10s %10s %12s %12s\n' "" "compress" "size MiB" "decompress" "size ratio"
printf '%-10s %9ss %10s %11ss %12s\n' "zstd -6" "$t_zstd" "$(mib "$s_zstd")" "$d_zstd" "1.00"
printf '%-10s %9ss %10s %11ss %12s\n' "xz -6" "$t_xz" "$(mib "$s_xz")" "$d_xz" "$(ratio "$s_xz" "$s_zstd")"
printf 'xz takes %sx the time of zstd to compress, %sx to decompress\n' \
  "$(ratio "$t_xz" "$t_zstd")" "$(ratio "$d_xz" "$d_zstd")"
