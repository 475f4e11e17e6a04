//! The host's own `dpkg-deb` inside an emulated tree while it is built.
//!
//! In an arm64 or armhf tree every program runs under qemu-user, and dpkg
//! hands the unpacking of each package to `dpkg-deb`: the xz and zstd
//! decompression of every package, about 7 times slower emulated than
//! native here (98 s against 14 s for the 197 packages of the arm64 Pi
//! tree). The host's `dpkg-deb`, with its loader and libraries copied into
//! the tree under [`IN_TREE`] and its interpreter and library path pointed
//! there (`patchelf`), runs natively inside the chroot; [`LINK`] puts it
//! first in dpkg's search path (apt runs dpkg with
//! `PATH=/usr/sbin:/usr/bin:/sbin:/bin`; `dpkg` itself stays the tree's).
//! Both are removed before the tree is kept, so the tree, its cache key and
//! the image are what they would be without it. Without `patchelf` or
//! `ldd` on the host the build goes on, emulated.

use std::path::{Path, PathBuf};

use crate::cmd::Cmd;

/// Where the native `dpkg-deb`, its loader and libraries go in the tree.
pub const IN_TREE: &str = "/usr/lib/clic-native";
/// Found by dpkg before the tree's own `/usr/bin/dpkg-deb`.
pub const LINK: &str = "/usr/sbin/dpkg-deb";
const HOST_DPKG_DEB: &str = "/usr/bin/dpkg-deb";

/// Whether programs of Debian architecture `target` are emulated on a host
/// whose Rust architecture is `host` (pure).
pub fn emulated(host: &str, target: &str) -> bool {
    let native: &[&str] = match host {
        "x86_64" => &["amd64", "i386"],
        "x86" => &["i386"],
        "aarch64" => &["arm64", "armhf", "armel"],
        "arm" => &["armhf", "armel"],
        _ => return true,
    };
    !native.contains(&target)
}

/// The shared libraries and the loader `ldd` names for a program (pure):
/// absolute paths only (not the kernel's vDSO).
pub fn ldd_paths(ldd_output: &str) -> Vec<PathBuf> {
    ldd_output
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// The file name of the loader among `ldd`'s paths
/// (`ld-linux-x86-64.so.2` and the like).
pub fn loader(paths: &[PathBuf]) -> Option<String> {
    paths
        .iter()
        .filter_map(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .find(|n| n.starts_with("ld-"))
}

/// A directory named `clic-native` (under a temporary directory that lives
/// as long as this value) holding the host's `dpkg-deb` made to run from
/// [`IN_TREE`] in a tree, for an emulated `arch`; `None` (said on stderr)
/// when the host cannot provide it: the build is then only slower.
pub struct NativeDpkgDeb {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
}

pub fn prepare(arch: &str) -> Option<NativeDpkgDeb> {
    if !emulated(std::env::consts::ARCH, arch) {
        return None;
    }
    match try_prepare() {
        Ok(n) => Some(n),
        Err(e) => {
            crate::say!("clic: note: unpacking packages under emulation ({e})");
            None
        }
    }
}

fn try_prepare() -> Result<NativeDpkgDeb, String> {
    let ldd = Cmd::new("ldd")
        .arg(HOST_DPKG_DEB)
        .output_string()
        .map_err(|e| e.to_string())?;
    let libs = ldd_paths(&ldd);
    let ld_name = loader(&libs).ok_or_else(|| format!("no loader in `ldd {HOST_DPKG_DEB}`"))?;
    let tmp = tempfile::Builder::new()
        .prefix("clic-native-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let dir = tmp.path().join("clic-native");
    std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for f in libs.iter().chain([&PathBuf::from(HOST_DPKG_DEB)]) {
        let name = f
            .file_name()
            .ok_or_else(|| format!("{} has no file name", f.display()))?;
        // Libraries are often symlinks: copy what they point to.
        std::fs::copy(f, dir.join(name)).map_err(|e| format!("copying {}: {e}", f.display()))?;
    }
    Cmd::new("patchelf")
        .args([
            "--set-interpreter",
            &format!("{IN_TREE}/{ld_name}"),
            "--set-rpath",
            IN_TREE,
        ])
        .arg(dir.join("dpkg-deb"))
        .run()
        .map_err(|e| e.to_string())?;
    Ok(NativeDpkgDeb { _tmp: tmp, dir })
}

/// Shell that puts the prepared directory into the tree at `$1` (an
/// mmdebstrap hook, or the board stage), and the one that takes it out.
pub fn install_script(dir: &Path) -> String {
    format!(
        "cp -a '{}' \"$1{}\" && ln -sf {IN_TREE}/dpkg-deb \"$1{LINK}\"",
        dir.display(),
        IN_TREE
    )
}

pub fn remove_script() -> String {
    format!("rm -rf \"$1{IN_TREE}\" \"$1{LINK}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_foreign_architectures_are_emulated() {
        assert!(!emulated("x86_64", "amd64"));
        assert!(!emulated("x86_64", "i386"));
        assert!(emulated("x86_64", "arm64"));
        assert!(emulated("x86_64", "armel"));
        assert!(!emulated("aarch64", "armhf"));
        assert!(emulated("aarch64", "amd64"));
        assert!(emulated("riscv64", "riscv64"));
    }

    #[test]
    fn ldd_output_gives_libraries_and_loader_not_the_vdso() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibmd.so.0 => /lib/x86_64-linux-gnu/libmd.so.0 (0x00007f0b)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0a)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f0c)\n";
        let paths = ldd_paths(out);
        assert_eq!(
            paths,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libmd.so.0"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        assert_eq!(loader(&paths).as_deref(), Some("ld-linux-x86-64.so.2"));
        assert_eq!(loader(&paths[..2]), None);
    }

    #[test]
    fn scripts_put_in_and_take_out_the_same_paths() {
        let put = install_script(Path::new("/tmp/x/clic-native"));
        assert_eq!(
            put,
            "cp -a '/tmp/x/clic-native' \"$1/usr/lib/clic-native\" && ln -sf /usr/lib/clic-native/dpkg-deb \"$1/usr/sbin/dpkg-deb\""
        );
        assert_eq!(
            remove_script(),
            "rm -rf \"$1/usr/lib/clic-native\" \"$1/usr/sbin/dpkg-deb\""
        );
    }
}
