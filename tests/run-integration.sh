#!/usr/bin/env bash
# Runs the integration test binaries (tests/*.rs) two at a time: most of
# their work (emulated dpkg, QEMU boots) keeps one core busy, so running
# them one after the other, as `cargo test` does, leaves the second core of
# a CI machine idle. Longest first; each binary's output is printed whole
# when it ends, then a summary with each one's time. Exits non-zero if any
# failed. Extra arguments go to every test binary (after `--`).
#   LANES=1 tests/run-integration.sh     one at a time
#   BIN_TIMEOUT=3000                      seconds one binary may take
# A binary still running after BIN_TIMEOUT is interrupted (SIGINT, so clic
# cleans up its QEMU and mounts; SIGKILL two minutes later), counted as
# failed and its output printed: a hang shows which test it was instead
# of the whole run hitting CI's limit with nothing printed. A line on
# stderr says when each binary starts.
set -uo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
LANES=${LANES:-2}
BIN_TIMEOUT=${BIN_TIMEOUT:-3000}
# Longest first (measured on a fresh machine with an empty cache, 2026-12-06,
# before the default image was shared and boxbin built less: image 2500 s,
# boxbin 1890, odroid 1785, box 713 + ~1200 for its power-cut test,
# participation 597; pipeline about 900, measured alone; firstrun.rs, 1103,
# since folded into image.rs);
# binaries not named here run after these, in name order.
ORDER=(pi image box boxbin participation wifi apt content armel)
logs=${CARGO_TARGET_DIR:-target}/test-logs
rm -rf "$logs"
mkdir -p "$logs"

# Compile every test binary once, before the lanes start.
$CARGO test --locked --workspace --no-run >"$logs/build.log" 2>&1 || {
  cat "$logs/build.log"
  exit 1
}

all=()
for t in tests/*.rs; do all+=("$(basename "$t" .rs)"); done
queue=()
for t in "${ORDER[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] && queue+=("$t")
done
for t in "${all[@]}"; do
  [[ " ${queue[*]} " == *" $t "* ]] || queue+=("$t")
done

run_one() {
  local t=$1 start rc pid
  shift
  start=$(date +%s)
  echo "=== tests/$t.rs started at $(date -u +%H:%M:%S)" >&2
  # Each line of output stamped with the time it came (which test took
  # how long, read from a CI log). Through a file, not a pipe: a process
  # left behind by a stopped binary may hold the output open, and must not
  # keep this lane waiting.
  # Made before the binary starts: tail must find it.
  : >"$logs/$t.raw"
  timeout --signal=INT --kill-after=120 "$BIN_TIMEOUT" \
    $CARGO test --locked --test "$t" -- "$@" >"$logs/$t.raw" 2>&1 &
  pid=$!
  tail -n +1 -s 0.5 -f --pid="$pid" "$logs/$t.raw" |
    while IFS= read -r line || [ -n "$line" ]; do printf '%(%H:%M:%S)T %s\n' -1 "$line"; done >"$logs/$t.log"
  wait "$pid"
  rc=$?
  [ "$rc" = 124 ] && echo "=== tests/$t.rs: stopped after BIN_TIMEOUT=$BIN_TIMEOUT s" >>"$logs/$t.log"
  echo "$t $rc $(($(date +%s) - start))" >"$logs/$t.result"
  # One binary's output at a time.
  {
    flock 9
    echo "=== tests/$t.rs: exit $rc after $(($(date +%s) - start)) s"
    cat "$logs/$t.log"
  } 9>"$logs/.print.lock"
}
export -f run_one
# Names this run: test binaries share what they build once per run (the
# default image, tests/common default_image).
CLIC_TEST_RUN=${CLIC_TEST_RUN:-$(date +%s)-$$}
export CARGO logs BIN_TIMEOUT CLIC_TEST_RUN

# Disk: what the run adds at its peak to the filesystems of target/, of
# the cache and of TMPDIR (sampled every 10 s), and how little stayed free; a CI
# machine's disk may be small. Tests remove their images as they end
# (tests/common Tidy).
cache_dir=${CLIC_CACHE:-/var/cache/clic}
mkdir -p "$cache_dir"
disk_sample() { df -B1M --output=used,avail "$@" 2>/dev/null | awk 'NR > 1 { u += $1; if (a == "" || $2 < a) a = $2 } END { print u, a }'; }
fs_dirs=() devs=" "
for d in "${CARGO_TARGET_DIR:-target}" "$cache_dir" "${TMPDIR:-/tmp}"; do
  dev=$(stat -c %d "$d") || continue
  [[ "$devs" == *" $dev "* ]] || { fs_dirs+=("$d"); devs+="$dev "; }
done
read -r used0 free0 < <(disk_sample "${fs_dirs[@]}")
echo "=== disk at the start: ${free0} MiB free (filesystems of ${fs_dirs[*]})" >&2
(
  peak=$used0 low=$free0
  while sleep 10; do
    read -r u a < <(disk_sample "${fs_dirs[@]}")
    [ "${u:-0}" -gt "$peak" ] && peak=$u
    [ "${a:-$low}" -lt "$low" ] && low=$a
    echo "$peak $low" >"$logs/disk.peak"
  done
) &
sampler=$!

start=$(date +%s)
printf '%s\n' "${queue[@]}" | xargs -P "$LANES" -I{} bash -c 'run_one "$@"' _ {} "$@"
kill "$sampler" 2>/dev/null
# The shared default image is of this run only.
rm -rf "${CARGO_TARGET_DIR:-target}/tmp/clic-default-image/out"

echo "=== integration tests, $LANES at a time, $(($(date +%s) - start)) s in all:"
failed=0
for t in "${queue[@]}"; do
  if [ -f "$logs/$t.result" ]; then
    read -r name rc secs <"$logs/$t.result"
    printf '  %-8s %s  %5d s\n' "$name" "$([ "$rc" = 0 ] && echo ok || echo FAILED)" "$secs"
    [ "$rc" = 0 ] || failed=1
  else
    printf '  %-8s did not run\n' "$t"
    failed=1
  fi
done
if [ -f "$logs/disk.peak" ]; then
  read -r peak low <"$logs/disk.peak"
  echo "=== disk: at most $((peak - used0)) MiB more used than at the start, at least $low MiB free (of $free0 at the start)"
fi
exit $failed
