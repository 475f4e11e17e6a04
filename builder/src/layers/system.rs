//! Files made from the spec's `[system]` table and the disk layout:
//! host name, locale, time zone, fstab. Computing the contents is pure.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use super::paths::resolve_parent_in_root;

#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error("writing {path} in the image: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("time zone `{0}` is not in the image (/usr/share/zoneinfo/{0} is missing; is tzdata installed?)")]
    NoTimezone(String),
}

/// One line of /etc/fstab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    pub spec: String,
    pub mountpoint: String,
    pub fstype: String,
    pub options: String,
    pub pass: u8,
}

pub fn fstab(entries: &[FstabEntry]) -> String {
    let mut s =
        String::from("# Written by clic. Filesystems are found by UUID, never by device name.\n");
    for e in entries {
        s.push_str(&format!(
            "{}\t{}\t{}\t{}\t0\t{}\n",
            e.spec, e.mountpoint, e.fstype, e.options, e.pass
        ));
    }
    s
}

pub fn hosts(hostname: &str) -> String {
    format!(
        "127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
    )
}

/// The files to write: (image path, contents).
pub fn system_files(
    hostname: &str,
    locale: &str,
    timezone: &str,
    fstab_entries: &[FstabEntry],
) -> Vec<(&'static str, String)> {
    let mut v = vec![
        ("/etc/hostname", format!("{hostname}\n")),
        ("/etc/hosts", hosts(hostname)),
        ("/etc/default/locale", format!("LANG={locale}\n")),
        ("/etc/timezone", format!("{timezone}\n")),
        ("/etc/fstab", fstab(fstab_entries)),
    ];
    if locale != "C.UTF-8" && locale != "C" && locale != "POSIX" {
        let charset = locale
            .split_once('.')
            .map_or("UTF-8", |(_, c)| c.split('@').next().unwrap_or("UTF-8"));
        v.push(("/etc/locale.gen", format!("{locale} {charset}\n")));
    }
    v
}

fn write(root: &Path, image_path: &str, contents: &str) -> Result<(), SystemError> {
    let io = |source| SystemError::Io {
        path: image_path.into(),
        source,
    };
    let host = resolve_parent_in_root(root, Path::new(image_path)).map_err(io)?;
    if let Some(p) = host.parent() {
        fs::create_dir_all(p).map_err(io)?;
    }
    if fs::symlink_metadata(&host).is_ok() {
        fs::remove_file(&host).map_err(io)?;
    }
    fs::write(&host, contents).map_err(io)
}

/// Write the system files and point /etc/localtime at the zone.
pub fn apply(
    root: &Path,
    hostname: &str,
    locale: &str,
    timezone: &str,
    fstab_entries: &[FstabEntry],
) -> Result<(), SystemError> {
    for (path, contents) in system_files(hostname, locale, timezone, fstab_entries) {
        write(root, path, &contents)?;
    }
    let zone = format!("/usr/share/zoneinfo/{timezone}");
    let zone_host =
        resolve_parent_in_root(root, Path::new(&zone)).map_err(|source| SystemError::Io {
            path: zone.clone().into(),
            source,
        })?;
    if !zone_host.is_file() {
        return Err(SystemError::NoTimezone(timezone.to_owned()));
    }
    let lt = root.join("etc/localtime");
    if fs::symlink_metadata(&lt).is_ok() {
        fs::remove_file(&lt).map_err(|source| SystemError::Io {
            path: "/etc/localtime".into(),
            source,
        })?;
    }
    symlink(&zone, &lt).map_err(|source| SystemError::Io {
        path: "/etc/localtime".into(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fstab_lines() {
        let f = fstab(&[
            FstabEntry {
                spec: "UUID=abc".into(),
                mountpoint: "/".into(),
                fstype: "ext4".into(),
                options: "noatime".into(),
                pass: 1,
            },
            FstabEntry {
                spec: "UUID=12AB-34CD".into(),
                mountpoint: "/boot/efi".into(),
                fstype: "vfat".into(),
                options: "umask=0077,nofail".into(),
                pass: 2,
            },
        ]);
        assert!(f.contains("UUID=abc\t/\text4\tnoatime\t0\t1\n"));
        assert!(f.contains("UUID=12AB-34CD\t/boot/efi\tvfat\tumask=0077,nofail\t0\t2\n"));
    }

    #[test]
    fn locale_gen_only_for_real_locales() {
        let files = system_files("clic", "fr_FR.UTF-8", "Europe/Paris", &[]);
        assert!(files
            .iter()
            .any(|(p, c)| *p == "/etc/locale.gen" && c == "fr_FR.UTF-8 UTF-8\n"));
        let files = system_files("clic", "C.UTF-8", "Etc/UTC", &[]);
        assert!(!files.iter().any(|(p, _)| *p == "/etc/locale.gen"));
        assert!(files
            .iter()
            .any(|(p, c)| *p == "/etc/hosts" && c.contains("127.0.1.1\tclic\n")));
    }

    #[test]
    fn apply_refuses_a_missing_zone() {
        let t = tempfile::tempdir().unwrap();
        let err = apply(t.path(), "clic", "C.UTF-8", "Mars/Olympus", &[]).unwrap_err();
        assert!(matches!(err, SystemError::NoTimezone(_)));
        assert_eq!(
            fs::read_to_string(t.path().join("etc/hostname")).unwrap(),
            "clic\n"
        );
    }
}
