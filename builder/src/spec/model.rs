//! The image spec a maintainer writes: one TOML file.

use serde::Deserialize;
use std::collections::BTreeMap;
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
    pub settings: BTreeMap<String, Spanned<toml::Table>>,
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
pub const DEFAULT_HOSTNAME: &str = "clic";
pub const DEFAULT_LOCALE: &str = "C.UTF-8";
pub const DEFAULT_TIMEZONE: &str = "Etc/UTC";

/// An image name becomes file names: keep it to a safe alphabet.
pub fn valid_image_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c))
}

/// RFC 1123 host name label (one label: the box names itself, the domain is
/// a hotspot setting).
pub fn valid_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
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

/// `C.UTF-8`, `fr_FR.UTF-8`, `en_GB.UTF-8`, `br_FR.UTF-8@euro`…
pub fn valid_locale(s: &str) -> bool {
    if s == "C.UTF-8" || s == "C" || s == "POSIX" {
        return true;
    }
    let Some((lang, rest)) = s.split_once('_') else {
        return false;
    };
    let Some((terr, codeset)) = rest.split_once('.') else {
        return false;
    };
    (2..=3).contains(&lang.len())
        && lang.chars().all(|c| c.is_ascii_lowercase())
        && terr.len() == 2
        && terr.chars().all(|c| c.is_ascii_uppercase())
        && codeset.starts_with("UTF-8")
}

/// `Europe/Paris`, `America/Argentina/Buenos_Aires`, `UTC`.
pub fn valid_timezone(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('/')
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
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
    fn hostnames() {
        assert!(valid_hostname("clic"));
        assert!(valid_hostname("box-2"));
        assert!(!valid_hostname("-box"));
        assert!(!valid_hostname("clic.lan"));
        assert!(!valid_hostname("b_x"));
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

    #[test]
    fn locales_and_zones() {
        assert!(valid_locale("fr_FR.UTF-8"));
        assert!(valid_locale("C.UTF-8"));
        assert!(!valid_locale("fr_FR"));
        assert!(!valid_locale("french"));
        assert!(valid_timezone("Europe/Paris"));
        assert!(!valid_timezone("../../etc/passwd"));
    }
}
