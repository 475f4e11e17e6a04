#!/usr/bin/env bash
# make bench (second part): cross-architecture figures, from one run.
#   baseline     plain mmdebstrap of the rpi3 package set for arm64, no
#                cache, Debian's default initramfs (MODULES=most) made
#                under qemu-user: what a hand-made Pi image costs
#   cold rpi3    clic build --board rpi3 with an empty cache
#   rpi4, zero2w the two other arm64 Pi boards right after (they share
#                rpi3's Debian tree through the tree cache)
# BENCH_NAIVE=0 skips the baseline (about 25 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-boards.XXXXXX")
trap 'rm -rf "$work"' EXIT

. tests/bench-lib.sh

packages=$(spec_field packages "$SPEC" --board rpi3)
suite=$(spec_field suite "$SPEC")
echo "bench-boards: $SPEC for rpi3, rpi4, rpi-zero2w (arm64), $(nproc) cores, $(date -u +%F)"

declare -A t
for b in rpi3 rpi4 rpi-zero2w; do
  t0=$(now)
  step "$work/$b.log" $CLIC --cache "$work/cache" build "$SPEC" --board "$b" --out "$work/$b"
  t1=$(now)
  t[$b]=$(secs "$t0" "$t1")
done
three=$(awk -v a="${t[rpi3]}" -v b="${t[rpi4]}" -v c="${t[rpi-zero2w]}" 'BEGIN { printf "%.1f", a + b + c }')
thrice=$(awk -v a="${t[rpi3]}" 'BEGIN { printf "%.1f", 3 * a }')

plain=-
if [ "${BENCH_NAIVE:-1}" != 0 ]; then
  t0=$(now)
  step "$work/plain.log" env SOURCE_DATE_EPOCH=0 unshare --mount --propagation private -- \
    mmdebstrap --quiet --mode=root --variant=minbase --architectures=arm64 \
    --components=main,non-free-firmware --include="$packages" "$suite" "$work/plain.tar" \
    http://deb.debian.org/debian
  t1=$(now)
  plain=$(secs "$t0" "$t1")
fi

printf '\n%-44s %10s %12s\n' "step (arm64)" "seconds" "vs baseline"
printf '%-44s %10s %12s\n' "baseline: plain mmdebstrap, same packages" "$plain" "1.00"
printf '%-44s %10s %12s\n' "clic build rpi3, cold cache" "${t[rpi3]}" "$(ratio "${t[rpi3]}" "$plain")"
printf '%-44s %10s %12s\n' "clic build rpi4 after it" "${t[rpi4]}" "$(ratio "${t[rpi4]}" "$plain")"
printf '%-44s %10s %12s\n' "clic build rpi-zero2w after it" "${t[rpi-zero2w]}" "$(ratio "${t[rpi-zero2w]}" "$plain")"
printf '%-44s %10s %12s\n' "three boards together" "$three" "$(ratio "$three" "$plain")"
printf '%-44s %10s\n' "three times one cold rpi3 (naive sharing)" "$thrice"
printf 'three boards cost %s of three cold builds\n' "$(ratio "$three" "$thrice")"
# Where the cold build's time went: the shared tree and the board stage.
grep -h "^clic: shared .* tree made in\|^clic: board stage .* made in" "$work/rpi3.log" | sed 's/^clic: /cold rpi3: /' || true
