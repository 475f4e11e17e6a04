//! Rootfs: mmdebstrap builds the Debian tree from the mirror, with an apt
//! cache that later builds reuse (a warm build downloads no package).

pub mod args;
pub mod dpkg;
pub mod normalise;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

pub use args::{AptCache, RootfsRequest};

use crate::cmd::{Cmd, CmdError};

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
        source: CmdError,
    },
    #[error("offline build: no saved package lists for {arch}/{suite} in {path}; run one build online first to fill the cache")]
    NoOfflineLists {
        arch: String,
        suite: String,
        path: PathBuf,
    },
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
    /// `$XDG_CACHE_HOME/clic` or `~/.cache/clic`.
    pub fn locate(explicit: Option<&Path>) -> Cache {
        if let Some(p) = explicit {
            return Cache { dir: p.to_owned() };
        }
        if let Some(p) = std::env::var_os("CLIC_CACHE") {
            return Cache { dir: p.into() };
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
            fs::create_dir_all(d).map_err(|source| RootfsError::Cache {
                path: d.clone(),
                source,
            })?;
        }
        let lock_path = base.join("lock");
        let f = File::create(&lock_path).map_err(|source| RootfsError::Cache {
            path: lock_path.clone(),
            source,
        })?;
        f.lock().map_err(|source| RootfsError::Cache {
            path: lock_path,
            source,
        })?;
        Ok(f)
    }
}

/// Run mmdebstrap into `target` (which must not exist or be empty).
pub fn bootstrap(
    req: &RootfsRequest,
    cache: &Cache,
    offline: bool,
    target: &Path,
) -> Result<(), RootfsError> {
    let apt = cache.apt(&req.suite, &req.arch);
    let _lock = cache.lock(&apt)?;
    if offline && !has_lists(&apt.lists) {
        return Err(RootfsError::NoOfflineLists {
            arch: req.arch.clone(),
            suite: req.suite.clone(),
            path: apt.lists.clone(),
        });
    }
    let (prog, args) = args::mmdebstrap_command(req, &apt, offline, target);
    Cmd::new(prog)
        .args(args)
        .env("SOURCE_DATE_EPOCH", req.source_date_epoch.to_string())
        .live(true)
        .run()
        .map_err(|source| RootfsError::Mmdebstrap {
            arch: req.arch.clone(),
            suite: req.suite.clone(),
            source,
        })?;
    Ok(())
}

fn has_lists(dir: &Path) -> bool {
    fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
        })
        .unwrap_or(false)
}

/// The packages installed in a tree.
pub fn installed_packages(root: &Path) -> Result<Vec<dpkg::InstalledPackage>, RootfsError> {
    let path = root.join("var/lib/dpkg/status");
    let text = fs::read_to_string(&path).map_err(|source| RootfsError::Status { path, source })?;
    Ok(dpkg::parse_status(&text))
}
