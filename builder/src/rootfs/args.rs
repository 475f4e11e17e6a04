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
    /// The shared tree: the kernel and the layers' packages, the same for
    /// every board of this architecture. Sorted, deduplicated.
    pub packages: Vec<String>,
    /// Installed on top of the shared tree: the board's own packages
    /// (firmware, bootloader) and the spec's. Sorted, deduplicated, none of
    /// them in `packages`.
    pub extra_packages: Vec<String>,
    pub source_date_epoch: i64,
    /// `MODULES=list` initramfs with these modules (empty: Debian's default).
    pub initramfs_modules: Vec<String>,
    /// Extra apt repositories of the layers, keys checked against their pins.
    pub extra: Vec<crate::spec::apt::AptRepo>,
    /// The board's firmware files not installed, as patterns under the
    /// firmware directory (`ath11k/*`): it has no such hardware.
    pub firmware_exclude: Vec<String>,
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
/// dpkg without fsync while the tree is built (a bootstrap that dies is
/// thrown away whole); removed at the end of the board stage, so dpkg on
/// the device syncs as usual.
pub const UNSAFE_IO_FILE: &str = "etc/dpkg/dpkg.cfg.d/00clic-unsafe-io";
pub const OFFLINE_APT_FILE: &str = "etc/apt/apt.conf.d/00clic-offline";
const OFFLINE_APT_CONF: &str =
    "Acquire::http::Proxy \"http://127.0.0.1:9\";\\nAcquire::https::Proxy \"http://127.0.0.1:9\";\\n";

/// `unshare` arguments up to the command: a private mount namespace (and
/// `more` namespaces), so nothing mounted inside outlives it.
fn unshare(more: &[&str]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["--mount".into(), "--propagation".into(), "private".into()];
    a.extend(more.iter().map(OsString::from));
    a.push("--".into());
    a
}

/// `unshare` gives mmdebstrap a private mount namespace: whatever it
/// mounts (proc, sys, dev in the chroot) disappears with it, even if it is
/// killed, so nothing stays mounted on the host.
pub fn mmdebstrap_command(
    req: &RootfsRequest,
    cache: &AptCache,
    extra: &[ExtraSource],
    offline: bool,
    native: Option<&Path>,
    target: &Path,
) -> (String, Vec<OsString>) {
    let mut a = unshare(&[]);
    a.extend([
        "mmdebstrap".into(),
        "--mode=root".into(),
        "--variant=minbase".into(),
        format!("--architectures={}", req.arch).into(),
        format!("--components={}", req.components.join(",")).into(),
        "--skip=essential/unlink".into(),
        "--aptopt=Acquire::Languages \"none\"".into(),
        "--aptopt=APT::Install-Recommends \"false\"".into(),
    ]);
    for ex in DPKG_EXCLUDES {
        a.push(format!("--dpkgopt={ex}").into());
    }
    if !req.packages.is_empty() {
        a.push(format!("--include={}", req.packages.join(",")).into());
    }
    let archives = cache.archives.display();
    let lists = cache.lists.display();
    a.push(
        format!(
            "--setup-hook=mkdir -p \"$1/etc/dpkg/dpkg.cfg.d\" && echo force-unsafe-io > \"$1/{UNSAFE_IO_FILE}\""
        )
        .into(),
    );
    a.push(
        "--setup-hook=mkdir -p \"$1\"/var/cache/apt/archives/partial \"$1\"/var/lib/apt/lists/partial"
            .into(),
    );
    a.push(format!("--setup-hook=sync-in '{archives}' /var/cache/apt/archives/").into());
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
    // update-initramfs does nothing in the shared tree (it would run once
    // per kernel postinst and again from the initramfs-tools trigger,
    // minutes each under qemu-user): the board stage makes the one
    // initramfs, with the board's modules, and removes the diversion, so
    // kernel updates on the device run the real tool.
    a.push(format!("--essential-hook={DEFER_INITRAMFS}").into());
    // The host's dpkg-deb unpacks the packages of an emulated tree (see
    // native.rs): from the essential packages' install on, gone at the end.
    if let Some(dir) = native {
        a.push(format!("--extract-hook={}", super::native::install_script(dir)).into());
        a.push(format!("--customize-hook={}", super::native::remove_script()).into());
    }
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

/// The firmware directory, where packages put it: `/lib/firmware` up to
/// bookworm, `/usr/lib/firmware` from trixie on.
pub const FIRMWARE_DIRS: &[&str] = &["/lib/firmware", "/usr/lib/firmware"];

/// The board's firmware exclusions, a dpkg configuration file written by
/// the board stage before it installs the board's packages, and kept in
/// the image: upgrades on the box leave the same files out.
pub const FIRMWARE_EXCLUDE_FILE: &str = "etc/dpkg/dpkg.cfg.d/clic-firmware-exclude";

/// The dpkg `path-exclude` lines for a board's firmware exclusions (pure).
pub fn firmware_excludes(patterns: &[String]) -> Vec<String> {
    patterns
        .iter()
        .flat_map(|p| {
            FIRMWARE_DIRS
                .iter()
                .map(move |d| format!("path-exclude={d}/{}", p.trim_start_matches('/')))
        })
        .collect()
}

/// The board stage, run in the unpacked shared tree: install the board's
/// and the spec's packages with the tree's own apt (daemons kept from
/// starting by `policy-rc.d`), then make the one initramfs with the
/// board's modules. Its own mount and PID namespaces: the mounts, and any
/// process a maintainer script leaves behind, end with it. The board's
/// firmware exclusions are dpkg configuration before anything is installed.
const BOARD_STAGE: &str = r#"set -eu
t=$1 archives=$2 offline=$3 modules=$4 excludes=$5 native=$6
shift 6
mount -t proc proc "$t/proc"
mount -t sysfs sysfs "$t/sys"
mount --rbind /dev "$t/dev"
mkdir -p "$t/var/cache/apt/archives" "$t/var/lib/apt/lists"
mount --bind "$archives" "$t/var/cache/apt/archives"
mount -t tmpfs tmpfs "$t/var/lib/apt/lists"
mkdir "$t/var/lib/apt/lists/partial"
while [ "$1" != -- ]; do
  find "$1" -maxdepth 1 -type f -name '*_*' -exec cp -p -t "$t/var/lib/apt/lists/" {} +
  shift
done
shift
if [ -n "$excludes" ]; then
  mkdir -p "$t/etc/dpkg/dpkg.cfg.d"
  printf '%s\n' "$excludes" > "$t/FIRMWARE_EXCLUDE_FILE"
fi
printf '#!/bin/sh\nexit 101\n' > "$t/usr/sbin/policy-rc.d"
chmod 755 "$t/usr/sbin/policy-rc.d"
if [ "$offline" = offline ]; then
  printf '%s\n' 'Acquire::http::Proxy "http://127.0.0.1:9";' 'Acquire::https::Proxy "http://127.0.0.1:9";' > "$t/OFFLINE_APT_FILE"
fi
if [ -n "$modules" ]; then
  mkdir -p "$t/etc/initramfs-tools/conf.d" "$t/usr/share/initramfs-tools/modules.d"
  printf 'MODULES=list\n' > "$t/INITRAMFS_CONF"
  printf '%s\n' $modules > "$t/INITRAMFS_MODULES"
fi
if [ $# -gt 0 ]; then
  [ -z "$native" ] || sh -c "$native" clic-native "$t"
  chroot "$t" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 "$@"
fi
rm -f "$t/OFFLINE_APT_FILE" "$t/usr/sbin/policy-rc.d" "$t/UNSAFE_IO_FILE"
sh -c 'NATIVE_REMOVE' clic-native "$t"
rm -f "$t/usr/sbin/update-initramfs"
chroot "$t" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs
if ls "$t"/boot/vmlinuz-* >/dev/null 2>&1; then
  chroot "$t" update-initramfs -c -k all
fi
"#;

/// The board stage's command line (see [`BOARD_STAGE`]): the tree's apt
/// sees the Debian lists and the extra repositories' (`extra`), copied
/// onto a tmpfs that ends with the stage.
pub fn board_stage_command(
    req: &RootfsRequest,
    cache: &AptCache,
    extra: &[ExtraSource],
    offline: bool,
    native: Option<&Path>,
    target: &Path,
) -> (String, Vec<OsString>) {
    let script = BOARD_STAGE
        .replace("NATIVE_REMOVE", &super::native::remove_script())
        .replace("OFFLINE_APT_FILE", OFFLINE_APT_FILE)
        .replace("UNSAFE_IO_FILE", UNSAFE_IO_FILE)
        .replace("INITRAMFS_CONF", INITRAMFS_CONF)
        .replace("INITRAMFS_MODULES", INITRAMFS_MODULES)
        .replace("FIRMWARE_EXCLUDE_FILE", FIRMWARE_EXCLUDE_FILE);
    let mut a = unshare(&["--pid", "--fork", "--kill-child"]);
    a.extend([
        "sh".into(),
        "-c".into(),
        script.into(),
        "clic-board-stage".into(),
        target.into(),
        cache.archives.clone().into(),
        if offline { "offline" } else { "online" }.into(),
        req.initramfs_modules.join(" ").into(),
        firmware_excludes(&req.firmware_exclude).join("\n").into(),
        native
            .map(super::native::install_script)
            .unwrap_or_default()
            .into(),
        cache.lists.clone().into(),
    ]);
    a.extend(extra.iter().map(|x| x.lists.clone().into()));
    a.push("--".into());
    a.extend(req.extra_packages.iter().map(OsString::from));
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
            extra_packages: Vec::new(),
            source_date_epoch: 1_700_000_000,
            initramfs_modules: Vec::new(),
            extra: Vec::new(),
            firmware_exclude: Vec::new(),
        }
    }

    /// The board's firmware exclusions go to dpkg in the board stage (for
    /// both firmware directories), not into the tree every board of the
    /// architecture shares.
    #[test]
    fn firmware_exclusions_are_the_board_stages() {
        let mut r = req();
        r.firmware_exclude = vec!["ath11k/*".into(), "/intel/ibt-*".into()];
        let (_, args) = board_stage_command(&r, &cache(), &[], false, None, Path::new("/w/root"));
        let args = strings(&args);
        assert!(
            args.iter().any(|a| a
                == "path-exclude=/lib/firmware/ath11k/*\npath-exclude=/usr/lib/firmware/ath11k/*\npath-exclude=/lib/firmware/intel/ibt-*\npath-exclude=/usr/lib/firmware/intel/ibt-*"),
            "{args:?}"
        );
        let script = &args[args.iter().position(|a| a == "-c").unwrap() + 1];
        assert!(script.contains(&format!("> \"$t/{FIRMWARE_EXCLUDE_FILE}\"")));
        // Before apt installs anything.
        assert!(script.find(FIRMWARE_EXCLUDE_FILE) < script.find("apt-get install"));
        let (_, tree) = mmdebstrap_command(&r, &cache(), &[], false, None, Path::new("/w/root"));
        assert_eq!(
            tree,
            mmdebstrap_command(&req(), &cache(), &[], false, None, Path::new("/w/root")).1,
            "the shared tree does not depend on a board's exclusions"
        );
        // None: an empty argument, nothing written.
        let (_, none) =
            board_stage_command(&req(), &cache(), &[], false, None, Path::new("/w/root"));
        assert!(none.iter().any(|a| a.is_empty()));
    }

    #[test]
    fn the_native_dpkg_deb_goes_in_after_extraction_and_out_before_the_tree_is_kept() {
        let dir = Path::new("/tmp/n/clic-native");
        let root = Path::new("/w/root");
        let plain = strings(&mmdebstrap_command(&req(), &cache(), &[], false, None, root).1);
        let with = strings(&mmdebstrap_command(&req(), &cache(), &[], false, Some(dir), root).1);
        let put = format!(
            "--extract-hook={}",
            super::super::native::install_script(dir)
        );
        let out = format!("--customize-hook={}", super::super::native::remove_script());
        assert!(with.contains(&put) && with.contains(&out));
        assert!(!plain.iter().any(|a| a.contains("clic-native")));
        // Only those two arguments differ.
        let rest: Vec<&String> = with.iter().filter(|a| **a != put && **a != out).collect();
        assert_eq!(rest, plain.iter().collect::<Vec<_>>());

        let (_, stage) = board_stage_command(&req(), &cache(), &[], false, Some(dir), root);
        let stage = strings(&stage);
        let script = &stage[stage.iter().position(|a| a == "-c").unwrap() + 1];
        // Put in before apt installs, taken out before the initramfs and
        // whether or not it was put in.
        let install = script.find("apt-get install").unwrap();
        assert!(script.find("sh -c \"$native\"").unwrap() < install);
        let remove = script.find(&super::super::native::remove_script()).unwrap();
        assert!(install < remove && remove < script.find("update-initramfs -c").unwrap());
        assert!(stage.contains(&super::super::native::install_script(dir)));
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
        let (prog, args) =
            mmdebstrap_command(&req(), &cache(), &[], false, None, Path::new("/w/root"));
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
        let (_, args) =
            mmdebstrap_command(&req(), &cache(), &[x], false, None, Path::new("/w/root"));
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
    fn the_shared_tree_defers_the_initramfs_to_the_board_stage() {
        let mut r = req();
        r.initramfs_modules = vec!["ext4".into(), "mmc_block".into()];
        r.extra_packages = vec!["raspi-firmware".into()];
        let (_, args) = mmdebstrap_command(&r, &cache(), &[], false, None, Path::new("/w/root"));
        let args = strings(&args);
        assert!(
            args.iter()
                .any(|a| a.starts_with("--essential-hook=") && a.contains("dpkg-divert")),
            "{args:?}"
        );
        // Nothing board-specific: boards of one architecture share it.
        assert!(!args.iter().any(|a| a.contains("update-initramfs -c")));
        assert!(!args.iter().any(|a| a.contains("MODULES=list")));
        assert!(!args.iter().any(|a| a.contains("raspi-firmware")));
        let (_, same) =
            mmdebstrap_command(&req(), &cache(), &[], false, None, Path::new("/w/root"));
        assert_eq!(args, strings(&same));
    }

    #[test]
    fn the_board_stage_installs_the_extras_then_makes_the_initramfs() {
        let mut r = req();
        r.initramfs_modules = vec!["ext4".into(), "mmc_block".into()];
        r.extra_packages = vec!["raspi-firmware".into(), "wpasupplicant".into()];
        let x = ExtraSource {
            line: "deb [signed-by=/usr/share/keyrings/clic-t.asc] http://r/ s main".into(),
            key: "/c/keys/ab.asc".into(),
            keyring: "/usr/share/keyrings/clic-t.asc".into(),
            lists: "/c/extra/t/lists".into(),
        };
        let (prog, args) =
            board_stage_command(&r, &cache(), &[x], false, None, Path::new("/w/root"));
        let args = strings(&args);
        assert_eq!(prog, "unshare");
        for flag in ["--mount", "--pid", "--fork", "--kill-child"] {
            assert!(args.contains(&flag.to_owned()), "{flag} in {args:?}");
        }
        let n = args.len();
        assert_eq!(
            &args[n - 11..],
            [
                "/w/root",
                "/c/archives",
                "online",
                "ext4 mmc_block",
                "",
                "",
                "/c/lists",
                "/c/extra/t/lists",
                "--",
                "raspi-firmware",
                "wpasupplicant"
            ]
        );
        let script = &args[args.iter().position(|a| a == "-c").expect("sh -c") + 1];
        let install = script.find("apt-get install").expect("install");
        let initramfs = script
            .find("update-initramfs -c -k all")
            .expect("initramfs");
        let modules = script.find("MODULES=list").expect("module list");
        assert!(modules < install && install < initramfs, "{script}");
        assert!(script.contains(INITRAMFS_MODULES) && script.contains("policy-rc.d"));
        assert!(script.contains("--remove /usr/sbin/update-initramfs"));
        // dpkg syncs again on the device.
        let (_, base) = mmdebstrap_command(&r, &cache(), &[], false, None, Path::new("/w/root"));
        assert!(strings(&base)
            .iter()
            .any(|a| a.starts_with("--setup-hook=") && a.contains(UNSAFE_IO_FILE)));
        let removed = script
            .find(&format!("\"$t/{UNSAFE_IO_FILE}\""))
            .expect("removed");
        assert!(removed > install, "{script}");
        let (_, off) = board_stage_command(&r, &cache(), &[], true, None, Path::new("/w/root"));
        assert!(strings(&off).contains(&"offline".to_owned()));
        let script = &strings(&off)[args.iter().position(|a| a == "-c").expect("sh -c") + 1];
        assert!(script.contains(OFFLINE_APT_FILE) && script.contains("127.0.0.1:9"));
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
        let (_, args) = mmdebstrap_command(&req(), &cache(), &[], true, None, Path::new("/w/root"));
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
