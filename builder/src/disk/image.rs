//! Put a whole disk image together: partition contents, raw bootloader
//! blobs, then the partition table, into a sparse file of exactly the
//! layout's size. The image is written under a temporary name next to
//! `out` and renamed into place only when complete.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::fat::{build_fat, FatError, FatFile};
use super::region::Region;
use super::table::{write_table, TableError};
use super::DiskError;
use crate::interrupt;
use crate::plan::layout::{Layout, PlacedPartition, TableKind};

/// Zero blocks of this size are skipped so they stay holes.
const HOLE: usize = 4096;
const CHUNK: usize = 1024 * 1024;
const BOOT_CODE_LEN: u64 = 440;

/// What goes into one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartContent {
    /// A filesystem image (e.g. from `mkfs_ext4`), at most the partition size.
    File(PathBuf),
    /// Raw bytes (e.g. GRUB's core.img for the BIOS boot partition).
    Bytes(Vec<u8>),
    /// A FAT filesystem built in place (timestamps: `assemble`'s epoch).
    Fat {
        volume_id: u32,
        label: String,
        files: Vec<FatFile>,
    },
}

/// Bytes written at a fixed offset outside every partition (u-boot, bl1...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawBlob {
    pub name: String,
    pub offset: u64,
    pub data: Vec<u8>,
    /// May this blob lie within bytes 0..440 of sector 0 (the MBR boot
    /// code area)? It then takes the place of `boot_code`.
    pub allow_mbr_bootcode: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("content given for partition {number}, which the layout does not have")]
    UnknownPartition { number: u32 },
    #[error("content given twice for partition {number} ('{label}')")]
    DuplicateContent { number: u32, label: String },
    #[error("{what} is {len} bytes but partition {number} ('{label}') holds only {size}")]
    ContentTooLarge {
        what: String,
        len: u64,
        number: u32,
        label: String,
        size: u64,
    },
    #[error("raw blob '{name}' (bytes {start}..{end}) {problem}")]
    BlobPlacement {
        name: String,
        start: u64,
        end: u64,
        problem: String,
    },
    #[error("raw blob '{name}' and the boot code both want bytes 0..440 of sector 0")]
    BootCodeConflict { name: String },
    #[error("building the FAT filesystem of partition {number} ('{label}'): {source}")]
    Fat {
        number: u32,
        label: String,
        source: FatError,
    },
    #[error("writing the partition table of {path}: {source}")]
    Table { path: PathBuf, source: TableError },
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error("interrupted while assembling {path}")]
    Interrupted { path: PathBuf },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ImageError {
    let what = what.into();
    move |source| ImageError::Io { what, source }
}

/// Write `out`: a sparse image of exactly `layout.disk_size` bytes with
/// `parts` placed into their partitions, `raw_blobs` at their offsets and
/// the partition table (with `boot_code` in the MBR) written last. FAT
/// timestamps are `epoch` (SOURCE_DATE_EPOCH).
pub fn assemble(
    out: &Path,
    layout: &Layout,
    parts: &[(u32, PartContent)],
    boot_code: Option<[u8; 440]>,
    raw_blobs: &[RawBlob],
    epoch: i64,
) -> Result<(), DiskError> {
    assemble_image(out, layout, parts, boot_code, raw_blobs, epoch).map_err(DiskError::Image)
}

fn assemble_image(
    out: &Path,
    layout: &Layout,
    parts: &[(u32, PartContent)],
    boot_code: Option<[u8; 440]>,
    raw_blobs: &[RawBlob],
    epoch: i64,
) -> Result<(), ImageError> {
    let placed = check_parts(layout, parts)?;
    let (boot_code, blobs) = check_blobs(layout, raw_blobs, boot_code)?;

    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".clic-image-")
        .tempfile_in(dir)
        .map_err(io_err(format!(
            "creating a temporary image in {}",
            dir.display()
        )))?;
    let interrupted = || ImageError::Interrupted {
        path: out.to_owned(),
    };
    let file = tmp.as_file_mut();
    file.set_len(layout.disk_size)
        .map_err(io_err(format!("sizing {}", out.display())))?;

    for (part, content) in placed {
        let what = format!("partition {} ('{}')", part.number, part.label);
        match content {
            PartContent::File(src) => {
                let mut f = File::open(src)
                    .map_err(io_err(format!("opening {} for {what}", src.display())))?;
                // Checked above, but never spill into the next partition.
                let mut limited = (&mut f).take(part.size);
                sparse_copy(&mut limited, file, part.start).map_err(|e| match e {
                    CopyError::Interrupted => interrupted(),
                    CopyError::Io(source) => ImageError::Io {
                        what: format!("copying {} into {what}", src.display()),
                        source,
                    },
                })?;
            }
            PartContent::Bytes(bytes) => {
                sparse_copy(&mut bytes.as_slice(), file, part.start).map_err(|e| match e {
                    CopyError::Interrupted => interrupted(),
                    CopyError::Io(source) => ImageError::Io {
                        what: format!("writing {what}"),
                        source,
                    },
                })?;
            }
            PartContent::Fat {
                volume_id,
                label,
                files,
            } => {
                let region = Region::new(&mut *file, part.start, part.size)
                    .map_err(io_err(format!("addressing {what}")))?;
                build_fat(region, part.size, *volume_id, label, files, epoch).map_err(
                    |source| match source {
                        FatError::Interrupted { .. } => interrupted(),
                        source => ImageError::Fat {
                            number: part.number,
                            label: part.label.clone(),
                            source,
                        },
                    },
                )?;
            }
        }
    }
    for blob in blobs {
        file.seek(SeekFrom::Start(blob.offset))
            .and_then(|_| file.write_all(&blob.data))
            .map_err(io_err(format!("writing raw blob '{}'", blob.name)))?;
    }
    write_table(file, layout, boot_code.as_ref()).map_err(|source| ImageError::Table {
        path: out.to_owned(),
        source,
    })?;
    file.flush()
        .map_err(io_err(format!("flushing {}", out.display())))?;
    // Temporary files are private; an image is not.
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(io_err(format!("setting the mode of {}", out.display())))?;
    tmp.persist(out).map_err(|e| ImageError::Io {
        what: format!("renaming the finished image to {}", out.display()),
        source: e.error,
    })?;
    Ok(())
}

/// Pair each content with its partition; refuse unknown or duplicate
/// numbers and contents larger than their partition.
fn check_parts<'a>(
    layout: &'a Layout,
    parts: &'a [(u32, PartContent)],
) -> Result<Vec<(&'a PlacedPartition, &'a PartContent)>, ImageError> {
    let mut placed: Vec<(&PlacedPartition, &PartContent)> = Vec::new();
    for (number, content) in parts {
        let part = layout
            .by_number(*number)
            .ok_or(ImageError::UnknownPartition { number: *number })?;
        if placed.iter().any(|(p, _)| p.number == *number) {
            return Err(ImageError::DuplicateContent {
                number: *number,
                label: part.label.clone(),
            });
        }
        let (what, len) = match content {
            PartContent::File(p) => {
                let md = std::fs::metadata(p).map_err(io_err(format!(
                    "reading the size of {} for partition {number} ('{}')",
                    p.display(),
                    part.label
                )))?;
                (p.display().to_string(), md.len())
            }
            PartContent::Bytes(b) => ("the content".to_owned(), b.len() as u64),
            PartContent::Fat { .. } => (String::new(), 0),
        };
        if len > part.size {
            return Err(ImageError::ContentTooLarge {
                what,
                len,
                number: *number,
                label: part.label.clone(),
                size: part.size,
            });
        }
        placed.push((part, content));
    }
    Ok(placed)
}

/// Refuse blobs that leave the disk or overlap partitions, the table or
/// each other; return the MBR boot code to write (from `boot_code` or from
/// blobs allowed into the boot code area) and the blobs to write elsewhere.
fn check_blobs<'a>(
    layout: &Layout,
    blobs: &'a [RawBlob],
    boot_code: Option<[u8; 440]>,
) -> Result<(Option<[u8; 440]>, Vec<&'a RawBlob>), ImageError> {
    let mut code = boot_code;
    let mut elsewhere = Vec::new();
    let mut in_code: Vec<(u64, u64, String)> = Vec::new();
    let mut taken: Vec<(u64, u64, String)> = layout
        .partitions
        .iter()
        .map(|p| {
            (
                p.start,
                p.end(),
                format!("partition {} ('{}')", p.number, p.label),
            )
        })
        .collect();
    for (start, end) in layout.table_ranges() {
        taken.push((
            start,
            end,
            format!("the {} partition table", table_name(layout)),
        ));
    }
    for blob in blobs {
        let start = blob.offset;
        let bad = |end: u64, problem: String| ImageError::BlobPlacement {
            name: blob.name.clone(),
            start,
            end,
            problem,
        };
        let end = start
            .checked_add(blob.data.len() as u64)
            .ok_or_else(|| bad(u64::MAX, "ends beyond 2^64".into()))?;
        if end > layout.disk_size {
            return Err(bad(
                end,
                format!("ends beyond the {}-byte disk", layout.disk_size),
            ));
        }
        if blob.allow_mbr_bootcode && end <= BOOT_CODE_LEN {
            if boot_code.is_some() {
                return Err(ImageError::BootCodeConflict {
                    name: blob.name.clone(),
                });
            }
            if let Some(other) = in_code.iter().find(|(s, e, _)| start < *e && *s < end) {
                return Err(bad(end, format!("overlaps raw blob '{}'", other.2)));
            }
            in_code.push((start, end, blob.name.clone()));
            let mut c = code.unwrap_or([0u8; 440]);
            // end <= 440, so both bounds fit usize.
            c[start as usize..end as usize].copy_from_slice(&blob.data);
            code = Some(c);
            continue;
        }
        if let Some((_, _, what)) = taken.iter().find(|(s, e, _)| start < *e && *s < end) {
            return Err(bad(end, format!("overlaps {what}")));
        }
        taken.push((start, end, format!("raw blob '{}'", blob.name)));
        elsewhere.push(blob);
    }
    Ok((code, elsewhere))
}

fn table_name(layout: &Layout) -> &'static str {
    match layout.table {
        TableKind::Gpt => "GPT",
        TableKind::Mbr => "MBR",
    }
}

enum CopyError {
    Io(io::Error),
    Interrupted,
}

/// Copy all of `src` to `dst` at `offset`, seeking over all-zero 4 KiB
/// blocks so they stay holes (`dst` must be zeros there already).
fn sparse_copy<R: Read, W: Write + Seek>(
    src: &mut R,
    dst: &mut W,
    offset: u64,
) -> Result<(), CopyError> {
    let mut buf = vec![0u8; CHUNK];
    let mut pos = offset;
    loop {
        interrupt::check().map_err(|_| CopyError::Interrupted)?;
        let n = read_full(src, &mut buf).map_err(CopyError::Io)?;
        if n == 0 {
            return Ok(());
        }
        for block in buf[..n].chunks(HOLE) {
            if block.iter().any(|&b| b != 0) {
                dst.seek(SeekFrom::Start(pos)).map_err(CopyError::Io)?;
                dst.write_all(block).map_err(CopyError::Io)?;
            }
            pos += block.len() as u64;
        }
    }
}

/// Fill `buf` as far as the source allows, so blocks stay 4 KiB aligned.
fn read_full<R: Read>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
