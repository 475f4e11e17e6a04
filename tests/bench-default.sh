#!/usr/bin/env bash
# make bench: what participation (agora, web chat, wiki, mumble, files)
# costs the default box, side by side with the default before it
# (tests/fixtures/bench/previous-default.toml, the baseline), one run:
#   compressed image   the release's NAME.img.zst (goal: at most 350 MB)
#   idle RAM           booted with 512 MB, MemTotal - MemAvailable once the
#                      boot has settled (clic-ready's line; goal: at most
#                      120 MB), and each capped service's own use
#   boot               boot to the box's ready line with HTTP 200
# Both builds share one cache directory (the Debian package cache); each
# is booted once from a fresh copy of its image.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
BASE=${BASE:-tests/fixtures/bench/previous-default.toml}
PORT=${PORT:-18081}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-default.XXXXXX")
trap 'rm -rf "$work"' EXIT

. tests/bench-lib.sh

measure() { # TAG SPEC: sets size_TAG, ram_TAG, boot_TAG, services_TAG
  local tag=$1 spec=$2 img t0 t1
  step "$work/$tag-build.log" $CLIC --cache "$work/cache" build "$spec" --out "$work/$tag"
  img=$(cat "$work/$tag-build.log.out")
  printf -v "size_$tag" '%s' "$(stat -c %s "$img.zst")"
  t0=$(now)
  step "$work/$tag-boot.log" $CLIC boot "$img" --firmware bios --memory 512M \
    --forward "127.0.0.1:$PORT:80" --until 'clic-ready:.*memory' --http-check / --timeout 900 \
    --log "$work/$tag-serial.log"
  t1=$(now)
  printf -v "boot_$tag" '%s' "$(secs "$t0" "$t1")"
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
printf '\nservices at rest (previous): %s\n' "${services_base:-none capped}"
printf 'services at rest (now):      %s\n' "${services_new:-none capped}"
