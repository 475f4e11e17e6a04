//! clic: builds flashable CLIC! box images from one TOML description.
//!
//! The modules follow the pipeline: `spec` (load and validate) -> `plan`
//! (pure: what to build) -> `rootfs` -> `layers` -> `disk` (assemble) ->
//! `artifact` -> `qemu` (boot test).
#![deny(unsafe_code)]

pub mod artifact;
pub mod boxbin;
pub mod build;
pub mod cli;
pub mod cmd;
pub mod content;
pub mod data;
pub mod disk;
pub mod downloads;
pub mod fetch;
pub mod firmware;
pub mod flash;
pub mod inspect;
pub mod interrupt;
pub mod layers;
pub mod loader;
pub mod plan;
pub mod qemu;
pub mod rootfs;
pub mod spec;
pub mod ui;
