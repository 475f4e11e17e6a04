//! `[[binaries]]` in layer.toml: box-side Rust binaries (crates under
//! `box/` of clic's Cargo workspace) that `clic build` cross-compiles for
//! the image's architecture and installs (`crate::boxbin`).
//!
//! ```toml
//! [[binaries]]
//! package = "clic-box"              # box/*/Cargo.toml [package] name
//! bin = "clic-box"                  # optional, default = package
//! install = "/usr/lib/clic/clic-box"
//! ```
//!
//! The workspace is the repository the layer lives in: the first ancestor
//! of the layer's real directory (symlinks resolved) holding `Cargo.toml`
//! and `box/`. Data dirs made of links to the repository's layers (as the
//! tests make) therefore still find it.

use serde::Deserialize;
use std::path::{Component, Path, PathBuf};
use toml::Spanned;

use super::diag::{Diagnostic, Source};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryDef {
    /// A package of the workspace under `box/`.
    pub package: Spanned<String>,
    /// The binary target of that package (default: the package's name).
    #[serde(default)]
    pub bin: Option<Spanned<String>>,
    /// Where it goes in the image: an absolute path.
    pub install: Spanned<String>,
}

/// A `[[binaries]]` entry, checked: the package exists in `workspace`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxBinary {
    pub package: String,
    pub bin: String,
    /// Absolute path in the image.
    pub install: String,
    /// The Cargo workspace to build it in.
    pub workspace: PathBuf,
}

/// The box crates' directory inside the workspace.
pub const BOX_DIR: &str = "box";

/// The Cargo workspace holding the layer at `layer_dir`, if any.
pub fn find_workspace(layer_dir: &Path) -> Option<PathBuf> {
    let real = layer_dir.canonicalize().ok()?;
    real.ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join(BOX_DIR).is_dir())
        .map(Path::to_owned)
}

/// What a box crate's `Cargo.toml` declares that the check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxCrate {
    pub package: String,
    /// Binary targets: `[[bin]]` names, the package's own name when
    /// `src/main.rs` exists, and `src/bin/*.rs`.
    pub bins: Vec<String>,
}

#[derive(Deserialize)]
struct CargoToml {
    package: Option<CargoPackage>,
    #[serde(default)]
    bin: Vec<CargoBin>,
}

#[derive(Deserialize)]
struct CargoPackage {
    name: String,
}

#[derive(Deserialize)]
struct CargoBin {
    name: String,
}

/// Every crate under `workspace/box/*/Cargo.toml` that has a `[package]`,
/// sorted by directory. Unreadable manifests are skipped (cargo reports
/// them when it builds).
pub fn box_crates(workspace: &Path) -> Vec<BoxCrate> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace.join(BOX_DIR))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs.iter()
        .filter_map(|dir| {
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
            let c: CargoToml = toml::from_str(&text).ok()?;
            let package = c.package?.name;
            let mut bins: Vec<String> = c.bin.into_iter().map(|b| b.name).collect();
            if dir.join("src/main.rs").is_file() && !bins.contains(&package) {
                bins.push(package.clone());
            }
            let auto = std::fs::read_dir(dir.join("src/bin")).into_iter().flatten();
            for e in auto.filter_map(|e| e.ok()) {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "rs") {
                    if let Some(stem) = p.file_stem() {
                        let s = stem.to_string_lossy().into_owned();
                        if !bins.contains(&s) {
                            bins.push(s);
                        }
                    }
                }
            }
            bins.sort();
            Some(BoxCrate { package, bins })
        })
        .collect()
}

/// An absolute path in the image: `/` then normal components, no `.` or
/// `..`, no empty component, no trailing `/`, no control characters.
pub fn valid_install_path(p: &str) -> bool {
    p.starts_with('/')
        && p.len() > 1
        && !p.ends_with('/')
        && !p.contains("//")
        && !p.chars().any(char::is_control)
        && Path::new(p)
            .components()
            .skip(1)
            .all(|c| matches!(c, Component::Normal(_)))
        && !p.split('/').any(|c| c == "." || c == "..")
}

/// Check the `[[binaries]]` of a layer in `layer_dir`; the checked entries,
/// or every problem found.
pub fn check(
    src: &Source,
    layer_dir: &Path,
    defs: &[BinaryDef],
) -> (Vec<BoxBinary>, Vec<Diagnostic>) {
    let mut d = Vec::new();
    let mut out = Vec::new();
    if defs.is_empty() {
        return (out, d);
    }
    let Some(workspace) = find_workspace(layer_dir) else {
        d.push(
            src.diag(
                Some(defs[0].package.span()),
                "binaries[0].package",
                "this layer installs box binaries but is not inside clic's repository (no Cargo workspace with box/ above it)",
            )
            .with_hint("box binaries are built from the repository: keep the layer in its overlays/, or link to it"),
        );
        return (out, d);
    };
    let crates = box_crates(&workspace);
    for (i, b) in defs.iter().enumerate() {
        let k = |f: &str| format!("binaries[{i}].{f}");
        let package = b.package.get_ref();
        let bin = b.bin.as_ref().map_or(package, |s| s.get_ref());
        let install = b.install.get_ref();
        let mut ok = true;
        match crates.iter().find(|c| &c.package == package) {
            None => {
                ok = false;
                let known: Vec<&str> = crates.iter().map(|c| c.package.as_str()).collect();
                d.push(
                    src.diag(
                        Some(b.package.span()),
                        &k("package"),
                        format!("`{package}` is not a package under {BOX_DIR}/ of the workspace"),
                    )
                    .with_hint(format!("box packages: {}", known.join(", "))),
                );
            }
            Some(c) if !c.bins.iter().any(|x| x == bin) => {
                ok = false;
                let span = b.bin.as_ref().map_or(b.package.span(), |s| s.span());
                d.push(
                    src.diag(
                        Some(span),
                        &k("bin"),
                        format!("package `{package}` has no binary `{bin}`"),
                    )
                    .with_hint(format!("its binaries: {}", c.bins.join(", "))),
                );
            }
            Some(_) => {}
        }
        if !valid_install_path(install) {
            ok = false;
            d.push(
                src.diag(
                    Some(b.install.span()),
                    &k("install"),
                    format!("`{install}` is not an absolute path in the image"),
                )
                .with_hint("e.g. install = \"/usr/lib/clic/clic-box\" (no `..`, no trailing `/`)"),
            );
        } else if defs[..i].iter().any(|o| o.install.get_ref() == install) {
            ok = false;
            d.push(src.diag(
                Some(b.install.span()),
                &k("install"),
                format!("`{install}` is installed twice"),
            ));
        }
        if ok {
            out.push(BoxBinary {
                package: package.clone(),
                bin: bin.clone(),
                install: install.clone(),
                workspace: workspace.clone(),
            });
        }
    }
    (out, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(text: &str) -> (Source, Vec<BinaryDef>) {
        #[derive(Deserialize)]
        struct T {
            binaries: Vec<BinaryDef>,
        }
        let src = Source {
            path: "layer.toml".into(),
            text: text.into(),
        };
        let t: T = src.parse().unwrap();
        (src, t.binaries)
    }

    /// A workspace with box/tool (package `clic-box`) and a layer in
    /// overlays/svc.
    fn workspace() -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let w = t.path();
        std::fs::write(w.join("Cargo.toml"), "[workspace]\n").unwrap();
        std::fs::create_dir_all(w.join("box/tool/src/bin")).unwrap();
        std::fs::write(
            w.join("box/tool/Cargo.toml"),
            "[package]\nname = \"clic-box\"\n\n[[bin]]\nname = \"clic-box\"\npath = \"src/main.rs\"\n",
        )
        .unwrap();
        std::fs::write(w.join("box/tool/src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(w.join("box/tool/src/bin/helper.rs"), "fn main() {}\n").unwrap();
        std::fs::create_dir_all(w.join("box/settings")).unwrap();
        std::fs::write(
            w.join("box/settings/Cargo.toml"),
            "[package]\nname = \"clic-settings\"\n",
        )
        .unwrap();
        let layer = w.join("overlays/svc");
        std::fs::create_dir_all(&layer).unwrap();
        (t, layer)
    }

    #[test]
    fn good_binaries_are_read_with_the_default_bin() {
        let (t, layer) = workspace();
        let (src, b) = defs("[[binaries]]\npackage = \"clic-box\"\ninstall = \"/usr/lib/clic/clic-box\"\n\n[[binaries]]\npackage = \"clic-box\"\nbin = \"helper\"\ninstall = \"/usr/bin/helper\"\n");
        let (ok, d) = check(&src, &layer, &b);
        assert!(d.is_empty(), "{d:?}");
        let ws = t.path().canonicalize().unwrap();
        assert_eq!(
            ok,
            [
                BoxBinary {
                    package: "clic-box".into(),
                    bin: "clic-box".into(),
                    install: "/usr/lib/clic/clic-box".into(),
                    workspace: ws.clone(),
                },
                BoxBinary {
                    package: "clic-box".into(),
                    bin: "helper".into(),
                    install: "/usr/bin/helper".into(),
                    workspace: ws,
                }
            ]
        );
    }

    #[test]
    fn the_repository_has_clic_box() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let c = box_crates(&repo);
        assert!(
            c.iter()
                .any(|c| c.package == "clic-box" && c.bins.contains(&"clic-box".to_string())),
            "{c:?}"
        );
        assert_eq!(
            find_workspace(&repo.join("overlays/firstboot")),
            repo.canonicalize().ok()
        );
    }

    #[test]
    fn bad_binaries_are_named_with_their_lines() {
        let (_t, layer) = workspace();
        let (src, b) = defs("[[binaries]]\npackage = \"nope\"\ninstall = \"/usr/bin/x\"\n\n[[binaries]]\npackage = \"clic-settings\"\ninstall = \"usr/bin/y\"\n\n[[binaries]]\npackage = \"clic-box\"\nbin = \"other\"\ninstall = \"/usr/bin/x\"\n\n[[binaries]]\npackage = \"clic-box\"\ninstall = \"/usr/lib/../x\"\n");
        let (ok, d) = check(&src, &layer, &b);
        assert!(ok.is_empty());
        let keys: Vec<(&str, usize)> = d.iter().map(|d| (d.key.as_str(), d.line)).collect();
        assert_eq!(
            keys,
            [
                ("binaries[0].package", 2),
                ("binaries[1].bin", 6),
                ("binaries[1].install", 7),
                ("binaries[2].bin", 11),
                ("binaries[2].install", 12),
                ("binaries[3].install", 16),
            ],
            "{d:?}"
        );
        assert!(d[0].hint.as_deref().unwrap_or("").contains("clic-box"));
    }

    #[test]
    fn a_layer_outside_a_workspace_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let (src, b) = defs("[[binaries]]\npackage = \"clic-box\"\ninstall = \"/usr/bin/x\"\n");
        let (ok, d) = check(&src, t.path(), &b);
        assert!(ok.is_empty());
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("not inside clic's repository"),
            "{d:?}"
        );
    }

    #[test]
    fn install_paths() {
        for good in ["/usr/bin/clic-box", "/usr/lib/clic/x.y", "/x"] {
            assert!(valid_install_path(good), "{good}");
        }
        for bad in [
            "",
            "/",
            "usr/bin/x",
            "/usr/bin/",
            "/usr//bin/x",
            "/usr/../etc/x",
            "/usr/./x",
            "/usr/bin/x\n",
        ] {
            assert!(!valid_install_path(bad), "{bad:?}");
        }
    }
}
