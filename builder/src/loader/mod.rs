//! Bootloaders. A board profile names one (`[boot] loader = "grub-x86"`);
//! each is an implementation of [`Bootloader`] fed by the profile's data,
//! so a board family is a new implementation, not a branch in the build.

pub mod grub;
pub mod rpi;
pub mod uboot;

use std::path::{Path, PathBuf};

use crate::disk::fat::FatFile;
use crate::plan::layout::Layout;
use crate::spec::profile::BootConfig;

/// What a bootloader needs to know about the image being built.
#[derive(Debug, Clone)]
pub struct LoaderContext<'a> {
    pub name: &'a str,
    pub arch: String,
    pub boot: &'a BootConfig,
    /// `PARTUUID` of the root partition (seeded, known before the layout
    /// is final).
    pub root_partuuid: &'a str,
    pub root_fs_uuid: &'a str,
    /// Directory holding the loader's templates (`profiles/loaders/<loader>`).
    pub templates: PathBuf,
    /// Firmware manifests the board's blobs name, already verified.
    pub firmware: &'a std::collections::BTreeMap<String, crate::firmware::Firmware>,
    /// Where scratch directories may be made (the build's work directory).
    pub scratch: PathBuf,
}

/// What a bootloader hands to disk assembly.
#[derive(Debug, Default)]
pub struct Prepared {
    /// GRUB's boot.img, to be patched into the MBR once the layout is known.
    pub mbr_boot_img: Option<Vec<u8>>,
    /// GRUB's core.img for the BIOS boot partition.
    pub bios_core: Option<Vec<u8>>,
    /// Files for the EFI system partition or the FAT boot partition.
    pub fat_files: Vec<FatFile>,
    /// Bytes at fixed offsets outside partitions (u-boot and vendor blobs).
    pub raw_blobs: Vec<crate::disk::image::RawBlob>,
}

/// Disk content computed from `Prepared` and the final layout.
#[derive(Debug, Default)]
pub struct DiskBoot {
    pub mbr_boot_code: Option<[u8; 440]>,
    /// Raw bytes for the BIOS boot partition.
    pub bios_boot: Option<Vec<u8>>,
    /// Bytes at fixed offsets outside partitions (GRUB's core.img in the
    /// gap after an MBR, u-boot blobs).
    pub raw_blobs: Vec<crate::disk::image::RawBlob>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    #[error("unknown bootloader `{0}` (known: grub-x86, rpi-firmware, u-boot)")]
    Unknown(String),
    #[error("bootloader {loader}: {message}")]
    Failed {
        loader: &'static str,
        message: String,
    },
    #[error("bootloader {loader}: {context}")]
    Io {
        loader: &'static str,
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("bootloader {loader}: {context}")]
    Cmd {
        loader: &'static str,
        context: String,
        #[source]
        source: crate::cmd::CmdError,
    },
    #[error(transparent)]
    Render(#[from] crate::layers::render::RenderError),
    #[error(transparent)]
    Disk(#[from] crate::disk::grub::GrubError),
}

impl LoaderError {
    /// `map_err` for an I/O step of `loader`, saying what it was doing.
    pub fn io(loader: &'static str, context: String) -> impl FnOnce(std::io::Error) -> LoaderError {
        move |source| LoaderError::Io {
            loader,
            context,
            source,
        }
    }

    pub fn failed(loader: &'static str, message: String) -> LoaderError {
        LoaderError::Failed { loader, message }
    }
}

pub trait Bootloader {
    /// Install configuration into the image tree at `root` and produce the
    /// binaries that go outside the root filesystem.
    fn prepare(&self, root: &Path, ctx: &LoaderContext) -> Result<Prepared, LoaderError>;
    /// Turn the prepared binaries into disk content for `layout` (pure).
    fn place(&self, prepared: &Prepared, layout: &Layout) -> Result<DiskBoot, LoaderError>;
}

pub fn by_name(name: &str) -> Result<Box<dyn Bootloader>, LoaderError> {
    match name {
        "grub-x86" => Ok(Box::new(grub::GrubX86)),
        "rpi-firmware" => Ok(Box::new(rpi::RpiFirmware)),
        "u-boot" => Ok(Box::new(uboot::UBoot)),
        other => Err(LoaderError::Unknown(other.to_owned())),
    }
}

/// Render one of a loader's templates with the boot context.
pub(crate) fn render_template(
    ctx: &LoaderContext,
    file: &str,
    loader: &'static str,
) -> Result<String, LoaderError> {
    render_template_with(ctx, file, loader, tera::Context::new())
}

/// Same, with entries of the loader's own added to the context.
pub(crate) fn render_template_with(
    ctx: &LoaderContext,
    file: &str,
    loader: &'static str,
    extra: tera::Context,
) -> Result<String, LoaderError> {
    let path = ctx.templates.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| LoaderError::Io {
        loader,
        context: format!("reading template {}", path.display()),
        source,
    })?;
    let mut c = tera::Context::new();
    c.insert("name", ctx.name);
    c.insert("cmdline", &ctx.boot.cmdline);
    c.insert("root_partuuid", ctx.root_partuuid);
    c.insert("root_fs_uuid", ctx.root_fs_uuid);
    c.insert("config", &ctx.boot.config);
    c.extend(extra);
    Ok(crate::layers::render::render_context(
        &path.display().to_string(),
        &text,
        &c,
        false,
    )?)
}
