#!/usr/bin/env bash
# Runs .gitlab-ci.yml on this machine with gitlab-ci-local (its shell
# executor, each job in a directory of its own, GitLab's caches and
# artifacts between them) on a snapshot of the working tree:
#   tests/gitlab-local.sh DIR [gitlab-ci-local options, e.g. --variable K=V]
# DIR/src is the snapshot (tracked and new files, as one commit; the
# pipeline's state, caches and artifacts in DIR/src/.gitlab-ci-local, its
# caches kept for the next run in DIR), the release in DIR/src/release; the pipeline's log with each job's time on
# stderr. Jobs run two at a time (CONCURRENCY). Used by tests/pipeline.rs
# and tests/bench-release.sh; tests/install-deps.sh installs
# gitlab-ci-local (tests/ci).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || {
  echo "usage: tests/gitlab-local.sh DIR [gitlab-ci-local options]" >&2
  exit 2
}
dir=$1
shift
glcl=$repo/tests/ci/node_modules/.bin/gitlab-ci-local
[ -x "$glcl" ] || {
  echo "gitlab-local: $glcl is missing: run tests/install-deps.sh" >&2
  exit 2
}
# GitLab's caches stay from one run to the next, as on a runner.
if [ -d "$dir/src/.gitlab-ci-local/cache" ]; then
  rm -rf "$dir/gitlab-cache"
  mv "$dir/src/.gitlab-ci-local/cache" "$dir/gitlab-cache"
fi
rm -rf "$dir/src"
mkdir -p "$dir/src"
if [ -d "$dir/gitlab-cache" ]; then
  mkdir -p "$dir/src/.gitlab-ci-local"
  mv "$dir/gitlab-cache" "$dir/src/.gitlab-ci-local/cache"
fi
(cd "$repo" && git ls-files -z -co --exclude-standard) |
  rsync -a --from0 --ignore-missing-args --files-from=- "$repo/" "$dir/src/"
cd "$dir/src"
{
  git init -q
  git add -A
  git -c user.email=ci@clic.invalid -c user.name=ci commit -qm snapshot
  # gitlab-ci-local reads the project's path from the remote.
  git remote add origin https://framagit.org/clic/clic.git
} >&2
# --force-shell-executor: the jobs' Docker image cannot be pulled here.
exec "$glcl" --force-shell-executor --shell-isolation --concurrency "${CONCURRENCY:-2}" \
  --timestamps --no-color "$@" >&2
