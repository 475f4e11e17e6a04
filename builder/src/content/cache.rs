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
                    crate::say!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::pack::Kind;

    fn item(id: &str, bytes: &[u8], source: ItemSource) -> Item {
        use sha2::Digest;
        Item {
            id: id.into(),
            title: id.into(),
            description: String::new(),
            language: "fr".into(),
            kind: Kind::Pdf,
            licence: "CC0-1.0".into(),
            attribution: "t".into(),
            source,
            sha256: hex::encode(sha2::Sha256::digest(bytes)),
            size: bytes.len() as u64,
            cover: None,
            tags: vec![],
        }
    }

    fn pack(items: Vec<Item>) -> Pack {
        Pack {
            id: "p".into(),
            title: "P".into(),
            description: String::new(),
            languages: vec!["fr".into()],
            items,
            path: PathBuf::from("/p.toml"),
        }
    }

    #[test]
    fn offline_lists_every_missing_item_with_its_size_and_copies_local_files() {
        let t = tempfile::tempdir().unwrap();
        let local = t.path().join("a.pdf");
        fs::write(&local, b"local bytes").unwrap();
        let cache = ContentCache {
            dir: t.path().join("cache"),
        };
        let packs = [pack(vec![
            item("a", b"local bytes", ItemSource::Path(local)),
            item(
                "b",
                &[7; 3000],
                ItemSource::Url("https://example.org/b.pdf".into()),
            ),
            item(
                "c",
                &[8; 5],
                ItemSource::Url("https://example.org/c.pdf".into()),
            ),
        ])];
        let e = cache.ensure(&packs, true).unwrap_err().to_string();
        assert!(e.starts_with("2 content items are not in the cache"), "{e}");
        assert!(
            e.contains("p/b: 3 KiB (3000 bytes) from https://example.org/b.pdf"),
            "{e}"
        );
        assert!(e.contains("total: 2 items, 3 KiB (3005 bytes)"), "{e}");
        assert!(
            cache.has(&packs[0].items[0]),
            "the local file is in the cache"
        );
        assert!(cache.verify(&packs[0].items[0]).is_ok());
    }

    #[test]
    fn a_changed_cache_file_is_refused_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let cache = ContentCache {
            dir: t.path().to_owned(),
        };
        let it = item("a", b"abc", ItemSource::Url("https://example.org/a".into()));
        fs::create_dir_all(t.path().join("sha256")).unwrap();
        fs::write(cache.path(&it.sha256), b"abd").unwrap();
        assert!(cache.has(&it), "same size");
        let e = cache.verify(&it).unwrap_err().to_string();
        assert!(e.contains("item `a`") && e.contains("not its pin"), "{e}");
        assert!(!cache.path(&it.sha256).exists());
    }

    #[test]
    fn a_partial_download_resumes_and_a_wrong_one_is_deleted() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src.bin");
        let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&src, &bytes).unwrap();
        let it = item("a", &bytes, ItemSource::Path(src.clone()));
        let cache = ContentCache {
            dir: t.path().join("cache"),
        };
        // Half of it is already there, from an interrupted download.
        let dest = cache.path(&it.sha256);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let partial = crate::fetch::partial_path(&dest);
        fs::write(&partial, &bytes[..50_000]).unwrap();
        cache.fetch(&it).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), bytes);
        assert!(!partial.exists());
        // A partial file with wrong bytes gives a file that fails its pin:
        // refused, and nothing is left.
        fs::remove_file(&dest).unwrap();
        fs::write(&partial, vec![0u8; 50_000]).unwrap();
        let e = cache.fetch(&it).unwrap_err().to_string();
        assert!(e.contains("refused and deleted"), "{e}");
        assert!(!partial.exists() && !dest.exists());
    }
}
