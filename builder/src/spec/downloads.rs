//! `[[downloads]]` in layer.toml: files Debian does not ship (a web
//! client from the npm registry...), pinned by size and sha256, fetched
//! once into the cache (`crate::downloads`) and copied, or unpacked, into
//! the image.
//!
//! ```toml
//! [[downloads]]
//! url = "https://registry.npmjs.org/converse.js/-/converse.js-14.0.0.tgz"
//! sha256 = "634f31fa..."
//! size = 8745393
//! unpack = "tar"          # absent: the file itself goes to `dest`
//! strip = 1               # leading path components dropped (npm's package/)
//! include = ["dist/converse.min.js", "dist/locales/fr-*.js"]
//! dest = "/usr/share/clic/converse"
//! licence = "MPL-2.0"
//! ```
//!
//! `include` entries are prefixes (a file, or a directory and all below
//! it) or globs (`*` and `?` within one path component, `**` across
//! them); each must select something when the archive is unpacked. No
//! `include`: the whole archive.

use serde::Deserialize;
use toml::Spanned;

use super::binaries::valid_install_path;
use super::diag::{Diagnostic, Source};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DownloadDef {
    /// `https://`, `http://` or `file://` (tests, local mirrors).
    pub url: Spanned<String>,
    pub sha256: Spanned<String>,
    pub size: Spanned<u64>,
    /// `tar` (any compression GNU tar reads); absent: copy the file.
    #[serde(default)]
    pub unpack: Option<Spanned<String>>,
    /// Leading path components dropped from the archive's members.
    #[serde(default)]
    pub strip: Option<Spanned<u32>>,
    /// What to keep of the archive (after `strip`): prefixes or globs.
    #[serde(default)]
    pub include: Vec<Spanned<String>>,
    /// Absolute path in the image: the directory the archive is unpacked
    /// into, or the file itself.
    pub dest: Spanned<String>,
    /// SPDX licence of what is downloaded, shown on the portal.
    pub licence: Spanned<String>,
}

/// How an archive is unpacked.
pub const UNPACK: &[&str] = &["tar"];

impl DownloadDef {
    pub fn unpacked(&self) -> bool {
        self.unpack.is_some()
    }
    pub fn strip(&self) -> usize {
        self.strip.as_ref().map_or(0, |s| *s.get_ref() as usize)
    }
    pub fn include(&self) -> Vec<String> {
        self.include.iter().map(|s| s.get_ref().clone()).collect()
    }
    /// A short name for people: the URL's file name without its archive
    /// extension (`converse.js-14.0.0`).
    pub fn name(&self) -> String {
        let url = self.url.get_ref();
        let file = url
            .split(['?', '#'])
            .next()
            .unwrap_or(url)
            .rsplit('/')
            .next()
            .unwrap_or(url);
        for ext in [".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tgz", ".tar"] {
            if let Some(stem) = file.strip_suffix(ext) {
                return stem.to_owned();
            }
        }
        file.to_owned()
    }
}

fn valid_url(u: &str) -> bool {
    let rest = ["https://", "http://", "file:///"]
        .iter()
        .find_map(|s| u.strip_prefix(s));
    rest.is_some_and(|r| !r.is_empty()) && !u.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn is_hex_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An `include` entry: a relative path or glob, no `..`, no empty
/// component (a trailing `/` is allowed: a directory).
fn valid_include(p: &str) -> bool {
    let p = p.strip_suffix('/').unwrap_or(p);
    !p.is_empty()
        && !p.starts_with('/')
        && !p.chars().any(char::is_control)
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Check the `[[downloads]]` of a layer.
pub fn check(src: &Source, defs: &[DownloadDef]) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    for (i, x) in defs.iter().enumerate() {
        let k = |f: &str| format!("downloads[{i}].{f}");
        let url = x.url.get_ref();
        if !valid_url(url) {
            d.push(
                src.diag(
                    Some(x.url.span()),
                    &k("url"),
                    format!("`{url}` is not an https://, http:// or file:/// URL"),
                )
                .with_hint("e.g. url = \"https://registry.npmjs.org/converse.js/-/converse.js-14.0.0.tgz\""),
            );
        }
        if !is_hex_sha256(x.sha256.get_ref()) {
            d.push(
                src.diag(
                    Some(x.sha256.span()),
                    &k("sha256"),
                    "must be 64 hexadecimal digits",
                )
                .with_hint("sha256sum FILE"),
            );
        }
        if *x.size.get_ref() == 0 {
            d.push(src.diag(
                Some(x.size.span()),
                &k("size"),
                "must be the file's size in bytes, not 0",
            ));
        }
        if let Some(u) = &x.unpack {
            if !UNPACK.contains(&u.get_ref().as_str()) {
                d.push(
                    src.diag(
                        Some(u.span()),
                        &k("unpack"),
                        format!("`{}` is not a way to unpack", u.get_ref()),
                    )
                    .with_hint(format!(
                        "unpack = {}; leave it out to copy the file itself",
                        UNPACK.join(", ")
                    )),
                );
            }
        } else {
            if let Some(s) = &x.strip {
                d.push(
                    src.diag(Some(s.span()), &k("strip"), "only applies to an archive")
                        .with_hint("add unpack = \"tar\", or remove strip"),
                );
            }
            if let Some(p) = x.include.first() {
                d.push(
                    src.diag(Some(p.span()), &k("include"), "only applies to an archive")
                        .with_hint("add unpack = \"tar\", or remove include"),
                );
            }
        }
        if x.strip.as_ref().is_some_and(|s| *s.get_ref() > 16) {
            let s = x.strip.as_ref().map(|s| s.span());
            d.push(src.diag(s, &k("strip"), "must be 0 to 16 path components"));
        }
        for (j, p) in x.include.iter().enumerate() {
            let v = p.get_ref();
            if !valid_include(v) {
                d.push(
                    src.diag(
                        Some(p.span()),
                        &format!("{}[{j}]", k("include")),
                        format!("`{v}` is not a relative path or glob inside the archive"),
                    )
                    .with_hint("e.g. \"dist/converse.min.js\", \"dist/locales/\" or \"dist/*.css\" (after strip)"),
                );
            } else if x.include[..j].iter().any(|o| o.get_ref() == v) {
                d.push(src.diag(
                    Some(p.span()),
                    &format!("{}[{j}]", k("include")),
                    format!("`{v}` is listed twice"),
                ));
            }
        }
        let dest = x.dest.get_ref();
        if !valid_install_path(dest) {
            d.push(
                src.diag(
                    Some(x.dest.span()),
                    &k("dest"),
                    format!("`{dest}` is not an absolute path in the image"),
                )
                .with_hint("e.g. dest = \"/usr/share/clic/converse\""),
            );
        } else if let Some(o) = defs[..i].iter().find(|o| overlaps(o.dest.get_ref(), dest)) {
            d.push(src.diag(
                Some(x.dest.span()),
                &k("dest"),
                format!(
                    "`{dest}` overlaps `{}`, another download's",
                    o.dest.get_ref()
                ),
            ));
        }
        if let Some(why) = crate::content::pack::spdx_problem(x.licence.get_ref()) {
            d.push(
                src.diag(
                    Some(x.licence.span()),
                    &k("licence"),
                    format!(
                        "`{}` is not an SPDX licence expression: {why}",
                        x.licence.get_ref()
                    ),
                )
                .with_hint(
                    "identifiers from https://spdx.org/licenses/, e.g. MPL-2.0, GPL-2.0-only",
                ),
            );
        }
    }
    d
}

/// One of two image paths is the other or below it.
fn overlaps(a: &str, b: &str) -> bool {
    let below = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    below(a, b) || below(b, a)
}

/// A member's path with its first `n` components dropped (`./` and empty
/// components ignored); `None` when nothing is left (tar's
/// `--strip-components` drops those members too).
pub fn strip_path(path: &str, n: usize) -> Option<String> {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    (parts.len() > n).then(|| parts[n..].join("/"))
}

/// Glob over whole paths: `*` and `?` within a component, `**` any run of
/// characters, `/` included.
fn glob(p: &[u8], n: &[u8]) -> bool {
    match p {
        [] => n.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=n.len()).any(|i| glob(rest, &n[i..])),
        [b'*', rest @ ..] => glob(rest, n) || (!n.is_empty() && n[0] != b'/' && glob(p, &n[1..])),
        [b'?', rest @ ..] => !n.is_empty() && n[0] != b'/' && glob(rest, &n[1..]),
        [c, rest @ ..] => n.first() == Some(c) && glob(rest, &n[1..]),
    }
}

/// Whether `path` (a file of the archive, after strip) is selected by the
/// include entry `pattern`.
pub fn matches(pattern: &str, path: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob(pattern.as_bytes(), path.as_bytes())
    } else {
        let prefix = pattern.strip_suffix('/').unwrap_or(pattern);
        path == prefix || path.starts_with(&format!("{prefix}/"))
    }
}

/// The files of `paths` that `include` keeps (all of them if it is
/// empty), in the order given; or the entries that selected nothing.
pub fn select<'a>(paths: &[&'a str], include: &[String]) -> Result<Vec<&'a str>, Vec<String>> {
    if include.is_empty() {
        return Ok(paths.to_vec());
    }
    let unused: Vec<String> = include
        .iter()
        .filter(|p| !paths.iter().any(|f| matches(p, f)))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(unused);
    }
    Ok(paths
        .iter()
        .copied()
        .filter(|f| include.iter().any(|p| matches(p, f)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(text: &str) -> (Source, Vec<DownloadDef>) {
        #[derive(Deserialize)]
        struct T {
            downloads: Vec<DownloadDef>,
        }
        let src = Source {
            path: "layer.toml".into(),
            text: text.into(),
        };
        let t: T = src.parse().unwrap();
        (src, t.downloads)
    }

    const SHA: &str = "634f31fa0f7b0e47f1abc60d870ff6805c737577399920ebe92da4c7e5bcaff0";

    #[test]
    fn a_good_download_passes_and_is_named() {
        let (src, d) = defs(&format!(
            "[[downloads]]\nurl = \"https://registry.npmjs.org/converse.js/-/converse.js-14.0.0.tgz\"\nsha256 = \"{SHA}\"\nsize = 8745393\nunpack = \"tar\"\nstrip = 1\ninclude = [\"dist/converse.min.js\", \"dist/*.css\"]\ndest = \"/usr/share/clic/converse\"\nlicence = \"MPL-2.0\"\n\n[[downloads]]\nurl = \"file:///srv/x.bin\"\nsha256 = \"{SHA}\"\nsize = 1\ndest = \"/usr/share/x.bin\"\nlicence = \"CC0-1.0\"\n"
        ));
        assert_eq!(check(&src, &d), []);
        assert_eq!(d[0].name(), "converse.js-14.0.0");
        assert_eq!(d[0].strip(), 1);
        assert!(d[0].unpacked() && !d[1].unpacked());
        assert_eq!(d[1].name(), "x.bin");
    }

    #[test]
    fn bad_downloads_are_named_at_their_lines() {
        let (src, d) = defs(&format!(
            "[[downloads]]\nurl = \"ftp://x/y.tgz\"\nsha256 = \"abc\"\nsize = 0\nunpack = \"zip\"\nstrip = 99\ninclude = [\"../etc\", \"a\", \"a\"]\ndest = \"usr/share\"\nlicence = \"MPL 2\"\n\n[[downloads]]\nurl = \"https://x/y.bin\"\nsha256 = \"{SHA}\"\nsize = 3\nstrip = 1\ninclude = [\"a\"]\ndest = \"/usr/share/y\"\nlicence = \"MIT\"\n\n[[downloads]]\nurl = \"https://x/z.bin\"\nsha256 = \"{SHA}\"\nsize = 3\ndest = \"/usr/share/y/z\"\nlicence = \"MIT\"\n"
        ));
        let got = check(&src, &d);
        let keys: Vec<(&str, usize)> = got.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            keys,
            [
                ("downloads[0].url", 2),
                ("downloads[0].sha256", 3),
                ("downloads[0].size", 4),
                ("downloads[0].unpack", 5),
                ("downloads[0].strip", 6),
                ("downloads[0].include[0]", 7),
                ("downloads[0].include[2]", 7),
                ("downloads[0].dest", 8),
                ("downloads[0].licence", 9),
                ("downloads[1].strip", 15),
                ("downloads[1].include", 16),
                ("downloads[2].dest", 24),
            ],
            "{got:#?}"
        );
    }

    #[test]
    fn strip_drops_leading_components() {
        assert_eq!(
            strip_path("package/dist/a.js", 1).as_deref(),
            Some("dist/a.js")
        );
        assert_eq!(
            strip_path("./package/dist/a.js", 1).as_deref(),
            Some("dist/a.js")
        );
        assert_eq!(
            strip_path("package/a.js", 0).as_deref(),
            Some("package/a.js")
        );
        assert_eq!(strip_path("package/", 1), None);
        assert_eq!(strip_path("README", 1), None);
    }

    #[test]
    fn include_takes_prefixes_and_globs() {
        assert!(matches("dist/converse.min.js", "dist/converse.min.js"));
        assert!(!matches("dist/converse.min.js", "dist/converse.min.js.map"));
        assert!(matches("dist/webfonts", "dist/webfonts/muli.ttf"));
        assert!(matches("dist/webfonts/", "dist/webfonts/muli.ttf"));
        assert!(!matches("dist/web", "dist/webfonts/muli.ttf"));
        assert!(matches("dist/*.css", "dist/converse.min.css"));
        assert!(!matches("dist/*.css", "dist/sub/x.css"));
        assert!(matches("dist/**.css", "dist/sub/x.css"));
        assert!(matches(
            "dist/**/fr-*.js",
            "dist/chunkjs/locales/fr-LC_MESSAGES-converse-po.js"
        ));
        assert!(!matches(
            "dist/**/fr-*.js",
            "dist/chunkjs/locales/fr-LC_MESSAGES-converse-po.js.map"
        ));
        assert!(matches("dist/?.js", "dist/a.js"));
        assert!(!matches("dist/?.js", "dist/ab.js"));
    }

    #[test]
    fn select_keeps_order_and_names_unused_entries() {
        let files = ["dist/a.js", "dist/a.js.map", "dist/b.css", "LICENSE"];
        let inc = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            select(&files, &inc(&["LICENSE", "dist/*.js"])),
            Ok(vec!["dist/a.js", "LICENSE"])
        );
        assert_eq!(select(&files, &[]), Ok(files.to_vec()));
        assert_eq!(
            select(&files, &inc(&["dist/a.js", "dist/c.js", "fonts/"])),
            Err(inc(&["dist/c.js", "fonts/"]))
        );
    }
}
