//! The bootstrapped tree, before layers, is the expensive part of a build
//! and the same for every board and spec that ask for the same packages of
//! one suite and architecture. It is kept as a tarball keyed by everything
//! that decides its content: the mmdebstrap command, SOURCE_DATE_EPOCH and
//! the package indices (Release files) it was resolved against. Paths in
//! the command are those of a cache at [`KEY_CACHE`] and a target at
//! [`KEY_TARGET`], so a key does not depend on where the cache is: a cache
//! copied to another directory or machine is warm there.

use super::args::{self, AptCache, ExtraSource, RootfsRequest};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// Bump when what goes into a cached tree changes without its command
/// line changing.
pub const RECIPE: &str = "clic-rootfs-v3";

/// Where the cache is, as far as keys know.
pub const KEY_CACHE: &str = "/clic-cache";
/// Where the tree is made, as far as keys know.
pub const KEY_TARGET: &str = "/clic-target";

/// `path` under [`KEY_CACHE`] instead of `dir` (pure); a path outside `dir`
/// is kept as it is.
pub fn rebase(path: &Path, dir: &Path) -> PathBuf {
    match path.strip_prefix(dir) {
        Ok(rest) => Path::new(KEY_CACHE).join(rest),
        Err(_) => path.to_owned(),
    }
}

/// The apt cache and extra repositories of a build as keys see them: their
/// paths under [`KEY_CACHE`] instead of the cache directory `dir` (pure).
pub fn rebased(apt: &AptCache, extra: &[ExtraSource], dir: &Path) -> (AptCache, Vec<ExtraSource>) {
    let apt = AptCache {
        archives: rebase(&apt.archives, dir),
        lists: rebase(&apt.lists, dir),
    };
    let extra = extra
        .iter()
        .map(|x| ExtraSource {
            key: rebase(&x.key, dir),
            lists: rebase(&x.lists, dir),
            ..x.clone()
        })
        .collect();
    (apt, extra)
}

/// How many trees to keep per suite/architecture.
pub const KEEP: usize = 6;

/// The cache key (pure): `args` without the target path, the epoch and the
/// `(file name, contents)` of every Release/InRelease index, in any order.
pub fn key(args: &[OsString], epoch: i64, releases: &[(String, Vec<u8>)]) -> String {
    let mut h = Sha256::new();
    let mut field = |b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(RECIPE.as_bytes());
    for a in args {
        field(a.to_string_lossy().as_bytes());
    }
    field(epoch.to_string().as_bytes());
    let mut rel: Vec<&(String, Vec<u8>)> = releases.iter().collect();
    rel.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, data) in rel {
        field(name.as_bytes());
        field(data);
    }
    hex::encode(&h.finalize()[..16])
}

/// The keys of a build's two cached trees, the shared tree and the board
/// stage on top of it (pure): those of the online commands, with the
/// cache `dir` at [`KEY_CACHE`] and the target at [`KEY_TARGET`].
pub fn tree_keys(
    req: &RootfsRequest,
    apt: &AptCache,
    extra: &[ExtraSource],
    dir: &Path,
    releases: &[(String, Vec<u8>)],
) -> (String, String) {
    let (apt, extra) = rebased(apt, extra, dir);
    let target = Path::new(KEY_TARGET);
    let (_, online) = args::mmdebstrap_command(req, &apt, &extra, false, None, target);
    let base = key(&online, req.source_date_epoch, releases);
    let (_, mut online) = args::board_stage_command(req, &apt, &extra, false, None, target);
    online.push(base.clone().into());
    let board = key(&online, req.source_date_epoch, &[]);
    (base, board)
}

/// The Release files of an apt lists directory.
pub fn releases(lists: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut v = Vec::new();
    for e in fs::read_dir(lists)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with("_InRelease") || name.ends_with("_Release") {
            v.push((name, fs::read(e.path())?));
        }
    }
    Ok(v)
}

/// The Release files of several lists directories: Debian's and those of
/// the layers' extra repositories (a changed repository makes a new tree).
pub fn releases_of(dirs: &[&Path]) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut v = Vec::new();
    for d in dirs {
        v.extend(releases(d)?);
    }
    Ok(v)
}

/// Which cached trees to delete: all but the `keep` most recently used.
pub fn to_prune(mut entries: Vec<(PathBuf, SystemTime)>, keep: usize) -> Vec<PathBuf> {
    entries.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    entries.into_iter().skip(keep).map(|(p, _)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn key_depends_on_packages_epoch_and_indices_not_their_order() {
        let rel = vec![
            ("a_InRelease".to_owned(), b"one".to_vec()),
            ("b_InRelease".to_owned(), b"two".to_vec()),
        ];
        let mut rev = rel.clone();
        rev.reverse();
        let k = key(&args(&["--include=nginx"]), 1, &rel);
        assert_eq!(k, key(&args(&["--include=nginx"]), 1, &rev));
        assert_ne!(k, key(&args(&["--include=nginx,vim"]), 1, &rel));
        assert_ne!(k, key(&args(&["--include=nginx"]), 2, &rel));
        let mut newer = rel.clone();
        newer[0].1 = b"one, updated".to_vec();
        assert_ne!(k, key(&args(&["--include=nginx"]), 1, &newer));
        // Field boundaries matter: ["ab", "c"] is not ["a", "bc"].
        assert_ne!(
            key(&args(&["ab", "c"]), 1, &[]),
            key(&args(&["a", "bc"]), 1, &[])
        );
        assert_eq!(k.len(), 32);
    }

    #[test]
    fn an_extra_repositorys_release_is_in_the_key() {
        let debian = tempfile::tempdir().unwrap();
        let extra = tempfile::tempdir().unwrap();
        fs::write(
            debian
                .path()
                .join("deb.debian.org_debian_dists_bookworm_InRelease"),
            "d",
        )
        .unwrap();
        let rel = extra.path().join("127.0.0.1:1_dists_clic-test_InRelease");
        fs::write(&rel, "Date: one").unwrap();
        fs::write(extra.path().join("lock"), "").unwrap();
        let dirs = [debian.path(), extra.path()];
        let k = |r: &[(String, Vec<u8>)]| key(&args(&["--include=x"]), 1, r);
        let one = releases_of(&dirs).unwrap();
        assert_eq!(one.len(), 2, "{one:?}");
        assert_ne!(k(&one), k(&releases(debian.path()).unwrap()));
        fs::write(&rel, "Date: two").unwrap();
        assert_ne!(
            k(&one),
            k(&releases_of(&dirs).unwrap()),
            "a changed repository makes a new tree"
        );
    }

    /// A cache moved to another directory (or machine) gives the same keys;
    /// a change of what goes into the tree does not.
    #[test]
    fn keys_do_not_depend_on_where_the_cache_is() {
        let req = RootfsRequest {
            arch: "arm64".into(),
            suite: "bookworm".into(),
            mirror: "http://deb.debian.org/debian".into(),
            components: vec!["main".into()],
            packages: vec!["linux-image-arm64".into(), "nginx".into()],
            extra_packages: vec!["raspi-firmware".into()],
            source_date_epoch: 1_700_000_000,
            initramfs_modules: vec!["mmc_block".into()],
            extra: Vec::new(),
            firmware_exclude: Vec::new(),
        };
        let at = |dir: &str| {
            let dir = Path::new(dir);
            let base = dir.join("apt/bookworm-arm64");
            let apt = AptCache {
                archives: base.join("archives"),
                lists: base.join("lists"),
            };
            let extra = vec![ExtraSource {
                line: "deb [signed-by=/usr/share/keyrings/clic-x.asc] http://r/ x main".into(),
                key: dir.join("apt/keys/ab.asc"),
                keyring: "/usr/share/keyrings/clic-x.asc".into(),
                lists: dir.join("apt/extra/x-arm64/lists"),
            }];
            (apt, extra, dir.to_owned())
        };
        let rel = vec![("d_InRelease".to_owned(), b"Date: one".to_vec())];
        let keys = |r: &RootfsRequest, dir: &str| {
            let (apt, extra, dir) = at(dir);
            tree_keys(r, &apt, &extra, &dir, &rel)
        };
        let here = keys(&req, "/var/cache/clic");
        assert_eq!(here, keys(&req, "/srv/ci/cache"), "moved cache");
        assert_eq!(here, keys(&req, "cache"), "relative cache");
        // The tree's content still decides.
        let mut more = req.clone();
        more.extra_packages.push("vim".into());
        let other = keys(&more, "/var/cache/clic");
        assert_eq!(other.0, here.0, "board packages: same shared tree");
        assert_ne!(other.1, here.1, "board packages: another board stage");
        let mut more = req.clone();
        more.packages.push("vim".into());
        assert_ne!(keys(&more, "/var/cache/clic").0, here.0);
        // And no cache path is left in what the key is made of.
        let (apt, extra, dir) = at("/var/cache/clic");
        let (apt, extra) = rebased(&apt, &extra, &dir);
        let (_, a) =
            args::mmdebstrap_command(&req, &apt, &extra, false, None, Path::new(KEY_TARGET));
        assert!(
            !a.iter()
                .any(|a| a.to_string_lossy().contains("/var/cache/clic")),
            "{a:?}"
        );
    }

    #[test]
    fn prune_keeps_the_most_recently_used() {
        let t0 = SystemTime::UNIX_EPOCH;
        let e = |n: &str, s: u64| (PathBuf::from(n), t0 + Duration::from_secs(s));
        let gone = to_prune(vec![e("a", 1), e("b", 4), e("c", 3), e("d", 2)], 2);
        assert_eq!(gone, vec![PathBuf::from("d"), PathBuf::from("a")]);
        assert!(to_prune(vec![e("a", 1)], 3).is_empty());
    }
}
