use clap::Args;
use std::path::{Path, PathBuf};

use crate::build::{self, BuildOptions};
use crate::rootfs::Cache;

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The image spec (TOML)
    pub spec: PathBuf,
    /// Output directory for NAME.img, NAME.manifest.json and the release
    /// files (NAME.img.zst, NAME.img.bmap, SHA256SUMS, os_list.json)
    #[arg(long, short, default_value = "out")]
    pub out: PathBuf,
    /// Build for this board instead of the spec's
    #[arg(long)]
    pub board: Option<String>,
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
}

pub fn run(a: BuildArgs, data_dir: Option<&Path>, cache: Option<&Path>) -> anyhow::Result<()> {
    let (r, data) = super::check::resolve(&a.spec, a.board.as_deref(), data_dir)?;
    let opts = BuildOptions {
        out_dir: a.out,
        cache: Cache::locate(cache),
        offline: a.offline,
        fresh: a.fresh,
        workdir: a.workdir,
        source_date_epoch: build::source_date_epoch(&a.spec),
        url_base: a.url_base,
    };
    let out = build::build(&r, &data, &opts)?;
    println!("{}", out.image.display());
    Ok(())
}
