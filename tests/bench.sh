#!/usr/bin/env bash
# make bench: build and boot figures for the default image, side by side with
# a plain mmdebstrap of the same package set (the baseline), from one run.
#   cold build   clic build with an empty package cache
#   warm build   the same again, cache filled (online: indices refreshed)
#   offline      the same from the cache alone (--offline)
#   baseline     mmdebstrap --variant=minbase --include=<same packages>, to a
#                tarball, no cache: what a hand-made image starts from
# then the image size (apparent, allocated and compressed: the release's
# NAME.img.zst when the build writes one, else zstd -6 -T2 like it),
# boot-to-HTTP time, and the memory the box uses at rest: booted with 256 MB,
# the firstboot layer's clic-ready line reports MemTotal - MemAvailable once
# the boot has settled.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
PORT=${PORT:-18080}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

. tests/bench-lib.sh

name=$(spec_field name "$SPEC")
packages=$(spec_field packages "$SPEC")
suite=$(spec_field suite "$SPEC")

echo "bench: $SPEC ($name), $(nproc) cores, $(date -u +%F)"
t0=$(now); step "$work/cold.log" $CLIC --cache "$work/cache" build "$SPEC" --out "$work/cold"; t1=$(now)
cold=$(secs "$t0" "$t1")
t0=$(now); step "$work/warm.log" $CLIC --cache "$work/cache" build "$SPEC" --out "$work/warm"; t1=$(now)
warm=$(secs "$t0" "$t1")
t0=$(now); step "$work/offline.log" $CLIC --cache "$work/cache" build "$SPEC" --out "$work/offline" --offline; t1=$(now)
offline=$(secs "$t0" "$t1")
t0=$(now)
step "$work/plain.log" env SOURCE_DATE_EPOCH=0 unshare --mount --propagation private -- mmdebstrap --quiet \
  --mode=root --variant=minbase --include="$packages" "$suite" "$work/plain.tar" http://deb.debian.org/debian
t1=$(now)
plain=$(secs "$t0" "$t1")

img=$(cat "$work/cold.log.out") # clic build's stdout: the image
apparent=$(stat -c %s "$img")
allocated=$(( $(stat -c %b "$img") * $(stat -c %B "$img") ))
same=no; cmp -s "$img" "$work/offline/$name.img" && same=yes

t0=$(now)
step "$work/boot.log" $CLIC boot "$img" --firmware bios --forward "127.0.0.1:$PORT:80" --until 'login:' \
  --http-check / --timeout 300
t1=$(now)
boot=$(secs "$t0" "$t1")

# Footprint: RAM in use at rest on a 256 MB box, serving the portal.
ram="n/a (no firstboot layer)"
if spec_field layers "$SPEC" | tr , '\n' | grep -qx firstboot; then
  step "$work/ram.log" $CLIC boot "$img" --firmware bios --memory 256M --forward "127.0.0.1:$PORT:80" \
    --until 'clic-ready:.*memory' --http-check / --timeout 600 --log "$work/ram-serial.log"
  ram=$(sed -n 's/.*memory in use at rest: \([0-9]* MiB of [0-9]* MiB\).*/\1/p' "$work/ram-serial.log" | tail -n 1)
fi
if [ -f "$img.zst" ]; then
  zst=$(stat -c %s "$img.zst"); zst_how="the build's $name.img.zst"
else
  t0=$(now); zst=$(zstd -6 -T2 -q -c "$img" | wc -c); t1=$(now)
  zst_how="zstd -6 -T2, $(secs "$t0" "$t1") s"
fi

printf '\n%-34s %10s %12s\n' "step" "seconds" "vs baseline"
printf '%-34s %10s %12s\n' "baseline: plain mmdebstrap" "$plain" "1.00"
printf '%-34s %10s %12s\n' "clic build, cold cache" "$cold" "$(ratio "$cold" "$plain")"
printf '%-34s %10s %12s\n' "clic build, warm cache" "$warm" "$(ratio "$warm" "$plain")"
printf '%-34s %10s %12s\n' "clic build, --offline" "$offline" "$(ratio "$offline" "$plain")"
printf '%-34s %10s\n' "boot to login + HTTP 200 (BIOS)" "$boot"
printf '\nimage: %s MiB apparent, %s MiB allocated (sparse); cold and offline builds identical: %s\n' \
  $((apparent / 1048576)) $((allocated / 1048576)) "$same"
printf 'compressed: %s MiB (%s)\n' $((zst / 1048576)) "$zst_how"
printf 'memory in use at rest, booted with 256 MB: %s\n' "$ram"
grep -h "^==> steps" "$work/warm.log" | sed "s/^==> /warm build /" || true
