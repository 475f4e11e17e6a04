#!/usr/bin/env bash
# make bench: where people wait, side by side with a baseline from the same
# run (each row also in target/bench/results.json):
#   first boot    the default image under QEMU (TCG, 512 MB, SeaBIOS), from
#                 QEMU's start to the portal's first HTTP 200, against the
#                 base layer alone (Debian bookworm with systemd, networkd
#                 and nginx: the nearest plain Debian clic makes) from
#                 QEMU's start to its login prompt
#   second boot   the default image again, the first boot's writes kept
#   warm rebuild  clic build after one setting changed (the home page's
#                 sentence), against the cold build (an empty cache)
# The cache is a new one unless BENCH_CACHE names one (then "cold" is not
# cold: the ratio is printed all the same).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
PORT=${PORT:-18082}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-speed.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

. tests/bench-lib.sh
cache=${BENCH_CACHE:-$work/cache}
name=$(spec_field name "$SPEC")

echo "bench-speed: $SPEC, $(nproc) cores, $(date -u +%F)"
t0=$(now); step "$work/cold.log" $CLIC --cache "$cache" build "$SPEC" --out "$work/cold"; t1=$(now)
cold=$(secs "$t0" "$t1")
# One setting changed: the home page's first sentence (layer base).
cp "$SPEC" "$work/changed.toml"
printf '\n[settings.base]\nwelcome = "Une phrase changée pour le banc d'"'"'essai."\n' >>"$work/changed.toml"
t0=$(now); step "$work/warm.log" $CLIC --cache "$cache" build "$work/changed.toml" --out "$work/warm"; t1=$(now)
warm=$(secs "$t0" "$t1")

# The baseline: the base layer alone, same board and suite.
sed -e 's/^layers = .*/layers = ["base"]/' -e 's/^content = .*//' -e 's/^name = .*/name = "clic-base"/' \
  "$SPEC" >"$work/base.toml"
step "$work/base.log" $CLIC --cache "$cache" build "$work/base.toml" --out "$work/base"

# boot_time IMG UNTIL HTTP EXTRA...: seconds from QEMU's start to UNTIL on
# the console (and, with HTTP=1, the first HTTP 200 of / after it).
boot_time() {
  local img=$1 until=$2 http=$3 t0 t1
  shift 3
  local check=()
  [ "$http" = 1 ] && check=(--http-check /)
  t0=$(now)
  step "$work/boot-$(basename "$img").log" $CLIC boot "$img" --firmware bios --memory 512M \
    --forward "127.0.0.1:$PORT:80" --until "$until" "${check[@]}" --timeout 900 "$@"
  t1=$(now)
  secs "$t0" "$t1"
}
base_boot=$(boot_time "$work/base/clic-base.img" 'login:' 0)
# The portal's first answer: nginx's start on the console, then / polled.
first=$(boot_time "$work/cold/$name.img" 'Started nginx' 1 --persist --log "$work/first.log")
# Let the first boot finish its work (the image is written to) before the
# second boot.
step "$work/settle.log" $CLIC boot "$work/cold/$name.img" --firmware bios --memory 512M --persist \
  --until 'clic-ready:.*memory' --timeout 900
second=$(boot_time "$work/cold/$name.img" 'Started nginx' 1 --persist)

printf '\n%-52s %9s %14s %8s %8s\n' "where people wait" "seconds" "baseline, s" "ratio" "goal"
printf '%-52s %9s %14s %8s %8s\n' "first boot to the portal's HTTP 200 (QEMU TCG)" "$first" "$base_boot" \
  "$(ratio "$first" "$base_boot")" "1.3"
printf '%-52s %9s %14s %8s %8s\n' "second boot to the portal's HTTP 200" "$second" "$base_boot" \
  "$(ratio "$second" "$base_boot")" "< first"
printf '%-52s %9s %14s %8s %8s\n' "warm rebuild after one setting / cold build" "$warm" "$cold" \
  "$(ratio "$warm" "$cold")" "0.12"
echo "(baseline of the boots: the base layer alone booted to its login prompt; of the rebuild: the cold build)"
grep -h "^==> steps" "$work/warm.log" | sed "s/^==> /warm rebuild /" || true
bench_result "first boot to the portal's HTTP 200" "$first" s "base layer alone, boot to login" "$base_boot" \
  "$(ratio "$first" "$base_boot")"
bench_result "second boot to the portal's HTTP 200" "$second" s "base layer alone, boot to login" "$base_boot" \
  "$(ratio "$second" "$base_boot")"
bench_result "warm rebuild after one setting change" "$warm" s "cold build" "$cold" "$(ratio "$warm" "$cold")"
