//! Partition layout, computed without touching a disk: where every partition
//! starts, how large the disk is, and every identifier (disk GUID, partition
//! GUIDs, MBR signature), all derived from a seed so that the same input
//! always gives the same bytes.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Sector size of every image clic writes.
pub const SECTOR_SIZE: u64 = 512;
/// Sectors taken by a GPT header plus its 128-entry partition array.
pub const GPT_TABLE_SECTORS: u64 = 33;
const MIB: u64 = 1024 * 1024;
/// Longest GPT partition name, in UTF-16 code units.
const GPT_NAME_MAX: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TableKind {
    Gpt,
    Mbr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartRole {
    /// GRUB's core.img on a GPT disk booted by a BIOS.
    BiosBoot,
    /// EFI system partition.
    Esp,
    /// FAT boot partition read by the firmware of Pi-like boards.
    Boot,
    Root,
    Data,
}

impl PartRole {
    /// The name used in profiles and manifests (`bios-boot`, `esp`...).
    pub fn name(self) -> &'static str {
        match self {
            PartRole::BiosBoot => "bios-boot",
            PartRole::Esp => "esp",
            PartRole::Boot => "boot",
            PartRole::Root => "root",
            PartRole::Data => "data",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionRequest {
    pub role: PartRole,
    pub label: String,
    /// Bytes; rounded up to a whole sector.
    pub size: u64,
    pub bootable: bool,
}

/// How the disk size is rounded after the last partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiskRounding {
    /// Up to a multiple of `LayoutOptions::align`.
    Align,
    /// Up to a power of two (QEMU's raspi machines need this for SD cards).
    PowerOfTwo,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutOptions {
    /// Where the first partition starts at the earliest.
    pub first_lba_bytes: u64,
    /// Every partition start is a multiple of this (bytes, a multiple of 512).
    pub align: u64,
    pub round_disk_to: DiskRounding,
    /// Bytes from the start of the disk that must stay free of partitions
    /// (e.g. Odroid bootloader blobs up to 4 MiB).
    pub reserved_before: Option<u64>,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            first_lba_bytes: MIB,
            align: MIB,
            round_disk_to: DiskRounding::Align,
            reserved_before: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedPartition {
    /// 1-based, in request order.
    pub number: u32,
    pub role: PartRole,
    pub label: String,
    /// Bytes from the start of the disk.
    pub start: u64,
    /// Bytes, a whole number of sectors.
    pub size: u64,
    /// GPT type (on MBR disks: the GPT equivalent, for information).
    pub type_guid: Uuid,
    /// MBR type (on GPT disks: the MBR equivalent, 0 for bios-boot).
    pub mbr_type: u8,
    /// What Linux shows as PARTUUID: the lowercase partition GUID on GPT,
    /// `SSSSSSSS-NN` (disk signature, partition number) on MBR.
    pub part_uuid: String,
    pub bootable: bool,
}

impl PlacedPartition {
    pub fn end(&self) -> u64 {
        self.start + self.size
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub table: TableKind,
    pub sector_size: u64,
    pub disk_size: u64,
    /// GPT disk GUID (seeded on MBR disks too, unused there).
    pub disk_guid: Uuid,
    /// MBR disk signature (bytes 440..444, little endian), never zero.
    pub mbr_signature: u32,
    pub partitions: Vec<PlacedPartition>,
}

impl Layout {
    pub fn by_role(&self, role: PartRole) -> Option<&PlacedPartition> {
        self.partitions.iter().find(|p| p.role == role)
    }

    pub fn by_number(&self, number: u32) -> Option<&PlacedPartition> {
        self.partitions.iter().find(|p| p.number == number)
    }

    /// Byte ranges the partition table itself occupies.
    pub fn table_ranges(&self) -> Vec<(u64, u64)> {
        match self.table {
            TableKind::Mbr => vec![(0, SECTOR_SIZE)],
            TableKind::Gpt => vec![
                (0, (2 + 32) * SECTOR_SIZE),
                (
                    self.disk_size
                        .saturating_sub(GPT_TABLE_SECTORS * SECTOR_SIZE),
                    self.disk_size,
                ),
            ],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    #[error("partition '{label}' has size 0; give it a size in bytes")]
    ZeroSize { label: String },
    #[error("partition '{label}' is a bios-boot partition, which only exists on GPT disks; use table = \"gpt\" or remove it")]
    BiosBootOnMbr { label: String },
    #[error("{count} partitions requested but an MBR table holds at most 4 (clic writes no extended partitions)")]
    TooManyMbrPartitions { count: usize },
    #[error("partition '{label}' ends beyond what 64-bit byte offsets can hold")]
    Overflow { label: String },
    #[error("partition '{label}' ends beyond 2 TiB, which an MBR table cannot address; use GPT")]
    TooLargeForMbr { label: String },
    #[error("partition name '{label}' is longer than the 36 UTF-16 units a GPT entry holds")]
    LabelTooLong { label: String },
    #[error("layout option {option} = {value} must be a non-zero multiple of 512")]
    BadOption { option: &'static str, value: u64 },
    #[error("no partitions requested")]
    Empty,
}

/// A version-4-shaped UUID derived from `seed` and `what` (a purpose such as
/// "disk" or "part-2"): same arguments, same UUID.
pub fn seeded_uuid(seed: &[u8], what: &str) -> Uuid {
    let digest = seeded_digest(seed, what);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// A 32-bit value derived from `seed` and `what` (FAT volume ids, MBR
/// signatures).
pub fn seeded_u32(seed: &[u8], what: &str) -> u32 {
    let digest = seeded_digest(seed, what);
    u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn seeded_digest(seed: &[u8], what: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    // Length prefix: ("ab", "c") and ("a", "bc") must not collide.
    h.update((seed.len() as u64).to_le_bytes());
    h.update(seed);
    h.update(what.as_bytes());
    h.finalize().into()
}

/// GPT type GUID for a role; `arch` picks the discoverable root type.
pub fn gpt_type(role: PartRole, arch: &str) -> Uuid {
    Uuid::from_u128(match role {
        PartRole::BiosBoot => 0x21686148_6449_6E6F_744E_656564454649,
        PartRole::Esp => 0xC12A7328_F81F_11D2_BA4B_00A0C93EC93B,
        // Microsoft basic data: what firmware reading a FAT boot partition
        // expects on GPT.
        PartRole::Boot => 0xEBD0A0A2_B9E5_4433_87C0_68B6B72699C7,
        PartRole::Data => LINUX_FS,
        PartRole::Root => match arch {
            "amd64" | "x86-64" | "x86_64" => 0x4F68BCE3_E8CD_4DB1_96E7_FBCAF984B709,
            "arm64" | "aarch64" => 0xB921B045_1DF0_41C3_AF44_4C6F280D3FAE,
            "i386" | "i686" | "x86" => 0x44479540_F297_41B2_9AF7_D131D5F0458A,
            "armhf" | "armel" | "arm" => 0x69DAD710_2CE4_4E3C_B16C_21A1D49ABED3,
            _ => LINUX_FS,
        },
    })
}

/// Linux filesystem data.
const LINUX_FS: u128 = 0x0FC63DAF_8483_4772_8E79_3D69D8477DE4;

/// MBR type byte for a role; bios-boot has none.
pub fn mbr_type(role: PartRole) -> Option<u8> {
    match role {
        PartRole::BiosBoot => None,
        PartRole::Esp => Some(0xEF),
        PartRole::Boot => Some(0x0C),
        PartRole::Root | PartRole::Data => Some(0x83),
    }
}

fn align_up(v: u64, align: u64) -> Option<u64> {
    v.checked_next_multiple_of(align)
}

/// Place `requests` one after the other, each start aligned, and size the
/// disk around them.
pub fn compute_layout(
    table: TableKind,
    arch: &str,
    requests: &[PartitionRequest],
    opts: &LayoutOptions,
    seed: &[u8],
) -> Result<Layout, LayoutError> {
    for (option, value) in [
        ("align", opts.align),
        ("first_lba_bytes", opts.first_lba_bytes),
    ] {
        if value == 0 || value % SECTOR_SIZE != 0 {
            return Err(LayoutError::BadOption { option, value });
        }
    }
    if requests.is_empty() {
        return Err(LayoutError::Empty);
    }
    if table == TableKind::Mbr && requests.len() > 4 {
        return Err(LayoutError::TooManyMbrPartitions {
            count: requests.len(),
        });
    }
    // The primary table: sector 0 for MBR, sectors 0..34 for GPT.
    let table_end = match table {
        TableKind::Mbr => SECTOR_SIZE,
        TableKind::Gpt => (2 + 32) * SECTOR_SIZE,
    };
    let mbr_signature = seeded_u32(seed, "mbr-signature").max(1);
    let overflow = |label: &str| LayoutError::Overflow {
        label: label.to_owned(),
    };

    let mut cursor = opts
        .first_lba_bytes
        .max(opts.reserved_before.unwrap_or(0))
        .max(table_end);
    let mut partitions = Vec::with_capacity(requests.len());
    for (i, req) in requests.iter().enumerate() {
        let label = &req.label;
        if req.size == 0 {
            return Err(LayoutError::ZeroSize {
                label: label.clone(),
            });
        }
        let mbr = mbr_type(req.role);
        if table == TableKind::Mbr && mbr.is_none() {
            return Err(LayoutError::BiosBootOnMbr {
                label: label.clone(),
            });
        }
        if table == TableKind::Gpt && label.encode_utf16().count() > GPT_NAME_MAX {
            return Err(LayoutError::LabelTooLong {
                label: label.clone(),
            });
        }
        let number = u32::try_from(i + 1).map_err(|_| overflow(label))?;
        let start = align_up(cursor, opts.align).ok_or_else(|| overflow(label))?;
        let size = align_up(req.size, SECTOR_SIZE).ok_or_else(|| overflow(label))?;
        let end = start.checked_add(size).ok_or_else(|| overflow(label))?;
        if table == TableKind::Mbr && end / SECTOR_SIZE > u64::from(u32::MAX) {
            return Err(LayoutError::TooLargeForMbr {
                label: label.clone(),
            });
        }
        let part_uuid = match table {
            TableKind::Gpt => seeded_uuid(seed, &format!("part-{number}")).to_string(),
            TableKind::Mbr => format!("{mbr_signature:08x}-{number:02x}"),
        };
        partitions.push(PlacedPartition {
            number,
            role: req.role,
            label: label.clone(),
            start,
            size,
            type_guid: gpt_type(req.role, arch),
            mbr_type: mbr.unwrap_or(0),
            part_uuid,
            bootable: req.bootable,
        });
        cursor = end;
    }

    let last_label = requests.last().map(|r| r.label.as_str()).unwrap_or("");
    let needed = match table {
        TableKind::Mbr => cursor,
        TableKind::Gpt => cursor
            .checked_add(GPT_TABLE_SECTORS * SECTOR_SIZE)
            .ok_or_else(|| overflow(last_label))?,
    };
    let disk_size = match opts.round_disk_to {
        DiskRounding::Align => align_up(needed, opts.align),
        DiskRounding::PowerOfTwo => needed.checked_next_power_of_two(),
    }
    .ok_or_else(|| overflow(last_label))?;
    if table == TableKind::Mbr && disk_size / SECTOR_SIZE > u64::from(u32::MAX) + 1 {
        return Err(LayoutError::TooLargeForMbr {
            label: last_label.to_owned(),
        });
    }

    Ok(Layout {
        table,
        sector_size: SECTOR_SIZE,
        disk_size,
        disk_guid: seeded_uuid(seed, "disk"),
        mbr_signature,
        partitions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(role: PartRole, label: &str, size: u64) -> PartitionRequest {
        PartitionRequest {
            role,
            label: label.to_owned(),
            size,
            bootable: false,
        }
    }

    fn pc_requests() -> Vec<PartitionRequest> {
        vec![
            req(PartRole::BiosBoot, "bios", MIB),
            req(PartRole::Esp, "esp", 64 * MIB),
            req(PartRole::Root, "root", 1000 * MIB + 123),
        ]
    }

    fn pi_requests() -> Vec<PartitionRequest> {
        vec![
            PartitionRequest {
                bootable: true,
                ..req(PartRole::Boot, "boot", 256 * MIB)
            },
            req(PartRole::Root, "root", 700 * MIB),
        ]
    }

    fn gpt(requests: &[PartitionRequest], opts: &LayoutOptions) -> Layout {
        compute_layout(TableKind::Gpt, "amd64", requests, opts, b"seed").unwrap()
    }

    #[test]
    fn partitions_are_aligned_and_in_order() {
        let l = gpt(&pc_requests(), &LayoutOptions::default());
        let starts: Vec<u64> = l.partitions.iter().map(|p| p.start).collect();
        assert_eq!(starts, vec![MIB, 2 * MIB, 66 * MIB]);
        let numbers: Vec<u32> = l.partitions.iter().map(|p| p.number).collect();
        assert_eq!(numbers, vec![1, 2, 3]);
        // Sizes are rounded up to whole sectors only.
        assert_eq!(l.partitions[2].size, 1000 * MIB + 512);
        for p in &l.partitions {
            assert_eq!(p.start % MIB, 0, "{p:?}");
        }
    }

    #[test]
    fn custom_alignment_and_first_lba() {
        let opts = LayoutOptions {
            first_lba_bytes: 8 * MIB,
            align: 4 * MIB,
            ..LayoutOptions::default()
        };
        let l = gpt(&pc_requests(), &opts);
        let starts: Vec<u64> = l.partitions.iter().map(|p| p.start).collect();
        assert_eq!(starts, vec![8 * MIB, 12 * MIB, 76 * MIB]);
    }

    #[test]
    fn reserved_space_pushes_the_first_partition() {
        let opts = LayoutOptions {
            reserved_before: Some(4 * MIB + 1),
            ..LayoutOptions::default()
        };
        let l = compute_layout(TableKind::Mbr, "armhf", &pi_requests(), &opts, b"s").unwrap();
        assert_eq!(l.partitions[0].start, 5 * MIB);
    }

    #[test]
    fn gpt_leaves_room_for_the_backup_table() {
        // Partitions end exactly on an alignment boundary: the backup table
        // needs another aligned chunk.
        let r = vec![req(PartRole::Root, "root", 10 * MIB)];
        let l = gpt(&r, &LayoutOptions::default());
        assert_eq!(l.partitions[0].end(), 11 * MIB);
        assert_eq!(l.disk_size, 12 * MIB);
        assert!(l.disk_size - l.partitions[0].end() >= GPT_TABLE_SECTORS * SECTOR_SIZE);
        // MBR needs nothing at the end.
        let m =
            compute_layout(TableKind::Mbr, "amd64", &r, &LayoutOptions::default(), b"s").unwrap();
        assert_eq!(m.disk_size, 11 * MIB);
    }

    #[test]
    fn disk_rounding_modes() {
        let opts = LayoutOptions {
            round_disk_to: DiskRounding::PowerOfTwo,
            ..LayoutOptions::default()
        };
        let l = compute_layout(TableKind::Mbr, "arm64", &pi_requests(), &opts, b"s").unwrap();
        // 1 + 256 + 700 MiB -> 1 GiB.
        assert_eq!(l.disk_size, 1024 * MIB);
        let a = compute_layout(
            TableKind::Mbr,
            "arm64",
            &pi_requests(),
            &LayoutOptions::default(),
            b"s",
        )
        .unwrap();
        assert_eq!(a.disk_size, 957 * MIB);
        // An odd size is rounded up to the alignment.
        let r = vec![req(PartRole::Root, "root", 3 * MIB + 1)];
        let o =
            compute_layout(TableKind::Mbr, "arm64", &r, &LayoutOptions::default(), b"s").unwrap();
        assert_eq!(o.disk_size, 5 * MIB);
    }

    #[test]
    fn types_follow_role_table_and_arch() {
        let l = gpt(&pc_requests(), &LayoutOptions::default());
        let t = |n: usize| l.partitions[n].type_guid.to_string().to_uppercase();
        assert_eq!(t(0), "21686148-6449-6E6F-744E-656564454649");
        assert_eq!(t(1), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(t(2), "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709");
        let root = |arch: &str| gpt_type(PartRole::Root, arch).to_string().to_uppercase();
        assert_eq!(root("arm64"), "B921B045-1DF0-41C3-AF44-4C6F280D3FAE");
        assert_eq!(root("i386"), "44479540-F297-41B2-9AF7-D131D5F0458A");
        assert_eq!(root("armel"), "69DAD710-2CE4-4E3C-B16C-21A1D49ABED3");
        assert_eq!(root("riscv64"), "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
        assert_eq!(
            gpt_type(PartRole::Boot, "arm64").to_string().to_uppercase(),
            "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
        );
        let m = compute_layout(
            TableKind::Mbr,
            "arm64",
            &pi_requests(),
            &LayoutOptions::default(),
            b"s",
        )
        .unwrap();
        assert_eq!(m.partitions[0].mbr_type, 0x0C);
        assert_eq!(m.partitions[1].mbr_type, 0x83);
        assert_eq!(mbr_type(PartRole::Esp), Some(0xEF));
        assert!(m.partitions[0].bootable);
    }

    #[test]
    fn mbr_partuuid_is_signature_and_number() {
        let m = compute_layout(
            TableKind::Mbr,
            "arm64",
            &pi_requests(),
            &LayoutOptions::default(),
            b"s",
        )
        .unwrap();
        let sig = format!("{:08x}", m.mbr_signature);
        assert_eq!(m.partitions[0].part_uuid, format!("{sig}-01"));
        assert_eq!(m.partitions[1].part_uuid, format!("{sig}-02"));
        assert_ne!(m.mbr_signature, 0);
    }

    #[test]
    fn gpt_partuuid_is_the_lowercase_partition_guid() {
        let l = gpt(&pc_requests(), &LayoutOptions::default());
        let u = &l.partitions[2].part_uuid;
        assert_eq!(u, &u.to_lowercase());
        assert_eq!(Uuid::parse_str(u).unwrap(), seeded_uuid(b"seed", "part-3"));
    }

    #[test]
    fn identifiers_are_deterministic_per_seed() {
        let opts = LayoutOptions::default();
        let a = gpt(&pc_requests(), &opts);
        let b = gpt(&pc_requests(), &opts);
        assert_eq!(a, b);
        let c = compute_layout(TableKind::Gpt, "amd64", &pc_requests(), &opts, b"other").unwrap();
        assert_ne!(a.disk_guid, c.disk_guid);
        assert_ne!(a.mbr_signature, c.mbr_signature);
        for (x, y) in a.partitions.iter().zip(&c.partitions) {
            assert_ne!(x.part_uuid, y.part_uuid);
        }
        // Every partition GUID differs from the others and from the disk's.
        let mut all: Vec<String> = a.partitions.iter().map(|p| p.part_uuid.clone()).collect();
        all.push(a.disk_guid.to_string());
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 4);
    }

    #[test]
    fn seeded_values_are_rfc4122_v4_and_separated() {
        let u = seeded_uuid(b"x", "disk");
        assert_eq!(u.get_version_num(), 4);
        assert_eq!(u.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(u, seeded_uuid(b"x", "disk"));
        assert_ne!(seeded_uuid(b"ab", "c"), seeded_uuid(b"a", "bc"));
        assert_eq!(seeded_u32(b"x", "fat"), seeded_u32(b"x", "fat"));
        assert_ne!(seeded_u32(b"x", "fat"), seeded_u32(b"x", "fat2"));
    }

    #[test]
    fn errors_name_the_partition() {
        let opts = LayoutOptions::default();
        let e = compute_layout(
            TableKind::Gpt,
            "amd64",
            &[req(PartRole::Root, "rootfs", 0)],
            &opts,
            b"s",
        )
        .unwrap_err();
        assert_eq!(
            e,
            LayoutError::ZeroSize {
                label: "rootfs".into()
            }
        );
        assert!(e.to_string().contains("rootfs"));

        let e = compute_layout(TableKind::Mbr, "amd64", &pc_requests(), &opts, b"s").unwrap_err();
        assert_eq!(
            e,
            LayoutError::BiosBootOnMbr {
                label: "bios".into()
            }
        );

        let five = vec![req(PartRole::Data, "d", MIB); 5];
        let e = compute_layout(TableKind::Mbr, "amd64", &five, &opts, b"s").unwrap_err();
        assert_eq!(e, LayoutError::TooManyMbrPartitions { count: 5 });
        // GPT takes more than four.
        assert_eq!(gpt(&five, &opts).partitions.len(), 5);

        let huge = vec![req(PartRole::Data, "big", u64::MAX - 100)];
        let e = compute_layout(TableKind::Gpt, "amd64", &huge, &opts, b"s").unwrap_err();
        assert_eq!(
            e,
            LayoutError::Overflow {
                label: "big".into()
            }
        );

        let three_tib = vec![req(PartRole::Data, "big", 3 << 40)];
        let e = compute_layout(TableKind::Mbr, "amd64", &three_tib, &opts, b"s").unwrap_err();
        assert_eq!(
            e,
            LayoutError::TooLargeForMbr {
                label: "big".into()
            }
        );

        let long = vec![req(PartRole::Data, &"x".repeat(37), MIB)];
        let e = compute_layout(TableKind::Gpt, "amd64", &long, &opts, b"s").unwrap_err();
        assert!(matches!(e, LayoutError::LabelTooLong { .. }));

        let bad = LayoutOptions {
            align: 1000,
            ..opts
        };
        let e = compute_layout(TableKind::Gpt, "amd64", &five, &bad, b"s").unwrap_err();
        assert_eq!(
            e,
            LayoutError::BadOption {
                option: "align",
                value: 1000
            }
        );

        let e = compute_layout(
            TableKind::Gpt,
            "amd64",
            &[],
            &LayoutOptions::default(),
            b"s",
        )
        .unwrap_err();
        assert_eq!(e, LayoutError::Empty);
    }

    #[test]
    fn roles_deserialize_in_kebab_case() {
        #[derive(Deserialize)]
        struct T {
            roles: Vec<PartRole>,
            table: TableKind,
            round: DiskRounding,
        }
        let t: T = toml::from_str(
            r#"roles = ["bios-boot", "esp", "boot", "root", "data"]
table = "mbr"
round = "power-of-two""#,
        )
        .unwrap();
        assert_eq!(
            t.roles,
            vec![
                PartRole::BiosBoot,
                PartRole::Esp,
                PartRole::Boot,
                PartRole::Root,
                PartRole::Data
            ]
        );
        assert_eq!(t.table, TableKind::Mbr);
        assert_eq!(t.round, DiskRounding::PowerOfTwo);
    }

    #[test]
    fn by_role_and_table_ranges() {
        let l = gpt(&pc_requests(), &LayoutOptions::default());
        assert_eq!(l.by_role(PartRole::Esp).map(|p| p.number), Some(2));
        assert!(l.by_role(PartRole::Data).is_none());
        assert_eq!(l.by_number(3).map(|p| p.role), Some(PartRole::Root));
        let r = l.table_ranges();
        assert_eq!(r[0], (0, 34 * 512));
        assert_eq!(r[1], (l.disk_size - 33 * 512, l.disk_size));
    }
}
