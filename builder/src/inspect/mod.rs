//! `clic inspect`: a static boot check of a finished image, without
//! mounting it or attaching loop devices. It reads the partition table
//! (`table`), identifies each partition's filesystem (`fs`), reads files
//! from FAT in-process and from ext4 with `debugfs` (`files`), and checks
//! what the board's [`InspectRules`] require (`checks`): boot files, the
//! kernel command line's `root=`, GRUB's `search`, raw bootloader bytes.
//!
//! The result is a [`Report`]: one [`Check`] per verdict, serialisable as
//! JSON with stable field names.

mod checks;
pub mod cmdline;
pub mod files;
pub mod fs;
pub mod rules;
pub mod table;

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use checks::check_manifest;
pub use fs::Filesystem;
pub use rules::{BlobRule, CmdlineSource, FileRef, InspectRules, Location};
pub use table::{Role, Table, TableKind, TablePartition};

/// One verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `table`, `layout`, `root-fs`, `file esp:/EFI/...`,
    /// `cmdline`, `grub-search`, `blob NAME`, `grub-bios`, `manifest`.
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: impl Into<String>, ok: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok,
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Partition {
    #[serde(flatten)]
    pub entry: TablePartition,
    pub filesystem: Option<Filesystem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableInfo {
    pub kind: TableKind,
    /// PTUUID as blkid shows it.
    pub id: String,
    pub sector_size: u64,
    pub disk_size: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub image: String,
    /// The board the rules came from, when known (set by the caller).
    pub board: Option<String>,
    /// `None` when no partition table could be read.
    pub table: Option<TableInfo>,
    pub partitions: Vec<Partition>,
    pub checks: Vec<Check>,
    /// Every check passed.
    pub ok: bool,
}

impl Report {
    pub fn push(&mut self, check: Check) {
        self.ok &= check.ok;
        self.checks.push(check);
    }

    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("opening the image {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("reading {what} of {path}: {source}")]
    Read {
        path: PathBuf,
        what: String,
        source: io::Error,
    },
}

/// Inspect `image` against `rules`. Problems with the image are failed
/// checks in the report; only an image that cannot be read is an error.
pub fn inspect(image: &Path, rules: &InspectRules) -> Result<Report, InspectError> {
    let (mut file, disk_size) = open_image(image)?;
    let mut report = Report {
        image: image.display().to_string(),
        board: None,
        table: None,
        partitions: Vec::new(),
        checks: Vec::new(),
        ok: true,
    };
    let table = match table::read_table(&mut file, disk_size) {
        Ok(t) => t,
        Err(table::TableReadError::Io(source)) => {
            return Err(read_err(image, "the partition table")(source))
        }
        Err(e) => {
            report.push(Check::new("table", false, e.to_string()));
            return Ok(report);
        }
    };
    report.table = Some(TableInfo {
        kind: table.kind,
        id: table.id.clone(),
        sector_size: table.sector_size,
        disk_size,
    });
    report.partitions = probe(&mut file, image, &table, disk_size)?;
    checks::run(&mut report, &mut file, image, &table, rules)?;
    Ok(report)
}

fn read_err(image: &Path, what: &str) -> impl FnOnce(io::Error) -> InspectError {
    let (path, what) = (image.to_owned(), what.to_owned());
    move |source| InspectError::Read { path, what, source }
}

fn open_image(image: &Path) -> Result<(File, u64), InspectError> {
    let file = File::open(image).map_err(|source| InspectError::Open {
        path: image.to_owned(),
        source,
    })?;
    let disk_size = file.metadata().map_err(read_err(image, "the size"))?.len();
    Ok((file, disk_size))
}

/// Each partition with the filesystem found at its start.
fn probe(
    file: &mut File,
    image: &Path,
    table: &Table,
    disk_size: u64,
) -> Result<Vec<Partition>, InspectError> {
    let mut parts = Vec::new();
    for p in &table.partitions {
        let head = read_head(file, p, disk_size).map_err(read_err(
            image,
            &format!("the start of {}", files::part_name(p)),
        ))?;
        parts.push(Partition {
            entry: p.clone(),
            filesystem: fs::detect(&head),
        });
    }
    Ok(parts)
}

/// The FAT partitions of an image (the Pi boot partition, the ESP), then
/// its ext partitions (a root holding /boot), found once, to read files
/// from: `clic boot` takes the kernel, initrd, DTB and command line from
/// there for machines QEMU boots with `-kernel`.
pub struct FatFiles {
    image: PathBuf,
    parts: Vec<Partition>,
}

impl FatFiles {
    pub fn open(image: &Path) -> Result<FatFiles, InspectError> {
        let (mut file, disk_size) = open_image(image)?;
        let table = table::read_table(&mut file, disk_size).map_err(|e| InspectError::Read {
            path: image.to_owned(),
            what: "the partition table".into(),
            source: io::Error::other(e.to_string()),
        })?;
        let all = probe(&mut file, image, &table, disk_size)?;
        let of = |keep: fn(&Filesystem) -> bool| {
            all.iter()
                .filter(|p| p.filesystem.as_ref().is_some_and(keep))
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut parts = of(Filesystem::is_fat);
        parts.extend(of(Filesystem::is_ext));
        Ok(FatFiles {
            image: image.to_owned(),
            parts,
        })
    }

    /// `path` from the first partition that has it (FAT ones first),
    /// refused when larger than `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, InspectError> {
        let mut last_err = None;
        for p in &self.parts {
            let part = files::PartFs {
                image: &self.image,
                part: &p.entry,
                fs: p.filesystem.as_ref(),
            };
            match part.read(path, max) {
                Ok(bytes) => return Ok(bytes),
                Err(e) => last_err = Some(e.to_string()),
            }
        }
        Err(InspectError::Read {
            path: self.image.clone(),
            what: format!("{path} from the image's FAT or ext partitions"),
            source: io::Error::new(
                io::ErrorKind::NotFound,
                last_err.unwrap_or_else(|| "the image has no FAT or ext partition".into()),
            ),
        })
    }
}

/// The first bytes of a partition, fewer if it is smaller or cut off by
/// the end of the image.
fn read_head(file: &mut File, p: &TablePartition, disk_size: u64) -> io::Result<Vec<u8>> {
    let len = (fs::PROBE_LEN as u64)
        .min(p.size)
        .min(disk_size.saturating_sub(p.start));
    let mut buf = vec![0u8; len as usize];
    if len > 0 {
        file.seek(SeekFrom::Start(p.start))?;
        file.read_exact(&mut buf)?;
    }
    Ok(buf)
}

#[cfg(test)]
mod tests;
