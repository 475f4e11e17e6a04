//! FAT filesystems built in-process with `fatfs`: no mounts, no mtools, and
//! every timestamp fixed to the build epoch so that two builds are
//! byte-identical.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use fatfs::{Date, DateTime, FatType, FileSystem, FormatVolumeOptions, FsOptions, Time};

use super::fat_dots::{fix_dot_entries, DotLog, DotWatch};
use crate::interrupt;

/// Volumes at least this large are FAT32 (what UEFI firmware expects of an
/// ESP); smaller ones get what fatfs picks for their size.
pub const FAT32_MIN_SIZE: u64 = 64 * 1024 * 1024;
const CHUNK: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FatSource {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// One file to put on the volume; directories are created as needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatFile {
    /// Relative, '/'-separated, e.g. "EFI/BOOT/BOOTX64.EFI".
    pub path: String,
    pub source: FatSource,
}

#[derive(Debug, thiserror::Error)]
pub enum FatError {
    #[error("FAT volume label '{label}' is invalid: {reason}")]
    BadLabel { label: String, reason: &'static str },
    #[error("FAT file path '{path}' is invalid: {reason}")]
    BadPath { path: String, reason: &'static str },
    #[error("FAT file '{path}' is listed twice (FAT names ignore case)")]
    Duplicate { path: String },
    #[error("cannot format a {size}-byte FAT volume '{label}': {source}")]
    Format {
        label: String,
        size: u64,
        source: io::Error,
    },
    #[error("reading {source_path} (for FAT file '{path}'): {source}")]
    ReadSource {
        path: String,
        source_path: PathBuf,
        source: io::Error,
    },
    #[error("the FAT volume '{label}' ({size} bytes) is full while writing '{path}' ({file_size} bytes); all files need {total} bytes: make the partition larger")]
    NoSpace {
        label: String,
        size: u64,
        path: String,
        file_size: u64,
        total: u64,
    },
    #[error("writing '{path}' to the FAT volume '{label}': {source}")]
    Write {
        label: String,
        path: String,
        source: io::Error,
    },
    #[error("interrupted while building the FAT volume '{label}'")]
    Interrupted { label: String },
}

/// Format `dev` (the first `size` bytes of it) as FAT and copy `files` in,
/// in sorted order, with every timestamp set to `epoch` (seconds since
/// 1970, UTC; clamped to FAT's 1980..2107).
pub fn build_fat<D: Read + Write + Seek>(
    mut dev: D,
    size: u64,
    volume_id: u32,
    label: &str,
    files: &[FatFile],
    epoch: i64,
) -> Result<(), FatError> {
    let label_bytes = volume_label(label)?;
    let files = sorted_files(files)?;
    let mut total = 0u64;
    for f in &files {
        total = total.saturating_add(source_len(f)?);
    }
    let format_err = |source| FatError::Format {
        label: label.to_owned(),
        size,
        source,
    };
    let sectors = u32::try_from(size / 512).map_err(|_| {
        format_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "more than 2^32 sectors",
        ))
    })?;
    let mut opts = FormatVolumeOptions::new()
        .total_sectors(sectors)
        .volume_id(volume_id)
        .volume_label(label_bytes);
    if size >= FAT32_MIN_SIZE {
        opts = opts.fat_type(FatType::Fat32);
    }
    dev.seek(SeekFrom::Start(0)).map_err(format_err)?;
    fatfs::format_volume(&mut dev, opts).map_err(format_err)?;
    dev.seek(SeekFrom::Start(0)).map_err(format_err)?;

    let dots = DotLog::default();
    let fs = FileSystem::new(
        DotWatch::new(&mut dev, dots.clone()),
        FsOptions::new().time_provider(fixed_time(epoch)),
    )
    .map_err(format_err)?;
    let mut made_dirs = BTreeSet::new();
    for f in &files {
        if interrupt::check().is_err() {
            return Err(FatError::Interrupted {
                label: label.to_owned(),
            });
        }
        let fail = |source: io::Error| {
            if fs.stats().is_ok_and(|s| s.free_clusters() == 0) {
                FatError::NoSpace {
                    label: label.to_owned(),
                    size,
                    path: f.path.clone(),
                    file_size: source_len(f).unwrap_or(0),
                    total,
                }
            } else {
                FatError::Write {
                    label: label.to_owned(),
                    path: f.path.clone(),
                    source,
                }
            }
        };
        let root = fs.root_dir();
        let mut prefix = String::new();
        let parts: Vec<&str> = f.path.split('/').collect();
        for dir in &parts[..parts.len() - 1] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(dir);
            if made_dirs.insert(prefix.to_uppercase()) {
                let top_level = !prefix.contains('/');
                dots.watch(top_level, || root.create_dir(&prefix))
                    .map_err(fail)?;
            }
        }
        let mut out = root.create_file(&f.path).map_err(fail)?;
        out.truncate().map_err(fail)?;
        copy_source(f, &mut out).map_err(|e| match e {
            CopyError::Read(source_path, source) => FatError::ReadSource {
                path: f.path.clone(),
                source_path,
                source,
            },
            CopyError::Write(e) => fail(e),
            CopyError::Interrupted => FatError::Interrupted {
                label: label.to_owned(),
            },
        })?;
        out.flush().map_err(fail)?;
    }
    let metadata_err = |source| FatError::Write {
        label: label.to_owned(),
        path: "(volume metadata)".to_owned(),
        source,
    };
    // Counting free clusters fills in the FAT32 FSInfo summary.
    fs.stats().map_err(metadata_err)?;
    fs.unmount().map_err(metadata_err)?;
    fix_dot_entries(&mut dev, &dots.entries()).map_err(metadata_err)?;
    dev.flush().map_err(metadata_err)?;
    Ok(())
}

/// An 11-byte, space-padded, uppercase label.
fn volume_label(label: &str) -> Result<[u8; 11], FatError> {
    let bad = |reason| FatError::BadLabel {
        label: label.to_owned(),
        reason,
    };
    if label.is_empty() {
        return Err(bad("it is empty"));
    }
    if label.len() > 11 {
        return Err(bad("it is longer than 11 characters"));
    }
    let mut out = [b' '; 11];
    for (slot, c) in out.iter_mut().zip(label.bytes()) {
        if !(c.is_ascii_alphanumeric() || b" _-".contains(&c)) {
            return Err(bad("only letters, digits, space, '_' and '-' are allowed"));
        }
        *slot = c.to_ascii_uppercase();
    }
    Ok(out)
}

/// Validated, sorted by path, no duplicates (ignoring case like FAT does).
fn sorted_files(files: &[FatFile]) -> Result<Vec<&FatFile>, FatError> {
    let mut seen = BTreeMap::new();
    for f in files {
        let bad = |reason| FatError::BadPath {
            path: f.path.clone(),
            reason,
        };
        if f.path.is_empty() || f.path.starts_with('/') || f.path.ends_with('/') {
            return Err(bad("it must be relative and name a file"));
        }
        if f.path.contains('\\') {
            return Err(bad("use '/' to separate directories"));
        }
        if f.path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        {
            return Err(bad("empty, '.' and '..' components are not allowed"));
        }
        if seen.insert(f.path.to_uppercase(), f).is_some() {
            return Err(FatError::Duplicate {
                path: f.path.clone(),
            });
        }
    }
    let mut v: Vec<&FatFile> = seen.into_values().collect();
    v.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(v)
}

fn source_len(f: &FatFile) -> Result<u64, FatError> {
    match &f.source {
        FatSource::Bytes(b) => Ok(b.len() as u64),
        FatSource::Path(p) => {
            std::fs::metadata(p)
                .map(|m| m.len())
                .map_err(|source| FatError::ReadSource {
                    path: f.path.clone(),
                    source_path: p.clone(),
                    source,
                })
        }
    }
}

enum CopyError {
    Read(PathBuf, io::Error),
    Write(io::Error),
    Interrupted,
}

fn copy_source<W: Write>(f: &FatFile, out: &mut W) -> Result<(), CopyError> {
    match &f.source {
        FatSource::Bytes(b) => {
            for chunk in b.chunks(CHUNK) {
                interrupt::check().map_err(|_| CopyError::Interrupted)?;
                out.write_all(chunk).map_err(CopyError::Write)?;
            }
        }
        FatSource::Path(p) => {
            let mut src = File::open(p).map_err(|e| CopyError::Read(p.clone(), e))?;
            let mut buf = vec![0u8; CHUNK];
            loop {
                interrupt::check().map_err(|_| CopyError::Interrupted)?;
                let n = match src.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(CopyError::Read(p.clone(), e)),
                };
                out.write_all(&buf[..n]).map_err(CopyError::Write)?;
            }
        }
    }
    Ok(())
}

/// fatfs asks a `&'static` provider for "now"; one per epoch is kept.
#[derive(Debug)]
struct FixedTime(DateTime);

impl fatfs::TimeProvider for FixedTime {
    fn get_current_date(&self) -> Date {
        self.0.date
    }
    fn get_current_date_time(&self) -> DateTime {
        self.0
    }
}

fn fixed_time(epoch: i64) -> &'static FixedTime {
    static CACHE: OnceLock<Mutex<BTreeMap<i64, &'static FixedTime>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    cache
        .entry(epoch)
        .or_insert_with(|| Box::leak(Box::new(FixedTime(dos_datetime(epoch)))))
}

/// UTC calendar time of `epoch`, clamped to what FAT can store.
pub(crate) fn dos_datetime(epoch: i64) -> DateTime {
    const MIN: i64 = 315_532_800; // 1980-01-01T00:00:00Z
    const MAX: i64 = 4_354_819_198; // 2107-12-31T23:59:58Z
    let t = epoch.clamp(MIN, MAX);
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    // Every value below is within u16 after the clamp above.
    let small = |v: i64| u16::try_from(v).unwrap_or(0);
    DateTime {
        date: Date {
            year: small(year),
            month: small(month),
            day: small(day),
        },
        time: Time {
            hour: small(secs / 3600),
            min: small(secs / 60 % 60),
            sec: small(secs % 60),
            millis: 0,
        },
    }
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "fat_tests.rs"]
mod tests;
