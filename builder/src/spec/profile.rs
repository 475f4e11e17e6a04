//! Board profiles: `profiles/<board>.toml`. Adding a board is adding a file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostics, Source};
use super::size::Size;
use crate::plan::layout::{DiskRounding, PartRole, TableKind};
use crate::qemu::QemuProfile;

pub const ARCHES: &[&str] = &["amd64", "i386", "arm64", "armhf", "armel"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub description: String,
    pub arch: String,
    /// Suites this board is known to work with; empty means any.
    #[serde(default)]
    pub suites: Vec<String>,
    /// Kernel, firmware and bootloader packages.
    #[serde(default)]
    pub packages: Vec<String>,
    /// Archive components (`main`, `non-free-firmware` for Pi firmware).
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    /// Kernel modules the initramfs carries. When set, the initramfs is
    /// built with `MODULES=list` from just these (small, and fast to make
    /// under emulation); otherwise Debian's default (`most`).
    #[serde(default)]
    pub initramfs_modules: Vec<String>,
    pub boot: BootConfig,
    pub disk: DiskConfig,
    pub qemu: QemuProfile,
}

fn default_components() -> Vec<String> {
    vec!["main".into()]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootConfig {
    /// Which bootloader implementation installs the image (`grub-x86`).
    pub loader: String,
    /// Kernel command line, without `root=` (clic adds it).
    pub cmdline: String,
    /// GRUB platforms to install, for `grub-x86` (`i386-pc`, `x86_64-efi`).
    #[serde(default)]
    pub grub_platforms: Vec<String>,
    /// Device trees copied to the boot partition, for `rpi-firmware`
    /// (file names from the kernel package's dtb directory).
    #[serde(default)]
    pub dtbs: Vec<String>,
    /// Extra lines for the Pi's `config.txt`, for `rpi-firmware`.
    #[serde(default)]
    pub config: Vec<String>,
    /// Kernel consoles (`tty0`, `ttyS1,115200`), for `rpi-firmware`.
    #[serde(default)]
    pub consoles: Vec<String>,
    /// Files the board's firmware reads from the boot partition besides
    /// the kernel, initramfs and device trees (`bootcode.bin`, `start.elf`
    /// on a Pi 3, `start4.elf` on a Pi 4): `clic inspect` requires them.
    #[serde(default)]
    pub firmware_files: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    pub table: TableKind,
    /// `align` (default) or `power-of-two` (QEMU's SD card models need it).
    #[serde(default = "default_rounding")]
    pub round: DiskRounding,
    pub partitions: Vec<PartitionConfig>,
}

fn default_rounding() -> DiskRounding {
    DiskRounding::Align
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    pub role: PartRole,
    pub label: String,
    /// Fixed size; the root partition is sized from its content instead.
    #[serde(default)]
    pub size: Option<Size>,
    /// For the root: free space to leave beyond the content (first boot
    /// grows the partition to fill the card anyway).
    #[serde(default)]
    pub free: Option<Size>,
    /// Mark the partition active/bootable (MBR boot flag, GPT legacy BIOS
    /// bootable attribute): some old BIOSes boot nothing without one.
    #[serde(default)]
    pub bootable: bool,
    /// Where the partition is mounted in the running system.
    #[serde(default)]
    pub mount: Option<String>,
}

/// A loaded profile and where it came from.
#[derive(Debug, Clone)]
pub struct LoadedProfile {
    pub name: String,
    pub path: PathBuf,
    pub profile: Profile,
}

/// Load and check one profile file.
pub fn load(path: &Path) -> Result<LoadedProfile, Diagnostics> {
    let src = Source::read(path)?;
    let profile: Profile = src.parse()?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut diags = Diagnostics::default();
    let at = |key: &str| {
        // Point at the key's line when we can find it in the text.
        let needle = format!("{} ", key.rsplit('.').next().unwrap_or(key));
        let span = src.text.find(&needle).map(|s| s..s + 1);
        (span, key.to_owned())
    };
    if !ARCHES.contains(&profile.arch.as_str()) {
        let (span, key) = at("arch");
        diags.0.push(
            src.diag(
                span,
                &key,
                format!("unknown architecture `{}`", profile.arch),
            )
            .with_hint(format!("known: {}", ARCHES.join(", "))),
        );
    }
    let roots = profile
        .disk
        .partitions
        .iter()
        .filter(|p| p.role == PartRole::Root)
        .count();
    if roots != 1 {
        let (span, key) = at("disk.partitions");
        diags.0.push(src.diag(
            span,
            &key,
            format!("a board needs exactly one partition with role = \"root\", found {roots}"),
        ));
    }
    for (i, p) in profile.disk.partitions.iter().enumerate() {
        if p.role != PartRole::Root && p.size.is_none() {
            let (span, _) = at("size");
            diags.0.push(src.diag(
                span,
                &format!("disk.partitions[{i}].size"),
                format!("partition `{}` needs a size", p.label),
            ));
        }
    }
    diags.into_result(LoadedProfile {
        name,
        path: path.to_owned(),
        profile,
    })
}

/// Every `*.toml` in the profiles directory, sorted by name.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    Ok(v)
}
