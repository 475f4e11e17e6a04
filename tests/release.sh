#!/usr/bin/env bash
# A release's jobs: what `make release` runs on one machine, and what each
# job of .gitlab-ci.yml runs on GitLab CI, so that both make the same
# release (tests/pipeline.rs compares them).
#
#   release.sh plan DIR           `clic plan` of $RELEASE_SPECS for the
#                                 boards of $RELEASE_BOARDS (every board
#                                 they build for when empty), each image
#                                 named NAME-BOARD: DIR/plan.json
#   release.sh trees DIR ARCH     the shared Debian tree of each of the
#                                 plan's trees of ARCH made in the cache
#                                 (clic build --tree-only); none planned for
#                                 ARCH: nothing to do
#   release.sh jobs DIR [BOARD]   each job of the plan (of BOARD only):
#                                 build, static check, boot under QEMU to
#                                 the login prompt; DIR/passed/JOB when it
#                                 passed, its log in DIR/logs/JOB.log; a
#                                 failed job is named and the others go
#                                 on; exits 1 if one failed
#   release.sh again DIR BOARD    BOARD's jobs built once more (in another
#                                 CI job, with a cache of its own):
#                                 DIR/again/JOB
#   release.sh compare DIR        each DIR/again/JOB against DIR/passed/JOB:
#                                 the same SHA256SUMS (every file, the raw
#                                 image included) and the same .img.zst
#                                 bytes
#   release.sh merge DIR RELEASE  clic release merge of DIR/passed/* into
#                                 RELEASE (made anew), --expect
#                                 DIR/plan.json: boards without an image
#                                 named on stderr; SHA256SUMS signed when
#                                 RELEASE_SIGNING_KEY names a key file
#   release.sh all DIR RELEASE    plan, jobs, merge (make release); exits 1
#                                 after the merge if a job failed
#
# CLIC names the clic binary (target/release/clic); CLIC_CACHE its cache;
# RELEASE_BOOT=0 leaves the boot tests out (images proven elsewhere).
# Progress and logs go to stderr; the release directory's path to stdout
# (merge, all).
set -uo pipefail
CLIC=${CLIC:-target/release/clic}

die() {
  echo "release: $*" >&2
  exit 2
}

# The plan's jobs (of BOARD, when given): JOB, SPEC, NAME, BOARD, build
# arguments, tab-separated, one per line.
plan_jobs() { # DIR [BOARD]
  python3 - "$1/plan.json" "${2:-}" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
for j in plan["jobs"]:
    if sys.argv[2] in ("", j["board"]):
        print(j["job"], j["spec"], j["name"], j["board"], " ".join(j["build_args"]), sep="\t")
PY
}

# The plan's trees of ARCH: for each, the spec and the build arguments
# (without --name) of its first job, tab-separated, one per line.
plan_trees() { # DIR ARCH
  python3 - "$1/plan.json" "$2" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
jobs = {j["job"]: j for j in plan["jobs"]}
for t in plan["trees"]:
    if t["arch"] == sys.argv[2]:
        j = jobs[t["jobs"][0]]
        args, skip = [], False
        for a in j["build_args"]:
            if skip or a == "--name":
                skip = not skip
                continue
            args.append(a)
        print(j["spec"], " ".join(args), sep="\t")
PY
}

# Build, static check and boot of one job into DIR/run/JOB.
run_job() { # DIR JOB SPEC ARGS... -> the image's path on stdout
  local dir=$1 job=$2 spec=$3 img
  shift 3
  img=$("$CLIC" build "$spec" "$@" --out "$dir/run/$job") &&
    "$CLIC" inspect "$img" >&2 || return 1
  if [ "${RELEASE_BOOT:-1}" = 0 ]; then
    echo "release: not booted (RELEASE_BOOT=0)" >&2
    return 0
  fi
  "$CLIC" boot "$img" --until 'login:' --timeout 1800 --quiet >/dev/null
}

cmd=${1:-}
shift || true
case $cmd in
plan)
  [ $# -eq 1 ] || die "usage: release.sh plan DIR"
  dir=$1
  read -ra specs <<<"${RELEASE_SPECS:?RELEASE_SPECS names the specs of the release}"
  read -ra boards <<<"${RELEASE_BOARDS:-}"
  args=()
  if [ ${#boards[@]} -eq 0 ]; then
    args=(--all-boards)
  else
    for b in "${boards[@]}"; do args+=(--board "$b"); done
  fi
  mkdir -p "$dir" || exit 2
  "$CLIC" plan --json --board-names "${args[@]}" "${specs[@]}" >"$dir/plan.json.tmp" &&
    mv "$dir/plan.json.tmp" "$dir/plan.json" || {
    rm -f "$dir/plan.json.tmp"
    die "no plan"
  }
  python3 -c 'import json, sys; p = json.load(open(sys.argv[1])); print("release: %d jobs, %d Debian trees" % (len(p["jobs"]), len(p["trees"])))' \
    "$dir/plan.json" >&2
  ;;
trees)
  [ $# -eq 2 ] || die "usage: release.sh trees DIR ARCH"
  dir=$1 arch=$2 n=0 kept=()
  # One job per tree of ARCH: its spec and board give the tree.
  while IFS=$'\t' read -r spec args; do
    read -ra a <<<"$args"
    echo "release: the shared $arch tree of $spec" >&2
    tree=$("$CLIC" build "$spec" "${a[@]}" --tree-only) || exit 1
    kept+=("$tree")
    n=$((n + 1))
  done < <(plan_trees "$dir" "$arch")
  [ $n -gt 0 ] || echo "release: no $arch board in this release's plan" >&2
  # A CI cache holds this release's shared trees of ARCH, not every one
  # an earlier pipeline made (RELEASE_PRUNE_TREES=1).
  if [ "${RELEASE_PRUNE_TREES:-0}" = 1 ] && [ $n -gt 0 ]; then
    for t in "$(dirname "${kept[0]}")"/base-*-"$arch"-*.tar.zst; do
      [ -f "$t" ] || continue
      case " ${kept[*]} " in
      *" $t "*) ;;
      *)
        echo "release: pruned $(basename "$t") from the cache" >&2
        rm -f "$t"
        ;;
      esac
    done
  fi
  ;;
jobs)
  [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: release.sh jobs DIR [BOARD]"
  dir=$1 board=${2:-}
  mkdir -p "$dir/passed" "$dir/logs" || exit 2
  failed=() n=0
  while IFS=$'\t' read -r job spec _name _board args; do
    read -ra a <<<"$args"
    n=$((n + 1))
    echo "release: $job" >&2
    rm -rf "${dir:?}/run/$job" "${dir:?}/passed/$job"
    if run_job "$dir" "$job" "$spec" "${a[@]}" 2>"$dir/logs/$job.log"; then
      mv "$dir/run/$job" "$dir/passed/$job" || exit 2
      echo "release: $job passed" >&2
    else
      echo "release: $job FAILED; the end of its log ($dir/logs/$job.log):" >&2
      tail -n 20 "$dir/logs/$job.log" >&2
      failed+=("$job")
    fi
  done < <(plan_jobs "$dir" "$board")
  rm -rf "${dir:?}/run"
  [ $n -gt 0 ] || echo "release: no job for ${board:-any board} in this release's plan" >&2
  [ ${#failed[@]} -eq 0 ] || {
    echo "release: failed: ${failed[*]}" >&2
    exit 1
  }
  ;;
again)
  [ $# -eq 2 ] || die "usage: release.sh again DIR BOARD"
  dir=$1 board=$2
  mkdir -p "$dir/again" || exit 2
  n=0
  while IFS=$'\t' read -r job spec _name _board args; do
    read -ra a <<<"$args"
    echo "release: $job again" >&2
    "$CLIC" build "$spec" "${a[@]}" --out "$dir/again/$job" >/dev/null || exit 1
    n=$((n + 1))
  done < <(plan_jobs "$dir" "$board")
  [ $n -gt 0 ] || echo "release: no job for $board in this release's plan: nothing built again" >&2
  ;;
compare)
  [ $# -eq 1 ] || die "usage: release.sh compare DIR"
  dir=$1 n=0 bad=0
  for again in "$dir"/again/*/; do
    [ -d "$again" ] || continue
    job=$(basename "$again")
    first=$dir/passed/$job
    if [ ! -f "$first/SHA256SUMS" ]; then
      echo "release: $job: no first build to compare with (its job failed?)" >&2
      bad=1
      continue
    fi
    n=$((n + 1))
    if ! diff -u "$first/SHA256SUMS" "$again/SHA256SUMS" >&2; then
      echo "release: $job: NOT REPRODUCIBLE: the two builds' files differ (above)" >&2
      bad=1
      continue
    fi
    for z in "$first"/*.img.zst; do
      cmp "$z" "$again/$(basename "$z")" >&2 || bad=1
    done
    [ $bad -eq 1 ] || echo "release: $job: the two builds are the same, byte for byte ($(grep -c . "$first/SHA256SUMS") files)" >&2
  done
  [ $n -gt 0 ] || {
    echo "release: nothing to compare (is REPRO_BOARD one of this release's boards?)" >&2
    exit 1
  }
  exit $bad
  ;;
merge)
  [ $# -eq 2 ] || die "usage: release.sh merge DIR RELEASE"
  dir=$1 release=$2
  passed=("$dir"/passed/*/)
  [ -d "${passed[0]}" ] || die "no job passed: no release"
  rm -rf "$release" "$release.tmp"
  "$CLIC" release merge "${passed[@]}" --out "$release.tmp" --expect "$dir/plan.json" >/dev/null || {
    rm -rf "$release.tmp"
    exit 2
  }
  # Signed when RELEASE_SIGNING_KEY names an OpenPGP secret key file (a
  # CI variable of type File): SHA256SUMS.asc, checked before the
  # release appears.
  if [ -n "${RELEASE_SIGNING_KEY:-}" ]; then
    gnupg=$(mktemp -d) || exit 2
    if gpg --homedir "$gnupg" --batch --quiet --import "$RELEASE_SIGNING_KEY" &&
      gpg --homedir "$gnupg" --batch --quiet --armor --detach-sign \
        --output "$release.tmp/SHA256SUMS.asc" "$release.tmp/SHA256SUMS" &&
      gpg --homedir "$gnupg" --batch --quiet --verify \
        "$release.tmp/SHA256SUMS.asc" "$release.tmp/SHA256SUMS" 2>/dev/null; then
      gpgconf --homedir "$gnupg" --kill all 2>/dev/null
      rm -rf "$gnupg"
      echo "release: SHA256SUMS signed (SHA256SUMS.asc)" >&2
    else
      gpgconf --homedir "$gnupg" --kill all 2>/dev/null
      rm -rf "$gnupg" "$release.tmp"
      die "signing SHA256SUMS with $RELEASE_SIGNING_KEY failed"
    fi
  fi
  mv "$release.tmp" "$release" || exit 2
  echo "$release"
  ;;
all)
  [ $# -eq 2 ] || die "usage: release.sh all DIR RELEASE"
  dir=$1 release=$2
  rm -rf "$dir"
  bash "$0" plan "$dir" || exit 2
  bash "$0" jobs "$dir"
  rc=$?
  bash "$0" merge "$dir" "$release" || exit 2
  exit $rc
  ;;
*)
  die "usage: release.sh plan|trees|jobs|again|compare|merge|all ... (see its header)"
  ;;
esac
