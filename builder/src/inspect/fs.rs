//! Which filesystem a partition holds, from its first bytes alone: FAT
//! from its boot sector, ext2/3/4 from the superblock at byte 1024. The
//! UUID and label are shown the way `blkid` shows them.

use serde::Serialize;
use uuid::Uuid;

/// How many bytes of a partition [`detect`] wants.
pub const PROBE_LEN: usize = 4096;

const EXT_SB: usize = 1024;
const EXT_MAGIC: u16 = 0xEF53;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filesystem {
    /// `vfat`, `ext4`, `ext3` or `ext2`.
    pub kind: String,
    /// FAT12, FAT16 or FAT32 for `vfat`.
    pub version: Option<String>,
    /// FAT: the volume id as `ABCD-1234`; ext: the lowercase UUID.
    pub uuid: String,
    pub label: Option<String>,
}

impl Filesystem {
    pub fn is_fat(&self) -> bool {
        self.kind == "vfat"
    }

    pub fn is_ext(&self) -> bool {
        self.kind.starts_with("ext")
    }
}

/// The filesystem whose first bytes are `head` (at least [`PROBE_LEN`]
/// bytes for ext; shorter buffers only find FAT).
pub fn detect(head: &[u8]) -> Option<Filesystem> {
    ext(head).or_else(|| fat(head))
}

fn ext(head: &[u8]) -> Option<Filesystem> {
    let sb = head.get(EXT_SB..EXT_SB + 1024)?;
    if u16::from_le_bytes([sb[0x38], sb[0x39]]) != EXT_MAGIC {
        return None;
    }
    let compat = le32(&sb[0x5C..]);
    let incompat = le32(&sb[0x60..]);
    let ro_compat = le32(&sb[0x64..]);
    // extents, 64bit, flex_bg / huge_file, dir_nlink, extra_isize, metadata_csum
    let ext4 =
        incompat & (0x40 | 0x80 | 0x200) != 0 || ro_compat & (0x8 | 0x20 | 0x40 | 0x400) != 0;
    let kind = if ext4 {
        "ext4"
    } else if compat & 0x4 != 0 {
        "ext3"
    } else {
        "ext2"
    };
    let mut uuid = [0u8; 16];
    uuid.copy_from_slice(&sb[0x68..0x78]);
    Some(Filesystem {
        kind: kind.to_owned(),
        version: None,
        uuid: Uuid::from_bytes(uuid).to_string(),
        label: text(&sb[0x78..0x88]),
    })
}

fn fat(b: &[u8]) -> Option<Filesystem> {
    let b = b.get(..512)?;
    if b[510..512] != [0x55, 0xAA] || !matches!(b[0], 0xEB | 0xE9) {
        return None;
    }
    let bytes_per_sector = u64::from(u16::from_le_bytes([b[11], b[12]]));
    let per_cluster = u64::from(b[13]);
    let reserved = u64::from(u16::from_le_bytes([b[14], b[15]]));
    let fats = u64::from(b[16]);
    let root_entries = u64::from(u16::from_le_bytes([b[17], b[18]]));
    if !matches!(bytes_per_sector, 512 | 1024 | 2048 | 4096)
        || !per_cluster.is_power_of_two()
        || reserved == 0
        || fats == 0
    {
        return None;
    }
    let total = match u16::from_le_bytes([b[19], b[20]]) {
        0 => u64::from(le32(&b[32..])),
        n => u64::from(n),
    };
    let fat16_size = u64::from(u16::from_le_bytes([b[22], b[23]]));
    let fat_size = match fat16_size {
        0 => u64::from(le32(&b[36..])),
        n => n,
    };
    let root_sectors = (root_entries * 32).div_ceil(bytes_per_sector);
    let data = total.checked_sub(reserved + fats * fat_size + root_sectors)?;
    let clusters = data / per_cluster;
    let (version, ext_at) = if fat16_size == 0 {
        ("FAT32", 64)
    } else if clusters < 4085 {
        ("FAT12", 36)
    } else {
        ("FAT16", 36)
    };
    // The extended boot record: drive number, reserved, signature, id, label.
    let (uuid, label) = if matches!(b[ext_at + 2], 0x28 | 0x29) {
        let id = le32(&b[ext_at + 3..]);
        let label = if b[ext_at + 2] == 0x29 {
            text(&b[ext_at + 7..ext_at + 18]).filter(|l| l != "NO NAME")
        } else {
            None
        };
        (format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF), label)
    } else {
        (String::new(), None)
    };
    Some(Filesystem {
        kind: "vfat".to_owned(),
        version: Some(version.to_owned()),
        uuid,
        label,
    })
}

/// A NUL- or space-padded label, `None` when empty.
fn text(b: &[u8]) -> Option<String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    let s = String::from_utf8_lossy(&b[..end]).trim_end().to_owned();
    (!s.is_empty()).then_some(s)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
mod tests {
    use super::*;
    use fatfs::{FatType, FormatVolumeOptions};
    use std::io::Cursor;

    fn fat_head(size: usize, fat_type: Option<FatType>, label: &[u8; 11]) -> Vec<u8> {
        let mut c = Cursor::new(vec![0u8; size]);
        let mut opts = FormatVolumeOptions::new()
            .volume_id(0x1234_ABCD)
            .volume_label(*label);
        if let Some(t) = fat_type {
            opts = opts.fat_type(t);
        }
        fatfs::format_volume(&mut c, opts).unwrap();
        c.into_inner()[..PROBE_LEN].to_vec()
    }

    #[test]
    fn fat_volumes_of_each_size() {
        for (size, t, version) in [
            (2 * 1024 * 1024, None, "FAT12"),
            (16 * 1024 * 1024, Some(FatType::Fat16), "FAT16"),
            (40 * 1024 * 1024, Some(FatType::Fat32), "FAT32"),
        ] {
            let fs = detect(&fat_head(size, t, b"BOOT       ")).unwrap();
            assert_eq!(fs.kind, "vfat");
            assert_eq!(fs.version.as_deref(), Some(version), "{size}");
            assert_eq!(fs.uuid, "1234-ABCD");
            assert_eq!(fs.label.as_deref(), Some("BOOT"));
            assert!(fs.is_fat() && !fs.is_ext());
        }
        let fs = detect(&fat_head(2 * 1024 * 1024, None, b"NO NAME    ")).unwrap();
        assert_eq!(fs.label, None);
    }

    fn ext_head(incompat: u32, compat: u32) -> Vec<u8> {
        let mut b = vec![0u8; PROBE_LEN];
        b[1080..1082].copy_from_slice(&0xEF53u16.to_le_bytes());
        b[1024 + 0x5C..1024 + 0x60].copy_from_slice(&compat.to_le_bytes());
        b[1024 + 0x60..1024 + 0x64].copy_from_slice(&incompat.to_le_bytes());
        let uuid = Uuid::parse_str("0f0e0d0c-0b0a-4908-8706-050403020100").unwrap();
        b[1024 + 0x68..1024 + 0x78].copy_from_slice(uuid.as_bytes());
        b[1024 + 0x78..1024 + 0x81].copy_from_slice(b"clic-root");
        b
    }

    #[test]
    fn ext_superblocks() {
        let fs = detect(&ext_head(0x2C2, 0x3C)).unwrap();
        assert_eq!(fs.kind, "ext4");
        assert_eq!(fs.uuid, "0f0e0d0c-0b0a-4908-8706-050403020100");
        assert_eq!(fs.label.as_deref(), Some("clic-root"));
        assert!(fs.is_ext());
        assert_eq!(detect(&ext_head(0x2, 0x4)).unwrap().kind, "ext3");
        assert_eq!(detect(&ext_head(0x2, 0)).unwrap().kind, "ext2");
    }

    #[test]
    fn ext4_made_by_mke2fs() {
        let dir = tempfile::tempdir().unwrap();
        let img = dir.path().join("r.ext4");
        crate::cmd::Cmd::new("mke2fs")
            .args(["-q", "-F", "-t", "ext4", "-L", "rootfs", "-U"])
            .arg("d0c5a0ff-0000-4000-8000-000000000001")
            .arg(&img)
            .arg("4M")
            .run()
            .unwrap();
        let bytes = std::fs::read(&img).unwrap();
        let fs = detect(&bytes[..PROBE_LEN]).unwrap();
        assert_eq!(fs.kind, "ext4");
        assert_eq!(fs.uuid, "d0c5a0ff-0000-4000-8000-000000000001");
        assert_eq!(fs.label.as_deref(), Some("rootfs"));
    }

    #[test]
    fn nothing_is_found_in_noise() {
        assert_eq!(detect(&[0u8; PROBE_LEN]), None);
        assert_eq!(detect(&[0u8; 10]), None);
        let mut b = vec![0xC0u8; PROBE_LEN];
        b[510] = 0x55;
        b[511] = 0xAA;
        assert_eq!(detect(&b), None, "no jump instruction");
        b[0] = 0xEB;
        b[11] = 0; // 0xC0C0 bytes per sector
        assert_eq!(detect(&b), None);
    }
}
