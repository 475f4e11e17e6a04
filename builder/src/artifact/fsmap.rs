//! Which bytes of a filesystem are in use, read from its own allocation
//! maps: ext2/3/4 block bitmaps (with the groups whose bitmap was never
//! initialised worked out from the layout, as e2fsprogs does) and the FAT.
//! Generic over `Read + Seek` and tested on in-memory and temp-file images
//! made by mkfs; no mount, no root. Spans are byte offsets relative to the
//! start of the filesystem.

use std::io::{self, Read, Seek, SeekFrom};

use super::bmap::{normalise, Span};

#[derive(Debug, thiserror::Error)]
pub enum FsMapError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Bad(String),
}

fn bad(s: impl Into<String>) -> FsMapError {
    FsMapError::Bad(s.into())
}

pub(crate) fn read_at<R: Read + Seek>(r: &mut R, at: u64, len: usize) -> io::Result<Vec<u8>> {
    r.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; len];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

fn le16(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// Used spans of an ext2/3/4 filesystem starting at `base`, and the bytes
/// the filesystem spans (blocks count x block size).
pub fn ext_used<R: Read + Seek>(r: &mut R, base: u64) -> Result<(Vec<Span>, u64), FsMapError> {
    let sb = read_at(r, base + 1024, 1024)?;
    if le16(&sb, 0x38) != 0xEF53 {
        return Err(bad("no ext superblock"));
    }
    let log = le32(&sb, 0x18);
    if log > 6 {
        return Err(bad(format!("block size 1024 << {log}")));
    }
    let bs = 1024u64 << log;
    let incompat = le32(&sb, 0x60);
    let ro_compat = le32(&sb, 0x64);
    let compat = le32(&sb, 0x5C);
    let is64 = incompat & 0x80 != 0;
    let blocks = le32(&sb, 0x04) | if is64 { le32(&sb, 0x150) << 32 } else { 0 };
    let first = le32(&sb, 0x14);
    let per_group = le32(&sb, 0x20);
    let inodes_per_group = le32(&sb, 0x28);
    let inode_size = if le32(&sb, 0x4C) >= 1 {
        le16(&sb, 0x58)
    } else {
        128
    };
    let desc_size = if is64 { le16(&sb, 0xFE).max(32) } else { 32 };
    if per_group == 0 || per_group > bs * 8 || blocks <= first || desc_size > 1024 {
        return Err(bad("inconsistent superblock"));
    }
    let groups = (blocks - first).div_ceil(per_group);
    // 2^24 groups of 128 MiB is 2 PiB: more is a damaged superblock (and
    // would ask for gigabytes of descriptors).
    if groups > 1 << 24 {
        return Err(bad(format!("{groups} block groups")));
    }
    let gdt_blocks = (groups * desc_size).div_ceil(bs);
    let reserved_gdt = le16(&sb, 0xCE);
    let sparse = ro_compat & 0x1 != 0;
    // META_BG and sparse_super2 place backups elsewhere: for their
    // uninitialised groups count every block as used (safe, just larger).
    let exotic = incompat & 0x10 != 0 || compat & 0x200 != 0;
    let itable_blocks = (inodes_per_group * inode_size).div_ceil(bs);

    let gdt = read_at(
        r,
        base + (first + 1) * bs,
        usize::try_from(gdt_blocks * bs).map_err(|_| bad("group descriptors too large"))?,
    )?;
    struct Desc {
        block_bitmap: u64,
        uninit: bool,
    }
    let mut descs = Vec::new();
    let mut metadata: Vec<Span> = Vec::new();
    for g in 0..groups {
        let d = &gdt[(g * desc_size) as usize..((g + 1) * desc_size) as usize];
        let hi = |at: usize| {
            if desc_size >= 64 {
                le32(d, at) << 32
            } else {
                0
            }
        };
        let block_bitmap = le32(d, 0) | hi(0x20);
        let inode_bitmap = le32(d, 4) | hi(0x24);
        let inode_table = le32(d, 8) | hi(0x28);
        metadata.push((block_bitmap, block_bitmap + 1));
        metadata.push((inode_bitmap, inode_bitmap + 1));
        metadata.push((inode_table, inode_table + itable_blocks));
        descs.push(Desc {
            block_bitmap,
            uninit: le16(d, 0x12) & 0x2 != 0,
        });
    }
    let metadata = normalise(metadata);
    let has_super = |g: u64| {
        if g <= 1 || !sparse {
            return true;
        }
        [3u64, 5, 7].iter().any(|&p| {
            let mut x = g;
            while x.is_multiple_of(p) {
                x /= p;
            }
            x == 1
        })
    };

    // Blocks (not bytes) in use; block 0 and the superblock always.
    let mut used: Vec<Span> = vec![(0, first + 1)];
    for (g, d) in descs.iter().enumerate() {
        let g = g as u64;
        let start = first + g * per_group;
        let n = per_group.min(blocks - start);
        if !d.uninit {
            if d.block_bitmap >= blocks {
                return Err(bad(format!(
                    "group {g}: block bitmap at {}",
                    d.block_bitmap
                )));
            }
            let bitmap = read_at(r, base + d.block_bitmap * bs, bs as usize)?;
            let mut run: Option<u64> = None;
            for i in 0..n {
                let set = bitmap[(i / 8) as usize] & (1 << (i % 8)) != 0;
                match (set, run) {
                    (true, None) => run = Some(i),
                    (false, Some(s)) => {
                        used.push((start + s, start + i));
                        run = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = run {
                used.push((start + s, start + n));
            }
        } else if exotic {
            used.push((start, start + n));
        } else {
            if has_super(g) {
                used.push((
                    start,
                    (start + 1 + gdt_blocks + reserved_gdt).min(start + n),
                ));
            }
            for &(s, e) in &metadata {
                let (s, e) = (s.max(start), e.min(start + n));
                if s < e {
                    used.push((s, e));
                }
            }
        }
    }
    let spans = normalise(used)
        .into_iter()
        .map(|(s, e)| (s * bs, e * bs))
        .collect();
    Ok((spans, blocks * bs))
}

/// Used spans of a FAT12/16/32 filesystem starting at `base`: boot sector,
/// reserved sectors, FATs and root directory, then every cluster whose FAT
/// entry is not zero. Also returns the bytes the filesystem spans.
pub fn fat_used<R: Read + Seek>(r: &mut R, base: u64) -> Result<(Vec<Span>, u64), FsMapError> {
    let bpb = read_at(r, base, 512)?;
    if bpb[510..512] != [0x55, 0xAA] {
        return Err(bad("no boot sector signature"));
    }
    let bps = le16(&bpb, 11);
    let spc = u64::from(bpb[13]);
    let reserved = le16(&bpb, 14);
    let fats = u64::from(bpb[16]);
    let root_entries = le16(&bpb, 17);
    let total = match le16(&bpb, 19) {
        0 => le32(&bpb, 32),
        n => n,
    };
    let fat_size = match le16(&bpb, 22) {
        0 => le32(&bpb, 36),
        n => n,
    };
    if ![512, 1024, 2048, 4096].contains(&bps)
        || !spc.is_power_of_two()
        || fats == 0
        || reserved == 0
        || fat_size == 0
    {
        return Err(bad("not a FAT boot sector"));
    }
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let data_start = reserved + fats * fat_size + root_sectors;
    if total <= data_start {
        return Err(bad("FAT data area is empty"));
    }
    let clusters = (total - data_start) / spc;
    let bits: u64 = if clusters < 4085 {
        12
    } else if clusters < 65525 {
        16
    } else {
        32
    };
    let fat_bytes = (clusters + 2) * bits / 8 + 2;
    let fat_bytes = fat_bytes.min(fat_size * bps);
    // FAT32's largest table is 2^28 entries of 4 bytes.
    if fat_bytes > 1 << 30 {
        return Err(bad("FAT larger than FAT32 allows"));
    }
    let table = read_at(
        r,
        base + reserved * bps,
        usize::try_from(fat_bytes).map_err(|_| bad("FAT too large"))?,
    )?;
    let entry = |n: u64| -> u64 {
        match bits {
            12 => {
                let at = (n + n / 2) as usize;
                let v = le16(&table, at);
                if n.is_multiple_of(2) {
                    v & 0xFFF
                } else {
                    v >> 4
                }
            }
            16 => le16(&table, (n * 2) as usize),
            _ => le32(&table, (n * 4) as usize) & 0x0FFF_FFFF,
        }
    };
    let cluster_bytes = spc * bps;
    let data = data_start * bps;
    let mut used: Vec<Span> = vec![(0, data)];
    let mut run: Option<u64> = None;
    let last = clusters + 2;
    for n in 2..last {
        let in_fat = (n + 1) * bits / 8 + 1 < fat_bytes;
        let set = !in_fat || entry(n) != 0;
        match (set, run) {
            (true, None) => run = Some(n),
            (false, Some(s)) => {
                used.push((
                    data + (s - 2) * cluster_bytes,
                    data + (n - 2) * cluster_bytes,
                ));
                run = None;
            }
            _ => {}
        }
    }
    if let Some(s) = run {
        used.push((
            data + (s - 2) * cluster_bytes,
            data + (last - 2) * cluster_bytes,
        ));
    }
    Ok((normalise(used), total * bps))
}

/// Spans of `[start, end)` holding a non-zero byte, at `block`-size
/// granularity on the absolute grid; zero holes shorter than `keep_hole`
/// between two such spans are kept mapped (a bootloader blob with a few
/// zero blocks inside must be written whole).
pub fn nonzero_spans<R: Read + Seek>(
    r: &mut R,
    start: u64,
    end: u64,
    block: u64,
    keep_hole: u64,
) -> io::Result<Vec<Span>> {
    const CHUNK: u64 = 1 << 20;
    let mut spans: Vec<Span> = Vec::new();
    let mut pos = start - start % block;
    r.seek(SeekFrom::Start(pos))?;
    let mut buf = vec![0u8; CHUNK as usize];
    while pos < end {
        let want = CHUNK.min(end.div_ceil(block) * block - pos) as usize;
        let got = read_full(r, &mut buf[..want])?;
        if got == 0 {
            break;
        }
        for (i, b) in buf[..got].chunks(block as usize).enumerate() {
            if b.iter().any(|&x| x != 0) {
                let s = (pos + i as u64 * block).max(start);
                let e = (pos + i as u64 * block + b.len() as u64).min(end);
                match spans.last_mut() {
                    Some(last) if s <= last.1 + keep_hole => last.1 = e,
                    _ => spans.push((s, e)),
                }
            }
        }
        pos += got as u64;
    }
    Ok(spans)
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::path::Path;
    use std::process::Command;

    use crate::artifact::bmap::complement;

    #[test]
    fn nonzero_blocks_with_small_holes_kept() {
        let mut img = vec![0u8; 64 * 4096];
        img[10] = 1; // block 0
        img[2 * 4096] = 1; // block 2: hole of 1 block kept
        img[40 * 4096 + 5] = 7; // far away: its own span
        let spans = nonzero_spans(&mut Cursor::new(&img), 0, img.len() as u64, 4096, 8192).unwrap();
        assert_eq!(spans, vec![(0, 3 * 4096), (40 * 4096, 41 * 4096)]);
        // Bounds are clipped to the region asked for.
        let spans = nonzero_spans(&mut Cursor::new(&img), 100, 3 * 4096 - 1, 4096, 0).unwrap();
        assert_eq!(spans, vec![(100, 4096), (2 * 4096, 3 * 4096 - 1)]);
    }

    fn have(tool: &str) -> bool {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    fn run(cmd: &mut Command) -> String {
        let out = cmd.output().expect("spawn");
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// dumpe2fs's free block ranges, as block spans.
    fn dumpe2fs_free(img: &Path) -> (Vec<Span>, u64, u64) {
        let text = run(Command::new("dumpe2fs").arg(img));
        let field = |k: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(k))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        let mut free = Vec::new();
        for l in text.lines() {
            if let Some(list) = l.strip_prefix("  Free blocks: ") {
                for r in list.split(", ").filter(|s| !s.is_empty()) {
                    let (a, b) = r.split_once('-').unwrap_or((r, r));
                    free.push((a.parse().unwrap(), b.parse::<u64>().unwrap() + 1));
                }
            }
        }
        (normalise(free), field("Block count:"), field("Block size:"))
    }

    /// Our reading of the bitmaps equals e2fsprogs' own, for filesystems
    /// with and without flex_bg, 1 KiB and 4 KiB blocks, uninitialised
    /// groups, and files from `mke2fs -d`.
    #[test]
    fn ext_bitmaps_agree_with_dumpe2fs() {
        if !have("mke2fs") || !have("dumpe2fs") {
            eprintln!("skipped: e2fsprogs missing");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let tree = t.path().join("tree");
        std::fs::create_dir_all(tree.join("d")).unwrap();
        std::fs::write(tree.join("a"), vec![7u8; 300_000]).unwrap();
        std::fs::write(tree.join("d/b"), b"hello").unwrap();
        for (i, opts) in [
            vec!["-t", "ext4"],
            vec!["-t", "ext4", "-b", "1024"],
            vec!["-t", "ext4", "-O", "^flex_bg"],
            vec!["-t", "ext4", "-O", "^64bit,^metadata_csum", "-b", "2048"],
            vec!["-t", "ext2"],
        ]
        .iter()
        .enumerate()
        {
            let img = t.path().join(format!("fs{i}.img"));
            std::fs::File::create(&img)
                .unwrap()
                .set_len(300 << 20)
                .unwrap();
            run(Command::new("mke2fs")
                .args(["-q", "-F", "-d"])
                .arg(&tree)
                .args(opts)
                .arg(&img));
            let (free, count, bs) = dumpe2fs_free(&img);
            let expect: Vec<Span> = complement(&free, (0, count))
                .into_iter()
                .map(|(s, e)| (s * bs, e * bs))
                .collect();
            let mut f = std::fs::File::open(&img).unwrap();
            let (used, size) = ext_used(&mut f, 0).unwrap();
            assert_eq!(size, count * bs, "{opts:?}");
            assert_eq!(used, expect, "{opts:?}");
            let used_bytes: u64 = used.iter().map(|(s, e)| e - s).sum();
            assert!(used_bytes < size / 4, "{opts:?}: {used_bytes} of {size}");
        }
    }

    #[test]
    fn fat_clusters_in_use() {
        if !have("mkfs.vfat") || !have("mcopy") {
            eprintln!("skipped: dosfstools/mtools missing");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        for (size_mib, fat) in [(8u64, "12"), (32, "16"), (300, "32")] {
            let img = t.path().join(format!("fat{fat}.img"));
            std::fs::File::create(&img)
                .unwrap()
                .set_len(size_mib << 20)
                .unwrap();
            run(Command::new("mkfs.vfat").args(["-F", fat]).arg(&img));
            let file = t.path().join("data");
            std::fs::write(&file, vec![1u8; 1 << 20]).unwrap();
            run(Command::new("mcopy")
                .arg("-i")
                .arg(&img)
                .arg(&file)
                .arg("::/DATA.BIN"));
            let mut f = std::fs::File::open(&img).unwrap();
            let (used, total) = fat_used(&mut f, 0).unwrap();
            // mkfs.vfat may leave a few sectors past the last cluster.
            assert!(
                total <= size_mib << 20 && total > (size_mib << 20) - (1 << 20),
                "FAT{fat}"
            );
            let used_bytes: u64 = used.iter().map(|(s, e)| e - s).sum();
            // The file's MiB plus the FATs and root, far from everything.
            assert!(used_bytes >= 1 << 20, "FAT{fat}: {used:?}");
            assert!(used_bytes < (1 << 20) + (3 << 20), "FAT{fat}: {used_bytes}");
            // Every byte of the file lies in a used span.
            let img_bytes = std::fs::read(&img).unwrap();
            let pos = img_bytes
                .windows(4096)
                .position(|w| w.iter().all(|&b| b == 1))
                .unwrap() as u64;
            assert!(
                used.iter().any(|&(s, e)| s <= pos && pos + (1 << 20) <= e),
                "FAT{fat}"
            );
        }
    }

    #[test]
    fn garbage_is_not_a_filesystem() {
        let img = vec![0u8; 1 << 16];
        assert!(ext_used(&mut Cursor::new(&img), 0).is_err());
        assert!(fat_used(&mut Cursor::new(&img), 0).is_err());
        // A superblock announcing 2^40 blocks in groups of 8 is refused
        // before anything is allocated for it.
        let mut img = vec![0u8; 1 << 16];
        let sb = 1024;
        img[sb + 0x38..sb + 0x3A].copy_from_slice(&0xEF53u16.to_le_bytes());
        img[sb + 0x04..sb + 0x08].copy_from_slice(&u32::MAX.to_le_bytes());
        img[sb + 0x20..sb + 0x24].copy_from_slice(&8u32.to_le_bytes());
        img[sb + 0x60..sb + 0x64].copy_from_slice(&0x80u32.to_le_bytes());
        img[sb + 0x150..sb + 0x154].copy_from_slice(&0xFFu32.to_le_bytes());
        let e = ext_used(&mut Cursor::new(&img), 0).unwrap_err();
        assert!(e.to_string().contains("block groups"), "{e}");
    }
}
