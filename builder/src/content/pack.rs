//! Content packs: `content/<id>.toml`. A pack lists works (items), each
//! pinned by sha256 and size, with an SPDX licence expression and an
//! attribution. Loading checks everything and reports every problem at
//! once with file, line and key (the spec's diagnostics).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::spec::diag::{Diagnostic, Diagnostics, Source};

/// What an item is; decides how the box serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Pdf,
    Epub,
    Video,
    Audio,
    /// A web site in a tar archive (a course): unpacked and served as a site.
    Html,
    /// A ZIM archive, registered in kiwix-serve's library.
    Zim,
}

pub const KINDS: &[&str] = &["pdf", "epub", "video", "audio", "html", "zim"];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "pdf" => Kind::Pdf,
            "epub" => Kind::Epub,
            "video" => Kind::Video,
            "audio" => Kind::Audio,
            "html" => Kind::Html,
            "zim" => Kind::Zim,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        KINDS[self as usize]
    }
}

/// `content/<id>.toml` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    id: Spanned<String>,
    title: String,
    description: String,
    languages: Spanned<Vec<String>>,
    #[serde(default)]
    items: Vec<Spanned<ItemFile>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemFile {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    description: Option<String>,
    language: Spanned<String>,
    kind: Spanned<String>,
    /// Optional in serde so that a missing one is reported with its line.
    #[serde(default)]
    licence: Option<Spanned<String>>,
    #[serde(default)]
    attribution: Option<Spanned<String>>,
    source: Spanned<String>,
    sha256: Spanned<String>,
    size: Spanned<u64>,
    #[serde(default)]
    cover: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Where an item's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSource {
    Url(String),
    /// A file next to the pack (absolute after loading).
    Path(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub kind: Kind,
    /// SPDX expression, as written (validated).
    pub licence: String,
    pub attribution: String,
    pub source: ItemSource,
    /// Lowercase hex.
    pub sha256: String,
    pub size: u64,
    /// An image next to the pack, shown on the library pages.
    pub cover: Option<PathBuf>,
    pub tags: Vec<String>,
}

impl Item {
    /// File name on the box: the id and the source's extension (a tar
    /// archive for `html` bundles).
    pub fn file_name(&self) -> String {
        let last = match &self.source {
            ItemSource::Url(u) => u
                .split(['?', '#'])
                .next()
                .unwrap_or(u)
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_owned(),
            ItemSource::Path(p) => p
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        let ext = extension(&last).unwrap_or_else(|| default_extension(self.kind).to_owned());
        format!("{}.{ext}", self.id)
    }
}

/// `tar.gz`, `pdf`... of a file name, lowercase, safe characters only.
fn extension(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    for two in [".tar.gz", ".tar.xz", ".tar.zst"] {
        if lower.ends_with(two) {
            return Some(two[1..].to_owned());
        }
    }
    let (_, ext) = lower.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 8 && ext.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then(|| ext.to_owned())
}

fn default_extension(kind: Kind) -> &'static str {
    match kind {
        Kind::Pdf => "pdf",
        Kind::Epub => "epub",
        Kind::Video => "webm",
        Kind::Audio => "ogg",
        Kind::Html => "tar",
        Kind::Zim => "zim",
    }
}

#[derive(Debug, Clone)]
pub struct Pack {
    pub id: String,
    pub title: String,
    pub description: String,
    pub languages: Vec<String>,
    pub items: Vec<Item>,
    /// The pack file.
    pub path: PathBuf,
}

impl Pack {
    pub fn size(&self) -> u64 {
        self.items.iter().map(|i| i.size).sum()
    }
}

/// Lowercase letters, digits and `-`, `_`, `.`; starts with a letter or digit.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// BCP 47, the common forms: `fr`, `fra`, `pt-BR`, `zh-Hant`.
pub fn valid_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let lang = parts.next().unwrap_or("");
    (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_lowercase())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

pub fn valid_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A path relative to the pack that stays inside its directory.
fn relative_inside(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// `https://host/...`, or plain `http://` to this machine only (a local
/// mirror or a test server: the sha256 pin is what makes a download safe,
/// https keeps what a box carries private).
pub fn valid_url(s: &str) -> bool {
    let ok_rest = |rest: &str| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !rest.contains(char::is_whitespace)
    };
    if let Some(rest) = s.strip_prefix("https://") {
        return ok_rest(rest);
    }
    if let Some(rest) = s.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
        return ok_rest(rest) && matches!(name, "127.0.0.1" | "localhost" | "[::1]");
    }
    false
}

/// What is wrong with an SPDX licence expression (strict SPDX syntax and
/// identifiers from the SPDX list; `LicenseRef-...` allowed), if anything.
pub fn spdx_problem(s: &str) -> Option<String> {
    match spdx::Expression::parse(s) {
        Ok(_) => None,
        Err(e) => Some(e.reason.to_string()),
    }
}

/// Load and check one pack file.
pub fn load(path: &Path) -> Result<Pack, Diagnostics> {
    let src = Source::read(path)?;
    let file: PackFile = src.parse()?;
    let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let mut d = Diagnostics::default();
    let at = |span: std::ops::Range<usize>, key: String, msg: String| -> Diagnostic {
        src.diag(Some(span), &key, msg)
    };
    if !valid_id(file.id.get_ref()) {
        d.0.push(
            at(
                file.id.span(),
                "id".into(),
                format!("`{}` is not a valid pack id", file.id.get_ref()),
            )
            .with_hint("use lowercase letters, digits, `-`, `_`, `.`"),
        );
    }
    for l in file.languages.get_ref() {
        if !valid_language(l) {
            d.0.push(at(
                file.languages.span(),
                "languages".into(),
                format!("`{l}` is not a language tag (e.g. `fr`, `pt-BR`)"),
            ));
        }
    }
    if file.items.is_empty() {
        d.0.push(src.diag(None, "items", "a pack needs at least one [[items]]"));
    }
    let mut seen = BTreeSet::new();
    let mut items = Vec::new();
    for (i, it) in file.items.iter().enumerate() {
        let key = |k: &str| format!("items[{i}].{k}");
        let item = it.get_ref();
        let id = item.id.get_ref();
        if !valid_id(id) {
            d.0.push(
                at(
                    item.id.span(),
                    key("id"),
                    format!("`{id}` is not a valid item id"),
                )
                .with_hint("use lowercase letters, digits, `-`, `_`, `.`"),
            );
        }
        if !seen.insert(id.clone()) {
            d.0.push(at(
                item.id.span(),
                key("id"),
                format!("duplicate item id `{id}` in pack `{}`", file.id.get_ref()),
            ));
        }
        let lang = item.language.get_ref();
        if !valid_language(lang) {
            d.0.push(at(
                item.language.span(),
                key("language"),
                format!("`{lang}` is not a language tag (e.g. `fr`, `pt-BR`)"),
            ));
        } else if !file.languages.get_ref().contains(lang) {
            d.0.push(
                at(
                    item.language.span(),
                    key("language"),
                    format!("language `{lang}` is not among the pack's languages"),
                )
                .with_hint(format!(
                    "add it to `languages` ({})",
                    file.languages.get_ref().join(", ")
                )),
            );
        }
        let kind = Kind::parse(item.kind.get_ref());
        if kind.is_none() {
            d.0.push(
                at(
                    item.kind.span(),
                    key("kind"),
                    format!("unknown kind `{}`", item.kind.get_ref()),
                )
                .with_hint(format!("kinds: {}", KINDS.join(", "))),
            );
        }
        let licence = match &item.licence {
            None => {
                d.0.push(
                    at(
                        item.id.span(),
                        key("licence"),
                        format!("item `{id}` has no licence"),
                    )
                    .with_hint(
                        "every item needs an SPDX licence expression, e.g. licence = \"CC-BY-SA-4.0\"",
                    ),
                );
                String::new()
            }
            Some(l) => {
                if let Some(why) = spdx_problem(l.get_ref()) {
                    d.0.push(
                        at(
                            l.span(),
                            key("licence"),
                            format!("`{}` is not an SPDX licence expression: {why}", l.get_ref()),
                        )
                        .with_hint("identifiers from https://spdx.org/licenses/, e.g. CC-BY-SA-4.0, CC0-1.0, GFDL-1.3-or-later"),
                    );
                }
                l.get_ref().clone()
            }
        };
        let attribution = match &item.attribution {
            Some(a) if !a.get_ref().trim().is_empty() => a.get_ref().clone(),
            Some(a) => {
                d.0.push(at(a.span(), key("attribution"), "empty attribution".into()));
                String::new()
            }
            None => {
                d.0.push(
                    at(
                        item.id.span(),
                        key("attribution"),
                        format!("item `{id}` has no attribution"),
                    )
                    .with_hint("who made the work, as its licence asks to credit them"),
                );
                String::new()
            }
        };
        let sha = item.sha256.get_ref();
        if !valid_sha256(sha) {
            d.0.push(at(
                item.sha256.span(),
                key("sha256"),
                format!(
                    "`{sha}` is not a sha256: it has {} characters, a sha256 is 64 hex digits",
                    sha.len()
                ),
            ));
        }
        if *item.size.get_ref() == 0 {
            d.0.push(at(
                item.size.span(),
                key("size"),
                "size 0: an empty file".into(),
            ));
        }
        let s = item.source.get_ref();
        let source = if s.contains("://") {
            if !valid_url(s) {
                d.0.push(
                    at(
                        item.source.span(),
                        key("source"),
                        format!("`{s}` is not an https:// URL"),
                    )
                    .with_hint("an https:// URL, or a path relative to the pack file (http:// only to 127.0.0.1 or localhost)"),
                );
            }
            ItemSource::Url(s.clone())
        } else {
            if !relative_inside(s) {
                d.0.push(at(
                    item.source.span(),
                    key("source"),
                    format!(
                        "`{s}` must be a path inside the pack's directory (no `..`, not absolute)"
                    ),
                ));
            } else if !dir.join(s).is_file() {
                d.0.push(at(
                    item.source.span(),
                    key("source"),
                    format!("file `{}` does not exist", dir.join(s).display()),
                ));
            }
            ItemSource::Path(dir.join(s))
        };
        if kind == Some(Kind::Html) {
            let last = s
                .rsplit('/')
                .next()
                .unwrap_or(s)
                .split(['?', '#'])
                .next()
                .unwrap_or("");
            let ext = extension(last).unwrap_or_default();
            if !["tar", "tar.gz", "tgz", "tar.xz", "tar.zst"].contains(&ext.as_str()) {
                d.0.push(
                    at(
                        item.source.span(),
                        key("source"),
                        format!("an html bundle is a tar archive; `{s}` is not one"),
                    )
                    .with_hint(
                        "a .tar (or .tar.gz, .tgz, .tar.xz, .tar.zst) with index.html at its top",
                    ),
                );
            }
        }
        let cover = match &item.cover {
            None => None,
            Some(c) => {
                let p = c.get_ref();
                let image = [".png", ".jpg", ".jpeg", ".webp", ".svg"]
                    .iter()
                    .any(|e| p.to_ascii_lowercase().ends_with(e));
                if !relative_inside(p) || !dir.join(p).is_file() || !image {
                    d.0.push(at(
                        c.span(),
                        key("cover"),
                        format!(
                            "cover `{p}` must be a PNG, JPEG, WebP or SVG file next to the pack"
                        ),
                    ));
                }
                Some(dir.join(p))
            }
        };
        items.push(Item {
            id: id.clone(),
            title: item.title.clone(),
            description: item.description.clone().unwrap_or_default(),
            language: lang.clone(),
            kind: kind.unwrap_or(Kind::Pdf),
            licence,
            attribution,
            source,
            sha256: sha.to_ascii_lowercase(),
            size: *item.size.get_ref(),
            cover,
            tags: item.tags.clone(),
        });
    }
    d.into_result(Pack {
        id: file.id.into_inner(),
        title: file.title,
        description: file.description,
        languages: file.languages.into_inner(),
        items,
        path: path.to_owned(),
    })
}

/// Is this TOML text a pack (rather than a spec)? Packs have `[[items]]`.
pub fn looks_like_pack(text: &str) -> bool {
    text.parse::<toml::Table>()
        .map(|t| t.contains_key("items"))
        .unwrap_or(false)
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
