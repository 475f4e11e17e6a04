//! Board profiles: `profiles/<board>.toml`. Adding a board is adding a file.

use serde::Deserialize;
use std::path::{Path, PathBuf};

use super::diag::{Diagnostics, Source};
use super::size::Size;
use crate::plan::layout::{DiskRounding, PartRole, TableKind};
use crate::qemu::QemuProfile;

pub const ARCHES: &[&str] = &["amd64", "i386", "arm64", "armhf", "armel"];

/// Debian archive components a profile may name (`non-free-firmware`:
/// Wi-Fi and boot firmware since bookworm).
pub const COMPONENTS: &[&str] = &["main", "contrib", "non-free", "non-free-firmware"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub description: String,
    pub arch: String,
    /// Suites this board is known to work with; empty means any.
    #[serde(default)]
    pub suites: Vec<String>,
    /// The kernel and what the initramfs needs: part of the Debian tree
    /// every board of this architecture shares (keep them equal across a
    /// family of boards so the expensive bootstrap is done once).
    #[serde(default)]
    pub packages: Vec<String>,
    /// This board's own packages (firmware, bootloader), installed on top
    /// of the shared tree.
    #[serde(default)]
    pub board_packages: Vec<String>,
    /// Archive components (default `main` and `non-free-firmware`, as
    /// Debian's installer does since bookworm).
    #[serde(default = "default_components")]
    pub components: Vec<String>,
    /// Kernel modules the initramfs carries. When set, the initramfs is
    /// built with `MODULES=list` from just these (small, and fast to make
    /// under emulation); otherwise Debian's default (`most`).
    #[serde(default)]
    pub initramfs_modules: Vec<String>,
    /// Wi-Fi firmware files the board's radios load, relative to
    /// `/lib/firmware` (from the firmware packages in `board_packages`):
    /// `clic inspect` and the build's own check require them in the root
    /// filesystem.
    #[serde(default)]
    pub wifi_firmware: Vec<String>,
    /// Firmware files not installed, as patterns relative to the firmware
    /// directory (`ath11k/*`, `intel/ibt-*`): parts of the firmware
    /// packages for hardware the board never has (dpkg `path-exclude`, in
    /// the board stage; kept in the image for later upgrades).
    #[serde(default)]
    pub firmware_exclude: Vec<String>,
    /// Raspberry Pi Imager device tags (`pi4-64bit`, `pi3-64bit`, ...): when
    /// set, a build also writes an `os_list.json` entry for these devices.
    #[serde(default)]
    pub imager_devices: Vec<String>,
    pub boot: BootConfig,
    pub disk: DiskConfig,
    pub qemu: QemuProfile,
}

fn default_components() -> Vec<String> {
    vec!["main".into(), "non-free-firmware".into()]
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
    /// Device tree u-boot hands the kernel, for `u-boot` (a path under
    /// the kernel package's dtb directory, `amlogic/meson-g12b-odroid-n2.dtb`).
    #[serde(default)]
    pub fdt: Option<String>,
    /// Bytes written at fixed sectors outside the partitions (u-boot and
    /// the vendor loaders before it), for `u-boot`.
    #[serde(default)]
    pub blobs: Vec<BlobConfig>,
}

/// One bootloader piece at a fixed place on the disk, `dd`-style: the
/// bytes `skip..skip+count` of its source go to `sector`. The source is
/// exactly one of `image_file`, `firmware` (+ `file` or `output`), `zeros`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobConfig {
    pub name: String,
    /// 512-byte sector of the disk the bytes start at.
    pub sector: u64,
    #[serde(default)]
    pub skip: u64,
    #[serde(default)]
    pub count: Option<u64>,
    /// A file of the image tree (Debian's `/usr/lib/u-boot/<board>/u-boot.bin`).
    #[serde(default)]
    pub image_file: Option<String>,
    /// A manifest in `firmware/`; with `file`, one of its pinned files,
    /// with `output`, a file its `[combine]` command makes.
    #[serde(default)]
    pub firmware: Option<String>,
    #[serde(default)]
    pub file: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    /// Inputs of the `[combine]` command: name -> file of the image tree,
    /// or an output of another manifest's `[build]`.
    #[serde(default)]
    pub inputs: std::collections::BTreeMap<String, BlobInput>,
    /// That many zero bytes (clears a stale u-boot environment).
    #[serde(default)]
    pub zeros: Option<u64>,
}

/// Where an input of a firmware's `[combine]` command comes from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(
    untagged,
    expecting = "a file of the image tree (\"/usr/lib/u-boot/odroid-n2/u-boot.bin\") \
                 or { firmware = \"NAME\", output = \"FILE\" }"
)]
pub enum BlobInput {
    /// A file of the image tree (Debian's `u-boot.bin`).
    ImageFile(String),
    /// A file the `[build]` recipe of another manifest makes (u-boot built
    /// from Debian's source, for a board Debian builds none for).
    Built(BuiltRef),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuiltRef {
    pub firmware: String,
    pub output: String,
}

impl BlobConfig {
    /// Manifests this blob needs: its source and those its inputs are
    /// built by.
    pub fn firmware_names(&self) -> impl Iterator<Item = &String> {
        self.firmware
            .iter()
            .chain(self.inputs.values().filter_map(|i| match i {
                BlobInput::Built(r) => Some(&r.firmware),
                BlobInput::ImageFile(_) => None,
            }))
    }

    /// What is wrong with the choice of source, if anything (pure).
    pub fn source_problem(&self) -> Option<String> {
        let sources = [
            self.image_file.is_some(),
            self.firmware.is_some(),
            self.zeros.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        if sources != 1 {
            return Some(format!(
                "blob `{}` needs exactly one of image_file, firmware, zeros (found {sources})",
                self.name
            ));
        }
        if self.firmware.is_some() && self.file.is_some() == self.output.is_some() {
            return Some(format!(
                "blob `{}`: with firmware, give exactly one of file, output",
                self.name
            ));
        }
        if self.firmware.is_none() && (self.file.is_some() || self.output.is_some()) {
            return Some(format!(
                "blob `{}`: file and output need firmware",
                self.name
            ));
        }
        None
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskConfig {
    pub table: TableKind,
    /// `align` (default) or `power-of-two` (QEMU's SD card models need it).
    #[serde(default = "default_rounding")]
    pub round: DiskRounding,
    /// Bytes at the start of the disk no partition may use (room for
    /// bootloader blobs written at fixed sectors).
    #[serde(default)]
    pub reserved: Option<Size>,
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
    /// For a `data` partition: content packs of this size or more go on
    /// it (sized to fit them, plus `free`); smaller ones stay on the root.
    /// Made only when a pack goes there.
    #[serde(default)]
    pub large_pack: Option<Size>,
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
    for c in &profile.components {
        if !COMPONENTS.contains(&c.as_str()) {
            let needle = format!("\"{c}\"");
            let span = src.text.find(&needle).map(|s| s..s + 1);
            diags.0.push(
                src.diag(
                    span,
                    "components",
                    format!("unknown archive component `{c}`"),
                )
                .with_hint(format!("known: {}", COMPONENTS.join(", "))),
            );
        }
    }
    if !profile.components.iter().any(|c| c == "main") {
        let (span, key) = at("components");
        diags
            .0
            .push(src.diag(span, &key, "the components must include `main`".to_owned()));
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
        if !matches!(p.role, PartRole::Root | PartRole::Data) && p.size.is_none() {
            let (span, _) = at("size");
            diags.0.push(src.diag(
                span,
                &format!("disk.partitions[{i}].size"),
                format!("partition `{}` needs a size", p.label),
            ));
        }
    }
    for (i, b) in profile.boot.blobs.iter().enumerate() {
        if let Some(problem) = b.source_problem() {
            let needle = format!("\"{}\"", b.name);
            let span = src.text.find(&needle).map(|s| s..s + 1);
            diags
                .0
                .push(src.diag(span, &format!("boot.blobs[{i}]"), problem));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The amd64 profile of the repository with its components replaced.
    fn with_components(line: &str) -> Result<LoadedProfile, Diagnostics> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let text = std::fs::read_to_string(repo.join("profiles/ordinosaure-amd64.toml")).unwrap();
        let text = text
            .lines()
            .filter(|l| !l.starts_with("components"))
            .map(|l| {
                if l.starts_with("arch = ") {
                    format!("{l}\n{line}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pc.toml");
        std::fs::write(&path, text).unwrap();
        load(&path)
    }

    #[test]
    fn components_are_checked() {
        let p = with_components("components = [\"main\", \"non-free-firmware\"]").unwrap();
        assert_eq!(p.profile.components, ["main", "non-free-firmware"]);
        let err = with_components("components = [\"main\", \"non-free-firmwre\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("pc.toml:"), "{err}");
        assert!(
            err.contains("unknown archive component `non-free-firmwre`"),
            "{err}"
        );
        assert!(err.contains("non-free-firmware"), "hint: {err}");
        let err = with_components("components = [\"non-free-firmware\"]")
            .unwrap_err()
            .to_string();
        assert!(err.contains("must include `main`"), "{err}");
    }
}
