use clap::Args;
use serde::Serialize;
use std::path::{Path, PathBuf};

use crate::build::{self, BuildOptions, BuildOutput};
use crate::rootfs::Cache;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The image spec (TOML)
    pub spec: PathBuf,
    /// Output directory for NAME.img, NAME.manifest.json, the release
    /// files (NAME.img.zst, NAME.img.bmap, SHA256SUMS, os_list.json) and
    /// the Wi-Fi poster (NAME.poster.html)
    #[arg(long, short, default_value = "out")]
    pub out: PathBuf,
    /// Build for this board instead of the spec's
    #[arg(long)]
    pub board: Option<String>,
    /// Name the image (NAME.img, its files, its os_list.json entry)
    /// instead of the spec's `name`: one spec built for several boards of
    /// one release (`clic plan --board-names`)
    #[arg(long)]
    pub name: Option<String>,
    /// Use only the download cache: no index refresh, no download
    #[arg(long)]
    pub offline: bool,
    /// Bootstrap the Debian tree again even if the cache holds one for the
    /// same packages and indices
    #[arg(long)]
    pub fresh: bool,
    /// Where the temporary work directory goes (default: $TMPDIR)
    #[arg(long)]
    pub workdir: Option<PathBuf>,
    /// Where the files will be published: os_list.json's URLs start with it
    /// (default: bare file names, for a list kept next to the images)
    #[arg(long, value_name = "URL")]
    pub url_base: Option<String>,
    /// Print one JSON document (the image, every file written with its
    /// size and sha256) instead of the image's path
    #[arg(long)]
    pub json: bool,
    /// Only make (or find) the shared Debian tree of the board's
    /// architecture in the cache, and print its path: no board stage, no
    /// image (a release pipeline's tree job, before its board jobs)
    #[arg(long, conflicts_with_all = ["json", "url_base", "name"])]
    pub tree_only: bool,
}

/// `clic build --json`. Field order is fixed.
#[derive(Debug, Serialize)]
pub struct BuildReport {
    /// The disk image, as `clic build` prints it without `--json`.
    pub image: String,
    pub manifest: String,
    pub name: String,
    pub board: String,
    pub arch: String,
    /// Every file written: the image, its `.zst` and `.bmap`, the
    /// manifest, `os_list.json` (Pi boards), the Wi-Fi poster (images
    /// with the hotspot layer), `SHA256SUMS`.
    pub artifacts: Vec<Artifact>,
    /// Seconds each build step took, in order.
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
pub struct Artifact {
    /// `image`, `zstd`, `bmap`, `manifest`, `os_list`, `poster` or
    /// `sha256sums`.
    pub kind: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub seconds: f64,
}

impl BuildReport {
    /// The report of a finished build: the image, `.zst` and `.bmap` from
    /// the manifest (hashed while they were made), the small files hashed
    /// now.
    pub fn new(out: &BuildOutput, out_dir: &Path) -> anyhow::Result<BuildReport> {
        let m = &out.manifest_data;
        let mut artifacts: Vec<Artifact> = m
            .artifacts
            .iter()
            .map(|a| Artifact {
                kind: a.kind.clone(),
                path: out_dir.join(&a.file).display().to_string(),
                size: a.size,
                sha256: a.sha256.clone(),
            })
            .collect();
        let small = [
            ("manifest", Some(&out.manifest)),
            ("os_list", out.release.os_list.as_ref()),
            ("poster", out.poster.as_ref()),
            ("sha256sums", Some(&out.release.sums)),
        ];
        for (kind, path) in small {
            if let Some(path) = path {
                let (size, sha256) = crate::artifact::sums::sha256_file(path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                artifacts.push(Artifact {
                    kind: kind.into(),
                    path: path.display().to_string(),
                    size,
                    sha256,
                });
            }
        }
        Ok(BuildReport {
            image: out.image.display().to_string(),
            manifest: out.manifest.display().to_string(),
            name: m.name.clone(),
            board: m.board.clone(),
            arch: m.arch.clone(),
            artifacts,
            steps: out
                .steps
                .iter()
                .map(|(name, d)| Step {
                    name: name.clone(),
                    seconds: (d.as_secs_f64() * 10.0).round() / 10.0,
                })
                .collect(),
        })
    }
}

pub fn run(a: BuildArgs, data_dir: Option<&Path>, cache: Option<&Path>) -> anyhow::Result<()> {
    if let Some(n) = a
        .name
        .as_deref()
        .filter(|n| !crate::spec::resolve::valid_name(n))
    {
        return Err(super::Exit {
            code: crate::ui::exit::USAGE,
            message: format!(
                "--name `{n}`: not a valid image name: lowercase letters, digits, `-` and `_`, at most 64, starting with a letter or digit"
            ),
        }
        .into());
    }
    let (mut r, data) = super::check::resolve(&a.spec, a.board.as_deref(), data_dir)?;
    if let Some(n) = a.name {
        r.name = n;
    }
    let opts = BuildOptions {
        out_dir: a.out,
        cache: Cache::locate(cache),
        offline: a.offline,
        fresh: a.fresh,
        workdir: a.workdir,
        source_date_epoch: build::source_date_epoch(&a.spec),
        url_base: a.url_base,
    };
    if a.tree_only {
        let tree = build::shared_tree(&r, &opts)?;
        println!("{}", tree.display());
        return Ok(());
    }
    let out_dir = opts.out_dir.clone();
    let started = std::time::SystemTime::now();
    let out = build::build(&r, &data, &opts).inspect_err(|_| {
        // The full log, when this build got far enough to write one.
        let log = crate::ui::build_log_path(&opts.cache.dir, &r.name, &r.board.name);
        let fresh = std::fs::metadata(&log)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= started);
        if fresh {
            crate::ui::line(&format!("clic: the build's full log: {}", log.display()));
        }
    })?;
    if a.json {
        let report = BuildReport::new(&out, &out_dir)?;
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{}", out.image.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::{manifest, release::Published};

    #[test]
    fn json_report_lists_every_file_with_a_fixed_shape() {
        let dir = tempfile::tempdir().unwrap();
        let m = manifest::parse(include_str!("../../../tests/fixtures/manifest-v1.json")).unwrap();
        let put = |name: &str, text: &str| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let out = BuildOutput {
            image: dir.path().join(&m.image.file),
            manifest: put("x.manifest.json", "{}"),
            steps: vec![("rootfs".into(), std::time::Duration::from_millis(1234))],
            release: Published {
                bmap: dir.path().join("x.img.bmap"),
                zst: dir.path().join("x.img.zst"),
                os_list: None,
                sums: put("SHA256SUMS", "sums\n"),
            },
            poster: Some(put("x.poster.html", "<!DOCTYPE html>\n")),
            manifest_data: m.clone(),
        };
        let v = serde_json::to_value(BuildReport::new(&out, dir.path()).unwrap()).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "arch",
                "artifacts",
                "board",
                "image",
                "manifest",
                "name",
                "steps"
            ]
        );
        let arts = v["artifacts"].as_array().unwrap();
        assert_eq!(arts.len(), m.artifacts.len() + 3);
        let kinds: Vec<&str> = arts.iter().filter_map(|a| a["kind"].as_str()).collect();
        assert_eq!(kinds[kinds.len() - 2..], ["poster", "sha256sums"]);
        for a in arts {
            let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["kind", "path", "sha256", "size"]);
        }
        let sums = arts.iter().find(|a| a["kind"] == "sha256sums").unwrap();
        assert_eq!(sums["size"], 5);
        assert_eq!(
            sums["sha256"],
            crate::artifact::sums::sha256_hex(b"sums\n").as_str()
        );
        assert_eq!(v["steps"][0]["seconds"], 1.2);
        let text = serde_json::to_string(&BuildReport::new(&out, dir.path()).unwrap()).unwrap();
        assert!(text.starts_with("{\"image\":"), "{text}");
    }
}
