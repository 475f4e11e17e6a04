//! The content cache: `<cache>/content/sha256/<hex>`, one file per
//! distinct content, whatever pack or URL it came from. Files enter it only
//! through [`crate::fetch::fetch_verified`] (downloads) or a verified copy
//! (files next to a pack), so everything in it matched its pin when it was
//! written; staging checks the bytes again as it reads them.

use std::fs;
use std::path::{Path, PathBuf};

use super::pack::{Item, ItemSource, Pack};
use super::ContentError;
use crate::artifact::sums::sha256_file;
use crate::fetch::{fetch_verified, FetchError, Pin};
use crate::spec::size::human;

#[derive(Debug, Clone)]
pub struct ContentCache {
    pub dir: PathBuf,
}

/// One item a build or a fetch could not get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub pack: String,
    pub item: String,
    pub size: u64,
    pub source: String,
    /// Why (empty offline: not fetched).
    pub reason: String,
}

impl ContentCache {
    /// `<cache>/content`, or `$CLIC_CONTENT_CACHE`.
    pub fn locate(cache_root: &Path) -> ContentCache {
        let dir = std::env::var_os("CLIC_CONTENT_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| cache_root.join("content"));
        ContentCache { dir }
    }

    pub fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join("sha256").join(sha256.to_ascii_lowercase())
    }

    /// In the cache with the pinned size (its bytes are checked when used).
    pub fn has(&self, item: &Item) -> bool {
        fs::metadata(self.path(&item.sha256)).is_ok_and(|m| m.len() == item.size)
    }

    /// Bring one item into the cache: download it (resuming), or copy it
    /// from next to its pack, verified either way.
    pub fn fetch(&self, item: &Item) -> Result<(), FetchError> {
        let dest = self.path(&item.sha256);
        let pin = Pin {
            sha256: &item.sha256,
            size: item.size,
        };
        match &item.source {
            ItemSource::Url(u) => fetch_verified(u, &dest, pin),
            ItemSource::Path(p) => {
                let url = format!("file://{}", p.display());
                fetch_verified(&url, &dest, pin)
            }
        }
    }

    /// Make sure every item of `packs` is in the cache. Offline, only files
    /// next to the packs are brought in; anything else missing is an error
    /// listing every missing item with its size. Online, every missing item
    /// is fetched and every failure listed.
    pub fn ensure(&self, packs: &[Pack], offline: bool) -> Result<Vec<String>, ContentError> {
        let mut missing = Vec::new();
        let mut fetched = Vec::new();
        for pack in packs {
            for item in &pack.items {
                if self.has(item) {
                    continue;
                }
                let local = matches!(item.source, ItemSource::Path(_));
                let source = match &item.source {
                    ItemSource::Url(u) => u.clone(),
                    ItemSource::Path(p) => p.display().to_string(),
                };
                if offline && !local {
                    missing.push(Missing {
                        pack: pack.id.clone(),
                        item: item.id.clone(),
                        size: item.size,
                        source,
                        reason: String::new(),
                    });
                    continue;
                }
                if !local {
                    eprintln!(
                        "clic: fetching {}/{} ({}) from {source}",
                        pack.id,
                        item.id,
                        human(item.size)
                    );
                }
                match self.fetch(item) {
                    Ok(()) => fetched.push(format!("{}/{}", pack.id, item.id)),
                    Err(e) => missing.push(Missing {
                        pack: pack.id.clone(),
                        item: item.id.clone(),
                        size: item.size,
                        source,
                        reason: e.to_string(),
                    }),
                }
                if crate::interrupt::requested() {
                    return Err(ContentError::Interrupted);
                }
            }
        }
        if missing.is_empty() {
            Ok(fetched)
        } else {
            Err(ContentError::Missing {
                offline,
                cache: self.dir.clone(),
                missing,
            })
        }
    }

    /// Check a cached file's bytes against the item's pin; a file that
    /// differs is removed from the cache.
    pub fn verify(&self, item: &Item) -> Result<PathBuf, ContentError> {
        let p = self.path(&item.sha256);
        let (size, got) = sha256_file(&p).map_err(|source| ContentError::Io {
            context: format!("reading {}", p.display()),
            source,
        })?;
        if size != item.size || !got.eq_ignore_ascii_case(&item.sha256) {
            let _ = fs::remove_file(&p);
            return Err(ContentError::Corrupt {
                item: item.id.clone(),
                file: p,
                got,
            });
        }
        Ok(p)
    }
}

/// The lines of a "missing" error: one per item, then the total.
pub fn missing_report(missing: &[Missing]) -> String {
    let mut s = String::new();
    for m in missing {
        s.push_str(&format!(
            "\n    {}/{}: {} ({} bytes) from {}",
            m.pack,
            m.item,
            human(m.size),
            m.size,
            m.source
        ));
        if !m.reason.is_empty() {
            s.push_str(&format!("\n        {}", m.reason));
        }
    }
    let total: u64 = missing.iter().map(|m| m.size).sum();
    s.push_str(&format!(
        "\n    total: {} item{}, {} ({total} bytes)",
        missing.len(),
        if missing.len() == 1 { "" } else { "s" },
        human(total)
    ));
    s
}
