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
    /// `MODULES=list` initramfs with these modules (empty: Debian's default).
    pub initramfs_modules: Vec<String>,
    /// Extra apt repositories of the layers, keys checked against their pins.
    pub extra: Vec<crate::spec::apt::AptRepo>,
}

/// An extra repository as the bootstrap uses it: its key and package lists
/// in the cache, refreshed (and their signature checked) on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraSource {
    /// `deb [signed-by=/usr/share/keyrings/clic-NAME.asc] URL SUITE COMPONENTS`
    pub line: String,
    /// The key file in the cache (named by its sha256).
    pub key: PathBuf,
    /// Where the key goes in the tree.
    pub keyring: String,
    /// Its package lists in the cache.
    pub lists: PathBuf,
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

pub const INITRAMFS_CONF: &str = "etc/initramfs-tools/conf.d/clic.conf";
pub const INITRAMFS_MODULES: &str = "usr/share/initramfs-tools/modules.d/clic";
const DEFER_INITRAMFS: &str = "chroot \"$1\" dpkg-divert --quiet --local --rename --divert /usr/sbin/update-initramfs.clic-real --add /usr/sbin/update-initramfs && printf '#!/bin/sh\\necho clic: update-initramfs deferred >&2\\n' > \"$1/usr/sbin/update-initramfs\" && chmod 755 \"$1/usr/sbin/update-initramfs\"";
const RUN_INITRAMFS: &str = "rm -f \"$1/usr/sbin/update-initramfs\" && chroot \"$1\" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs && if ls \"$1\"/boot/vmlinuz-* >/dev/null 2>&1; then chroot \"$1\" update-initramfs -c -k all; fi";
pub const OFFLINE_APT_FILE: &str = "etc/apt/apt.conf.d/00clic-offline";
const OFFLINE_APT_CONF: &str =
    "Acquire::http::Proxy \"http://127.0.0.1:9\";\\nAcquire::https::Proxy \"http://127.0.0.1:9\";\\n";

/// `unshare` gives mmdebstrap a private mount namespace: whatever it
/// mounts (proc, sys, dev in the chroot) disappears with it, even if it is
/// killed, so nothing stays mounted on the host.
pub fn mmdebstrap_command(
    req: &RootfsRequest,
    cache: &AptCache,
    extra: &[ExtraSource],
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
    if !req.initramfs_modules.is_empty() {
        // Before any kernel is installed: initramfs-tools then builds a
        // small initramfs with just these modules (MODULES=most runs
        // thousands of processes, minutes each under qemu-user). Neither
        // file belongs to a package, so kernel updates on the device keep
        // the same settings.
        a.push(
            format!(
                "--setup-hook=mkdir -p \"$1/etc/initramfs-tools/conf.d\" \"$1/usr/share/initramfs-tools/modules.d\" && printf 'MODULES=list\\n' > \"$1/{INITRAMFS_CONF}\" && printf '%s\\n' {} > \"$1/{INITRAMFS_MODULES}\"",
                req.initramfs_modules.join(" ")
            )
            .into(),
        );
    }
    // The indices were refreshed (or, offline, kept) in the cache before:
    // the tree is built from exactly the lists its cache key was made of.
    a.push(format!("--setup-hook=sync-in '{lists}' /var/lib/apt/lists/").into());
    // Extra repositories: their key goes where the source's signed-by=
    // points (and stays in the image), their lists were refreshed and
    // checked against that key on the host.
    for x in extra {
        a.push(
            format!(
                "--setup-hook=mkdir -p \"$1/usr/share/keyrings\" && cp '{}' \"$1{}\" && chmod 644 \"$1{}\"",
                x.key.display(),
                x.keyring,
                x.keyring
            )
            .into(),
        );
        a.push(
            format!(
                "--setup-hook=sync-in '{}' /var/lib/apt/lists/",
                x.lists.display()
            )
            .into(),
        );
    }
    a.push("--skip=update".into());
    // update-initramfs runs once, at the end, instead of once per kernel
    // postinst and again from the initramfs-tools trigger (minutes each
    // under qemu-user). The diversion is removed again: kernel updates on
    // the device run the real tool.
    a.push(format!("--essential-hook={DEFER_INITRAMFS}").into());
    a.push(format!("--customize-hook={RUN_INITRAMFS}").into());
    if offline {
        // Any download attempt (a package missing from the cache) fails at
        // once instead of quietly reaching the network: port 9 is discard.
        // A file of its own, removed at the end, so it never reaches the
        // image (mmdebstrap keeps --aptopt settings in the tree).
        a.push(
            format!("--setup-hook=printf '{OFFLINE_APT_CONF}' > \"$1/{OFFLINE_APT_FILE}\"").into(),
        );
        a.push(format!("--customize-hook=rm -f \"$1/{OFFLINE_APT_FILE}\"").into());
    }
    a.push(format!("--customize-hook=sync-out /var/cache/apt/archives '{archives}'").into());
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
    for x in extra {
        a.push(x.line.clone().into());
    }
    ("unshare".into(), a)
}

/// Host-side `apt-get update` of the cache's lists for one suite/arch: the
/// lists decide the rootfs cache key, so they are refreshed before
/// mmdebstrap runs.
pub fn apt_update_command(
    req: &RootfsRequest,
    cache: &AptCache,
    sources: &Path,
    scratch: &Path,
) -> (String, Vec<OsString>) {
    let o = |k: &str, v: &dyn std::fmt::Display| -> [OsString; 2] {
        ["-o".into(), format!("{k}={v}").into()]
    };
    let mut a: Vec<OsString> = vec!["-q".into()];
    for pair in [
        o("Dir::Etc::SourceList", &sources.display()),
        o("Dir::Etc::SourceParts", &"/nonexistent"),
        o("Dir::State::Lists", &cache.lists.display()),
        o("Dir::Cache", &scratch.display()),
        o("Dir::State::status", &"/dev/null"),
        o("APT::Architecture", &req.arch),
        o("APT::Architectures", &req.arch),
        o("Acquire::Languages", &"none"),
        // Only the package indices: no AppStream or command-not-found data
        // a host's configuration may ask for.
        o(
            "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled",
            &"false",
        ),
        o(
            "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled",
            &"false",
        ),
        o(
            "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled",
            &"false",
        ),
        o("Acquire::IndexTargets::deb::CNF::DefaultEnabled", &"false"),
    ] {
        a.extend(pair);
    }
    a.push("update".into());
    ("apt-get".into(), a)
}

/// The one-line sources.list for `req`.
pub fn sources_line(req: &RootfsRequest, keyring: Option<&Path>) -> String {
    let opts = keyring.map_or(String::new(), |k| format!("[signed-by={}] ", k.display()));
    format!(
        "deb {opts}{} {} {}\n",
        req.mirror,
        req.suite,
        req.components.join(" ")
    )
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
            initramfs_modules: Vec::new(),
            extra: Vec::new(),
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
    fn online_build_uses_refreshed_lists_and_saves_packages() {
        let (prog, args) = mmdebstrap_command(&req(), &cache(), &[], false, Path::new("/w/root"));
        let args = strings(&args);
        assert_eq!(prog, "unshare");
        assert_eq!(
            &args[..5],
            ["--mount", "--propagation", "private", "--", "mmdebstrap"]
        );
        assert!(args.contains(&"--include=linux-image-amd64,nginx".to_owned()));
        assert!(args.contains(&"--architectures=amd64".to_owned()));
        assert!(args.contains(&"--skip=update".to_owned()));
        assert!(args
            .contains(&"--setup-hook=sync-in '/c/archives' /var/cache/apt/archives/".to_owned()));
        assert!(args.contains(&"--setup-hook=sync-in '/c/lists' /var/lib/apt/lists/".to_owned()));
        assert!(args.contains(
            &"--customize-hook=sync-out /var/cache/apt/archives '/c/archives'".to_owned()
        ));
        assert!(
            !args.iter().any(|a| a.contains("Proxy")),
            "online builds may download"
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
    fn extra_repositories_bring_their_key_lists_and_source() {
        let x = ExtraSource {
            line: "deb [signed-by=/usr/share/keyrings/clic-t.asc] http://r/ s main".into(),
            key: "/c/keys/ab.asc".into(),
            keyring: "/usr/share/keyrings/clic-t.asc".into(),
            lists: "/c/extra/t/lists".into(),
        };
        let (_, args) = mmdebstrap_command(&req(), &cache(), &[x], false, Path::new("/w/root"));
        let args = strings(&args);
        let key = args
            .iter()
            .position(|a| a.contains("cp '/c/keys/ab.asc' \"$1/usr/share/keyrings/clic-t.asc\""))
            .expect("key copied into the tree");
        let lists = args
            .iter()
            .position(|a| a == "--setup-hook=sync-in '/c/extra/t/lists' /var/lib/apt/lists/")
            .expect("extra lists");
        let skip = args.iter().position(|a| a == "--skip=update").unwrap();
        assert!(key < skip && lists < skip);
        let n = args.len();
        assert_eq!(
            &args[n - 2..],
            [
                "deb http://deb.debian.org/debian bookworm main",
                "deb [signed-by=/usr/share/keyrings/clic-t.asc] http://r/ s main"
            ]
        );
    }

    #[test]
    fn initramfs_is_made_once_at_the_end() {
        let (_, args) = mmdebstrap_command(&req(), &cache(), &[], false, Path::new("/w/root"));
        let args = strings(&args);
        let defer = args
            .iter()
            .position(|a| a.starts_with("--essential-hook=") && a.contains("dpkg-divert"));
        let run = args.iter().position(|a| {
            a.starts_with("--customize-hook=") && a.contains("update-initramfs -c -k all")
        });
        assert!(defer.is_some() && run.is_some(), "{args:?}");
        assert!(args[run.unwrap()].contains("--remove /usr/sbin/update-initramfs"));
    }

    #[test]
    fn a_module_list_makes_a_small_initramfs() {
        let mut r = req();
        let (_, args) = mmdebstrap_command(&r, &cache(), &[], false, Path::new("/w/root"));
        assert!(!strings(&args).iter().any(|a| a.contains("MODULES=list")));
        r.initramfs_modules = vec!["ext4".into(), "mmc_block".into()];
        let (_, args) = mmdebstrap_command(&r, &cache(), &[], false, Path::new("/w/root"));
        let args = strings(&args);
        let hook = args
            .iter()
            .find(|a| a.contains("MODULES=list"))
            .expect("initramfs hook");
        assert!(hook.starts_with("--setup-hook="), "{hook}");
        assert!(
            hook.contains("ext4 mmc_block") && hook.contains(INITRAMFS_MODULES),
            "{hook}"
        );
    }

    #[test]
    fn apt_update_writes_into_the_cache_lists_for_the_target_arch() {
        let mut r = req();
        r.arch = "arm64".into();
        let (prog, args) = apt_update_command(
            &r,
            &cache(),
            Path::new("/w/sources.list"),
            Path::new("/w/apt"),
        );
        let args = strings(&args);
        assert_eq!(prog, "apt-get");
        assert_eq!(args.last().map(String::as_str), Some("update"));
        for want in [
            "Dir::State::Lists=/c/lists",
            "APT::Architecture=arm64",
            "Dir::Etc::SourceList=/w/sources.list",
        ] {
            assert!(args.contains(&want.to_owned()), "{want} in {args:?}");
        }
        assert_eq!(
            sources_line(&r, Some(Path::new("/k.gpg"))),
            "deb [signed-by=/k.gpg] http://deb.debian.org/debian bookworm main\n"
        );
    }

    #[test]
    fn offline_build_cannot_reach_the_network() {
        let (_, args) = mmdebstrap_command(&req(), &cache(), &[], true, Path::new("/w/root"));
        let args = strings(&args);
        assert!(args.contains(&"--skip=update".to_owned()));
        assert!(args.contains(&"--setup-hook=sync-in '/c/lists' /var/lib/apt/lists/".to_owned()));
        let guard = args
            .iter()
            .find(|a| a.starts_with("--setup-hook=printf"))
            .expect("offline guard");
        assert!(
            guard.contains("Acquire::http::Proxy") && guard.contains(OFFLINE_APT_FILE),
            "{guard}"
        );
        assert!(args.contains(&format!("--customize-hook=rm -f \"$1/{OFFLINE_APT_FILE}\"")));
        // Nothing offline-only is kept in the tree by mmdebstrap itself.
        assert!(!args
            .iter()
            .any(|a| a.starts_with("--aptopt") && a.contains("Proxy")));
    }
}
