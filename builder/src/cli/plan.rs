//! `clic plan SPEC... --json`: a release's jobs without building anything.
//! For each spec and board, the Debian trees the build needs (boards of
//! one architecture and package set share the first), their cache files
//! and the artifacts it makes; stable order and output, so a CI
//! configuration can be generated from it.

use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::check;
use crate::data;
use crate::rootfs::{self, Cache};
use crate::spec::{profile, Resolved};

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The image specs of the release (TOML)
    #[arg(required = true)]
    pub specs: Vec<PathBuf>,
    /// Plan each spec for this board instead of the spec's (repeat for
    /// several boards)
    #[arg(long = "board", value_name = "BOARD", conflicts_with = "all_boards")]
    pub boards: Vec<String>,
    /// Plan each spec for every board it can be built for (boards that
    /// refuse it are listed under `skipped`)
    #[arg(long)]
    pub all_boards: bool,
    /// Name each job's image NAME-BOARD (built with `clic build --name`),
    /// so that one spec's images for several boards can be merged into one
    /// release
    #[arg(long)]
    pub board_names: bool,
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
}

/// `clic plan --json`. Field order is fixed.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Plan {
    /// Shared Debian trees, by suite, architecture and id.
    pub trees: Vec<Tree>,
    /// One per spec and board, in the order the specs were given, then by
    /// board name.
    pub jobs: Vec<Job>,
    /// Spec and board pairs left out by `--all-boards`.
    pub skipped: Vec<Skipped>,
}

/// A shared Debian tree: built once, unpacked by every job naming it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Tree {
    /// What the tree is made of (its command, no package indices): the
    /// same on any machine.
    pub id: String,
    pub suite: String,
    pub arch: String,
    /// Its file in the cache's `trees/` (from the package indices in the
    /// cache; null when the cache has none yet).
    pub file: Option<String>,
    /// The cache holds `file`.
    pub cached: bool,
    /// Jobs using it (`job` names).
    pub jobs: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Job {
    /// `SPEC-NAME.BOARD`: unique in a plan.
    pub job: String,
    pub spec: String,
    /// The image's name (NAME.img).
    pub name: String,
    pub board: String,
    pub arch: String,
    pub suite: String,
    /// QEMU firmware of its boot test (the board's default).
    pub firmware: Option<String>,
    /// `clic build` arguments after SPEC for this job (`--board`, and
    /// `--name` with `--board-names`).
    pub build_args: Vec<String>,
    /// The shared tree's `id`.
    pub tree: String,
    /// The board stage on top of it.
    pub board_stage: Stage,
    /// Files `clic build` writes in the output directory.
    pub artifacts: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub file: Option<String>,
    pub cached: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Skipped {
    pub spec: String,
    pub board: String,
    /// The first problem `clic check --board` finds.
    pub reason: String,
}

/// The files a build of `r` writes (pure): the image, its compressed copy
/// and block map, the manifest, the Wi-Fi poster (with a hotspot),
/// `os_list.json` (boards Raspberry Pi Imager knows), `SHA256SUMS`.
pub fn artifacts(r: &Resolved, poster: bool) -> Vec<String> {
    let n = &r.name;
    let mut v = vec![
        format!("{n}.img"),
        format!("{n}.img.bmap"),
        format!("{n}.img.zst"),
        format!("{n}.manifest.json"),
    ];
    if poster {
        v.push(crate::artifact::poster::file_name(n));
    }
    if !r.board.profile.imager_devices.is_empty() {
        v.push("os_list.json".into());
    }
    v.push("SHA256SUMS".into());
    v.sort();
    v
}

/// One planned build (pure once the tree plan is known): `r` already
/// carries the job's image name.
pub fn job(
    spec: &Path,
    r: &Resolved,
    t: &rootfs::TreePlan,
    poster: bool,
    renamed: bool,
) -> (Job, Tree) {
    let short = |s: &str| s.chars().take(16).collect::<String>();
    let arch = r.board.profile.arch.clone();
    let mut build_args = vec!["--board".to_owned(), r.board.name.clone()];
    if renamed {
        build_args.extend(["--name".to_owned(), r.name.clone()]);
    }
    let job = Job {
        job: format!("{}.{}", r.name, r.board.name),
        spec: spec.display().to_string(),
        name: r.name.clone(),
        board: r.board.name.clone(),
        arch: arch.clone(),
        suite: r.suite.clone(),
        firmware: r.board.profile.qemu.firmware.first().map(|f| f.to_string()),
        build_args,
        tree: short(&t.shared_recipe),
        board_stage: Stage {
            id: short(&t.board_recipe),
            file: t.files.as_ref().map(|f| f.1.clone()),
            cached: t.cached.1,
        },
        artifacts: artifacts(r, poster),
    };
    let tree = Tree {
        id: short(&t.shared_recipe),
        suite: r.suite.clone(),
        arch,
        file: t.files.as_ref().map(|f| f.0.clone()),
        cached: t.cached.0,
        jobs: vec![job.job.clone()],
    };
    (job, tree)
}

/// The plan of these jobs (pure): trees merged by id, in a stable order.
pub fn assemble(jobs: Vec<(Job, Tree)>, skipped: Vec<Skipped>) -> anyhow::Result<Plan> {
    let mut trees: BTreeMap<(String, String, String), Tree> = BTreeMap::new();
    let mut out = Vec::new();
    let mut seen = BTreeMap::new();
    for (j, t) in jobs {
        if let Some(spec) = seen.insert(j.job.clone(), j.spec.clone()) {
            anyhow::bail!(
                "{} and {} both make `{}` for board {}: two jobs of one release cannot have the same image name and board",
                spec,
                j.spec,
                j.name,
                j.board
            );
        }
        let k = (t.suite.clone(), t.arch.clone(), t.id.clone());
        match trees.get_mut(&k) {
            Some(have) => have.jobs.extend(t.jobs),
            None => {
                trees.insert(k, t);
            }
        }
        out.push(j);
    }
    for t in trees.values_mut() {
        t.jobs.sort();
    }
    Ok(Plan {
        trees: trees.into_values().collect(),
        jobs: out,
        skipped,
    })
}

pub fn run(a: PlanArgs, data_dir: Option<&Path>, cache: Option<&Path>) -> anyhow::Result<()> {
    let data = data::locate(data_dir)?;
    let cache = Cache::locate(cache);
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    for spec in &a.specs {
        let mut resolved = Vec::new();
        if a.all_boards {
            for path in profile::list(&data.profiles())? {
                let board = profile::load(&path)
                    .map_err(|d| anyhow::anyhow!("{d}"))?
                    .name;
                match check::resolve_diag(spec, Some(&board), data_dir)?.0 {
                    Ok(r) => resolved.push(r),
                    Err(d) => skipped.push(Skipped {
                        spec: spec.display().to_string(),
                        board,
                        reason: d.0.first().map(|p| p.message.clone()).unwrap_or_default(),
                    }),
                }
            }
        } else if a.boards.is_empty() {
            resolved.push(check::resolve(spec, None, data_dir)?.0);
        } else {
            let mut boards = a.boards.clone();
            boards.sort();
            boards.dedup();
            for b in &boards {
                resolved.push(check::resolve(spec, Some(b), data_dir)?.0);
            }
        }
        resolved.sort_by(|x, y| x.board.name.cmp(&y.board.name));
        let epoch = crate::build::source_date_epoch(spec);
        for r in &mut resolved {
            if a.board_names {
                r.name = format!("{}-{}", r.name, r.board.name);
                if !crate::spec::resolve::valid_name(&r.name) {
                    anyhow::bail!(
                        "{}: `{}` is not a valid image name (at most 64 characters)",
                        spec.display(),
                        r.name
                    );
                }
            }
            let r = &*r;
            let req = crate::build::rootfs_request(r, epoch);
            let trees = rootfs::plan(&req, &cache)?;
            let poster = crate::artifact::poster::render(&r.settings, &r.hostname)
                .map_err(|e| anyhow::anyhow!("{}: the Wi-Fi poster: {e}", spec.display()))?
                .is_some();
            jobs.push(job(spec, r, &trees, poster, a.board_names));
        }
    }
    let plan = assemble(jobs, skipped)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&plan)?);
        return Ok(());
    }
    for t in &plan.trees {
        println!(
            "tree {} {}/{}{}: {}",
            t.id,
            t.suite,
            t.arch,
            if t.cached { " (cached)" } else { "" },
            t.jobs.join(" ")
        );
    }
    for j in &plan.jobs {
        println!(
            "job {} ({}, {}): tree {}, board stage {}{}",
            j.job,
            j.spec,
            j.arch,
            j.tree,
            j.board_stage.id,
            if j.board_stage.cached {
                " (cached)"
            } else {
                ""
            }
        );
    }
    for s in &plan.skipped {
        eprintln!(
            "clic plan: {} for {}: skipped: {}",
            s.spec, s.board, s.reason
        );
    }
    Ok(())
}
