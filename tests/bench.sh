#!/usr/bin/env bash
# make bench: build and boot figures for the default image, side by side with
# a plain mmdebstrap of the same package set (the baseline), from one run.
#   cold build   clic build with an empty package cache
#   warm build   the same again, cache filled (online: indices refreshed)
#   offline      the same from the cache alone (--offline)
#   baseline     mmdebstrap --variant=minbase --include=<same packages>, to a
#                tarball, no cache: what a hand-made image starts from
# then the image size (apparent and allocated) and boot-to-HTTP time.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
PORT=${PORT:-18080}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$SPEC")
packages=$($CLIC check "$SPEC" | sed -n 's/^  packages //p' | tr ' ' ',')
suite=$(sed -n 's/^suite *= *"\(.*\)"/\1/p' "$SPEC")

echo "bench: $SPEC ($name), $(nproc) cores, $(date -u +%F)"
t0=$(now); $CLIC --cache "$work/cache" build "$SPEC" --out "$work/cold" >/dev/null 2>"$work/cold.log"; t1=$(now)
cold=$(secs "$t0" "$t1")
t0=$(now); $CLIC --cache "$work/cache" build "$SPEC" --out "$work/warm" >/dev/null 2>"$work/warm.log"; t1=$(now)
warm=$(secs "$t0" "$t1")
t0=$(now); $CLIC --cache "$work/cache" build "$SPEC" --out "$work/offline" --offline >/dev/null 2>"$work/offline.log"; t1=$(now)
offline=$(secs "$t0" "$t1")
t0=$(now)
SOURCE_DATE_EPOCH=0 unshare --mount --propagation private -- mmdebstrap --quiet --mode=root --variant=minbase \
  --include="$packages" "$suite" "$work/plain.tar" http://deb.debian.org/debian >/dev/null 2>"$work/plain.log"
t1=$(now)
plain=$(secs "$t0" "$t1")

img="$work/cold/$name.img"
apparent=$(stat -c %s "$img")
allocated=$(( $(stat -c %b "$img") * $(stat -c %B "$img") ))
same=no; cmp -s "$img" "$work/offline/$name.img" && same=yes

t0=$(now)
$CLIC boot "$img" --firmware bios --forward "127.0.0.1:$PORT:80" --until 'login:' --http-check / --timeout 300 >"$work/boot.log" 2>&1
t1=$(now)
boot=$(secs "$t0" "$t1")

printf '\n%-34s %10s %12s\n' "step" "seconds" "vs baseline"
printf '%-34s %10s %12s\n' "baseline: plain mmdebstrap" "$plain" "1.00"
printf '%-34s %10s %12s\n' "clic build, cold cache" "$cold" "$(ratio "$cold" "$plain")"
printf '%-34s %10s %12s\n' "clic build, warm cache" "$warm" "$(ratio "$warm" "$plain")"
printf '%-34s %10s %12s\n' "clic build, --offline" "$offline" "$(ratio "$offline" "$plain")"
printf '%-34s %10s\n' "boot to login + HTTP 200 (BIOS)" "$boot"
printf '\nimage: %s MiB apparent, %s MiB allocated (sparse); cold and offline builds identical: %s\n' \
  $((apparent / 1048576)) $((allocated / 1048576)) "$same"
grep -h "^==> steps" "$work/warm.log" | sed "s/^==> /warm build /" || true
