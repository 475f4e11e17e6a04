//! Where Debian installs UEFI firmware for each QEMU target, and the
//! writable copy of its variable store that each boot needs.

use std::path::{Path, PathBuf};

use super::{QemuError, UefiFirmware};

/// UEFI firmware as one Debian package installs it for one QEMU target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UefiFiles {
    pub package: &'static str,
    pub code: &'static str,
    pub vars: &'static str,
    /// A combined image for `-bios`, used when the split files are missing.
    pub fallback: Option<&'static str>,
}

/// PURE: the firmware files Debian ships for a QEMU `system`.
pub fn uefi_files(system: &str) -> Option<UefiFiles> {
    match system {
        "x86_64" => Some(UefiFiles {
            package: "ovmf",
            code: "/usr/share/OVMF/OVMF_CODE_4M.fd",
            vars: "/usr/share/OVMF/OVMF_VARS_4M.fd",
            fallback: Some("/usr/share/ovmf/OVMF.fd"),
        }),
        "aarch64" => Some(UefiFiles {
            package: "qemu-efi-aarch64",
            code: "/usr/share/AAVMF/AAVMF_CODE.fd",
            vars: "/usr/share/AAVMF/AAVMF_VARS.fd",
            fallback: None,
        }),
        "arm" => Some(UefiFiles {
            package: "qemu-efi-arm",
            code: "/usr/share/AAVMF/AAVMF32_CODE.fd",
            vars: "/usr/share/AAVMF/AAVMF32_VARS.fd",
            fallback: None,
        }),
        _ => None,
    }
}

/// Find the UEFI firmware for `system` and copy its variable store into
/// `vars_dir` (the pflash vars are written by the guest).
pub fn locate_uefi(system: &str, vars_dir: &Path) -> Result<UefiFirmware, QemuError> {
    let files = uefi_files(system).ok_or_else(|| QemuError::NoUefiFor {
        system: system.to_owned(),
    })?;
    let (code, vars) = (Path::new(files.code), Path::new(files.vars));
    if code.is_file() && vars.is_file() {
        let copy = vars_dir.join("uefi-vars.fd");
        std::fs::copy(vars, &copy).map_err(|source| QemuError::Io {
            what: format!("copying {} to {}", vars.display(), copy.display()),
            source,
        })?;
        return Ok(UefiFirmware::Pflash {
            code: code.to_owned(),
            vars: copy,
        });
    }
    if let Some(fallback) = files.fallback.map(Path::new).filter(|p| p.is_file()) {
        return Ok(UefiFirmware::Bios(fallback.to_owned()));
    }
    let missing = if code.is_file() { vars } else { code };
    Err(QemuError::FirmwareMissing {
        path: PathBuf::from(missing),
        package: files.package,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_targets_name_their_package() {
        assert_eq!(uefi_files("x86_64").map(|f| f.package), Some("ovmf"));
        assert_eq!(
            uefi_files("aarch64").map(|f| f.package),
            Some("qemu-efi-aarch64")
        );
        assert!(uefi_files("i386").is_none());
        let err = locate_uefi("mips", Path::new("/tmp")).unwrap_err();
        assert!(err.to_string().contains("mips"), "{err}");
    }

    #[test]
    fn vars_are_copied_not_shared() {
        let Some(files) = uefi_files("x86_64").filter(|f| Path::new(f.code).is_file()) else {
            // The missing-file message is what this machine gets instead.
            let err = locate_uefi("x86_64", Path::new("/tmp")).unwrap_err();
            assert!(err.to_string().contains("apt-get install ovmf"), "{err}");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        match locate_uefi("x86_64", dir.path()).unwrap() {
            UefiFirmware::Pflash { code, vars } => {
                assert_eq!(code, Path::new(files.code));
                assert!(vars.starts_with(dir.path()));
                assert_eq!(
                    std::fs::read(&vars).unwrap(),
                    std::fs::read(files.vars).unwrap()
                );
            }
            other => panic!("expected pflash, got {other:?}"),
        }
    }
}
