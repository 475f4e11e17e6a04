//! Layers' pinned downloads (`[[downloads]]`, `crate::spec::downloads`):
//! fetched once into `<cache>/downloads/sha256/<hex>` through
//! [`crate::fetch::fetch_verified`] (a file whose bytes differ from the
//! pin is refused and deleted), then copied or unpacked into the image
//! tree: root-owned, modes 0644/0755, mtime `SOURCE_DATE_EPOCH`, files in
//! sorted order, nothing of the archive's owners, modes or times kept.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::artifact::manifest::DownloadInfo;
use crate::artifact::sums::sha256_file;
use crate::cmd::Cmd;
use crate::fetch::{fetch_verified, Pin};
use crate::layers::paths::resolve_parent_in_root;
use crate::spec::downloads::{self, DownloadDef};
use crate::spec::layer::LoadedLayer;
use crate::spec::size::human;

#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    #[error(
        "{} download{} of the layers {} not in the cache ({}):{}{}",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "is" } else { "are" },
        cache.display(),
        missing.iter().map(|m| format!("\n    {m}")).collect::<String>(),
        if *offline {
            "\n    nothing was built (offline build); build once with a network, or copy the cache"
        } else {
            "\n    nothing was built"
        }
    )]
    Missing {
        offline: bool,
        cache: PathBuf,
        missing: Vec<String>,
    },
    #[error("cached download {file} has sha256 {got}, not its pin {want}: removed from the cache; build again to fetch it")]
    Corrupt {
        file: PathBuf,
        got: String,
        want: String,
    },
    #[error("download `{name}` of layer `{layer}`: `include` entries select nothing in the archive: {}", unused.join(", "))]
    Unused {
        layer: String,
        name: String,
        unused: Vec<String>,
    },
    #[error("download `{name}` of layer `{layer}`: `{path}` in the archive is not a regular file or directory; only those are installed")]
    NotAFile {
        layer: String,
        name: String,
        path: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("unpacking {file}: {source}")]
    Unpack {
        file: PathBuf,
        source: crate::cmd::CmdError,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> DownloadError {
    let context = context.into();
    move |source| DownloadError::Io { context, source }
}

/// The downloads' cache directory: `<cache>/downloads/sha256/`.
#[derive(Debug, Clone)]
pub struct DownloadCache {
    pub dir: PathBuf,
}

impl DownloadCache {
    pub fn locate(cache_root: &Path) -> DownloadCache {
        DownloadCache {
            dir: cache_root.join("downloads").join("sha256"),
        }
    }

    pub fn path(&self, d: &DownloadDef) -> PathBuf {
        self.dir.join(d.sha256.get_ref().to_ascii_lowercase())
    }

    fn pin(d: &DownloadDef) -> Pin<'_> {
        Pin {
            sha256: d.sha256.get_ref(),
            size: *d.size.get_ref(),
        }
    }

    /// Every download of `layers` in the cache: fetched if missing (not
    /// `offline`), every problem listed at once. Returns what was fetched.
    pub fn ensure(
        &self,
        layers: &[LoadedLayer],
        offline: bool,
    ) -> Result<Vec<String>, DownloadError> {
        let mut missing = Vec::new();
        let mut fetched = Vec::new();
        for l in layers {
            for d in &l.def.downloads {
                let dest = self.path(d);
                let size = *d.size.get_ref();
                if fs::metadata(&dest).is_ok_and(|m| m.len() == size) {
                    continue;
                }
                let url = d.url.get_ref();
                let what = format!("{} ({}, {}) from {url}", d.name(), l.name, human(size));
                if offline {
                    missing.push(what);
                    continue;
                }
                crate::say!("clic: fetching {what}");
                match fetch_verified(url, &dest, Self::pin(d)) {
                    Ok(()) => fetched.push(d.name()),
                    Err(e) => missing.push(format!("{what}: {e}")),
                }
                if crate::interrupt::requested() {
                    break;
                }
            }
        }
        if missing.is_empty() {
            Ok(fetched)
        } else {
            Err(DownloadError::Missing {
                offline,
                cache: self.dir.clone(),
                missing,
            })
        }
    }

    /// The cached file of `d`, its bytes checked again (a file that
    /// differs is removed).
    fn verified(&self, d: &DownloadDef) -> Result<PathBuf, DownloadError> {
        let p = self.path(d);
        let (size, got) = sha256_file(&p).map_err(io(format!("reading {}", p.display())))?;
        if size != *d.size.get_ref() || !got.eq_ignore_ascii_case(d.sha256.get_ref()) {
            let _ = fs::remove_file(&p);
            return Err(DownloadError::Corrupt {
                file: p,
                got,
                want: d.sha256.get_ref().to_ascii_lowercase(),
            });
        }
        Ok(p)
    }
}

/// Install the downloads of `layer` into the image tree `root`, using
/// `scratch` (an empty directory outside the tree) to unpack archives.
pub fn install(
    cache: &DownloadCache,
    layer: &LoadedLayer,
    root: &Path,
    scratch: &Path,
    epoch: i64,
) -> Result<Vec<DownloadInfo>, DownloadError> {
    let mut out = Vec::new();
    for (i, d) in layer.def.downloads.iter().enumerate() {
        let file = cache.verified(d)?;
        let dest_rel = d.dest.get_ref().trim_start_matches('/');
        let (files, bytes) = if d.unpacked() {
            let tmp = scratch.join(format!("{}-{i}", layer.name));
            let r = unpack(&file, d, &layer.name, &tmp, root, dest_rel, epoch);
            let _ = fs::remove_dir_all(&tmp);
            r?
        } else {
            let dest = resolve_parent_in_root(root, Path::new(dest_rel))
                .map_err(io(format!("placing {}", d.dest.get_ref())))?;
            (1, place(&file, &dest, false, epoch)?)
        };
        crate::say!(
            "clic: {} ({}): {files} file{} ({}) in {}",
            d.name(),
            d.licence.get_ref(),
            if files == 1 { "" } else { "s" },
            human(bytes),
            d.dest.get_ref()
        );
        out.push(DownloadInfo {
            layer: layer.name.clone(),
            name: d.name(),
            url: d.url.get_ref().clone(),
            sha256: d.sha256.get_ref().to_ascii_lowercase(),
            size: *d.size.get_ref(),
            dest: d.dest.get_ref().clone(),
            licence: d.licence.get_ref().clone(),
            files,
            bytes,
        });
    }
    Ok(out)
}

/// Unpack `archive` into `tmp`, then copy the selected files to
/// `root/dest_rel`. Returns the files and bytes installed.
fn unpack(
    archive: &Path,
    d: &DownloadDef,
    layer: &str,
    tmp: &Path,
    root: &Path,
    dest_rel: &str,
    epoch: i64,
) -> Result<(u64, u64), DownloadError> {
    let _ = fs::remove_dir_all(tmp);
    fs::create_dir_all(tmp).map_err(io(format!("creating {}", tmp.display())))?;
    Cmd::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(tmp)
        .args([
            "--no-same-owner",
            "--no-same-permissions",
            "--delay-directory-restore",
        ])
        .arg(format!("--strip-components={}", d.strip()))
        .run()
        .map_err(|source| DownloadError::Unpack {
            file: archive.to_owned(),
            source,
        })?;
    let mut entries = Vec::new();
    walk(tmp, tmp, &mut entries)?;
    entries.sort();
    let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    let kept = downloads::select(&paths, &d.include()).map_err(|unused| DownloadError::Unused {
        layer: layer.to_owned(),
        name: d.name(),
        unused,
    })?;
    let (mut files, mut bytes) = (0, 0);
    for rel in kept {
        let kind = entries
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, k)| *k)
            .unwrap_or(Kind::Other);
        let src = tmp.join(rel);
        match kind {
            Kind::Dir => continue,
            Kind::Other => {
                return Err(DownloadError::NotAFile {
                    layer: layer.to_owned(),
                    name: d.name(),
                    path: rel.to_owned(),
                })
            }
            Kind::File { exec } => {
                let image_rel = Path::new(dest_rel).join(rel);
                let dest = resolve_parent_in_root(root, &image_rel)
                    .map_err(io(format!("placing {}", image_rel.display())))?;
                bytes += place(&src, &dest, exec, epoch)?;
                files += 1;
            }
        }
    }
    Ok((files, bytes))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Dir,
    File { exec: bool },
    Other,
}

/// Every entry below `dir`, as a path relative to `base`.
fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Kind)>) -> Result<(), DownloadError> {
    use std::os::unix::fs::PermissionsExt;
    let rd = fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))?;
    for e in rd {
        let e = e.map_err(io(format!("reading {}", dir.display())))?;
        let p = e.path();
        let meta = fs::symlink_metadata(&p).map_err(io(format!("reading {}", p.display())))?;
        let rel = p
            .strip_prefix(base)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        if meta.is_dir() {
            out.push((rel, Kind::Dir));
            walk(base, &p, out)?;
        } else if meta.is_file() {
            let exec = meta.permissions().mode() & 0o111 != 0;
            out.push((rel, Kind::File { exec }));
        } else {
            out.push((rel, Kind::Other));
        }
    }
    Ok(())
}

/// Copy `src` to `dest` (parents made 0755), mode 0644 or 0755, mtime
/// `epoch`; the bytes copied.
fn place(src: &Path, dest: &Path, exec: bool, epoch: i64) -> Result<u64, DownloadError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if let Some(parent) = dest.parent() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)
            .map_err(io(format!("creating {}", parent.display())))?;
    }
    if fs::symlink_metadata(dest).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(dest).map_err(io(format!("replacing {}", dest.display())))?;
    }
    let n = fs::copy(src, dest).map_err(io(format!(
        "copying {} to {}",
        src.display(),
        dest.display()
    )))?;
    let mode = if exec { 0o755 } else { 0o644 };
    fs::set_permissions(dest, fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting the mode of {}", dest.display())))?;
    let mtime = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch.max(0) as u64);
    fs::File::options()
        .write(true)
        .open(dest)
        .and_then(|f| f.set_modified(mtime))
        .map_err(io(format!("setting the time of {}", dest.display())))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// A layer directory whose layer.toml downloads `url` (with `extra`
    /// keys), pinned to `bytes`.
    fn layer(dir: &Path, url: &str, bytes: &[u8], extra: &str) -> LoadedLayer {
        let sha = hex::encode(Sha256::digest(bytes));
        let text = format!(
            "description = \"x\"\n[[downloads]]\nurl = \"{url}\"\nsha256 = \"{sha}\"\nsize = {}\nlicence = \"MPL-2.0\"\n{extra}\n",
            bytes.len()
        );
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join("layer.toml"), text).unwrap();
        crate::spec::layer::load("web", dir).unwrap()
    }

    /// An npm-like tarball: `package/...` with odd owners, modes and times.
    fn tarball(t: &Path) -> Vec<u8> {
        let src = t.join("src/package");
        fs::create_dir_all(src.join("dist/locales")).unwrap();
        fs::write(src.join("dist/app.min.js"), "js").unwrap();
        fs::write(src.join("dist/app.min.js.map"), "map").unwrap();
        fs::write(src.join("dist/locales/fr.js"), "fr").unwrap();
        fs::write(src.join("dist/locales/de.js"), "de").unwrap();
        fs::write(src.join("README.md"), "readme").unwrap();
        fs::set_permissions(
            src.join("dist/app.min.js"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let tgz = t.join("pkg.tgz");
        Cmd::new("tar")
            .arg("-C")
            .arg(t.join("src"))
            .args(["--owner=1234", "--group=999", "--mtime=@1000", "-czf"])
            .arg(&tgz)
            .arg("package")
            .run()
            .unwrap();
        fs::read(&tgz).unwrap()
    }

    #[test]
    fn an_archive_is_fetched_once_then_unpacked_offline_normalised() {
        let t = tempfile::tempdir().unwrap();
        let bytes = tarball(t.path());
        let url = format!("file://{}", t.path().join("pkg.tgz").display());
        let l = layer(
            &t.path().join("layer"),
            &url,
            &bytes,
            "unpack = \"tar\"\nstrip = 1\ninclude = [\"dist/*.js\", \"dist/locales/fr.js\"]\ndest = \"/usr/share/web\"",
        );
        let cache = DownloadCache::locate(&t.path().join("cache"));
        assert_eq!(
            cache.ensure(std::slice::from_ref(&l), false).unwrap(),
            ["pkg"]
        );
        // The source is gone: the cache alone serves the build, offline too.
        fs::remove_file(t.path().join("pkg.tgz")).unwrap();
        assert!(cache
            .ensure(std::slice::from_ref(&l), true)
            .unwrap()
            .is_empty());
        let root = t.path().join("root");
        fs::create_dir_all(&root).unwrap();
        let scratch = t.path().join("scratch");
        let info = install(&cache, &l, &root, &scratch, 1_700_000_000).unwrap();
        assert_eq!((info[0].files, info[0].bytes), (2, 4));
        assert_eq!(info[0].dest, "/usr/share/web");
        let web = root.join("usr/share/web");
        let mut got = Vec::new();
        for rel in ["dist/app.min.js", "dist/locales/fr.js"] {
            let m = fs::metadata(web.join(rel)).unwrap();
            got.push((rel, m.uid(), m.gid(), m.mode() & 0o7777, m.mtime()));
        }
        let (uid, gid) = {
            let m = fs::metadata(&root).unwrap();
            (m.uid(), m.gid())
        };
        assert_eq!(
            got,
            [
                ("dist/app.min.js", uid, gid, 0o644, 1_700_000_000),
                ("dist/locales/fr.js", uid, gid, 0o644, 1_700_000_000)
            ]
        );
        for absent in ["dist/app.min.js.map", "dist/locales/de.js", "README.md"] {
            assert!(!web.join(absent).exists(), "{absent}");
        }
        assert!(!scratch.join("web-0").exists(), "scratch is cleaned");
    }

    #[test]
    fn a_wrong_pin_is_refused_and_nothing_is_kept() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f.bin"), "other bytes").unwrap();
        let url = format!("file://{}", t.path().join("f.bin").display());
        let l = layer(
            &t.path().join("layer"),
            &url,
            b"pinned",
            "dest = \"/usr/share/f.bin\"",
        );
        let cache = DownloadCache::locate(&t.path().join("cache"));
        let e = cache
            .ensure(std::slice::from_ref(&l), false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("refused and deleted"), "{e}");
        let left: Vec<_> = fs::read_dir(&cache.dir).unwrap().collect();
        assert!(left.is_empty(), "nothing left in the cache");
        // Offline, a missing file is named with its URL.
        let e = cache
            .ensure(std::slice::from_ref(&l), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains("offline") && e.contains(&url), "{e}");
    }

    #[test]
    fn a_plain_file_is_copied_and_a_corrupt_cache_entry_removed() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("f.bin"), "pinned").unwrap();
        let url = format!("file://{}", t.path().join("f.bin").display());
        let l = layer(
            &t.path().join("layer"),
            &url,
            b"pinned",
            "dest = \"/usr/share/f.bin\"",
        );
        let cache = DownloadCache::locate(&t.path().join("cache"));
        cache.ensure(std::slice::from_ref(&l), false).unwrap();
        let root = t.path().join("root");
        let info = install(&cache, &l, &root, t.path(), 5).unwrap();
        assert_eq!(fs::read(root.join("usr/share/f.bin")).unwrap(), b"pinned");
        assert_eq!(
            (info[0].files, info[0].bytes, info[0].name.as_str()),
            (1, 6, "f.bin")
        );
        // Same size, other bytes in the cache: refused and removed.
        let cached = cache.path(&l.def.downloads[0]);
        fs::write(&cached, "PINNED").unwrap();
        let e = install(&cache, &l, &root, t.path(), 5).unwrap_err();
        assert!(matches!(e, DownloadError::Corrupt { .. }), "{e}");
        assert!(!cached.exists());
    }

    #[test]
    fn an_include_that_selects_nothing_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let bytes = tarball(t.path());
        let url = format!("file://{}", t.path().join("pkg.tgz").display());
        let l = layer(
            &t.path().join("layer"),
            &url,
            &bytes,
            "unpack = \"tar\"\nstrip = 1\ninclude = [\"dist/app.min.js\", \"dist/nope.css\"]\ndest = \"/usr/share/web\"",
        );
        let cache = DownloadCache::locate(&t.path().join("cache"));
        cache.ensure(std::slice::from_ref(&l), false).unwrap();
        let e = install(&cache, &l, &t.path().join("root"), &t.path().join("s"), 5)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("dist/nope.css") && !e.contains("app.min.js"),
            "{e}"
        );
    }
}
