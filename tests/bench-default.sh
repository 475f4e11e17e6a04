#!/usr/bin/env bash
# make bench: what participation (agora, web chat, wiki, mumble, files)
# costs the default box, side by side with the default before it
# (tests/fixtures/bench/previous-default.toml, the baseline), one run:
#   compressed image   the release's NAME.img.zst (goal: at most 350 MB)
#   idle RAM           booted with 512 MB, MemTotal - MemAvailable once the
#                      boot has settled (clic-ready's line; goal: at most
#                      120 MB), and each capped service's own use
#   boot               boot to the box's ready line with HTTP 200
#   writes at rest     what the guest writes to its disk (all partitions;
#                      QEMU's counters) over IDLE seconds (600) from a
#                      minute after the ready line, per hour (goal: 1 MB)
# Both builds share one cache directory (the Debian package cache); each
# is booted once from a fresh copy of its image.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
BASE=${BASE:-tests/fixtures/bench/previous-default.toml}
PORT=${PORT:-18081}
# Seconds each booted box is watched at rest for its disk writes.
IDLE=${IDLE:-600}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-default.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

. tests/bench-lib.sh

measure() { # TAG SPEC: sets size_TAG, ram_TAG, boot_TAG, services_TAG
  local tag=$1 spec=$2 img t0 t1
  step "$work/$tag-build.log" $CLIC --cache "$work/cache" build "$spec" --out "$work/$tag"
  img=$(cat "$work/$tag-build.log.out")
  printf -v "size_$tag" '%s' "$(stat -c %s "$img.zst")"
  t0=$(now)
  # Kept running after the ready line, to watch its disk at rest.
  $CLIC boot "$img" --firmware bios --memory 512M --keep-running --qmp "$work/$tag.qmp" \
    --forward "127.0.0.1:$PORT:80" --until 'clic-ready:.*memory' --http-check / --timeout 900 \
    --log "$work/$tag-serial.log" >/dev/null 2>"$work/$tag-boot.log" &
  local pid=$!
  until grep -q 'the box is up' "$work/$tag-boot.log"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: the $tag box did not come up" >&2
      tail -n 30 "$work/$tag-boot.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  t1=$(now)
  printf -v "boot_$tag" '%s' "$(secs "$t0" "$t1")"
  # Writes at rest: the guest's disk counters over IDLE seconds, once the
  # boot's own writes are over (a minute after the ready line).
  sleep 60
  local w0 w1
  w0=$(qmp_written "$work/$tag.qmp")
  sleep "$IDLE"
  w1=$(qmp_written "$work/$tag.qmp")
  printf -v "writes_$tag" '%s' "$(awk -v a="$w0" -v b="$w1" -v s="$IDLE" 'BEGIN { printf "%.2f", (b - a) * 3600 / s / 1048576 }')"
  kill -INT "$pid"
  wait "$pid" || true
  printf -v "ram_$tag" '%s' "$(sed -n 's/.*memory in use at rest: \([0-9]*\) MiB.*/\1/p' "$work/$tag-serial.log" | tail -n 1)"
  printf -v "services_$tag" '%s' "$(sed -n 's/.*clic-ready: \(.* uses [0-9]* MiB\) of.*/\1/p' "$work/$tag-serial.log" | tr '\n' ';' | sed 's/;$//; s/;/, /g')"
}

echo "bench: $SPEC against $BASE (the previous default), $(nproc) cores, $(date -u +%F)"
measure base "$BASE"
measure new "$SPEC"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

printf '\n%-36s %14s %14s %8s %8s\n' "default image" "previous" "now" "ratio" "goal"
printf '%-36s %14s %14s %8s %8s\n' "compressed image (.img.zst), MiB" "$(mib "$size_base")" "$(mib "$size_new")" \
  "$(ratio "$size_new" "$size_base")" "<= 350"
printf '%-36s %14s %14s %8s %8s\n' "idle RAM on a 512 MB box, MiB" "$ram_base" "$ram_new" \
  "$(ratio "$ram_new" "$ram_base")" "<= 120"
printf '%-36s %14s %14s %8s\n' "boot to ready + HTTP 200, s" "$boot_base" "$boot_new" "$(ratio "$boot_new" "$boot_base")"
printf '%-36s %14s %14s %8s %8s\n' "disk writes at rest, MiB per hour" "$writes_base" "$writes_new" \
  "$(ratio "$writes_new" "$writes_base")" "<= 1"
printf '\nservices at rest (previous): %s\n' "${services_base:-none capped}"
printf 'services at rest (now):      %s\n' "${services_new:-none capped}"
