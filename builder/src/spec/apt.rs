//! `[[apt]]` in layer.toml: an extra apt repository with its signing key,
//! an armored file in the layer pinned by fingerprint. The pin is checked
//! here, before any work; apt then checks the repository's Release
//! signature with exactly that key (`signed-by=`).

use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

use super::diag::{Diagnostic, Source};
use super::layer::LoadedLayer;
use super::openpgp;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptRepoDef {
    /// Short name: the key is installed as
    /// `/usr/share/keyrings/clic-<name>.asc`.
    pub name: Spanned<String>,
    /// `http://` or `https://` URL of the repository (the directory holding
    /// `dists/`).
    pub url: Spanned<String>,
    /// The repository's suite (`bookworm`, `stable`...).
    pub suite: Spanned<String>,
    pub components: Spanned<Vec<String>>,
    /// The armored public key file, relative to the layer directory.
    pub key: Spanned<String>,
    /// The key's fingerprint (40 or 64 hex digits, spaces allowed). Absent:
    /// not pinned yet; `clic check` says so and `clic build` refuses.
    #[serde(default)]
    pub fingerprint: Option<Spanned<String>>,
    /// The Debian suites this repository is made for (empty: any).
    #[serde(default)]
    pub debian_suites: Vec<String>,
}

/// An extra repository as a build uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptRepo {
    pub layer: String,
    pub name: String,
    pub url: String,
    pub suite: String,
    pub components: Vec<String>,
    /// The key file on the host.
    pub key: PathBuf,
    /// Normalised; `None` when not pinned yet.
    pub fingerprint: Option<String>,
    pub debian_suites: Vec<String>,
}

impl AptRepo {
    /// Where the key is in the image (and in the build's chroot).
    pub fn keyring_in_image(&self) -> String {
        format!("/usr/share/keyrings/clic-{}.asc", self.name)
    }

    /// The source line, in the image and for the build's apt.
    pub fn source_line(&self, keyring: &str) -> String {
        format!(
            "deb [signed-by={keyring}] {} {} {}",
            self.url,
            self.suite,
            self.components.join(" ")
        )
    }
}

/// Every extra repository of the image's layers, in layer order.
pub fn repos(layers: &[LoadedLayer]) -> Vec<AptRepo> {
    layers
        .iter()
        .flat_map(|l| {
            l.def.apt.iter().map(move |a| AptRepo {
                layer: l.name.clone(),
                name: a.name.get_ref().clone(),
                url: a.url.get_ref().clone(),
                suite: a.suite.get_ref().clone(),
                components: a.components.get_ref().clone(),
                key: l.dir.join(a.key.get_ref()),
                fingerprint: a
                    .fingerprint
                    .as_ref()
                    .and_then(|f| openpgp::normalise_fingerprint(f.get_ref())),
                debian_suites: a.debian_suites.clone(),
            })
        })
        .collect()
}

/// Repositories whose key is not pinned yet, as messages naming the layer
/// file: `clic check` prints them, `clic build` refuses with them.
pub fn unpinned(layers: &[LoadedLayer]) -> Vec<String> {
    repos(layers)
        .iter()
        .filter(|r| r.fingerprint.is_none())
        .map(|r| {
            format!(
                "apt repository `{}` of layer `{}` has no pinned signing key: put the key at {} and its fingerprint in `fingerprint` (README: \"Extra apt repositories\")",
                r.name,
                r.layer,
                r.key.display()
            )
        })
        .collect()
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// One word of a source line: no spaces, brackets or quotes.
fn valid_word(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./+~".contains(c))
}

fn valid_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://"))
        && s.len() > "https://".len()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '[' | ']' | '"' | '\''))
}

/// A path inside the layer: relative, no `..`.
fn inside(p: &str) -> bool {
    let p = Path::new(p);
    !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
}

/// Check the `[[apt]]` entries of one layer; `dir` is the layer directory.
pub fn check(src: &Source, dir: &Path, apt: &[AptRepoDef]) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    for (i, a) in apt.iter().enumerate() {
        let k = |f: &str| format!("apt[{i}].{f}");
        let name = a.name.get_ref();
        if !valid_name(name) {
            d.push(
                src.diag(
                    Some(a.name.span()),
                    &k("name"),
                    format!("`{name}` is not a valid repository name"),
                )
                .with_hint("lower-case letters, digits and `-`"),
            );
        } else if apt[..i].iter().any(|o| o.name.get_ref() == name) {
            d.push(src.diag(
                Some(a.name.span()),
                &k("name"),
                format!("repository `{name}` is declared twice"),
            ));
        }
        if !valid_url(a.url.get_ref()) {
            d.push(
                src.diag(
                    Some(a.url.span()),
                    &k("url"),
                    format!("`{}` is not an http:// or https:// URL", a.url.get_ref()),
                )
                .with_hint(
                    "the directory that holds `dists/`, e.g. http://forge.example.org/debian/",
                ),
            );
        }
        if !valid_word(a.suite.get_ref()) {
            d.push(src.diag(
                Some(a.suite.span()),
                &k("suite"),
                format!("`{}` is not a suite name", a.suite.get_ref()),
            ));
        }
        let comps = a.components.get_ref();
        if comps.is_empty() || !comps.iter().all(|c| valid_word(c)) {
            d.push(
                src.diag(
                    Some(a.components.span()),
                    &k("components"),
                    "needs one or more component names",
                )
                .with_hint("e.g. components = [\"main\"]"),
            );
        }
        let pin = match &a.fingerprint {
            None => None,
            Some(f) => match openpgp::normalise_fingerprint(f.get_ref()) {
                Some(n) => Some((n, f.span())),
                None => {
                    d.push(
                        src.diag(Some(f.span()), &k("fingerprint"), format!("`{}` is not a key fingerprint", f.get_ref()))
                            .with_hint("40 hex digits (64 for a v6 key), as `gpg --show-keys --with-fingerprint FILE` prints; a short key id is not enough"),
                    );
                    continue;
                }
            },
        };
        if !inside(a.key.get_ref()) {
            d.push(
                src.diag(
                    Some(a.key.span()),
                    &k("key"),
                    format!("`{}` is not a path inside the layer", a.key.get_ref()),
                )
                .with_hint("e.g. key = \"keys/example.asc\""),
            );
            continue;
        }
        let path = dir.join(a.key.get_ref());
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                // No key yet is the documented state of a repository not
                // pinned yet: `unpinned` reports it.
                if pin.is_some() || e.kind() != std::io::ErrorKind::NotFound {
                    d.push(src.diag(
                        Some(a.key.span()),
                        &k("key"),
                        format!("cannot read the key file {}: {e}", path.display()),
                    ));
                }
                continue;
            }
        };
        let found = match openpgp::primary_fingerprints(&text) {
            Ok(f) => f,
            Err(e) => {
                d.push(src.diag(
                    Some(a.key.span()),
                    &k("key"),
                    format!("{}: {e}", path.display()),
                ));
                continue;
            }
        };
        if found.len() > 1 {
            d.push(
                src.diag(
                    Some(a.key.span()),
                    &k("key"),
                    format!(
                        "{} holds {} keys ({}): apt would trust all of them",
                        path.display(),
                        found.len(),
                        found.join(", ")
                    ),
                )
                .with_hint("keep only the repository's signing key in the file"),
            );
            continue;
        }
        if let Some((want, span)) = pin {
            if found[0] != want {
                d.push(
                    src.diag(Some(span), &k("fingerprint"), format!("the key in {} has fingerprint {}, not the pinned {want}", path.display(), found[0]))
                        .with_hint("the key file was replaced or the pin is wrong: check the key with its publisher before changing the pin"),
                );
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_words_urls_and_paths() {
        assert!(valid_name("yunohost"));
        assert!(!valid_name("YunoHost"));
        assert!(!valid_name("-x"));
        assert!(valid_word("bookworm"));
        assert!(valid_word("non-free-firmware"));
        assert!(!valid_word("main]"));
        assert!(!valid_word("a b"));
        assert!(valid_url("http://forge.yunohost.org/debian/"));
        assert!(!valid_url("ftp://x/"));
        assert!(!valid_url("http://x/ [trusted=yes]"));
        assert!(inside("keys/a.asc"));
        assert!(!inside("../a.asc"));
        assert!(!inside("/etc/a.asc"));
    }

    #[test]
    fn source_lines_use_signed_by() {
        let r = AptRepo {
            layer: "yunohost".into(),
            name: "yunohost".into(),
            url: "http://forge.yunohost.org/debian/".into(),
            suite: "bookworm".into(),
            components: vec!["stable".into()],
            key: "/o/yunohost/keys/k.asc".into(),
            fingerprint: None,
            debian_suites: vec![],
        };
        assert_eq!(
            r.keyring_in_image(),
            "/usr/share/keyrings/clic-yunohost.asc"
        );
        assert_eq!(
            r.source_line(&r.keyring_in_image()),
            "deb [signed-by=/usr/share/keyrings/clic-yunohost.asc] http://forge.yunohost.org/debian/ bookworm stable"
        );
    }
}
