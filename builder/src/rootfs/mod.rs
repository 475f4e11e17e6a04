//! Rootfs: mmdebstrap builds the Debian tree from the mirror, with an apt
//! cache that later builds reuse (a warm build downloads no package).

pub mod args;
pub mod dpkg;
pub mod extra;
pub mod native;
pub mod normalise;
pub mod procs;
pub mod treecache;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub use args::{AptCache, RootfsRequest};

use crate::cmd::{Cmd, CmdError};

/// Kept Debian trees are zstd-compressed tar files (GNU tar's `--zstd`,
/// with the `zstd` program): about a third of the plain tar's size, for
/// ~3 s more to keep one and ~1 s more to unpack it.
const TREE_SUFFIX: &str = ".tar.zst";

#[derive(Debug, thiserror::Error)]
pub enum RootfsError {
    #[error("preparing the package cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("building the Debian tree for {arch}/{suite} failed")]
    Mmdebstrap {
        arch: String,
        suite: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("installing the board's packages ({packages}) and making the initramfs in the {arch}/{suite} tree failed")]
    BoardStage {
        arch: String,
        suite: String,
        packages: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("refreshing the package indices of {suite} {arch} from {mirror} failed (no network? `--offline` builds from the cache)")]
    Update {
        arch: String,
        suite: String,
        mirror: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("unpacking the cached Debian tree {path} failed (delete it to rebuild it)")]
    TreeCache {
        path: PathBuf,
        #[source]
        source: Box<CmdError>,
    },
    #[error("offline build: no saved package lists for {arch}/{suite} in {path}; run one build online first to fill the cache")]
    NoOfflineLists {
        arch: String,
        suite: String,
        path: PathBuf,
    },
    #[error(transparent)]
    ExtraSignature(Box<extra::SignatureFailure>),
    #[error("refreshing apt repository `{name}` of layer `{layer}` from {url} failed (no network? `--offline` builds from the cache)")]
    ExtraUpdate {
        layer: String,
        name: String,
        url: String,
        #[source]
        source: Box<CmdError>,
    },
    #[error("apt repository `{name}` of layer `{layer}` has no pinned key fingerprint: refusing to use it")]
    Unpinned { layer: String, name: String },
    #[error(transparent)]
    ProcessesLeft(#[from] procs::ProcessesLeft),
    #[error("reading the installed package list {path}: {source}")]
    Status {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The on-disk cache shared by builds: `<dir>/apt/<suite>-<arch>/…`.
#[derive(Debug, Clone)]
pub struct Cache {
    pub dir: PathBuf,
}

impl Cache {
    /// `--cache`, `$CLIC_CACHE`, `/var/cache/clic` for root, else
    /// `$XDG_CACHE_HOME/clic` or `~/.cache/clic`. A relative directory is
    /// made absolute (mmdebstrap's hooks run elsewhere).
    pub fn locate(explicit: Option<&Path>) -> Cache {
        let given = explicit
            .map(Path::to_owned)
            .or_else(|| std::env::var_os("CLIC_CACHE").map(PathBuf::from));
        if let Some(p) = given {
            let dir = std::path::absolute(&p).unwrap_or(p);
            return Cache { dir };
        }
        #[allow(unsafe_code)] // geteuid cannot fail and touches no memory
        let root = unsafe { libc::geteuid() } == 0;
        let dir = if root {
            PathBuf::from("/var/cache/clic")
        } else if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
            PathBuf::from(x).join("clic")
        } else {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/clic")
        };
        Cache { dir }
    }

    pub fn apt(&self, suite: &str, arch: &str) -> AptCache {
        let base = self.dir.join("apt").join(format!("{suite}-{arch}"));
        AptCache {
            archives: base.join("archives"),
            lists: base.join("lists"),
        }
    }

    /// Hold an exclusive lock on one suite/arch cache for the duration of a
    /// bootstrap, so two builds do not sync into it at the same time.
    pub fn lock(&self, apt: &AptCache) -> Result<File, RootfsError> {
        let base = apt.archives.parent().unwrap_or(&self.dir).to_owned();
        for d in [&apt.archives, &apt.lists] {
            fs::create_dir_all(d).map_err(cache_err(d))?;
        }
        let lock_path = base.join("lock");
        let f = File::create(&lock_path).map_err(cache_err(&lock_path))?;
        f.lock().map_err(cache_err(&lock_path))?;
        Ok(f)
    }
}

fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> RootfsError {
    let path = path.to_owned();
    move |source| RootfsError::Cache { path, source }
}

/// The cached trees a build of `req` would use, for `clic plan`: nothing
/// is fetched or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreePlan {
    /// The shared tree's recipe: its command with no package indices (the
    /// same for every board and spec that share the tree, on any machine).
    pub shared_recipe: String,
    /// The board stage's recipe, likewise.
    pub board_recipe: String,
    /// The cache files of the shared tree and the board stage, from the
    /// package indices in the cache; `None` when the cache has none yet
    /// for this suite and architecture (or an extra repository's).
    pub files: Option<(String, String)>,
    /// Which of `files` the cache holds now.
    pub cached: (bool, bool),
}

/// The package lists directories a tree is resolved against: Debian's and
/// each extra repository's (their Release files are in the tree keys).
fn index_dirs<'a>(apt: &'a args::AptCache, extra: &'a [args::ExtraSource]) -> Vec<&'a Path> {
    std::iter::once(apt.lists.as_path())
        .chain(extra.iter().map(|x| x.lists.as_path()))
        .collect()
}

/// What [`bootstrap`] would look for in the cache (see [`TreePlan`]).
pub fn plan(req: &RootfsRequest, cache: &Cache) -> Result<TreePlan, RootfsError> {
    let apt = cache.apt(&req.suite, &req.arch);
    let extra = extra::sources(req, cache)?;
    let (shared_recipe, board_recipe) = treecache::tree_keys(req, &apt, &extra, &cache.dir, &[]);
    let lists = index_dirs(&apt, &extra);
    let files = if lists.iter().all(|l| has_lists(l)) {
        let releases = treecache::releases_of(&lists).map_err(cache_err(&apt.lists))?;
        let (base, board) = treecache::tree_keys(req, &apt, &extra, &cache.dir, &releases);
        Some((
            shared_tree_name(req, &base),
            format!("{}-{}-{board}{TREE_SUFFIX}", req.suite, req.arch),
        ))
    } else {
        None
    };
    let trees = cache.dir.join("trees");
    let cached = files.as_ref().map_or((false, false), |(a, b)| {
        (trees.join(a).is_file(), trees.join(b).is_file())
    });
    Ok(TreePlan {
        shared_recipe,
        board_recipe,
        files,
        cached,
    })
}

/// Where the Debian tree came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Unpacked from the tree cache.
    Cached { key: String },
    /// Built by mmdebstrap (and saved to the tree cache).
    Bootstrapped { key: String },
}

/// How far [`bootstrap`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The shared tree of the architecture, in the cache and no further
    /// (a release pipeline's tree job): `target` is left untouched when
    /// the cache holds it already.
    SharedTree,
    /// The board's whole tree, in `target`.
    BoardTree,
}

/// The file name of the kept shared tree of `key`.
fn shared_tree_name(req: &RootfsRequest, key: &str) -> String {
    format!("base-{}-{}-{key}{TREE_SUFFIX}", req.suite, req.arch)
}

/// The kept shared tree of `key` (an [`Origin`] of [`Until::SharedTree`]).
pub fn shared_tree_file(req: &RootfsRequest, cache: &Cache, key: &str) -> PathBuf {
    cache.dir.join("trees").join(shared_tree_name(req, key))
}

/// Make the Debian tree in `target` (which must not exist), in two stages
/// each kept in the tree cache: the shared tree (mmdebstrap of the kernel
/// and the layers' packages, the same for every board of one
/// architecture), then the board stage on top of it (the board's and the
/// spec's packages, and the initramfs with the board's modules). Package
/// indices are refreshed first unless offline; `fresh` ignores both cached
/// trees (and replaces them). With [`Until::SharedTree`], the shared tree
/// only, and the [`Origin`]'s key is the shared tree's.
pub fn bootstrap(
    req: &RootfsRequest,
    cache: &Cache,
    offline: bool,
    fresh: bool,
    target: &Path,
    until: Until,
) -> Result<Origin, RootfsError> {
    // Extra repositories first: a bad signature stops the build at once,
    // without waiting for another build's hold on the Debian cache.
    let extra = extra::prepare(req, cache, offline)?;
    let apt = cache.apt(&req.suite, &req.arch);
    let _lock = cache.lock(&apt)?;
    if offline {
        if !has_lists(&apt.lists) {
            return Err(RootfsError::NoOfflineLists {
                arch: req.arch.clone(),
                suite: req.suite.clone(),
                path: apt.lists.clone(),
            });
        }
    } else {
        refresh_lists(req, &apt)?;
    }
    // Offline and online builds of the same indices make the same tree:
    // the keys are those of the online commands (the offline guard leaves
    // no trace). They are made of the commands as they would read with the
    // cache at one fixed place and a fixed target, so a cache copied to
    // another directory or machine stays warm.
    let lists = index_dirs(&apt, &extra);
    let releases = treecache::releases_of(&lists).map_err(cache_err(&apt.lists))?;
    let (base_key, key) = treecache::tree_keys(req, &apt, &extra, &cache.dir, &releases);

    let trees = cache.dir.join("trees");
    let prefix = format!("{}-{}-", req.suite, req.arch);
    let cached = trees.join(format!("{prefix}{key}{TREE_SUFFIX}"));
    let board_tree = until == Until::BoardTree;
    if let Some(found) = kept_tree(&cached).filter(|_| !fresh && board_tree) {
        crate::say!("clic: Debian tree from the cache ({})", found.display());
        unpack_tree(&found, target)?;
        if found != cached {
            save_tree(target, &trees, &cached, &prefix)?;
        }
        return Ok(Origin::Cached { key });
    }
    let base_prefix = format!("base-{}-{}-", req.suite, req.arch);
    let base = shared_tree_file(req, cache, &base_key);
    let kept_base = kept_tree(&base).filter(|_| !fresh);
    if !board_tree && kept_base.as_deref() == Some(base.as_path()) {
        crate::say!(
            "clic: shared {} tree already in the cache ({})",
            req.arch,
            base.display()
        );
        return Ok(Origin::Cached { key: base_key });
    }
    // Not in the keys above: it changes how fast the tree is made, not
    // the tree.
    let native = native::prepare(&req.arch);
    let native_dir = native.as_ref().map(|n| n.dir.as_path());
    let shared = if let Some(found) = kept_base {
        crate::say!(
            "clic: shared {} tree from the cache ({})",
            req.arch,
            found.display()
        );
        unpack_tree(&found, target)?;
        if found != base {
            // A legacy plain tar, kept compressed from now on.
            save_tree(target, &trees, &base, &base_prefix)?;
        }
        Origin::Cached {
            key: base_key.clone(),
        }
    } else {
        let started = std::time::Instant::now();
        crate::say!(
            "clic: bootstrapping the shared {} tree with mmdebstrap (minutes; its output: --verbose)",
            req.arch
        );
        let (prog, args) = args::mmdebstrap_command(req, &apt, &extra, offline, native_dir, target);
        Cmd::new(prog)
            .args(args)
            .env("SOURCE_DATE_EPOCH", req.source_date_epoch.to_string())
            .live(true)
            .run()
            .map_err(|source| RootfsError::Mmdebstrap {
                arch: req.arch.clone(),
                suite: req.suite.clone(),
                source: Box::new(source),
            })?;
        // A tree with a daemon still running in it is neither kept nor used.
        procs::check(target)?;
        crate::say!(
            "clic: shared {} tree made in {:.0} s{}",
            req.arch,
            started.elapsed().as_secs_f64(),
            if native.is_some() {
                " (packages unpacked by the host's dpkg-deb)"
            } else {
                ""
            }
        );
        save_tree(target, &trees, &base, &base_prefix)?;
        Origin::Bootstrapped {
            key: base_key.clone(),
        }
    };
    if !board_tree {
        return Ok(shared);
    }
    let started = std::time::Instant::now();
    crate::say!(
        "clic: board stage: {} packages and the initramfs",
        req.extra_packages.len()
    );
    let (prog, args) = args::board_stage_command(req, &apt, &extra, offline, native_dir, target);
    Cmd::new(prog)
        .args(args)
        .env("SOURCE_DATE_EPOCH", req.source_date_epoch.to_string())
        .live(true)
        .run()
        .map_err(|source| RootfsError::BoardStage {
            arch: req.arch.clone(),
            suite: req.suite.clone(),
            packages: req.extra_packages.join(" "),
            source: Box::new(source),
        })?;
    procs::check(target)?;
    crate::say!(
        "clic: board stage ({} packages, initramfs) made in {:.0} s",
        req.extra_packages.len(),
        started.elapsed().as_secs_f64()
    );
    save_tree(target, &trees, &cached, &prefix)?;
    Ok(Origin::Bootstrapped { key })
}

/// The kept tree at `path`, or the plain tar an earlier version of clic
/// kept under the same key (read once more, then kept compressed).
fn kept_tree(path: &Path) -> Option<PathBuf> {
    if path.is_file() {
        return Some(path.to_owned());
    }
    let plain = path.with_extension("");
    plain.is_file().then_some(plain)
}

fn unpack_tree(cached: &Path, target: &Path) -> Result<(), RootfsError> {
    fs::create_dir_all(target).map_err(cache_err(target))?;
    let zstd = cached.extension().is_some_and(|e| e == "zst");
    Cmd::new("tar")
        .args(zstd.then_some("--zstd"))
        .args([
            "--extract",
            "--numeric-owner",
            "--preserve-permissions",
            "--xattrs",
            "--xattrs-include=*",
            "--file",
        ])
        .arg(cached)
        .arg("--directory")
        .arg(target)
        .run()
        .map_err(|source| RootfsError::TreeCache {
            path: cached.to_owned(),
            source: Box::new(source),
        })?;
    // Mark it used, for pruning.
    let _ = fs::File::options()
        .append(true)
        .open(cached)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    Ok(())
}

/// Keep a freshly bootstrapped tree, and prune old ones. A failing `tar`
/// only costs the next build time, so it is reported and ignored; a cache
/// directory that cannot be written is an error.
fn save_tree(target: &Path, trees: &Path, cached: &Path, prefix: &str) -> Result<(), RootfsError> {
    fs::create_dir_all(trees).map_err(cache_err(trees))?;
    let tmp = tempfile::Builder::new()
        .prefix(".tree-")
        .suffix(TREE_SUFFIX)
        .tempfile_in(trees)
        .map_err(cache_err(trees))?;
    let saved = Cmd::new("tar")
        .args([
            "--create",
            "--zstd",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--format=pax",
            "--file",
        ])
        .arg(tmp.path())
        .arg("--directory")
        .arg(target)
        .arg(".")
        .run();
    match saved {
        Ok(_) => {
            tmp.persist(cached).map_err(|e| RootfsError::Cache {
                path: cached.to_owned(),
                source: e.error,
            })?;
        }
        Err(e) => crate::warning!("could not keep the Debian tree for later builds: {e}"),
    }
    let entries: Vec<_> = fs::read_dir(trees)
        .map_err(cache_err(trees))?
        .filter_map(Result::ok)
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(prefix) && n.ends_with(TREE_SUFFIX)
        })
        .filter_map(|e| Some((e.path(), e.metadata().ok()?.modified().ok()?)))
        .collect();
    for old in treecache::to_prune(entries, treecache::KEEP) {
        let _ = fs::remove_file(old);
    }
    // Trees kept uncompressed by earlier versions are never read again.
    for e in fs::read_dir(trees).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with(prefix) && n.ends_with(".tar") {
            let _ = fs::remove_file(e.path());
        }
    }
    Ok(())
}

/// Refresh the cached package indices with the host's apt.
fn refresh_lists(req: &RootfsRequest, apt: &AptCache) -> Result<(), RootfsError> {
    let scratch = tempfile::Builder::new()
        .prefix("clic-apt-")
        .tempdir()
        .map_err(cache_err(&std::env::temp_dir()))?;
    let sources = scratch.path().join("sources.list");
    let keyring = Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    let keyring = (req.mirror.starts_with("http") && keyring.is_file()).then_some(keyring);
    fs::create_dir_all(apt.lists.join("partial"))
        .and_then(|_| fs::create_dir_all(scratch.path().join("archives/partial")))
        .and_then(|_| fs::write(&sources, args::sources_line(req, keyring)))
        .map_err(cache_err(&apt.lists))?;
    let (prog, a) = args::apt_update_command(req, apt, &sources, scratch.path());
    Cmd::new(prog)
        .args(a)
        .run()
        .map_err(|source| RootfsError::Update {
            arch: req.arch.clone(),
            suite: req.suite.clone(),
            mirror: req.mirror.clone(),
            source: Box::new(source),
        })?;
    Ok(())
}

fn has_lists(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                // Uncompressed, or .lz4/.gz where apt keeps indices compressed.
                .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
        })
        .unwrap_or(false)
}

/// The packages installed in a tree.
pub fn installed_packages(root: &Path) -> Result<Vec<dpkg::InstalledPackage>, RootfsError> {
    let path = root.join("var/lib/dpkg/status");
    let text = fs::read_to_string(&path).map_err(|source| RootfsError::Status { path, source })?;
    Ok(dpkg::parse_status(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_cache_is_made_absolute() {
        let c = Cache::locate(Some(Path::new(".clic-cache")));
        assert!(c.dir.is_absolute(), "{}", c.dir.display());
        assert!(c.dir.ends_with(".clic-cache"));
        let c = Cache::locate(Some(Path::new("/srv/cache")));
        assert_eq!(c.dir, PathBuf::from("/srv/cache"));
    }
}
