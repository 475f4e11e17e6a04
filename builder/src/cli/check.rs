use clap::Args;
use std::path::{Path, PathBuf};

use super::Exit;
use crate::data;
use crate::spec::{self, Resolved};

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The image spec (TOML)
    pub spec: PathBuf,
    /// Check for this board instead of the spec's
    #[arg(long)]
    pub board: Option<String>,
}

/// Resolve a spec or turn its diagnostics into an exit with code 2.
pub fn resolve(
    spec_path: &Path,
    board: Option<&str>,
    data_dir: Option<&Path>,
) -> anyhow::Result<(Resolved, data::DataDir)> {
    let data = data::locate(data_dir)?;
    let opts = spec::Options {
        data: &data,
        board_override: board,
    };
    match spec::resolve(spec_path, &opts) {
        Ok(r) => Ok((r, data)),
        Err(d) => Err(Exit {
            code: 2,
            message: d.to_string().trim_end().to_owned(),
        }
        .into()),
    }
}

pub fn run(a: CheckArgs, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let (r, _) = resolve(&a.spec, a.board.as_deref(), data_dir)?;
    println!("{}: ok", a.spec.display());
    println!("  image    {} ({})", r.name, r.description);
    println!(
        "  board    {} ({}, {})",
        r.board.name, r.board.profile.arch, r.board.profile.description
    );
    println!("  suite    {} from {}", r.suite, r.mirror);
    println!(
        "  layers   {}",
        r.layers
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  packages {}", r.packages.join(" "));
    if !r.extra_packages.is_empty() {
        println!("  extra    {} (board and spec)", r.extra_packages.join(" "));
    }
    println!(
        "  system   hostname={} locale={} timezone={}",
        r.hostname, r.locale, r.timezone
    );
    for p in &r.content {
        println!(
            "  content  {} ({} items, {})",
            p.id,
            p.items.len(),
            crate::spec::size::human(p.size())
        );
    }
    for a in crate::spec::apt::repos(&r.layers) {
        println!(
            "  apt      {} (layer {}): {} key {}",
            a.name,
            a.layer,
            a.source_line(&a.keyring_in_image()),
            a.fingerprint.as_deref().unwrap_or("NOT PINNED")
        );
    }
    for s in crate::layers::steps::steps(&r.layers) {
        println!("  step     {}: {}", s.id, s.title_en);
    }
    // Not an error of the spec: the layer waits for its key. `clic build`
    // refuses it.
    for w in crate::spec::apt::unpinned(&r.layers) {
        eprintln!("warning: {w}; `clic build` refuses to use it until then");
    }
    Ok(())
}
