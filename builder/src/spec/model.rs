//! The image spec a maintainer writes: one TOML file.

use serde::Deserialize;
use toml::Spanned;

/// `spec.toml` as written. Spans are kept so that every later check can
/// point at the line it is about.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    pub name: Spanned<String>,
    pub board: Spanned<String>,
    pub suite: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub layers: Vec<Spanned<String>>,
    #[serde(default)]
    pub packages: Vec<Spanned<String>>,
    #[serde(default)]
    pub overlays: Vec<Spanned<String>>,
    /// Content packs: names in content/ or paths of pack files.
    #[serde(default)]
    pub content: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    pub system: SystemFile,
    /// Layer settings, `[settings.<layer>]` tables; checked against the
    /// settings each layer declares.
    #[serde(default)]
    pub settings: super::settings::SpecSettings,
    /// Debian mirror; defaults to deb.debian.org.
    #[serde(default)]
    pub mirror: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemFile {
    pub hostname: Option<Spanned<String>>,
    pub locale: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
}

pub const SUITES: &[&str] = &["bookworm", "trixie"];
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";

/// An image name becomes file names: keep it to a safe alphabet.
pub fn valid_image_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// Debian package name, optionally pinned: `name` or `name=version`.
pub fn valid_package(s: &str) -> bool {
    let (name, version) = match s.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (s, None),
    };
    let name_ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c));
    let version_ok = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".+-~:".contains(c))
    });
    name_ok && version_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_image_name("clic-ordinosaure"));
        assert!(!valid_image_name("Clic"));
        assert!(!valid_image_name("../x"));
        assert!(!valid_image_name(""));
    }

    #[test]
    fn packages() {
        assert!(valid_package("nginx"));
        assert!(valid_package("libstdc++6"));
        assert!(valid_package("nginx=1.22.1-9"));
        assert!(!valid_package("Nginx"));
        assert!(!valid_package("n"));
        assert!(!valid_package("nginx="));
        assert!(!valid_package("rm -rf"));
    }
}
