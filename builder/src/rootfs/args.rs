//! The mmdebstrap command line, computed as a value.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// What to bootstrap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsRequest {
    pub arch: String,
    pub suite: String,
    pub mirror: String,
    pub components: Vec<String>,
    /// Sorted, deduplicated.
    pub packages: Vec<String>,
    pub source_date_epoch: i64,
}

/// Where the shared apt cache of this suite/arch lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptCache {
    pub archives: PathBuf,
    pub lists: PathBuf,
}

/// Paths excluded from the image to keep it small (documentation and
/// manuals); licence texts stay.
pub const DPKG_EXCLUDES: &[&str] = &[
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/lintian/*",
];

/// `unshare` gives mmdebstrap a private mount namespace: whatever it
/// mounts (proc, sys, dev in the chroot) disappears with it, even if it is
/// killed, so nothing stays mounted on the host.
pub fn mmdebstrap_command(
    req: &RootfsRequest,
    cache: &AptCache,
    offline: bool,
    target: &Path,
) -> (String, Vec<OsString>) {
    let mut a: Vec<OsString> = vec![
        "--mount".into(),
        "--propagation".into(),
        "private".into(),
        "--".into(),
        "mmdebstrap".into(),
        "--mode=root".into(),
        "--variant=minbase".into(),
        format!("--architectures={}", req.arch).into(),
        format!("--components={}", req.components.join(",")).into(),
        "--skip=essential/unlink".into(),
        "--aptopt=Acquire::Languages \"none\"".into(),
        "--aptopt=APT::Install-Recommends \"false\"".into(),
    ];
    for ex in DPKG_EXCLUDES {
        a.push(format!("--dpkgopt={ex}").into());
    }
    if !req.packages.is_empty() {
        a.push(format!("--include={}", req.packages.join(",")).into());
    }
    let archives = cache.archives.display();
    let lists = cache.lists.display();
    a.push(
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/partial \"$1\"/var/lib/apt/lists/partial"
            .into(),
    );
    a.push(format!("--setup-hook=sync-in '{archives}' /var/cache/apt/archives/").into());
    if offline {
        // Use the indices saved by the last online build; touch no network.
        a.push(format!("--setup-hook=sync-in '{lists}' /var/lib/apt/lists/").into());
        a.push("--skip=update".into());
        // Any download attempt (a package missing from the cache) fails at
        // once instead of quietly reaching the network: port 9 is discard.
        a.push("--aptopt=Acquire::http::Proxy \"http://127.0.0.1:9\"".into());
        a.push("--aptopt=Acquire::https::Proxy \"http://127.0.0.1:9\"".into());
    }
    a.push(format!("--customize-hook=sync-out /var/cache/apt/archives '{archives}'").into());
    a.push(format!("--customize-hook=sync-out /var/lib/apt/lists '{lists}'").into());
    a.push(req.suite.clone().into());
    a.push(target.into());
    a.push(
        format!(
            "deb {} {} {}",
            req.mirror,
            req.suite,
            req.components.join(" ")
        )
        .into(),
    );
    ("unshare".into(), a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> RootfsRequest {
        RootfsRequest {
            arch: "amd64".into(),
            suite: "bookworm".into(),
            mirror: "http://deb.debian.org/debian".into(),
            components: vec!["main".into()],
            packages: vec!["linux-image-amd64".into(), "nginx".into()],
            source_date_epoch: 1_700_000_000,
        }
    }

    fn cache() -> AptCache {
        AptCache {
            archives: "/c/archives".into(),
            lists: "/c/lists".into(),
        }
    }

    fn strings(v: &[OsString]) -> Vec<String> {
        v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn online_build_refreshes_lists_and_saves_cache() {
        let (prog, args) = mmdebstrap_command(&req(), &cache(), false, Path::new("/w/root"));
        let args = strings(&args);
        assert_eq!(prog, "unshare");
        assert_eq!(
            &args[..5],
            ["--mount", "--propagation", "private", "--", "mmdebstrap"]
        );
        assert!(args.contains(&"--include=linux-image-amd64,nginx".to_owned()));
        assert!(args.contains(&"--architectures=amd64".to_owned()));
        assert!(!args.contains(&"--skip=update".to_owned()));
        assert!(args
            .contains(&"--setup-hook=sync-in '/c/archives' /var/cache/apt/archives/".to_owned()));
        assert!(
            args.contains(&"--customize-hook=sync-out /var/lib/apt/lists '/c/lists'".to_owned())
        );
        let n = args.len();
        assert_eq!(
            &args[n - 3..],
            [
                "bookworm",
                "/w/root",
                "deb http://deb.debian.org/debian bookworm main"
            ]
        );
    }

    #[test]
    fn offline_build_reuses_lists_and_skips_update() {
        let (_, args) = mmdebstrap_command(&req(), &cache(), true, Path::new("/w/root"));
        let args = strings(&args);
        assert!(args.contains(&"--skip=update".to_owned()));
        assert!(args.contains(&"--setup-hook=sync-in '/c/lists' /var/lib/apt/lists/".to_owned()));
        assert!(args.contains(&"--aptopt=Acquire::http::Proxy \"http://127.0.0.1:9\"".to_owned()));
    }
}
