//! Artifacts written next to an image: the manifest, the block map, the
//! compressed image, the checksums, the Raspberry Pi Imager list and the
//! Wi-Fi poster.

pub mod bmap;
pub mod compress;
pub mod fsmap;
pub mod manifest;
pub mod mapping;
pub mod merge;
pub mod oslist;
pub mod poster;
pub mod release;
pub mod sums;
