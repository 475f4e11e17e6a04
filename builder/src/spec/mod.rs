//! Spec, board profiles and layers: loading and validation. Every problem is
//! a [`diag::Diagnostic`] naming the file, line and key.

pub mod apt;
pub mod binaries;
pub mod diag;
pub mod downloads;
pub mod layer;
pub mod model;
pub mod openpgp;
pub mod ports;
pub mod profile;
pub mod resolve;
pub mod settings;
pub mod size;
pub mod steps;

pub use diag::{Diagnostic, Diagnostics};
pub use resolve::{resolve, Options, Resolved};
