//! Before the tree becomes a filesystem: remove what identifies the build
//! host or one machine (machine-id, host keys, the host's resolv.conf),
//! caches and logs. Timestamps and file order are normalised later, when
//! the tree is archived (sorted names, mtimes clamped to SOURCE_DATE_EPOCH).

use std::fs;
use std::io;
use std::path::Path;

/// Files removed outright (image paths; `*` matches within one directory).
pub const REMOVE: &[&str] = &[
    "/var/lib/dbus/machine-id",
    "/etc/ssh/ssh_host_*",
    // ssl-cert's postinst makes a "snakeoil" key pair in the build tree;
    // firstboot makes the box's own (its hash link goes too, below).
    "/etc/ssl/private/ssl-cert-snakeoil.key",
    "/etc/ssl/certs/ssl-cert-snakeoil.pem",
    "/var/cache/ldconfig/aux-cache",
    "/var/lib/systemd/random-seed",
    "/var/lib/systemd/credential.secret",
    "/var/cache/apt/*.bin",
    "/var/cache/apt/archives/*.deb",
    "/var/lib/apt/lists/*_*",
    "/var/cache/debconf/*-old",
    "/var/lib/dpkg/*-old",
    "/etc/*-",
    "/etc/initramfs-tools/*.bak",
    "/vmlinuz.old",
    "/initrd.img.old",
];

/// Directories emptied but kept (logs are recreated at boot).
pub const EMPTY_DIRS: &[&str] = &["/tmp", "/var/tmp", "/run", "/var/log"];

/// Files replaced with fixed contents.
pub fn fixed_files() -> Vec<(&'static str, &'static str)> {
    vec![
        // Empty: systemd makes a machine-id on the device at first boot.
        ("/etc/machine-id", ""),
        // mmdebstrap copied the build host's; the box's DNS comes from its
        // own network setup.
        ("/etc/resolv.conf", ""),
    ]
}

/// Match one path component against a pattern with `*` wildcards.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => m(&p[1..], n) || (!n.is_empty() && m(p, &n[1..])),
            (Some(a), Some(b)) if a == b => m(&p[1..], &n[1..]),
            _ => false,
        }
    }
    m(pattern.as_bytes(), name.as_bytes())
}

pub fn normalise(root: &Path) -> io::Result<()> {
    for pat in REMOVE {
        let rel = pat.trim_start_matches('/');
        let (dir, file_pat) = rel.rsplit_once('/').unwrap_or(("", rel));
        let dir = root.join(dir);
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        let mut removed = Vec::new();
        for e in rd.filter_map(Result::ok) {
            if glob_match(file_pat, &e.file_name().to_string_lossy()) {
                let ft = e.file_type()?;
                if !ft.is_dir() {
                    fs::remove_file(e.path())?;
                    removed.push(e.file_name());
                }
            }
        }
        remove_links_to(&dir, &removed)?;
    }
    for d in EMPTY_DIRS {
        let dir = root.join(d.trim_start_matches('/'));
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if e.file_type()?.is_dir() {
                if *d == "/var/log" {
                    // Keep log directories (packages own them), empty them.
                    empty_files(&p)?;
                } else {
                    fs::remove_dir_all(&p)?;
                }
            } else {
                fs::remove_file(&p)?;
            }
        }
    }
    for (path, contents) in fixed_files() {
        let p = root.join(path.trim_start_matches('/'));
        if fs::symlink_metadata(&p).is_ok() {
            fs::remove_file(&p)?;
        }
        fs::write(&p, contents)?;
    }
    Ok(())
}

/// Symlinks of `dir` pointing at one of `names` in the same directory
/// (a bare file name, as `make-ssl-cert` and `c_rehash` write them), which
/// were just removed: e.g. the `<hash>.0` link of a certificate.
fn remove_links_to(dir: &Path, names: &[std::ffi::OsString]) -> io::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    for e in fs::read_dir(dir)?.filter_map(Result::ok) {
        if !e.file_type()?.is_symlink() {
            continue;
        }
        let target = fs::read_link(e.path())?;
        let in_dir = target.parent().is_none_or(|p| p.as_os_str().is_empty());
        if in_dir
            && target
                .file_name()
                .is_some_and(|n| names.iter().any(|r| r == n))
        {
            fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

fn empty_files(dir: &Path) -> io::Result<()> {
    for e in fs::read_dir(dir)?.filter_map(Result::ok) {
        if e.file_type()?.is_dir() {
            empty_files(&e.path())?;
        } else {
            fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match("ssh_host_*", "ssh_host_rsa_key"));
        assert!(glob_match("*-", "passwd-"));
        assert!(!glob_match("*-", "passwd"));
        assert!(glob_match(
            "*_*",
            "deb.debian.org_debian_dists_bookworm_InRelease"
        ));
        assert!(!glob_match("*.bin", "pkgcache.bin.x"));
    }

    #[test]
    fn removes_secrets_and_host_state() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        for d in [
            "etc/ssh",
            "etc/ssl/certs",
            "etc/ssl/private",
            "var/log/apt",
            "tmp/x",
            "var/lib/dbus",
        ] {
            fs::create_dir_all(r.join(d)).unwrap();
        }
        fs::write(r.join("etc/ssh/ssh_host_ed25519_key"), "secret").unwrap();
        fs::write(r.join("etc/ssh/sshd_config"), "keep").unwrap();
        fs::write(r.join("etc/ssl/private/ssl-cert-snakeoil.key"), "secret").unwrap();
        fs::write(r.join("etc/ssl/certs/ssl-cert-snakeoil.pem"), "cert").unwrap();
        fs::write(r.join("etc/ssl/certs/ca-certificates.crt"), "keep").unwrap();
        std::os::unix::fs::symlink("ssl-cert-snakeoil.pem", r.join("etc/ssl/certs/a1b2c3d4.0"))
            .unwrap();
        std::os::unix::fs::symlink("ca-certificates.crt", r.join("etc/ssl/certs/e5f6a7b8.0"))
            .unwrap();
        fs::write(r.join("etc/passwd-"), "old").unwrap();
        fs::write(r.join("etc/machine-id"), "0123456789abcdef\n").unwrap();
        fs::write(r.join("etc/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
        fs::write(r.join("var/log/apt/history.log"), "x").unwrap();
        fs::write(r.join("var/lib/dbus/machine-id"), "x").unwrap();
        fs::write(r.join("tmp/x/y"), "x").unwrap();
        normalise(r).unwrap();
        assert!(!r.join("etc/ssh/ssh_host_ed25519_key").exists());
        assert!(r.join("etc/ssh/sshd_config").exists());
        assert!(!r.join("etc/ssl/private/ssl-cert-snakeoil.key").exists());
        assert!(!r.join("etc/ssl/certs/ssl-cert-snakeoil.pem").exists());
        assert!(fs::symlink_metadata(r.join("etc/ssl/certs/a1b2c3d4.0")).is_err());
        assert!(fs::symlink_metadata(r.join("etc/ssl/certs/e5f6a7b8.0")).is_ok());
        assert!(r.join("etc/ssl/certs/ca-certificates.crt").exists());
        assert!(!r.join("etc/passwd-").exists());
        assert_eq!(fs::read_to_string(r.join("etc/machine-id")).unwrap(), "");
        assert_eq!(fs::read_to_string(r.join("etc/resolv.conf")).unwrap(), "");
        assert!(r.join("var/log/apt").is_dir());
        assert!(!r.join("var/log/apt/history.log").exists());
        assert!(!r.join("var/lib/dbus/machine-id").exists());
        assert!(!r.join("tmp/x").exists());
    }
}
