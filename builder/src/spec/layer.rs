//! Layers: `overlays/<name>/layer.toml` plus an optional `root/` tree.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostics, Source};

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
    pub settings: BTreeMap<String, SettingDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDef {
    pub default: toml::Value,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct LoadedLayer {
    pub name: String,
    pub dir: PathBuf,
    pub def: LayerDef,
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
    Ok(LoadedLayer {
        name: name.to_owned(),
        dir: dir.to_owned(),
        def,
    })
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
