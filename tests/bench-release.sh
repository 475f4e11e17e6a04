#!/usr/bin/env bash
# make bench-release: one release of two boards of different architectures
# (BENCH_BOARDS; BENCH_SPEC, the small spec unless set: the default spec
# takes about three times as long), each run from an empty cache:
#   one machine  tests/release.sh all, as `make release` runs it: every
#                job one after the other; its wall time (the baseline)
#   pipeline     .gitlab-ci.yml run by gitlab-ci-local
#                (tests/gitlab-local.sh: two jobs at a time on this
#                machine); its wall time here, and its critical path: the
#                longest chain of jobs, from the jobs' own times (plan,
#                an architecture's tree job and its longest board job, or
#                the job that builds a board again, then the release
#                stage's longest job), i.e. the release's time on GitLab
#                with a runner free for every job
# and the ratios to the one-machine time. The pipeline's jobs share this
# machine's 2 cores, so its job times, and the critical path with them,
# are longer here than on runners of their own.
set -euo pipefail
cd "$(dirname "$0")/.."
CLIC=$(realpath "${CLIC:-target/release/clic}")
SPEC=${BENCH_SPEC:-tests/fixtures/clic-small.toml}
BOARDS=${BENCH_BOARDS:-ordinosaure-amd64 ordinosaure-i386}
work=$(mktemp -d "${TMPDIR:-/var/tmp}/clic-bench-release.XXXXXX")
trap 'rm -rf "$work"' EXIT
. tests/bench-lib.sh

# Both runs date their images alike (the spec's last commit), so that
# both make the same release.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct -- "$SPEC")
export SOURCE_DATE_EPOCH
echo "bench-release: $SPEC for $BOARDS, $(nproc) cores, $(date -u +%F), empty caches"
t0=$(now)
CLIC=$CLIC CLIC_CACHE=$work/one-cache RELEASE_SPECS=$SPEC RELEASE_BOARDS=$BOARDS \
  bash tests/release.sh all "$work/one/jobs" "$work/one/release" >/dev/null 2>"$work/one.log" || {
  echo "bench-release: the one-machine release failed" >&2
  tail -n 30 "$work/one.log" >&2
  exit 1
}
t1=$(now)
one=$(secs "$t0" "$t1")
read -ra first <<<"$BOARDS"
t0=$(now)
bash tests/gitlab-local.sh "$work/pl" --variable "RELEASE_SPECS=$SPEC" --variable "RELEASE_BOARDS=$BOARDS" \
  --variable "REPRO_BOARD=${first[0]}" --variable "CLIC_PREBUILT=$CLIC" \
  --variable "SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH" 2>"$work/pipeline.log" || {
  echo "bench-release: the pipeline failed" >&2
  tail -n 40 "$work/pipeline.log" >&2
  exit 1
}
t1=$(now)
wall=$(secs "$t0" "$t1")
same=no
cmp -s "$work/one/release/SHA256SUMS" "$work/pl/src/release/SHA256SUMS" && same=yes
# The jobs' times from the pipeline's summary, and the critical path.
critical=$(python3 - "$work/pipeline.log" <<'PY'
import re, sys
t = {}
for line in open(sys.argv[1]):
    m = re.match(r"\s*(PASS|WARN)\s+\[\s*([\d.]+)\s*(ms|s|min)\]\s+(.+?)\s*$", line)
    if m:
        v = float(m.group(2)) * {"ms": 0.001, "s": 1, "min": 60}[m.group(3)]
        t[m.group(4).split("  ")[0].strip()] = v
def longest(prefix):
    return max([v for k, v in t.items() if k.startswith(prefix)] or [0])
chains = []
for arch in ["amd64", "i386", "arm64", "armhf", "armel"]:
    chains.append(t.get("trees: [%s]" % arch, 0) + longest("board-%s:" % arch))
chains.append(t.get("board-again", 0))
path = t.get("plan", 0) + max(chains) + max(t.get("release", 0), t.get("reproducible", 0))
print("%.0f" % path)
PY
)
printf '\n%-44s %10s %10s\n' "release of $(wc -w <<<"$BOARDS") boards" "seconds" "ratio"
printf '%-44s %10s %10s\n' "one machine (make release, baseline)" "$one" "1.00"
printf '%-44s %10s %10s\n' "pipeline, wall time here (2 jobs at a time)" "$wall" "$(ratio "$wall" "$one")"
printf '%-44s %10s %10s\n' "pipeline, critical path (a runner per job)" "$critical" "$(ratio "$critical" "$one")"
printf '%-44s %10s\n' "the same release (SHA256SUMS)" "$same"
printf '\njobs:\n'
grep -E '^\s*(PASS|FAIL|WARN)\s' "$work/pipeline.log" | sed 's/^/  /'
