//! Artifacts written next to an image: the manifest, the block map, the
//! compressed image, the checksums and the Raspberry Pi Imager list.

pub mod bmap;
pub mod compress;
pub mod fsmap;
pub mod manifest;
pub mod mapping;
pub mod oslist;
pub mod release;
pub mod sums;
