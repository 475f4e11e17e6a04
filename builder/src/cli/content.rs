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
    /// the content cache, verified against its sha256; an interrupted
    /// download resumes where it stopped
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
    let packs = if pack::looks_like_pack(&text) {
        vec![pack::load(file).map_err(|d| Exit {
            code: 2,
            message: d.to_string().trim_end().to_owned(),
        })?]
    } else {
        super::check::resolve(file, None, data_dir)?.0.content
    };
    let cache = ContentCache::locate(&Cache::locate(cache).dir);
    let fetching = crate::ui::Stage::start("fetching content");
    let fetched = cache.ensure(&packs, false)?;
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
    Ok(())
}
