//! Artifacts written next to an image.

pub mod manifest;
