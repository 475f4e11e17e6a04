//! Content packs: load (`pack`), fetch into a content-addressed cache
//! (`cache`), decide where each pack goes and what the library shows
//! (`catalogue`, pure), then place the files and pages into the image
//! (`stage`).

pub mod cache;
pub mod catalogue;
pub mod pack;
pub mod stage;

use std::path::{Path, PathBuf};

pub use cache::ContentCache;
pub use pack::{Item, Kind, Pack};

use crate::spec::diag::{Diagnostic, Diagnostics, Source};

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error(
        "{} content item{} {} not in the cache ({}){}{}",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "is" } else { "are" },
        cache.display(),
        cache::missing_report(missing),
        if *offline {
            "\n    nothing was built; run `clic content fetch SPEC` where there is a network, or copy the cache"
        } else {
            "\n    nothing was built"
        }
    )]
    Missing {
        offline: bool,
        cache: PathBuf,
        missing: Vec<cache::Missing>,
    },
    #[error("cached content for item `{item}` ({file}) has sha256 {got}, not its pin: removed from the cache; fetch it again")]
    Corrupt {
        item: String,
        file: PathBuf,
        got: String,
    },
    #[error("html bundle `{pack}/{item}` has no index.html at its top")]
    NoIndex { pack: String, item: String },
    #[error("html bundle `{pack}/{item}`: {path} is a link to {target}, outside the bundle; a bundle may only link to its own files (the web server would otherwise serve what the link reaches)")]
    BundleLink {
        pack: String,
        item: String,
        path: String,
        target: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{context}: {source}")]
    Cmd {
        context: String,
        source: crate::cmd::CmdError,
    },
    #[error(transparent)]
    Render(#[from] crate::layers::render::RenderError),
    #[error("interrupted")]
    Interrupted,
}

/// Where a spec's `content = [...]` entry points: `name` is
/// `<data>/content/<name>.toml`, anything ending in `.toml` a path
/// relative to the spec.
pub fn pack_path(entry: &str, spec_dir: &Path, data_root: &Path) -> PathBuf {
    if entry.ends_with(".toml") {
        spec_dir.join(entry)
    } else {
        data_root.join("content").join(format!("{entry}.toml"))
    }
}

/// Load the packs a spec lists; problems are diagnostics at the spec's
/// line (a pack that does not exist, two packs with one id) or in the
/// pack's own file.
pub fn load_packs(
    entries: &[toml::Spanned<String>],
    src: &Source,
    spec_dir: &Path,
    data_root: &Path,
) -> (Vec<Pack>, Diagnostics) {
    let mut d = Diagnostics::default();
    let mut packs: Vec<Pack> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let key = format!("content[{i}]");
        let path = pack_path(e.get_ref(), spec_dir, data_root);
        if !path.is_file() {
            d.0.push(
                src.diag(
                    Some(e.span()),
                    &key,
                    format!("content pack `{}` not found: {} does not exist", e.get_ref(), path.display()),
                )
                .with_hint("a name from content/ (without .toml), or a path to a pack file relative to the spec"),
            );
            continue;
        }
        match pack::load(&path) {
            Ok(p) => {
                if packs.iter().any(|o| o.id == p.id) {
                    d.0.push(src.diag(
                        Some(e.span()),
                        &key,
                        format!("two content packs have the id `{}`", p.id),
                    ));
                } else {
                    packs.push(p);
                }
            }
            Err(e) => d.extend(e),
        }
    }
    (packs, d)
}

/// Layers the content needs: the library pages are the portal's, ZIM
/// files are kiwix's. Diagnostics at the spec's `content` key.
pub fn check_layers(
    packs: &[Pack],
    layers: &[String],
    src: &Source,
    span: Option<std::ops::Range<usize>>,
) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    if !packs.is_empty() && !layers.iter().any(|l| l == "portal") {
        d.push(
            src.diag(
                span.clone(),
                "content",
                "content packs need the `portal` layer (the library pages are part of it)",
            )
            .with_hint("add \"portal\" to layers"),
        );
    }
    let zim = packs
        .iter()
        .flat_map(|p| p.items.iter().map(move |i| (p, i)))
        .find(|(_, i)| i.kind == Kind::Zim);
    if let Some((p, i)) = zim {
        if !layers.iter().any(|l| l == "kiwix") {
            d.push(
                src.diag(
                    span,
                    "content",
                    format!(
                        "item `{}/{}` is a ZIM file: it needs the `kiwix` layer",
                        p.id, i.id
                    ),
                )
                .with_hint("add \"kiwix\" to layers"),
            );
        }
    }
    d
}
