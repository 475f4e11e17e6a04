//! The mapped blocks of a disk image file: inside each ext or FAT
//! partition the blocks its filesystem uses; in other partitions, and
//! outside every partition (MBR, GPT, bootloader blobs at fixed sectors),
//! the non-zero blocks, with zero holes under 1 MiB between them kept
//! (a blob with zero blocks inside is written whole).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::bmap::{self, bytes_to_blocks, complement, normalise, Bmap, MappedRange, Span};
use super::fsmap;
use crate::inspect::{fs, table};

/// Zero holes shorter than this between non-zero blocks stay mapped.
pub const KEEP_HOLE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("interrupted")]
    Interrupted,
}

/// How a region of the image was mapped, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    pub start: u64,
    pub end: u64,
    /// `ext4`, `vfat`, or `raw` (non-zero blocks).
    pub how: String,
    pub mapped: u64,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub image_size: u64,
    /// Mapped byte spans, normalised (not yet rounded to blocks).
    pub spans: Vec<Span>,
    pub regions: Vec<Region>,
}

fn ioerr(path: &Path) -> impl Fn(std::io::Error) -> MapError + '_ {
    move |source| MapError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Map an image file.
pub fn map_image(path: &Path) -> Result<Mapping, MapError> {
    let mut f = File::open(path).map_err(ioerr(path))?;
    let size = f.metadata().map_err(ioerr(path))?.len();
    map_reader(&mut f, size).map_err(ioerr(path))
}

pub fn map_reader<R: Read + Seek>(r: &mut R, size: u64) -> std::io::Result<Mapping> {
    let parts: Vec<Span> = match table::read_table(r, size) {
        Ok(t) => t
            .partitions
            .iter()
            .map(|p| (p.start.min(size), p.end().min(size)))
            .filter(|(s, e)| e > s)
            .collect(),
        // No table: the image may be one filesystem.
        Err(_) => vec![(0, size)],
    };
    // Partitions one after the other touch: keep them apart (no merging).
    let mut parts = parts;
    parts.sort_unstable();
    parts.dedup();
    let mut regions = Vec::new();
    let mut spans: Vec<Span> = Vec::new();
    for gap in complement(&normalise(parts.clone()), (0, size)) {
        let s = fsmap::nonzero_spans(r, gap.0, gap.1, bmap::BLOCK_SIZE, KEEP_HOLE)?;
        regions.push(region(gap, "raw", &s));
        spans.extend(s);
    }
    for &(start, end) in &parts {
        let head = read_head(r, start, end)?;
        let detected = fs::detect(&head);
        let used = match &detected {
            Some(f) if f.is_ext() => fsmap::ext_used(r, start).ok().map(|u| (u, "ext4")),
            Some(f) if f.is_fat() => fsmap::fat_used(r, start).ok().map(|u| (u, "vfat")),
            _ => None,
        };
        match used {
            Some(((used, fs_len), how)) => {
                let fs_end = (start + fs_len).min(end);
                let mut s: Vec<Span> = used
                    .iter()
                    .map(|&(a, b)| (start + a, (start + b).min(fs_end)))
                    .filter(|(a, b)| b > a)
                    .collect();
                // Whatever lies after the filesystem in its partition.
                s.extend(fsmap::nonzero_spans(
                    r,
                    fs_end,
                    end,
                    bmap::BLOCK_SIZE,
                    KEEP_HOLE,
                )?);
                regions.push(region((start, end), how, &s));
                spans.extend(s);
            }
            None => {
                let s = fsmap::nonzero_spans(r, start, end, bmap::BLOCK_SIZE, KEEP_HOLE)?;
                regions.push(region((start, end), "raw", &s));
                spans.extend(s);
            }
        }
    }
    regions.sort_by_key(|r| r.start);
    Ok(Mapping {
        image_size: size,
        spans: normalise(spans),
        regions,
    })
}

fn region(span: Span, how: &str, s: &[Span]) -> Region {
    Region {
        start: span.0,
        end: span.1,
        how: how.to_owned(),
        mapped: s.iter().map(|(a, b)| b - a).sum(),
    }
}

fn read_head<R: Read + Seek>(r: &mut R, start: u64, end: u64) -> std::io::Result<Vec<u8>> {
    let len = (end - start).min(fs::PROBE_LEN as u64) as usize;
    r.seek(SeekFrom::Start(start))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// The block spans of a mapping, in `block_size` blocks.
pub fn block_spans(m: &Mapping, block_size: u64) -> Vec<Span> {
    bytes_to_blocks(&m.spans, block_size)
}

/// The bmap of an image file: its mapping, with the sha256 of each range
/// read from the file. Stops early on Ctrl-C.
pub fn bmap_of(path: &Path) -> Result<(Bmap, Mapping), MapError> {
    let m = map_image(path)?;
    let mut f = File::open(path).map_err(ioerr(path))?;
    let bs = bmap::BLOCK_SIZE;
    let mut ranges = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    for (first, end) in block_spans(&m, bs) {
        let start = first * bs;
        let stop = (end * bs).min(m.image_size);
        f.seek(SeekFrom::Start(start)).map_err(ioerr(path))?;
        let mut h = Sha256::new();
        let mut left = stop - start;
        while left > 0 {
            crate::interrupt::check().map_err(|_| MapError::Interrupted)?;
            let n = left.min(buf.len() as u64) as usize;
            f.read_exact(&mut buf[..n]).map_err(ioerr(path))?;
            h.update(&buf[..n]);
            left -= n as u64;
        }
        ranges.push(MappedRange {
            first,
            last: end - 1,
            sha256: hex::encode(h.finalize()),
        });
    }
    Ok((
        Bmap {
            image_size: m.image_size,
            block_size: bs,
            ranges,
        },
        m,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// An MBR image by hand: a blob outside the partitions, one partition
    /// of garbage-free zeros with a few bytes, and a tail of zeros.
    #[test]
    fn raw_regions_map_their_nonzero_blocks() {
        let mut img = vec![0u8; 8 << 20];
        // MBR: one partition of type 0x83 at 2 MiB, 2 MiB long.
        img[446 + 4] = 0x83;
        img[446 + 8..446 + 12].copy_from_slice(&4096u32.to_le_bytes());
        img[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        img[510] = 0x55;
        img[511] = 0xAA;
        // A "bootloader" at sector 64, with a zero block inside.
        for b in &mut img[64 * 512..64 * 512 + 4096] {
            *b = 0xAB;
        }
        for b in &mut img[64 * 512 + 8192..64 * 512 + 12288] {
            *b = 0xCD;
        }
        // A byte in the partition, no filesystem there.
        img[(3 << 20) + 5] = 1;
        let m = map_reader(&mut Cursor::new(&img), img.len() as u64).unwrap();
        assert_eq!(
            m.spans,
            vec![(0, 64 * 512 + 12288), ((3 << 20), (3 << 20) + 4096)]
        );
        assert_eq!(m.regions.len(), 3, "{:?}", m.regions);
        assert!(m.regions.iter().all(|r| r.how == "raw"));
    }

    /// Two partitions that touch keep their own filesystems (they are not
    /// merged into one raw region).
    #[test]
    fn touching_partitions_are_mapped_by_their_filesystems() {
        use std::process::Command;
        let ok = |c: &mut Command| c.output().is_ok_and(|o| o.status.success());
        let t = tempfile::tempdir().unwrap();
        let img = t.path().join("disk.img");
        std::fs::File::create(&img)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        let mut mbr = vec![0u8; 512];
        for (i, (kind, start, len)) in [(0x0cu8, 2048u32, 6144u32), (0x83, 8192, 8192)]
            .iter()
            .enumerate()
        {
            let e = 446 + 16 * i;
            mbr[e + 4] = *kind;
            mbr[e + 8..e + 12].copy_from_slice(&start.to_le_bytes());
            mbr[e + 12..e + 16].copy_from_slice(&len.to_le_bytes());
        }
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        use std::os::unix::fs::FileExt;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .unwrap()
            .write_all_at(&mbr, 0)
            .unwrap();
        let fat = ok(Command::new("mkfs.vfat")
            .args(["--offset=2048", "-F", "12"])
            .arg(&img)
            .arg("3072"));
        let ext = ok(Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-E", "offset=4194304"])
            .arg(&img)
            .arg("4096"));
        if !fat || !ext {
            eprintln!("skipped: mkfs.vfat or mke2fs missing or too old");
            return;
        }
        let m = map_image(&img).unwrap();
        let how: Vec<&str> = m.regions.iter().map(|r| r.how.as_str()).collect();
        assert_eq!(how, ["raw", "vfat", "ext4"], "{:?}", m.regions);
        assert!(m.regions[2].mapped < 2 << 20, "{:?}", m.regions);
    }
}
