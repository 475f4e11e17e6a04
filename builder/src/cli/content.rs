use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

use super::Exit;
use crate::content::{pack, ContentCache};
use crate::rootfs::Cache;
use crate::spec::size::human;

#[derive(Args, Debug)]
pub struct ContentArgs {
    #[command(subcommand)]
    pub command: ContentCommand,
}

#[derive(Subcommand, Debug)]
pub enum ContentCommand {
    /// Download every item of a spec's packs (or of one pack file) into
    /// the content cache, and a spec's layers' pinned downloads, each
    /// verified against its sha256; an interrupted download resumes where
    /// it stopped
    Fetch {
        /// An image spec or a pack file (TOML)
        file: PathBuf,
    },
}

pub fn run(a: ContentArgs, data_dir: Option<&Path>, cache: Option<&Path>) -> anyhow::Result<()> {
    match a.command {
        ContentCommand::Fetch { file } => fetch(&file, data_dir, cache),
    }
}

fn fetch(file: &Path, data_dir: Option<&Path>, cache: Option<&Path>) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let (packs, layers) = if pack::looks_like_pack(&text) {
        let p = pack::load(file).map_err(|d| Exit {
            code: 2,
            message: d.to_string().trim_end().to_owned(),
        })?;
        (vec![p], Vec::new())
    } else {
        let r = super::check::resolve(file, None, data_dir)?.0;
        (r.content, r.layers)
    };
    let root = Cache::locate(cache).dir;
    let cache = ContentCache::locate(&root);
    let fetching = crate::ui::Stage::start("fetching content");
    let fetched = cache.ensure(&packs, false)?;
    // A spec's layers' pinned downloads too, so that an offline build
    // finds everything it needs.
    let downloads = crate::downloads::DownloadCache::locate(&root);
    let fetched_downloads = downloads.ensure(&layers, false)?;
    drop(fetching);
    let (n, size) = packs
        .iter()
        .flat_map(|p| &p.items)
        .fold((0, 0), |(n, s), i| (n + 1, s + i.size));
    println!(
        "{n} items ({}) in {}; {} fetched now",
        human(size),
        cache.dir.display(),
        fetched.len()
    );
    let pinned: Vec<u64> = layers
        .iter()
        .flat_map(|l| &l.def.downloads)
        .map(|d| *d.size.get_ref())
        .collect();
    if !pinned.is_empty() {
        println!(
            "{} downloads of the layers ({}) in {}; {} fetched now",
            pinned.len(),
            human(pinned.iter().sum()),
            downloads.dir.display(),
            fetched_downloads.len()
        );
    }
    Ok(())
}
