//! What the library pages show and where each item lives on the box, and
//! the search index. Pure: packs in, values out.
//!
//! On the box: a pack's files are in `/srv/clic/content/<pack>/` (on the
//! root filesystem, or a link to `/srv/clic/data/<pack>/` on the data
//! partition), served by nginx at `/content/<pack>/`. `html` bundles are
//! also unpacked into `<id>/` and served as sites; ZIM files are linked
//! from `/srv/clic/zim/`, kiwix-serve's library directory.
//!
//! Search without JavaScript: a static index made at build time. Every
//! word of the items' titles, descriptions, tags, attributions and pack
//! titles (lowercased, accents folded) gets a results page; an nginx `map`
//! turns the query (`?q=`, percent-encoded as browsers send it, any case,
//! with or without accents, plural `s`/`x`) into the page of the first
//! known word it contains. No daemon, no code run on what visitors type,
//! nothing to install on the box; the cost is one small page per word.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::pack::{Item, Kind, Pack};
use crate::spec::size::human;

/// Where packs live in the image tree, and the data partition's mount point.
pub const CONTENT_DIR: &str = "/srv/clic/content";
pub const DATA_MOUNT: &str = "/srv/clic/data";
pub const ZIM_DIR: &str = "/srv/clic/zim";
pub const URL_PREFIX: &str = "/content";

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Catalogue {
    pub packs: Vec<CataloguePack>,
    /// Languages of the items, sorted.
    pub languages: Vec<String>,
    /// Kinds of the items, in the order of [`super::pack::KINDS`].
    pub kinds: Vec<String>,
    pub items: usize,
    pub size: u64,
    pub size_h: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CataloguePack {
    pub id: String,
    pub title: String,
    pub description: String,
    pub languages: Vec<String>,
    pub size: u64,
    pub size_h: String,
    /// On the data partition rather than the root filesystem.
    pub on_data: bool,
    pub items: Vec<CatalogueItem>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CatalogueItem {
    pub pack: String,
    pub pack_title: String,
    pub id: String,
    pub title: String,
    pub description: String,
    pub language: String,
    pub kind: String,
    pub licence: String,
    pub attribution: String,
    pub sha256: String,
    pub size: u64,
    pub size_h: String,
    /// The file, as served: `/content/<pack>/<file>`.
    pub link: String,
    /// Where to read it in the browser when that is not the file itself:
    /// the unpacked site of an `html` bundle, kiwix for a ZIM.
    pub read: Option<String>,
    /// `/content/<pack>/<cover>`.
    pub cover: Option<String>,
    pub tags: Vec<String>,
    /// File name in the pack's directory.
    pub file: String,
}

/// Which packs go on the data partition: those of `large_pack` bytes or
/// more, when the board has one.
pub fn on_data(packs: &[Pack], large_pack: Option<u64>) -> Vec<bool> {
    packs
        .iter()
        .map(|p| large_pack.is_some_and(|t| p.size() >= t))
        .collect()
}

/// File name of an item on the box. ZIM files carry their pack's id: kiwix
/// names a book after its file, and books of all packs share one library.
pub fn box_file_name(pack: &Pack, item: &Item) -> String {
    let name = item.file_name();
    if item.kind == Kind::Zim {
        format!("{}_{name}", pack.id)
    } else {
        name
    }
}

/// The book name kiwix-serve gives a ZIM item (its file name without `.zim`).
pub fn kiwix_book(pack: &Pack, item: &Item) -> String {
    let f = box_file_name(pack, item);
    f.strip_suffix(".zim").unwrap_or(&f).to_owned()
}

pub fn cover_name(item: &Item) -> Option<String> {
    let c = item.cover.as_ref()?;
    let ext = c.extension()?.to_string_lossy().to_ascii_lowercase();
    Some(format!("{}.cover.{ext}", item.id))
}

pub fn catalogue(packs: &[Pack], data: &[bool]) -> Catalogue {
    let mut languages = BTreeSet::new();
    let mut kinds = BTreeSet::new();
    let mut out = Vec::new();
    for (i, p) in packs.iter().enumerate() {
        let items: Vec<CatalogueItem> = p
            .items
            .iter()
            .map(|it| {
                languages.insert(it.language.clone());
                kinds.insert(it.kind);
                let file = box_file_name(p, it);
                let base = format!("{URL_PREFIX}/{}", p.id);
                let read = match it.kind {
                    Kind::Html => Some(format!("{base}/{}/", it.id)),
                    Kind::Zim => Some(format!("/kiwix/{}/", kiwix_book(p, it))),
                    _ => None,
                };
                CatalogueItem {
                    pack: p.id.clone(),
                    pack_title: p.title.clone(),
                    id: it.id.clone(),
                    title: it.title.clone(),
                    description: it.description.clone(),
                    language: it.language.clone(),
                    kind: it.kind.name().to_owned(),
                    licence: it.licence.clone(),
                    attribution: it.attribution.clone(),
                    sha256: it.sha256.clone(),
                    size: it.size,
                    size_h: human(it.size),
                    link: format!("{base}/{file}"),
                    read,
                    cover: cover_name(it).map(|c| format!("{base}/{c}")),
                    tags: it.tags.clone(),
                    file,
                }
            })
            .collect();
        out.push(CataloguePack {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            languages: p.languages.clone(),
            size: p.size(),
            size_h: human(p.size()),
            on_data: data.get(i).copied().unwrap_or(false),
            items,
        });
    }
    let size = packs.iter().map(Pack::size).sum();
    Catalogue {
        items: out.iter().map(|p| p.items.len()).sum(),
        packs: out,
        languages: languages.into_iter().collect(),
        kinds: kinds.into_iter().map(|k| k.name().to_owned()).collect(),
        size,
        size_h: human(size),
    }
}

/// Accented Latin letters and what they fold to.
const FOLDS: &[(char, &str)] = &[
    ('à', "a"),
    ('á', "a"),
    ('â', "a"),
    ('ã', "a"),
    ('ä', "a"),
    ('å', "a"),
    ('æ', "ae"),
    ('ç', "c"),
    ('è', "e"),
    ('é', "e"),
    ('ê', "e"),
    ('ë', "e"),
    ('ì', "i"),
    ('í', "i"),
    ('î', "i"),
    ('ï', "i"),
    ('ñ', "n"),
    ('ò', "o"),
    ('ó', "o"),
    ('ô', "o"),
    ('õ', "o"),
    ('ö', "o"),
    ('ø', "o"),
    ('œ', "oe"),
    ('ù', "u"),
    ('ú', "u"),
    ('û', "u"),
    ('ü', "u"),
    ('ý', "y"),
    ('ÿ', "y"),
];

/// Lowercase, accents folded, everything but `a-z0-9` a space.
pub fn fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if let Some((_, f)) = FOLDS.iter().find(|(a, _)| *a == c) {
            out.push_str(f);
        } else {
            out.push(' ');
        }
    }
    out
}

const STOP: &[&str] = &[
    "les", "des", "une", "pour", "avec", "dans", "par", "sur", "est", "aux", "qui", "que", "the",
    "and", "for", "with", "from", "this", "that", "are",
];

/// The words an item is found by: folded, 3 characters or more, no
/// common French or English small words, plural `s`/`x` dropped.
pub fn words(pack_title: &str, it: &CatalogueItem) -> BTreeSet<String> {
    let text = [
        it.title.as_str(),
        &it.description,
        &it.attribution,
        pack_title,
        &it.tags.join(" "),
    ]
    .join(" ");
    fold(&text)
        .split_whitespace()
        .map(stem)
        .filter(|w| w.len() >= 3 && !STOP.contains(&w.as_str()))
        .collect()
}

fn stem(w: &str) -> String {
    match w.strip_suffix(['s', 'x']) {
        Some(s) if s.len() >= 3 => s.to_owned(),
        _ => w.to_owned(),
    }
}

/// word -> the (pack index, item index) it finds, in catalogue order.
pub fn index(c: &Catalogue) -> BTreeMap<String, Vec<(usize, usize)>> {
    let mut idx: BTreeMap<String, Vec<(usize, usize)>> = BTreeMap::new();
    for (pi, p) in c.packs.iter().enumerate() {
        for (ii, it) in p.items.iter().enumerate() {
            for w in words(&p.title, it) {
                idx.entry(w).or_default().push((pi, ii));
            }
        }
    }
    idx
}

/// A PCRE pattern matching `c` in a percent-encoded query: the letter in
/// any case, or the UTF-8 encoding of any accented letter folding to it.
fn char_pattern(c: char) -> String {
    let mut alts = vec![c.to_string()];
    for (a, f) in FOLDS {
        if f.len() == 1 && f.starts_with(c) {
            for v in std::iter::once(*a).chain(a.to_uppercase()) {
                let mut buf = [0u8; 4];
                let enc: String = v
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect();
                if !alts.contains(&enc) {
                    alts.push(enc);
                }
            }
        }
    }
    if alts.len() == 1 {
        c.to_string()
    } else {
        format!("(?:{})", alts.join("|"))
    }
}

/// What separates words in a query as browsers encode it.
const SEP: &str = r"(?:^|$|[+ ,.'-]|%20|%2C|%27|%22|%2F|%3A|%3B|%3F|%21)";

/// The nginx `map` from `$arg_q` to a results page name. Words that find
/// fewer items come first: the most telling word of a query wins.
pub fn nginx_map(idx: &BTreeMap<String, Vec<(usize, usize)>>) -> String {
    let mut words: Vec<(&String, usize)> = idx.iter().map(|(w, v)| (w, v.len())).collect();
    words.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
    let mut s = String::from(
        "# Written by clic (content packs): the library's search, a static index.\n\
         # The query (?q=) is matched against every word of the catalogue; the\n\
         # first word found names the results page (see README, \"Library\").\n\
         map $arg_q $clic_library_word {\n    default \"\";\n",
    );
    for (w, _) in words {
        let pat: String = w.chars().map(char_pattern).collect();
        s.push_str(&format!("    \"~*{SEP}{pat}(?:s|x)?{SEP}\" {w};\n"));
    }
    s.push_str("}\n");
    // HTML from content packs runs sandboxed (see clic-site.d/clic-library.conf);
    // other types (PDF, video) are left alone: a sandboxed PDF does not show.
    s.push_str(
        "map $sent_http_content_type $clic_content_csp {\n    default \"\";\n    \"~*^text/html\" \"sandbox allow-scripts allow-forms allow-popups allow-popups-to-escape-sandbox allow-downloads\";\n}\n",
    );
    s
}

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;
