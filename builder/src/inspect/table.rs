//! Read a partition table (GPT with its protective MBR, or a plain MBR)
//! from any `Read + Seek`, without the help of the kernel: what `sfdisk
//! --json` and `blkid` would show, plus the problems found on the way
//! (checksums, the backup GPT header).

use std::io::{self, Read, Seek, SeekFrom};

use serde::Serialize;
use uuid::Uuid;

use crate::plan::layout::{gpt_type, PartRole};

const MBR_ENTRIES: u64 = 446;
const GPT_SIGNATURE: &[u8; 8] = b"EFI PART";
/// More entry bytes than this is not a table clic (or anyone) wrote.
const GPT_ENTRIES_MAX: u64 = 1024 * 1024;
const GPT_ATTR_LEGACY_BOOTABLE: u64 = 1 << 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableKind {
    Gpt,
    Mbr,
}

/// What a partition's type says it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    BiosBoot,
    Esp,
    /// A FAT partition firmware reads (MBR 0x0b/0x0c/0x0e/0x06, GPT basic data).
    Boot,
    /// A GPT "Linux root" type of some architecture.
    LinuxRoot,
    /// Linux filesystem data (MBR 0x83).
    Linux,
    Swap,
    Extended,
    Other,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::BiosBoot => "bios-boot",
            Role::Esp => "esp",
            Role::Boot => "boot",
            Role::LinuxRoot => "linux-root",
            Role::Linux => "linux",
            Role::Swap => "swap",
            Role::Extended => "extended",
            Role::Other => "other",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TablePartition {
    /// As Linux numbers it: the GPT slot or MBR entry, from 1.
    pub number: u32,
    /// GPT: the lowercase type GUID; MBR: the type byte as `0x0c`.
    #[serde(rename = "type")]
    pub type_id: String,
    pub role: Role,
    /// Bytes from the start of the disk.
    pub start: u64,
    /// Bytes.
    pub size: u64,
    /// What Linux shows as PARTUUID.
    pub part_uuid: String,
    /// GPT partition name.
    pub name: Option<String>,
    /// GPT legacy-BIOS-bootable attribute or MBR active flag.
    pub bootable: bool,
}

impl TablePartition {
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.size)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    pub kind: TableKind,
    /// PTUUID as blkid shows it: the lowercase disk GUID, or the MBR
    /// signature as 8 hex digits.
    pub id: String,
    pub sector_size: u64,
    pub disk_size: u64,
    /// Bytes 0..440 of sector 0, where BIOS boot code lives.
    #[serde(skip)]
    pub boot_code: Vec<u8>,
    pub partitions: Vec<TablePartition>,
    /// Damage that does not stop the table from being read (checksums,
    /// missing backup header).
    pub problems: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TableReadError {
    #[error("the image is {size} bytes, too small to hold a partition table")]
    TooSmall { size: u64 },
    #[error("sector 0 has no 0x55AA boot signature: no MBR or protective MBR")]
    NoSignature,
    #[error("the protective MBR announces a GPT but no \"EFI PART\" header is at LBA 1")]
    NoGptHeader,
    #[error("the GPT header is damaged: {0}")]
    BadGptHeader(String),
    #[error("reading the partition table: {0}")]
    Io(#[from] io::Error),
}

/// Read the partition table of a disk of `disk_size` bytes.
pub fn read_table<D: Read + Seek>(dev: &mut D, disk_size: u64) -> Result<Table, TableReadError> {
    if disk_size < 1024 {
        return Err(TableReadError::TooSmall { size: disk_size });
    }
    let mbr = read_at(dev, 0, 512)?;
    if mbr[510..512] != [0x55, 0xAA] {
        return Err(TableReadError::NoSignature);
    }
    let entries = mbr_entries(&mbr);
    if entries.iter().any(|e| e.kind == 0xEE) {
        read_gpt(dev, disk_size, &mbr)
    } else {
        Ok(mbr_table(&mbr, &entries, disk_size))
    }
}

#[derive(Debug, Clone, Copy)]
struct MbrEntry {
    boot: u8,
    kind: u8,
    lba: u32,
    sectors: u32,
}

fn mbr_entries(mbr: &[u8]) -> Vec<MbrEntry> {
    (0..4)
        .map(|i| {
            let e = &mbr[MBR_ENTRIES as usize + 16 * i..][..16];
            MbrEntry {
                boot: e[0],
                kind: e[4],
                lba: le32(&e[8..12]),
                sectors: le32(&e[12..16]),
            }
        })
        .collect()
}

fn mbr_table(mbr: &[u8], entries: &[MbrEntry], disk_size: u64) -> Table {
    let signature = le32(&mbr[440..444]);
    let mut problems = Vec::new();
    let mut partitions = Vec::new();
    for (n, e) in (1u32..).zip(entries) {
        if e.kind == 0 || e.sectors == 0 {
            continue;
        }
        if e.boot != 0 && e.boot != 0x80 {
            problems.push(format!(
                "MBR entry {n} has boot flag {:#04x} (only 0x00 and 0x80 are valid)",
                e.boot
            ));
        }
        partitions.push(TablePartition {
            number: n,
            type_id: format!("0x{:02x}", e.kind),
            role: mbr_role(e.kind),
            start: u64::from(e.lba) * 512,
            size: u64::from(e.sectors) * 512,
            part_uuid: format!("{signature:08x}-{n:02x}"),
            name: None,
            bootable: e.boot == 0x80,
        });
    }
    Table {
        kind: TableKind::Mbr,
        id: format!("{signature:08x}"),
        sector_size: 512,
        disk_size,
        boot_code: mbr[..440].to_vec(),
        partitions,
        problems,
    }
}

pub fn mbr_role(kind: u8) -> Role {
    match kind {
        0xEF => Role::Esp,
        0x01 | 0x04 | 0x06 | 0x0B | 0x0C | 0x0E => Role::Boot,
        0x83 => Role::Linux,
        0x82 => Role::Swap,
        0x05 | 0x0F | 0x85 => Role::Extended,
        _ => Role::Other,
    }
}

pub fn gpt_role(t: Uuid) -> Role {
    const ROOT_ARCHES: [&str; 4] = ["amd64", "arm64", "i386", "armhf"];
    if t == gpt_type(PartRole::BiosBoot, "") {
        Role::BiosBoot
    } else if t == gpt_type(PartRole::Esp, "") {
        Role::Esp
    } else if t == gpt_type(PartRole::Boot, "") {
        Role::Boot
    } else if ROOT_ARCHES.iter().any(|a| t == gpt_type(PartRole::Root, a)) {
        Role::LinuxRoot
    } else if t == gpt_type(PartRole::Data, "") {
        Role::Linux
    } else if t == Uuid::from_u128(0x0657FD6D_A4AB_43C4_84E5_0933C84B4F4F) {
        Role::Swap
    } else {
        Role::Other
    }
}

struct GptHeader {
    backup_lba: u64,
    disk_guid: Uuid,
    entries_lba: u64,
    entry_count: u32,
    entry_size: u32,
    entries_crc: u32,
    header_ok: bool,
}

fn parse_gpt_header(h: &[u8]) -> Result<GptHeader, TableReadError> {
    if &h[..8] != GPT_SIGNATURE {
        return Err(TableReadError::NoGptHeader);
    }
    let header_size = le32(&h[12..16]) as usize;
    if !(92..=h.len()).contains(&header_size) {
        return Err(TableReadError::BadGptHeader(format!(
            "header size {header_size} is outside 92..={}",
            h.len()
        )));
    }
    let mut copy = h[..header_size].to_vec();
    copy[16..20].fill(0);
    let entry_size = le32(&h[84..88]);
    if entry_size < 128 || !entry_size.is_multiple_of(8) {
        return Err(TableReadError::BadGptHeader(format!(
            "partition entry size {entry_size} is not a multiple of 8 of at least 128"
        )));
    }
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&h[56..72]);
    Ok(GptHeader {
        backup_lba: le64(&h[32..40]),
        disk_guid: Uuid::from_bytes_le(guid),
        entries_lba: le64(&h[72..80]),
        entry_count: le32(&h[80..84]),
        entry_size,
        entries_crc: le32(&h[88..92]),
        header_ok: crc32(&copy) == le32(&h[16..20]),
    })
}

fn read_gpt<D: Read + Seek>(
    dev: &mut D,
    disk_size: u64,
    mbr: &[u8],
) -> Result<Table, TableReadError> {
    // 512-byte sectors first, then 4 KiB ones.
    let mut found = None;
    for sector in [512u64, 4096] {
        if disk_size < 2 * sector {
            break;
        }
        let h = read_at(dev, sector, sector as usize)?;
        if &h[..8] == GPT_SIGNATURE {
            found = Some((sector, h));
            break;
        }
    }
    let (sector, h) = found.ok_or(TableReadError::NoGptHeader)?;
    let header = parse_gpt_header(&h)?;
    let mut problems = Vec::new();
    if !header.header_ok {
        problems.push("the primary GPT header's CRC32 does not match".to_owned());
    }
    let len = u64::from(header.entry_count) * u64::from(header.entry_size);
    let entries_at = header.entries_lba.checked_mul(sector);
    let entries_end = entries_at.and_then(|a| a.checked_add(len));
    let entries_at = match (entries_at, entries_end) {
        (Some(a), Some(e)) if len <= GPT_ENTRIES_MAX && e <= disk_size => a,
        _ => {
            return Err(TableReadError::BadGptHeader(format!(
                "{} entries of {} bytes at LBA {} do not fit the disk",
                header.entry_count, header.entry_size, header.entries_lba
            )))
        }
    };
    let raw = read_at(dev, entries_at, len as usize)?;
    if crc32(&raw) != header.entries_crc {
        problems.push("the GPT partition entries' CRC32 does not match the header".to_owned());
    }
    problems.extend(backup_problem(dev, disk_size, sector, &header)?);

    let mut partitions = Vec::new();
    for (number, e) in (1u32..).zip(raw.chunks_exact(header.entry_size as usize)) {
        let mut t = [0u8; 16];
        t.copy_from_slice(&e[..16]);
        let type_guid = Uuid::from_bytes_le(t);
        if type_guid.is_nil() {
            continue;
        }
        let mut g = [0u8; 16];
        g.copy_from_slice(&e[16..32]);
        let (first, last) = (le64(&e[32..40]), le64(&e[40..48]));
        if last < first {
            problems.push(format!(
                "GPT entry {number} ends (LBA {last}) before it starts (LBA {first})"
            ));
            continue;
        }
        let units: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        partitions.push(TablePartition {
            number,
            type_id: type_guid.to_string(),
            role: gpt_role(type_guid),
            start: first.saturating_mul(sector),
            size: (last - first + 1).saturating_mul(sector),
            part_uuid: Uuid::from_bytes_le(g).to_string(),
            name: Some(String::from_utf16_lossy(&units)),
            bootable: le64(&e[48..56]) & GPT_ATTR_LEGACY_BOOTABLE != 0,
        });
    }
    Ok(Table {
        kind: TableKind::Gpt,
        id: header.disk_guid.to_string(),
        sector_size: sector,
        disk_size,
        boot_code: mbr[..440].to_vec(),
        partitions,
        problems,
    })
}

/// The backup header must sit in the last sector and agree on the disk.
fn backup_problem<D: Read + Seek>(
    dev: &mut D,
    disk_size: u64,
    sector: u64,
    primary: &GptHeader,
) -> Result<Option<String>, TableReadError> {
    let last = disk_size / sector - 1;
    if primary.backup_lba != last {
        return Ok(Some(format!(
            "the GPT header puts its backup at LBA {} but the disk's last LBA is {last} (was the image truncated or grown?)",
            primary.backup_lba
        )));
    }
    let h = read_at(dev, last * sector, sector as usize)?;
    Ok(match parse_gpt_header(&h) {
        Err(_) => Some(format!("no backup GPT header at LBA {last}")),
        Ok(b) if !b.header_ok => Some("the backup GPT header's CRC32 does not match".to_owned()),
        Ok(b) if b.disk_guid != primary.disk_guid => {
            Some("the backup GPT header names another disk GUID".to_owned())
        }
        Ok(_) => None,
    })
}

fn read_at<D: Read + Seek>(dev: &mut D, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    dev.seek(SeekFrom::Start(offset))?;
    dev.read_exact(&mut buf)?;
    Ok(buf)
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// CRC-32 (IEEE 802.3, reflected), as GPT uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::table::write_table;
    use crate::plan::layout::{compute_layout, LayoutOptions, TableKind as Tk};
    use std::io::Cursor;

    const MIB: u64 = 1024 * 1024;

    use crate::disk::test_support::req;

    fn disk(table: Tk) -> (Cursor<Vec<u8>>, crate::plan::layout::Layout) {
        let requests = match table {
            Tk::Gpt => vec![
                req(PartRole::BiosBoot, "bios", MIB, false),
                req(PartRole::Esp, "esp", 2 * MIB, false),
                req(PartRole::Root, "clic-root", 3 * MIB, true),
            ],
            Tk::Mbr => vec![
                req(PartRole::Boot, "boot", 2 * MIB, true),
                req(PartRole::Root, "root", 3 * MIB, false),
            ],
        };
        let arch = if table == Tk::Gpt { "amd64" } else { "arm64" };
        let layout =
            compute_layout(table, arch, &requests, &LayoutOptions::default(), b"t").unwrap();
        let mut c = Cursor::new(vec![0u8; layout.disk_size as usize]);
        write_table(&mut c, &layout, Some(&[0x33; 440])).unwrap();
        (c, layout)
    }

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn gpt_written_by_clic_reads_back() {
        let (mut c, layout) = disk(Tk::Gpt);
        let t = read_table(&mut c, layout.disk_size).unwrap();
        assert_eq!(t.kind, TableKind::Gpt);
        assert_eq!(t.id, layout.disk_guid.to_string());
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        assert_eq!(t.boot_code, vec![0x33; 440]);
        let roles: Vec<Role> = t.partitions.iter().map(|p| p.role).collect();
        assert_eq!(roles, [Role::BiosBoot, Role::Esp, Role::LinuxRoot]);
        for (p, l) in t.partitions.iter().zip(&layout.partitions) {
            assert_eq!(p.number, l.number);
            assert_eq!((p.start, p.size), (l.start, l.size));
            assert_eq!(p.part_uuid, l.part_uuid);
            assert_eq!(p.type_id, l.type_guid.to_string());
            assert_eq!(p.name.as_deref(), Some(l.label.as_str()));
            assert_eq!(p.bootable, l.bootable);
        }
    }

    #[test]
    fn mbr_written_by_clic_reads_back() {
        let (mut c, layout) = disk(Tk::Mbr);
        let t = read_table(&mut c, layout.disk_size).unwrap();
        assert_eq!(t.kind, TableKind::Mbr);
        assert_eq!(t.id, format!("{:08x}", layout.mbr_signature));
        let p: Vec<_> = t
            .partitions
            .iter()
            .map(|p| (p.number, p.type_id.as_str(), p.role, p.bootable))
            .collect();
        assert_eq!(
            p,
            [
                (1, "0x0c", Role::Boot, true),
                (2, "0x83", Role::Linux, false)
            ]
        );
        for (p, l) in t.partitions.iter().zip(&layout.partitions) {
            assert_eq!(p.part_uuid, l.part_uuid);
            assert_eq!((p.start, p.size), (l.start, l.size));
        }
    }

    #[test]
    fn damage_is_reported() {
        let (c, layout) = disk(Tk::Gpt);
        let mut bytes = c.into_inner();
        // A byte of the first entry's name: the entries' CRC breaks.
        bytes[1024 + 56] ^= 1;
        // The backup header goes missing.
        let last = bytes.len() - 512;
        bytes[last..].fill(0);
        let t = read_table(&mut Cursor::new(bytes.clone()), layout.disk_size).unwrap();
        assert_eq!(t.problems.len(), 2, "{:?}", t.problems);
        assert!(t.problems[0].contains("entries"), "{:?}", t.problems);
        assert!(t.problems[1].contains("backup"), "{:?}", t.problems);
        // Truncated image: the backup LBA no longer is the last one.
        let short = &bytes[..bytes.len() - 4096];
        let t = read_table(&mut Cursor::new(short), short.len() as u64).unwrap();
        assert!(t.problems.iter().any(|p| p.contains("truncated")), "{t:?}");

        bytes[512] = b'X';
        let e = read_table(&mut Cursor::new(bytes.clone()), layout.disk_size).unwrap_err();
        assert!(matches!(e, TableReadError::NoGptHeader), "{e}");
        bytes[511] = 0;
        let e = read_table(&mut Cursor::new(bytes), layout.disk_size).unwrap_err();
        assert!(matches!(e, TableReadError::NoSignature), "{e}");
        let e = read_table(&mut Cursor::new(vec![0u8; 100]), 100).unwrap_err();
        assert!(matches!(e, TableReadError::TooSmall { size: 100 }), "{e}");
    }

    #[test]
    fn absurd_gpt_headers_are_refused() {
        let (c, layout) = disk(Tk::Gpt);
        let mut bytes = c.into_inner();
        // 2^32-1 entries.
        bytes[512 + 80..512 + 84].fill(0xFF);
        let e = read_table(&mut Cursor::new(bytes), layout.disk_size).unwrap_err();
        assert!(e.to_string().contains("do not fit"), "{e}");
    }

    #[test]
    fn roles_from_types() {
        assert_eq!(mbr_role(0xEF), Role::Esp);
        assert_eq!(mbr_role(0x0B), Role::Boot);
        assert_eq!(mbr_role(0x83), Role::Linux);
        assert_eq!(mbr_role(0x07), Role::Other);
        assert_eq!(gpt_role(gpt_type(PartRole::Root, "arm64")), Role::LinuxRoot);
        assert_eq!(gpt_role(gpt_type(PartRole::Data, "")), Role::Linux);
        assert_eq!(gpt_role(Uuid::from_u128(1)), Role::Other);
    }
}
