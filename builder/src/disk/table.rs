//! Write the partition table of a [`Layout`] (GPT with a protective MBR, or
//! a plain MBR) onto any `Read + Write + Seek` of exactly the disk size.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::plan::layout::{Layout, TableKind, GPT_TABLE_SECTORS, SECTOR_SIZE};

/// The legacy-BIOS-bootable GPT attribute (bit 2).
const GPT_ATTR_LEGACY_BOOTABLE: u64 = 1 << 2;
/// First sector a GPT partition may use: MBR, header, 32 sectors of entries.
const GPT_FIRST_USABLE: u64 = 2 + 32;

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("the disk is {actual} bytes but the layout needs exactly {expected}")]
    WrongDiskSize { expected: u64, actual: u64 },
    #[error("partition {number} ('{label}') is empty or lies outside the usable area of the disk (bytes {first}..{end})")]
    OutsideUsable {
        number: u32,
        label: String,
        first: u64,
        end: u64,
    },
    #[error("partition {number} ('{label}'): PARTUUID '{value}' is not a GUID")]
    BadGuid {
        number: u32,
        label: String,
        value: String,
    },
    #[error("partition {number} ('{label}') does not fit an MBR entry (empty, beyond 2^32 sectors, or number above 4)")]
    TooLargeForMbr { number: u32, label: String },
    #[error("writing the GPT: {0}")]
    Gpt(#[from] gpt::GptError),
    #[error("writing the protective MBR: {0}")]
    ProtectiveMbr(#[from] gpt::mbr::MBRError),
    #[error("writing the MBR: {0}")]
    Mbr(#[from] mbrman::Error),
    #[error("i/o error while writing the partition table: {0}")]
    Io(#[from] io::Error),
}

/// Write the table for `layout` onto `dev`, which must be exactly
/// `layout.disk_size` bytes long. `boot_code` lands in bytes 0..440 of
/// sector 0 (e.g. GRUB's boot.img); without it those bytes are zeros.
pub fn write_table<D: Read + Write + Seek>(
    dev: &mut D,
    layout: &Layout,
    boot_code: Option<&[u8; 440]>,
) -> Result<(), TableError> {
    let actual = dev.seek(SeekFrom::End(0))?;
    if actual != layout.disk_size {
        return Err(TableError::WrongDiskSize {
            expected: layout.disk_size,
            actual,
        });
    }
    let code = boot_code.copied().unwrap_or([0u8; 440]);
    match layout.table {
        TableKind::Gpt => write_gpt(dev, layout, code),
        TableKind::Mbr => write_mbr(dev, layout, code),
    }?;
    dev.flush()?;
    Ok(())
}

/// The gpt crate wants `Debug` on its device; a borrowed stream has none.
struct Dev<'a, D>(&'a mut D);

impl<D> fmt::Debug for Dev<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("disk image")
    }
}
impl<D: Read> Read for Dev<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}
impl<D: Write> Write for Dev<'_, D> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}
impl<D: Seek> Seek for Dev<'_, D> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

fn write_gpt<D: Read + Write + Seek>(
    dev: &mut D,
    layout: &Layout,
    code: [u8; 440],
) -> Result<(), TableError> {
    let sectors = layout.disk_size / SECTOR_SIZE;
    let first = GPT_FIRST_USABLE * SECTOR_SIZE;
    let end = sectors.saturating_sub(GPT_TABLE_SECTORS) * SECTOR_SIZE;
    let mut entries = BTreeMap::new();
    for p in &layout.partitions {
        if p.start < first || p.end() > end || p.size < SECTOR_SIZE {
            return Err(TableError::OutsideUsable {
                number: p.number,
                label: p.label.clone(),
                first,
                end,
            });
        }
        let part_guid = uuid::Uuid::parse_str(&p.part_uuid).map_err(|_| TableError::BadGuid {
            number: p.number,
            label: p.label.clone(),
            value: p.part_uuid.clone(),
        })?;
        entries.insert(
            p.number,
            gpt::partition::Partition {
                part_type_guid: gpt::partition_types::Type {
                    guid: p.type_guid,
                    os: gpt::partition_types::OperatingSystem::None,
                },
                part_guid,
                first_lba: p.start / SECTOR_SIZE,
                last_lba: p.end() / SECTOR_SIZE - 1,
                flags: if p.bootable {
                    GPT_ATTR_LEGACY_BOOTABLE
                } else {
                    0
                },
                name: p.label.clone(),
            },
        );
    }
    let mut disk = gpt::GptConfig::new()
        .writable(true)
        .logical_block_size(gpt::disk::LogicalBlockSize::Lb512)
        .create_from_device(Dev(&mut *dev), Some(layout.disk_guid))?;
    disk.update_partitions(entries)?;
    let mut dev = disk.write()?;

    // The protective entry covers the disk after sector 0, capped at 2^32-1.
    let protective = u32::try_from(sectors - 1).unwrap_or(u32::MAX);
    let mut pmbr = gpt::mbr::ProtectiveMBR::with_lb_size(protective);
    pmbr.set_bootcode(code);
    pmbr.overwrite_lba0(&mut dev)?;
    Ok(())
}

fn write_mbr<D: Write + Seek>(
    dev: &mut D,
    layout: &Layout,
    code: [u8; 440],
) -> Result<(), TableError> {
    let mut header = mbrman::MBRHeader::new(layout.mbr_signature.to_le_bytes());
    header.bootstrap_code = code;
    for p in &layout.partitions {
        let too_large = || TableError::TooLargeForMbr {
            number: p.number,
            label: p.label.clone(),
        };
        let start = u32::try_from(p.start / SECTOR_SIZE).map_err(|_| too_large())?;
        let count = u32::try_from(p.size / SECTOR_SIZE).map_err(|_| too_large())?;
        let last = count
            .checked_sub(1)
            .and_then(|c| start.checked_add(c))
            .ok_or_else(too_large)?;
        let slot = usize::try_from(p.number)
            .ok()
            .and_then(|i| header.get_mut(i))
            .ok_or_else(too_large)?;
        *slot = mbrman::MBRPartitionEntry {
            boot: if p.bootable {
                mbrman::BOOT_ACTIVE
            } else {
                mbrman::BOOT_INACTIVE
            },
            first_chs: chs(start),
            sys: p.mbr_type,
            last_chs: chs(last),
            starting_lba: start,
            sectors: count,
        };
    }
    header.write_into(dev)?;
    Ok(())
}

/// CHS address with the 255-head, 63-sector geometry fdisk uses; addresses
/// beyond cylinder 1023 get the customary 1023/254/63.
fn chs(lba: u32) -> mbrman::CHS {
    const HEADS: u32 = 255;
    const SECTORS: u32 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return mbrman::CHS::new(1023, 254, 63);
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    // All three fit: cylinder <= 1023, head < 255, sector <= 63.
    mbrman::CHS::new(cylinder as u16, head as u8, sector as u8)
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
