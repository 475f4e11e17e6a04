//! `NAME.manifest.json`: what an image is made of. Other tools read it
//! (and `clic boot` takes the board's QEMU settings from it), so its format
//! is versioned and pinned by a fixture test.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::qemu::QemuProfile;
use crate::rootfs::dpkg::InstalledPackage;

pub const FORMAT: &str = "clic-manifest";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    pub name: String,
    pub description: String,
    pub board: String,
    pub arch: String,
    pub suite: String,
    pub mirror: String,
    pub spec_sha256: String,
    pub clic_version: String,
    pub source_date_epoch: i64,
    pub layers: Vec<String>,
    pub image: ImageInfo,
    pub partitions: Vec<PartitionInfo>,
    pub qemu: QemuProfile,
    pub packages: Vec<Package>,
    /// The release files written next to the image (`.img.zst`,
    /// `.img.bmap`), with sizes and hashes. Added in clic 0.1 without a
    /// version change: readers that do not know it ignore it, and a
    /// manifest without it reads as an empty list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactInfo>,
    /// Every content item in the image (same compatibility as `artifacts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub content: Vec<ContentInfo>,
    /// The box-side binaries the layers installed (`[[binaries]]`), as
    /// built for the image (same compatibility as `artifacts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub binaries: Vec<BinaryInfo>,
    /// The layers' pinned downloads (`[[downloads]]`) and what each put in
    /// the image (same compatibility as `artifacts`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<DownloadInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DownloadInfo {
    pub layer: String,
    /// The URL's file name without its archive extension.
    pub name: String,
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// Where it is in the image (the directory an archive was unpacked in).
    pub dest: String,
    /// SPDX licence.
    pub licence: String,
    /// Files installed and their bytes.
    pub files: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BinaryInfo {
    /// The Cargo package (a crate under `box/`) and its binary target.
    pub package: String,
    pub bin: String,
    /// Where it is in the image.
    pub path: String,
    /// The Rust target triple it was built for.
    pub target: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContentInfo {
    pub pack: String,
    pub id: String,
    pub title: String,
    pub kind: String,
    pub language: String,
    pub licence: String,
    pub attribution: String,
    pub size: u64,
    pub sha256: String,
    /// Where the box serves it (`/content/<pack>/<file>`).
    pub link: String,
    /// `root` or `data`: the partition it is on.
    pub partition: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ArtifactInfo {
    pub file: String,
    /// `image`, `zstd` or `bmap`.
    pub kind: String,
    pub size: u64,
    pub sha256: String,
    /// For a bmap: the bytes its mapped ranges cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mapped: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageInfo {
    pub file: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartitionInfo {
    pub number: u32,
    pub role: String,
    pub label: String,
    pub start: u64,
    pub size: u64,
    pub part_uuid: String,
    pub filesystem: Option<String>,
    pub fs_uuid: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub architecture: String,
}

impl From<&InstalledPackage> for Package {
    fn from(p: &InstalledPackage) -> Package {
        Package {
            name: p.name.clone(),
            version: p.version.clone(),
            architecture: p.architecture.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("reading manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("manifest {path} is not a clic manifest: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("manifest {path} has format version {found}; this clic reads version {VERSION}")]
    Version { path: PathBuf, found: u32 },
}

/// `dir/name.img` -> `dir/name.manifest.json`.
pub fn path_for_image(image: &Path) -> PathBuf {
    let name = image
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name
        .strip_suffix(".img.zst")
        .or_else(|| name.strip_suffix(".img"))
        .unwrap_or(&name);
    image.with_file_name(format!("{stem}.manifest.json"))
}

pub fn to_json(m: &Manifest) -> String {
    let mut s = serde_json::to_string_pretty(m).unwrap_or_default();
    s.push('\n');
    s
}

pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(&text).map_err(|e| match e {
        ManifestError::Parse { detail, .. } => ManifestError::Parse {
            path: path.to_owned(),
            detail,
        },
        ManifestError::Version { found, .. } => ManifestError::Version {
            path: path.to_owned(),
            found,
        },
        other => other,
    })
}

pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| ManifestError::Parse {
        path: PathBuf::new(),
        detail: e.to_string(),
    })?;
    if v.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(ManifestError::Parse {
            path: PathBuf::new(),
            detail: format!("no \"format\": \"{FORMAT}\" field"),
        });
    }
    let found = v.get("version").and_then(|x| x.as_u64()).unwrap_or(0) as u32;
    if found != VERSION {
        return Err(ManifestError::Version {
            path: PathBuf::new(),
            found,
        });
    }
    serde_json::from_value(v).map_err(|e| ManifestError::Parse {
        path: PathBuf::new(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_path_next_to_image() {
        assert_eq!(
            path_for_image(Path::new("/o/clic.img")),
            Path::new("/o/clic.manifest.json")
        );
        assert_eq!(
            path_for_image(Path::new("clic.img.zst")),
            Path::new("clic.manifest.json")
        );
    }

    /// The version-1 format, as written by clic 0.1: must keep parsing.
    #[test]
    fn fixture_v1_still_parses_and_round_trips() {
        let text = include_str!("../../../tests/fixtures/manifest-v1.json");
        let m = parse(text).expect("fixture parses");
        assert_eq!(m.board, "ordinosaure-amd64");
        assert_eq!(m.qemu.machine, "pc");
        assert_eq!(m.packages[0].name, "adduser");
        assert_eq!(m.partitions[0].role, "bios-boot");
        let again = parse(&to_json(&m)).unwrap();
        assert_eq!(again, m);
    }

    /// The artifacts list is optional: old manifests have none, new ones
    /// round-trip with it.
    #[test]
    fn artifacts_are_optional_and_round_trip() {
        let text = include_str!("../../../tests/fixtures/manifest-v1.json");
        let mut m = parse(text).unwrap();
        assert!(m.artifacts.is_empty());
        assert!(!to_json(&m).contains("\"artifacts\""));
        m.artifacts.push(ArtifactInfo {
            file: "clic.img.bmap".into(),
            kind: "bmap".into(),
            size: 1234,
            sha256: "ab".repeat(32),
            mapped: Some(1 << 20),
        });
        let json = to_json(&m);
        assert!(json.contains("\"mapped\": 1048576"), "{json}");
        assert_eq!(parse(&json).unwrap(), m);
    }

    #[test]
    fn other_versions_are_refused() {
        let text = include_str!("../../../tests/fixtures/manifest-v1.json")
            .replace("\"version\": 1,", "\"version\": 99,");
        assert!(matches!(
            parse(&text),
            Err(ManifestError::Version { found: 99, .. })
        ));
        assert!(matches!(parse("{}"), Err(ManifestError::Parse { .. })));
    }
}
