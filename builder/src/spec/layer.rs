//! Layers: `overlays/<name>/layer.toml` plus an optional `root/` tree.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostic, Diagnostics, Source};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDef {
    pub description: String,
    /// Layers this one needs; they are applied first.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Debian packages.
    #[serde(default)]
    pub packages: Vec<String>,
    /// systemd units to enable (their `[Install]` section is honoured).
    #[serde(default)]
    pub enable: Vec<String>,
    /// systemd units to mask.
    #[serde(default)]
    pub mask: Vec<String>,
    /// Settings this layer takes, with defaults; specs override them in
    /// `[settings.<layer>]`, templates read them as `settings.<layer>.<key>`.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Spanned<clic_settings::SettingDef>>,
    /// Rules across this layer's settings (`[[rules]]`: `rule = "dhcp_range"`...).
    #[serde(default)]
    pub rules: Vec<toml::Spanned<clic_settings::Rule>>,
    /// The layer's tile on the portal's home page, if it offers a service.
    #[serde(default)]
    pub portal: Option<PortalDef>,
    /// Extra apt repositories (`[[apt]]`), each signed by a key in the
    /// layer pinned by fingerprint.
    #[serde(default)]
    pub apt: Vec<super::apt::AptRepoDef>,
    /// Steps run on the box at boot until each succeeds once
    /// (`[[firstboot]]`), in order.
    #[serde(default)]
    pub firstboot: Vec<super::steps::StepDef>,
    /// Box-side binaries (`[[binaries]]`): crates under `box/` of clic's
    /// workspace, cross-built for the image's architecture and installed.
    #[serde(default)]
    pub binaries: Vec<super::binaries::BinaryDef>,
    /// Pinned downloads (`[[downloads]]`): files Debian does not ship,
    /// fetched once into the cache and copied or unpacked into the image.
    #[serde(default)]
    pub downloads: Vec<super::downloads::DownloadDef>,
    /// What the layer's services listen on, per zone (`[[ports]]`): the
    /// box's firewall opens these and nothing else.
    #[serde(default)]
    pub ports: Vec<super::ports::PortDef>,
}

/// Languages the portal is written in; the first is the default and every
/// text must have it.
pub const PORTAL_LANGS: &[&str] = &["fr", "en"];

/// Text in several languages: `{ fr = "...", en = "..." }`.
pub type Localized = BTreeMap<String, String>;

/// `[portal]` in layer.toml: a service's tile on the portal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalDef {
    /// Name of the service, e.g. `{ fr = "Wikipédia hors ligne", en = "..." }`.
    pub title: Localized,
    /// What it is for, in one sentence.
    pub description: Localized,
    /// Where the tile leads: a path on the box (`/kiwix/`).
    pub link: toml::Spanned<String>,
    /// An image the layer installs under the web root (`/portal/kiwix.svg`);
    /// decorative, the title says what it is.
    #[serde(default)]
    pub icon: Option<toml::Spanned<String>>,
    /// Listed in the "participation" corner (polls, votes, notes, chat).
    #[serde(default)]
    pub participation: bool,
    /// SPDX licence of the service's software, shown on the "about" page.
    #[serde(default)]
    pub licence: Option<String>,
    /// Tiles are sorted by this, then by layer name.
    #[serde(default = "default_order")]
    pub order: i64,
}

fn default_order() -> i64 {
    50
}

#[derive(Debug, Clone)]
pub struct LoadedLayer {
    pub name: String,
    pub dir: PathBuf,
    pub def: LayerDef,
    /// `def.binaries`, checked, with the workspace they are built in.
    pub binaries: Vec<super::binaries::BoxBinary>,
}

impl LoadedLayer {
    /// The file tree copied into the image, if the layer has one.
    pub fn root(&self) -> Option<PathBuf> {
        let r = self.dir.join("root");
        r.is_dir().then_some(r)
    }
}

pub fn load(name: &str, dir: &Path) -> Result<LoadedLayer, Diagnostics> {
    let src = Source::read(&dir.join("layer.toml"))?;
    let def: LayerDef = src.parse()?;
    if let Some(p) = &def.portal {
        check_portal(&src, p)?;
    }
    let mut d = Diagnostics::default();
    d.0.extend(super::apt::check(&src, dir, &def.apt));
    d.0.extend(super::steps::check(&src, name, &def.needs, &def.firstboot));
    d.0.extend(super::settings::check_layer(&src, &def));
    d.0.extend(super::downloads::check(&src, &def.downloads));
    d.0.extend(super::ports::check(&src, &def.ports, &def.settings));
    let (binaries, bin_diags) = super::binaries::check(&src, dir, &def.binaries);
    d.0.extend(bin_diags);
    d.0.extend(check_links(dir));
    d.into_result(())?;
    Ok(LoadedLayer {
        name: name.to_owned(),
        dir: dir.to_owned(),
        def,
        binaries,
    })
}

/// A link in the layer's tree that climbs out of it through `..` would
/// point out of the image: refused. (Absolute targets are paths of the
/// image, read inside it: `/lib` -> `usr/lib` style links stay allowed.)
fn check_links(dir: &Path) -> Vec<Diagnostic> {
    let root = dir.join("root");
    if !root.is_dir() {
        return Vec::new();
    }
    let problem = |file: PathBuf, message: String| Diagnostic {
        file,
        line: 1,
        column: 1,
        key: String::new(),
        message,
        hint: None,
    };
    match crate::layers::paths::escaping_link(&root, false) {
        Ok(None) => Vec::new(),
        Ok(Some((link, target))) => vec![problem(
            root.join(&link),
            format!(
                "symbolic link to `{target}` leaves the layer's tree through `..`: \
                 it would point out of the image"
            ),
        )
        .with_hint(
            "make it absolute (a path of the image, e.g. /usr/share/...) or keep it inside root/",
        )],
        Err(e) => vec![problem(root, format!("cannot read the layer's tree: {e}"))],
    }
}

/// Names of the layers available in an overlays directory.
pub fn list(overlays: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(overlays)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("layer.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A web path on the box: `/` then no scheme, no `..`, no spaces or quotes.
fn valid_web_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.split('/').any(|c| c == "..")
        && !p
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>'))
}

fn check_portal(src: &Source, p: &PortalDef) -> Result<(), Diagnostics> {
    let mut d = Diagnostics::default();
    let default_lang = PORTAL_LANGS[0];
    for (key, text) in [
        ("portal.title", &p.title),
        ("portal.description", &p.description),
    ] {
        match text.get(default_lang) {
            Some(t) if !t.trim().is_empty() => {}
            _ => d.0.push(
                src.diag(
                    None,
                    key,
                    format!("needs a non-empty `{default_lang}` text"),
                )
                .with_hint(format!("e.g. {key} = {{ fr = \"...\", en = \"...\" }}")),
            ),
        }
        for lang in text.keys().filter(|l| !PORTAL_LANGS.contains(&l.as_str())) {
            d.0.push(
                src.diag(
                    None,
                    &format!("{key}.{lang}"),
                    "the portal has no such language",
                )
                .with_hint(format!("languages: {}", PORTAL_LANGS.join(", "))),
            );
        }
    }
    for (key, path) in [
        ("portal.link", Some(&p.link)),
        ("portal.icon", p.icon.as_ref()),
    ] {
        if let Some(v) = path {
            if !valid_web_path(v.get_ref()) {
                d.0.push(
                    src.diag(
                        Some(v.span()),
                        key,
                        format!("`{}` is not a path on the box", v.get_ref()),
                    )
                    .with_hint("tiles lead to the box itself: a path such as `/kiwix/`"),
                );
            }
        }
    }
    d.into_result(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_climbing_out_of_the_layers_tree_is_refused() {
        use std::os::unix::fs::symlink;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("usr/share/x")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // Allowed: inside the tree, and absolute (a path of the image).
        symlink("usr/lib", root.join("lib")).unwrap();
        symlink("/run/clic/resolv.conf", root.join("etc/resolv.conf")).unwrap();
        symlink("../../etc", root.join("usr/share/x/up-to-root")).unwrap();
        assert!(check_links(t.path()).is_empty());
        symlink("../../../../../etc/shadow", root.join("usr/share/x/out")).unwrap();
        let d = check_links(t.path());
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].file, root.join("usr/share/x/out"));
        assert!(
            d[0].message.contains("`../../../../../etc/shadow`")
                && d[0].message.contains("leaves the layer's tree"),
            "{}",
            d[0]
        );
        // A layer without a tree has nothing to check.
        assert!(check_links(&t.path().join("none")).is_empty());
    }

    fn load_text(text: &str) -> Result<LoadedLayer, Diagnostics> {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("layer.toml"), text).unwrap();
        load("svc", t.path())
    }

    #[test]
    fn a_portal_tile_is_read_with_defaults() {
        let l = load_text(
            "description = \"x\"\n[portal]\ntitle = { fr = \"Bibliothèque\", en = \"Library\" }\ndescription = { fr = \"Des livres\" }\nlink = \"/kiwix/\"\n",
        )
        .unwrap();
        let p = l.def.portal.unwrap();
        assert_eq!(p.title["en"], "Library");
        assert_eq!(p.link.get_ref(), "/kiwix/");
        assert!(!p.participation);
        assert_eq!(p.order, 50);
        assert!(load_text("description = \"x\"\n")
            .unwrap()
            .def
            .portal
            .is_none());
    }

    #[test]
    fn bad_tiles_are_refused_with_their_keys() {
        let err = load_text(
            "description = \"x\"\n[portal]\ntitle = { en = \"Library\", de = \"Bücherei\" }\ndescription = { fr = \"Des livres\" }\nlink = \"https://example.org/\"\nicon = \"/../etc/passwd\"\n",
        )
        .unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "portal.title",
                "portal.title.de",
                "portal.link",
                "portal.icon"
            ],
            "{err}"
        );
        // The link's diagnostic points at its line.
        assert_eq!(err.0[2].line, 5, "{err}");
        let err = load_text("description = \"x\"\n[portal]\ntitle = { fr = \"a\" }\ndescription = { fr = \"b\" }\nlink = \"/x\"\ncolour = \"red\"\n")
            .unwrap_err();
        assert_eq!(err.0[0].key, "colour", "{err}");
    }

    #[test]
    fn web_paths() {
        assert!(valid_web_path("/"));
        assert!(valid_web_path("/kiwix/"));
        assert!(valid_web_path("/files/?sort=name"));
        for bad in [
            "kiwix/",
            "//evil.org/",
            "/a/../b",
            "/a b",
            "/\"x",
            "http://x/",
        ] {
            assert!(!valid_web_path(bad), "{bad}");
        }
    }
}
