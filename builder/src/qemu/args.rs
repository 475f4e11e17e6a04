//! PURE: a board profile's `[qemu]` table plus the options of one boot ->
//! the QEMU program name and argument list. Nothing here touches the
//! filesystem; firmware files are located by `firmware.rs` beforehand.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Forward, QemuError};

/// The `[qemu]` table of a board profile; also embedded in the manifest.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct QemuProfile {
    /// Suffix of the binary: "x86_64" runs `qemu-system-x86_64`.
    pub system: String,
    /// `-machine` value: "pc", "q35", "virt", "raspi3b", "raspi4b"...
    pub machine: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// `-m` value, e.g. "512M" (raspi machines insist on their real size).
    pub memory: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smp: Option<u32>,
    /// Firmware the image boots with; the first is the default.
    pub firmware: Vec<Firmware>,
    pub drive: DriveKind,
    /// NIC device model ("virtio-net-pci", "e1000", "usb-net"), "none" for
    /// no network; unset: the machine's default NIC (`-nic user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<String>,
    /// The kernel is not loaded by firmware but passed with `-kernel`: these
    /// are its paths inside the image's boot partition (extracted by the caller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_from_image: Option<KernelFromImage>,
    /// Kernel command line used with `-kernel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub append: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_args: Vec<String>,
    /// `-serial` values for the guest's serial ports in order, separated by
    /// spaces; exactly one is `stdio` (the console clic reads). Unset:
    /// "stdio" (the console is the first port). Example: "null stdio".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KernelFromImage {
    /// The kernel's file name; unset: the one `config_txt` names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    /// A Raspberry Pi `config.txt` whose `kernel=` and `initramfs` lines
    /// name the kernel and initrd (their names carry the kernel version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_txt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<String>,
    /// An extlinux.conf (u-boot boards, on the root partition) whose first
    /// entry names the kernel, initrd and command line (its `console=`
    /// settings dropped and the profile's `append` added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extlinux: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dtb: Option<String>,
    /// A file holding the kernel command line (the Pi's `cmdline.txt`); its
    /// `console=` settings are dropped and the profile's `append` added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmdline: Option<String>,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Firmware {
    /// SeaBIOS, QEMU's default on x86.
    Bios,
    /// OVMF/AAVMF from pflash.
    Uefi,
    /// No firmware: QEMU loads the kernel itself (`-kernel`).
    None,
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
            Firmware::None => "none",
        })
    }
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DriveKind {
    Virtio,
    Ide,
    /// The SD card slot of raspi machines (image size must be a power of two).
    Sd,
    Nvme,
}

/// UEFI firmware files for one boot, as found by `firmware::locate_uefi`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UefiFirmware {
    /// Read-only code plus a writable copy of the variable store.
    Pflash { code: PathBuf, vars: PathBuf },
    /// A combined image loaded with `-bios` (variables are not kept).
    Bios(PathBuf),
}

/// What one boot uses besides the profile.
#[derive(Clone, Debug)]
pub struct BootOptions {
    pub image: PathBuf,
    pub firmware: Firmware,
    pub forwards: Vec<Forward>,
    /// Write guest changes to a temporary overlay, not to the image.
    pub snapshot: bool,
    /// Overrides the profile's memory.
    pub memory: Option<String>,
    /// Required when `firmware` is `Uefi`; `runner::boot` fills it in.
    pub uefi: Option<UefiFirmware>,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    pub dtb: Option<PathBuf>,
    /// Overrides the profile's `append`.
    pub append: Option<String>,
    pub extra: Vec<String>,
    /// Raw disk images plugged in as USB sticks (read-only).
    pub usb: Vec<PathBuf>,
    /// A Unix socket where QEMU answers its machine protocol (QMP), e.g.
    /// `screendump` for a picture of the guest's screen.
    pub qmp: Option<PathBuf>,
}

impl BootOptions {
    /// Snapshot on, no forwards, no kernel: boot `image` with `firmware`.
    pub fn new(image: impl Into<PathBuf>, firmware: Firmware) -> Self {
        BootOptions {
            image: image.into(),
            firmware,
            forwards: Vec::new(),
            snapshot: true,
            memory: None,
            uefi: None,
            kernel: None,
            initrd: None,
            dtb: None,
            append: None,
            extra: Vec::new(),
            usb: Vec::new(),
            qmp: None,
        }
    }
}

impl QemuProfile {
    /// The firmware used when the user does not choose one.
    pub fn default_firmware(&self) -> Firmware {
        self.firmware.first().copied().unwrap_or(Firmware::Bios)
    }

    /// The `qemu-system-*` binary this profile runs.
    pub fn program(&self) -> String {
        format!("qemu-system-{}", self.system)
    }

    /// The Debian package that ships `program()`.
    pub fn package(&self) -> &'static str {
        match self.system.as_str() {
            "aarch64" | "arm" => "qemu-system-arm",
            "x86_64" | "i386" => "qemu-system-x86",
            "riscv64" | "riscv32" => "qemu-system-misc",
            _ => "qemu-system",
        }
    }

    fn is_x86(&self) -> bool {
        matches!(self.system.as_str(), "x86_64" | "i386")
    }

    fn serial_ports(&self) -> Result<Vec<&str>, QemuError> {
        let ports: Vec<&str> = match &self.serial {
            Some(s) => s.split_whitespace().collect(),
            None => vec!["stdio"],
        };
        if ports.iter().filter(|p| **p == "stdio").count() != 1 {
            return Err(bad(
                "serial",
                "list exactly one `stdio` port: the console clic reads",
            ));
        }
        Ok(ports)
    }

    /// Problems a profile author can fix, checked before anything runs.
    pub fn validate(&self) -> Result<(), QemuError> {
        let word = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        if !word(&self.system) {
            return Err(bad(
                "system",
                "expected a QEMU target such as `x86_64` or `aarch64`",
            ));
        }
        // A machine and its options: `virt,highmem=off`.
        let mut parts = self.machine.split(',');
        let machine_ok = parts.next().is_some_and(word)
            && parts.all(|o| o.split_once('=').is_some_and(|(k, v)| word(k) && word(v)));
        if !machine_ok {
            return Err(bad(
                "machine",
                "expected a QEMU machine such as `pc` or `raspi3b`, with options as `virt,highmem=off`",
            ));
        }
        if self.firmware.is_empty() {
            return Err(bad(
                "firmware",
                "list at least one of `bios`, `uefi`, `none`",
            ));
        }
        if self.memory.trim().is_empty() {
            return Err(bad("memory", "expected a size such as `512M`"));
        }
        self.serial_ports()?;
        Ok(())
    }
}

fn bad(key: &str, reason: &str) -> QemuError {
    QemuError::Profile {
        key: format!("qemu.{key}"),
        reason: reason.to_owned(),
    }
}

/// QEMU's option syntax doubles commas inside values.
fn opt_path(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

/// The QEMU program and its arguments for one boot.
pub fn qemu_command(
    profile: &QemuProfile,
    opts: &BootOptions,
) -> Result<(String, Vec<OsString>), QemuError> {
    profile.validate()?;
    let mut a: Vec<OsString> = Vec::new();
    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));

    push(&["-machine", &profile.machine, "-accel", "tcg"]);
    if let Some(cpu) = &profile.cpu {
        push(&["-cpu", cpu]);
    }
    push(&["-m", opts.memory.as_deref().unwrap_or(&profile.memory)]);
    if let Some(n) = profile.smp {
        push(&["-smp", &n.to_string()]);
    }
    // -nographic (not `-display none`): SeaBIOS then prints to the serial port.
    push(&["-nographic", "-monitor", "none"]);
    if let Some(q) = &opts.qmp {
        push(&["-qmp", &format!("unix:{},server=on,wait=off", opt_path(q))]);
    }
    for port in profile.serial_ports()? {
        push(&["-serial", port]);
    }
    push(&["-no-reboot"]);

    if !profile.firmware.contains(&opts.firmware) {
        return Err(QemuError::FirmwareNotOffered {
            firmware: opts.firmware,
            offered: profile.firmware.clone(),
        });
    }
    if profile.kernel_from_image.is_some() && opts.kernel.is_none() {
        return Err(QemuError::KernelNotExtracted);
    }
    match opts.firmware {
        Firmware::Bios if !profile.is_x86() => {
            return Err(bad(
                "firmware",
                "`bios` (SeaBIOS) exists only for x86; use `uefi` or `none`",
            ));
        }
        Firmware::Bios => {}
        Firmware::Uefi => match &opts.uefi {
            Some(UefiFirmware::Pflash { code, vars }) => {
                let code = format!(
                    "if=pflash,format=raw,unit=0,readonly=on,file={}",
                    opt_path(code)
                );
                let vars = format!("if=pflash,format=raw,unit=1,file={}", opt_path(vars));
                push(&["-drive", &code, "-drive", &vars]);
            }
            Some(UefiFirmware::Bios(path)) => push(&["-bios", &path.to_string_lossy()]),
            None => return Err(QemuError::UefiNotResolved),
        },
        Firmware::None if opts.kernel.is_none() => return Err(QemuError::NeedsKernel),
        Firmware::None => {}
    }

    match &opts.kernel {
        Some(kernel) => {
            a.extend([OsString::from("-kernel"), kernel.into()]);
            if let Some(initrd) = &opts.initrd {
                a.extend([OsString::from("-initrd"), initrd.into()]);
            }
            if let Some(dtb) = &opts.dtb {
                a.extend([OsString::from("-dtb"), dtb.into()]);
            }
            if let Some(append) = opts.append.as_ref().or(profile.append.as_ref()) {
                a.extend([OsString::from("-append"), append.into()]);
            }
        }
        None if opts.initrd.is_some() || opts.dtb.is_some() || opts.append.is_some() => {
            return Err(QemuError::NeedsKernel);
        }
        None => {}
    }

    let mut push = |items: &[&str]| a.extend(items.iter().map(OsString::from));
    let snapshot = if opts.snapshot { ",snapshot=on" } else { "" };
    let file = format!("file={},format=raw", opt_path(&opts.image));
    match profile.drive {
        DriveKind::Virtio => push(&["-drive", &format!("{file},if=virtio{snapshot}")]),
        DriveKind::Ide => push(&["-drive", &format!("{file},if=ide{snapshot}")]),
        DriveKind::Sd => push(&["-drive", &format!("{file},if=sd{snapshot}")]),
        DriveKind::Nvme => push(&[
            "-drive",
            &format!("{file},if=none,id=disk0{snapshot}"),
            "-device",
            "nvme,drive=disk0,serial=clic0",
        ]),
    }

    // USB sticks: an xHCI controller, one usb-storage device each,
    // read-only (the guest sees a write-protected disk).
    if !opts.usb.is_empty() {
        push(&["-device", "qemu-xhci,id=clicxhci"]);
        for (i, u) in opts.usb.iter().enumerate() {
            push(&[
                "-drive",
                &format!(
                    "file={},format=raw,if=none,id=clicusb{i},readonly=on",
                    opt_path(u)
                ),
                "-device",
                &format!("usb-storage,bus=clicxhci.0,drive=clicusb{i},removable=on"),
            ]);
        }
    }

    let mut user = String::from("user");
    for f in &opts.forwards {
        user.push_str(",hostfwd=");
        user.push_str(&f.hostfwd());
    }
    match profile.nic.as_deref() {
        Some("none") if !opts.forwards.is_empty() => return Err(QemuError::ForwardWithoutNic),
        Some("none") => push(&["-nic", "none"]),
        Some(model) => push(&[
            "-netdev",
            &format!("{user},id=net0"),
            "-device",
            &format!("{model},netdev=net0"),
        ]),
        None => push(&["-nic", &user]),
    }
    a.extend(profile.extra_args.iter().map(OsString::from));
    a.extend(opts.extra.iter().map(OsString::from));
    Ok((profile.program(), a))
}

#[cfg(test)]
#[path = "args_tests.rs"]
mod tests;
