//! Disk images without loop devices or mounts: partition tables over any
//! `Read + Write + Seek` (`table`), FAT built in-process (`fat`), ext4 from a
//! normalised tarball with `mke2fs -d` (`ext4`), GRUB's BIOS boot sectors
//! patched in memory (`grub`), and the sparse image put together (`image`).
//! Where everything goes is computed purely in `plan::layout`.
//!
//! Every step is deterministic: the same inputs, seed and epoch give the
//! same bytes.

pub mod ext4;
pub mod fat;
mod fat_dots;
pub mod grub;
pub mod image;
pub mod region;
pub mod table;

pub use ext4::{estimate_ext4_size, mkfs_ext4, tar_tree, Ext4Error};
pub use fat::{build_fat, FatError, FatFile, FatSource};
pub use grub::{mbr_boot_code, patch_core_img, GrubError};
pub use image::{assemble, ImageError, PartContent, RawBlob};
pub use region::Region;
pub use table::{write_table, TableError};

/// Any failure of the disk steps, for callers that handle them alike.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error(transparent)]
    Table(#[from] TableError),
    #[error(transparent)]
    Fat(#[from] FatError),
    #[error(transparent)]
    Ext4(#[from] Ext4Error),
    #[error(transparent)]
    Grub(#[from] GrubError),
    #[error(transparent)]
    Image(#[from] ImageError),
}

#[cfg(test)]
mod boot_tests;
#[cfg(test)]
pub(crate) mod test_support;
