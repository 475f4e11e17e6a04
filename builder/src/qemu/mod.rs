//! Boot test: run an image under QEMU (always TCG: KVM guests hang on the
//! build machines), read its serial console and decide.
//!
//! - `args` (pure): board profile `[qemu]` table + `BootOptions` -> argument list.
//! - `firmware`: where Debian installs OVMF/AAVMF; a writable vars copy per boot.
//! - `serial` (pure): escape stripping, rolling buffer, pattern and panic detection.
//! - `runner`: spawn QEMU, watch the console with a timeout, run a check while
//!   the guest is up; `process`: the guard that stops QEMU on every path.
//! - `http`: a minimal GET through a forwarded port, for those checks.
//!
//! The console is the guest's serial port wired to QEMU's stdio (`-nographic
//! -serial stdio -monitor none`), read from a pipe; stdin is /dev/null.

mod args;
mod firmware;
mod forward;
mod http;
mod process;
mod runner;
mod serial;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

pub use args::{
    qemu_command, BootOptions, DriveKind, Firmware, KernelFromImage, QemuProfile, UefiFirmware,
};
pub use firmware::{locate_uefi, uefi_files, UefiFiles};
pub use forward::Forward;
pub use http::{parse_response, wait_http, HttpResponse};
pub use runner::{boot, boot_with, CheckError, Verdict, Watch, LAST_LINES};
pub use serial::{Console, Seen};

#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    #[error("board profile: `{key}`: {reason}")]
    Profile { key: String, reason: String },
    #[error("bad port forward `{input}`: {reason} (e.g. `8080:80` or `127.0.0.1:8080:80`)")]
    BadForward { input: String, reason: String },
    #[error("the board profile boots with firmware {offered:?}, not `{firmware}`")]
    FirmwareNotOffered {
        firmware: Firmware,
        offered: Vec<Firmware>,
    },
    #[error("UEFI firmware {} is missing: `apt-get install {package}` provides it", path.display())]
    FirmwareMissing {
        path: PathBuf,
        package: &'static str,
    },
    #[error("clic knows no UEFI firmware for qemu-system-{system}; use `bios` or `none`")]
    NoUefiFor { system: String },
    #[error("internal: UEFI boot without firmware files (call `locate_uefi` first)")]
    UefiNotResolved,
    #[error("firmware `none`, an initrd, a dtb or a kernel command line needs a kernel to boot (`-kernel`)")]
    NeedsKernel,
    #[error("the board profile boots a kernel from the image (`kernel_from_image`): extract it and pass its path")]
    KernelNotExtracted,
    #[error("port forwards need a network card, but the board profile says `nic = \"none\"`")]
    ForwardWithoutNic,
    #[error("QEMU's SD card must be a power of two in size; {} is {size} bytes (e.g. `truncate -s 4G`)", path.display())]
    SdSize { path: PathBuf, size: u64 },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("cannot start QEMU (`apt-get install {package}` provides it): {source}")]
    Start {
        package: &'static str,
        source: crate::cmd::CmdError,
    },
    #[error("bad console pattern: {0}")]
    Pattern(#[from] regex::Error),
    #[error("the guest did not print what was awaited within {}{}", secs(*waited), serial_tail(last_lines))]
    Timeout {
        waited: Duration,
        last_lines: Vec<String>,
    },
    #[error("the guest kernel panicked: {line}{}", serial_tail(last_lines))]
    KernelPanic {
        line: String,
        last_lines: Vec<String>,
    },
    #[error(
        "QEMU ended ({status}) before the guest printed what was awaited{}{}",
        stderr_tail(stderr),
        serial_tail(last_lines)
    )]
    QemuExited {
        status: ExitStatus,
        stderr: String,
        last_lines: Vec<String>,
    },
    #[error("interrupted; QEMU stopped{}", if last_lines.is_empty() { String::new() } else { serial_tail(last_lines) })]
    Interrupted { last_lines: Vec<String> },
    #[error(
        "check while the guest was up failed: {source}{}",
        serial_tail(last_lines)
    )]
    Check {
        source: CheckError,
        last_lines: Vec<String>,
    },
    #[error("no HTTP answer from {url} within {}: {last_error}", secs(*waited))]
    Http {
        url: String,
        waited: Duration,
        last_error: String,
    },
}

impl QemuError {
    /// The console lines carried by a boot failure, if any.
    pub fn last_lines(&self) -> &[String] {
        match self {
            QemuError::Timeout { last_lines, .. }
            | QemuError::KernelPanic { last_lines, .. }
            | QemuError::QemuExited { last_lines, .. }
            | QemuError::Interrupted { last_lines }
            | QemuError::Check { last_lines, .. } => last_lines,
            _ => &[],
        }
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn serial_tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return "\nthe serial console printed nothing".to_owned();
    }
    let mut s = String::from("\nlast serial console lines:");
    for l in lines {
        s.push_str("\n  | ");
        s.push_str(l);
    }
    s
}

fn stderr_tail(stderr: &str) -> String {
    if stderr.trim().is_empty() {
        String::new()
    } else {
        format!("\nQEMU said: {}", stderr.trim_end())
    }
}
