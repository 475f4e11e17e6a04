use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::artifact::{manifest, release};
use crate::data;
use crate::spec::profile;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    /// The disk image (NAME.img); the files are written next to it
    #[arg(required = true)]
    pub image: Option<PathBuf>,
    /// Where the files will be published: os_list.json's URLs start with it
    /// (default: bare file names, for a list kept next to the images)
    #[arg(long, value_name = "URL")]
    pub url_base: Option<String>,
}

#[derive(clap::Subcommand, Debug)]
pub enum ReleaseCommand {
    /// Merge the output directories of several builds (one per board)
    /// into one release: their files, one os_list.json, one SHA256SUMS
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Output directories of `clic build` (each with its SHA256SUMS)
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// The release directory to make (must not exist, or be empty)
    #[arg(long, short)]
    pub out: PathBuf,
    /// `clic plan --json` of the release: name the jobs whose images are
    /// missing (a board whose build failed)
    #[arg(long, value_name = "PLAN.json")]
    pub expect: Option<PathBuf>,
}

/// `clic release merge`: the release directory on stdout; missing images
/// (with `--expect`) on stderr, the release made without them.
fn merge(a: MergeArgs) -> anyhow::Result<()> {
    use crate::artifact::merge;
    let expected: Vec<(String, String)> = match &a.expect {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
            let plan: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{}: not JSON (clic plan --json)", p.display()))?;
            let jobs = plan["jobs"]
                .as_array()
                .with_context(|| format!("{}: no `jobs` list (clic plan --json)", p.display()))?;
            jobs.iter()
                .map(|j| match (j["name"].as_str(), j["board"].as_str()) {
                    (Some(n), Some(b)) => Ok((n.to_owned(), b.to_owned())),
                    _ => Err(anyhow::anyhow!(
                        "{}: a job without `name` and `board`: {j}",
                        p.display()
                    )),
                })
                .collect::<anyhow::Result<_>>()?
        }
        None => Vec::new(),
    };
    let inputs = a
        .dirs
        .iter()
        .map(|d| merge::read_input(d))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = merge::merge(&inputs)?;
    merge::write(&merged, &a.out)?;
    for (name, board) in &merged.images {
        eprintln!("clic: release: {name} for {board}");
    }
    let missing = merge::missing(&expected, &merged);
    for (name, board) in &missing {
        eprintln!("clic: release: MISSING {name} for {board} (its build did not reach this merge)");
    }
    if !missing.is_empty() {
        eprintln!(
            "clic: release made without {} of the {} planned images",
            missing.len(),
            expected.len()
        );
    }
    println!("{}", a.out.display());
    Ok(())
}

/// `clic release IMAGE`: the release files of an image already built (or
/// made by other means): `.img.bmap`, `.img.zst`, the manifest's artifact
/// list, `os_list.json` for a Pi board, `SHA256SUMS`. `clic build` writes
/// the same files itself.
pub fn run(a: ReleaseArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    if let Some(ReleaseCommand::Merge(m)) = a.command {
        return merge(m);
    }
    let Some(image) = a.image else {
        anyhow::bail!("clic release: an image (NAME.img) or `merge`");
    };
    let a = ReleaseOne {
        image,
        url_base: a.url_base,
    };
    let meta = std::fs::metadata(&a.image).with_context(|| format!("{}", a.image.display()))?;
    if !meta.is_file() {
        anyhow::bail!("{} is not an image file", a.image.display());
    }
    let name = a
        .image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".img"))
        .with_context(|| {
            format!(
                "{}: the image's name must end in .img (NAME.img)",
                a.image.display()
            )
        })?;
    let dir = match a.image.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let manifest_path = manifest::path_for_image(&a.image);
    let mut m = if manifest_path.is_file() {
        Some(manifest::read(&manifest_path)?)
    } else {
        eprintln!(
            "note: no {} next to the image: no manifest update and no os_list.json",
            manifest_path.display()
        );
        None
    };
    let os_list = match &m {
        Some(m) => os_list_source(m, data_dir, a.url_base.clone())?,
        None => None,
    };
    let pending = release::prepare(&a.image, &name, &dir, None)?;
    let manifest_tmp = match &mut m {
        Some(m) => {
            m.artifacts = pending.artifacts();
            let mut tmp = tempfile::Builder::new()
                .prefix(".manifest.")
                .tempfile_in(&dir)
                .context("creating the manifest")?;
            tmp.write_all(manifest::to_json(m).as_bytes())
                .context("writing the manifest")?;
            let file = manifest_path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some((tmp, file))
        }
        None => None,
    };
    let p = pending.publish(None, manifest_tmp, os_list.as_ref())?;
    for f in [
        Some(&p.zst),
        Some(&p.bmap),
        p.os_list.as_ref(),
        Some(&p.sums),
    ]
    .into_iter()
    .flatten()
    {
        println!("{}", f.display());
    }
    Ok(())
}

struct ReleaseOne {
    image: PathBuf,
    url_base: Option<String>,
}

/// The os_list entry's data when the manifest's board is a Pi.
fn os_list_source(
    m: &manifest::Manifest,
    data_dir: Option<&Path>,
    url_base: Option<String>,
) -> anyhow::Result<Option<release::OsListSource>> {
    let Ok(d) = data::locate(data_dir) else {
        eprintln!("note: no profiles/ found: no os_list.json");
        return Ok(None);
    };
    let path = d.profile_path(&m.board);
    if !path.is_file() {
        eprintln!(
            "note: board `{}` has no profile here: no os_list.json",
            m.board
        );
        return Ok(None);
    }
    let p = profile::load(&path).map_err(|e| anyhow::anyhow!("{e}"))?;
    if p.profile.imager_devices.is_empty() {
        return Ok(None);
    }
    Ok(Some(release::OsListSource {
        description: m.description.clone(),
        board_description: p.profile.description.clone(),
        devices: p.profile.imager_devices.clone(),
        source_date_epoch: m.source_date_epoch,
        url_base,
    }))
}
