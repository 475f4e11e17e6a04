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
#                      minute after the ready line, per hour, plus one
#                      hourly copy of the journal from RAM to the card
#                      (clic-journal-flush, started over SSH; see below;
#                      goal: 1 MB); and the bound with a copy every
#                      IDLE seconds
# Both builds share one cache directory (the Debian package cache; a new
# one unless BENCH_CACHE names one; BENCH_BASELINE=0 skips the previous
# default); each
# is booted once from a fresh copy of its image.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=${CLIC:-target/release/clic}
SPEC=${SPEC:-specs/clic-ordinosaure.toml}
BASE=${BASE:-tests/fixtures/bench/previous-default.toml}
PORT=${PORT:-18081}
SSHPORT=${SSHPORT:-18022}
# Seconds each booted box is watched at rest for its disk writes.
IDLE=${IDLE:-600}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-default.XXXXXX")
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

. tests/bench-lib.sh

measure() { # TAG SPEC: sets size_TAG, ram_TAG, boot_TAG, services_TAG
  local tag=$1 spec=$2 img t0 t1
  step "$work/$tag-build.log" $CLIC --cache "${BENCH_CACHE:-$work/cache}" build "$spec" --out "$work/$tag"
  img=$(cat "$work/$tag-build.log.out")
  printf -v "size_$tag" '%s' "$(stat -c %s "$img.zst")"
  # The bench's SSH key on the card (clic.txt), to start the journal's
  # hourly copy to the card after the window.
  card_put "$img" "$work/clic.txt" clic.txt
  t0=$(now)
  # Kept running after the ready line, to watch its disk at rest.
  $CLIC boot "$img" --firmware bios --memory 512M --keep-running --qmp "$work/$tag.qmp" \
    --forward "127.0.0.1:$PORT:80" --forward "127.0.0.1:$SSHPORT:22" --until 'clic-ready:.*memory' --http-check / --timeout 900 \
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
  # Writes at rest. The journal stays in RAM and reaches the card once an
  # hour (clic-journal-flush.timer, first an hour after boot): the bench
  # starts that copy itself over SSH (one connection, opened first). First
  # a copy that takes the boot's journal and the login's to the card (not
  # counted), then IDLE seconds at rest, then a command alone (what a
  # command over SSH writes), then the copy of the IDLE seconds' journal;
  # a minute after each for the kernel to write back.
  local w0 w1 w2 w3 password
  # The admin's password, as first boot showed it on the console.
  password=$(tr -d '\r' <"$work/$tag-serial.log" | sed -n 's/.*password \/ mot de passe: *\([^ ]*\).*/\1/p' | tail -n 1)
  # One SSH connection for the whole measurement (its login, and the
  # user session it starts, once, before the window); each command a new
  # session over it.
  local ssh=(ssh -i "$work/key" -p "$SSHPORT" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    -o BatchMode=yes -o LogLevel=ERROR -S "$work/$tag.ssh" admin@127.0.0.1)
  guest() {
    "${ssh[@]}" "sudo -S -p '' $1" <<<"$password" >&2 || {
      echo "bench: the $tag box did not run \`$1\` over SSH" >&2
      exit 1
    }
  }
  sleep 60
  "${ssh[@]}" -M -f -N || {
    echo "bench: no SSH connection to the $tag box" >&2
    exit 1
  }
  guest "systemctl start clic-journal-flush.service"
  sleep 60
  w0=$(qmp_written "$work/$tag.qmp")
  sleep "$IDLE"
  w1=$(qmp_written "$work/$tag.qmp")
  guest true
  sleep 60
  w2=$(qmp_written "$work/$tag.qmp")
  guest "systemctl start clic-journal-flush.service"
  sleep 60
  w3=$(qmp_written "$work/$tag.qmp")
  # One copy's writes (less a bare command's), MiB; the window's, MiB per
  # hour.
  local copy window
  copy=$(awk -v a="$w1" -v b="$w2" -v c="$w3" \
    'BEGIN { f = (c - b) - (b - a); if (f < 0) f = 0; print f / 1048576 }')
  window=$(awk -v a="$w0" -v b="$w1" -v s="$IDLE" 'BEGIN { print (b - a) * 3600 / s / 1048576 }')
  printf -v "copy_$tag" '%.2f' "$copy"
  printf -v "window_$tag" '%.2f' "$window"
  # Per hour with the timer's one copy an hour (taking the copy's cost
  # as that of IDLE seconds of journal), and the bound: a copy every
  # IDLE seconds.
  printf -v "writes_$tag" '%s' "$(awk -v w="$window" -v c="$copy" 'BEGIN { printf "%.2f", w + c }')"
  printf -v "bound_$tag" '%s' "$(awk -v w="$window" -v c="$copy" -v s="$IDLE" 'BEGIN { printf "%.2f", w + c * 3600 / s }')"
  "${ssh[@]}" -O exit 2>/dev/null || true
  kill -INT "$pid"
  wait "$pid" || true
  printf -v "ram_$tag" '%s' "$(sed -n 's/.*memory in use at rest: \([0-9]*\) MiB.*/\1/p' "$work/$tag-serial.log" | tail -n 1)"
  printf -v "services_$tag" '%s' "$(sed -n 's/.*clic-ready: \(.* uses [0-9]* MiB\) of.*/\1/p' "$work/$tag-serial.log" | tr '\n' ';' | sed 's/;$//; s/;/, /g')"
}

echo "bench: $SPEC against $BASE (the previous default), $(nproc) cores, $(date -u +%F)"
ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/key"
printf 'admin_ssh_key=%s\n' "$(cat "$work/key.pub")" >"$work/clic.txt"
# BENCH_BASELINE=0: the default box alone (the previous one's columns
# empty), e.g. for a long IDLE window.
if [ "${BENCH_BASELINE:-1}" = 0 ]; then
  echo "bench: baseline skipped (BENCH_BASELINE=0)"
  for v in size ram boot writes window copy bound; do printf -v "${v}_base" '%s' '-'; done
  services_base=-
else
  measure base "$BASE"
fi
measure new "$SPEC"
mib() { awk -v b="$1" 'BEGIN { if (b == "-") print "-"; else printf "%.1f", b / 1048576 }'; }

printf '\n%-36s %14s %14s %8s %8s\n' "default image" "previous" "now" "ratio" "goal"
printf '%-36s %14s %14s %8s %8s\n' "compressed image (.img.zst), MiB" "$(mib "$size_base")" "$(mib "$size_new")" \
  "$(ratio "$size_new" "$size_base")" "<= 350"
printf '%-36s %14s %14s %8s %8s\n' "idle RAM on a 512 MB box, MiB" "$ram_base" "$ram_new" \
  "$(ratio "$ram_new" "$ram_base")" "<= 120"
printf '%-36s %14s %14s %8s\n' "boot to ready + HTTP 200, s" "$boot_base" "$boot_new" "$(ratio "$boot_new" "$boot_base")"
printf '%-36s %14s %14s %8s %8s\n' "disk writes at rest, MiB per hour" "$writes_base" "$writes_new" \
  "$(ratio "$writes_new" "$writes_base")" "<= 1"
printf '%-36s %14s %14s %8s\n' "  at rest between copies, MiB/h" "$window_base" "$window_new" "$(ratio "$window_new" "$window_base")"
printf '%-36s %14s %14s %8s\n' "  one journal copy, MiB" "$copy_base" "$copy_new" "$(ratio "$copy_new" "$copy_base")"
printf '%-36s %14s %14s %8s\n' "  bound: a copy every IDLE s, MiB/h" "$bound_base" "$bound_new" "$(ratio "$bound_new" "$bound_base")"
bench_result "default image: compressed size" "$(mib "$size_new")" MiB "previous default" "$(mib "$size_base")" \
  "$(ratio "$size_new" "$size_base")"
bench_result "default image: idle RAM on 512 MB" "$ram_new" MiB "previous default" "$ram_base" "$(ratio "$ram_new" "$ram_base")"
bench_result "default image: disk writes at rest" "$writes_new" MiB/h "previous default" "$writes_base" \
  "$(ratio "$writes_new" "$writes_base")"
printf '\nservices at rest (previous): %s\n' "${services_base:-none capped}"
printf 'services at rest (now):      %s\n' "${services_new:-none capped}"
