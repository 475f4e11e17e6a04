//! The release files of an image, written next to it: `NAME.img.bmap`,
//! `NAME.img.zst`, `os_list.json` (Pi boards), the small files a build
//! adds (the Wi-Fi poster) and `SHA256SUMS`. Each is
//! written under a temporary name in the output directory and renamed
//! when all are complete, `SHA256SUMS` last; on an error or Ctrl-C the
//! temporary files are removed (they are `NamedTempFile`s).

use std::fs::{self, File};
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use tempfile::NamedTempFile;

use super::manifest::ArtifactInfo;
use super::{bmap, compress, mapping, oslist, sums};
use crate::spec::size::human;

#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("mapping the image's blocks: {0}")]
    Map(#[from] mapping::MapError),
    #[error("interrupted")]
    Interrupted,
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ReleaseError {
    let context = context.into();
    move |source| ReleaseError::Io { context, source }
}

/// Artifacts made, not yet in place.
pub struct Pending {
    out_dir: PathBuf,
    image_name: String,
    image: ArtifactInfo,
    bmap: (NamedTempFile, ArtifactInfo),
    zst: (NamedTempFile, ArtifactInfo),
    /// Files added with [`Pending::add_file`]: file, name, sha256.
    extra: Vec<(NamedTempFile, String, String)>,
}

/// What the `os_list.json` entry needs besides the files.
pub struct OsListSource {
    pub description: String,
    pub board_description: String,
    pub devices: Vec<String>,
    pub source_date_epoch: i64,
    pub url_base: Option<String>,
}

fn temp(out_dir: &Path, name: &str) -> Result<NamedTempFile, ReleaseError> {
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .tempfile_in(out_dir)
        .map_err(io(format!(
            "creating a temporary file in {}",
            out_dir.display()
        )))
}

/// Compute the bmap and the compressed image of `image` (which may still
/// carry a temporary name) whose published name is `image_name`.
/// `image_hash` is its size and sha256 when the caller has them.
pub fn prepare(
    image: &Path,
    image_name: &str,
    out_dir: &Path,
    image_hash: Option<(u64, String)>,
) -> Result<Pending, ReleaseError> {
    let t = Instant::now();
    let (bm, m) = mapping::bmap_of(image)?;
    let how: Vec<String> = m
        .regions
        .iter()
        .filter(|r| r.mapped > 0)
        .map(|r| format!("{} {}", r.how, human(r.mapped)))
        .collect();
    crate::say!(
        "clic: bmap: {} of {} mapped ({}) in {:.1} s",
        human(bm.mapped_bytes()),
        human(bm.image_size),
        how.join(", "),
        t.elapsed().as_secs_f64()
    );
    let bmap_name = format!("{image_name}.bmap");
    let mut bmap_tmp = temp(out_dir, &bmap_name)?;
    let xml = bmap::to_xml(&bm);
    bmap_tmp
        .write_all(xml.as_bytes())
        .map_err(io(format!("writing {bmap_name}")))?;
    let bmap_info = ArtifactInfo {
        file: bmap_name,
        kind: "bmap".into(),
        size: xml.len() as u64,
        sha256: sums::sha256_hex(xml.as_bytes()),
        mapped: Some(bm.mapped_bytes()),
    };

    let (size, sha256) = match image_hash {
        Some(h) => h,
        None => sums::sha256_file(image).map_err(io(format!("reading {}", image.display())))?,
    };
    let zst_name = format!("{image_name}.zst");
    let t = Instant::now();
    let zst_tmp = temp(out_dir, &zst_name)?;
    let src = File::open(image).map_err(io(format!("opening {}", image.display())))?;
    let out = zst_tmp
        .reopen()
        .map_err(io(format!("opening {zst_name}")))?;
    let threads = compress::threads();
    let (_, zsize, zsum) = compress::zstd_compress(
        BufReader::with_capacity(1 << 20, src),
        std::io::BufWriter::with_capacity(1 << 20, out),
        compress::LEVEL,
        threads,
        Some(size),
        |_| {
            crate::interrupt::check()
                .map_err(|_| std::io::Error::new(std::io::ErrorKind::Interrupted, "interrupted"))
        },
    )
    .map_err(|e| {
        if crate::interrupt::requested() {
            ReleaseError::Interrupted
        } else {
            ReleaseError::Io {
                context: format!("compressing {image_name}"),
                source: e,
            }
        }
    })?;
    crate::say!(
        "clic: zstd -{} ({threads} threads): {} -> {} in {:.1} s",
        compress::LEVEL,
        human(size),
        human(zsize),
        t.elapsed().as_secs_f64()
    );
    Ok(Pending {
        out_dir: out_dir.to_owned(),
        image_name: image_name.to_owned(),
        image: ArtifactInfo {
            file: image_name.to_owned(),
            kind: "image".into(),
            size,
            sha256,
            mapped: None,
        },
        bmap: (bmap_tmp, bmap_info),
        zst: (
            zst_tmp,
            ArtifactInfo {
                file: zst_name,
                kind: "zstd".into(),
                size: zsize,
                sha256: zsum,
                mapped: None,
            },
        ),
        extra: Vec::new(),
    })
}

/// The files published, by path.
#[derive(Debug, Clone)]
pub struct Published {
    pub bmap: PathBuf,
    pub zst: PathBuf,
    pub os_list: Option<PathBuf>,
    pub sums: PathBuf,
}

impl Pending {
    /// For the manifest: the image, its `.zst` and its `.bmap`.
    pub fn artifacts(&self) -> Vec<ArtifactInfo> {
        vec![self.image.clone(), self.zst.1.clone(), self.bmap.1.clone()]
    }

    /// Write `contents` under a temporary name now, to be published as
    /// `name` (listed in `SHA256SUMS`, moved into place with the rest).
    pub fn add_file(&mut self, name: &str, contents: &[u8]) -> Result<(), ReleaseError> {
        let mut tmp = temp(&self.out_dir, name)?;
        tmp.write_all(contents)
            .map_err(io(format!("writing {name}")))?;
        self.extra
            .push((tmp, name.to_owned(), sums::sha256_hex(contents)));
        Ok(())
    }

    /// Write `os_list.json` (when `os_list` is given) and `SHA256SUMS`,
    /// then move everything into place: the bmap, the `.zst`, the image
    /// (when it is still a temporary file), the manifest, the added files,
    /// `os_list.json`, and `SHA256SUMS` last.
    pub fn publish(
        self,
        image_tmp: Option<NamedTempFile>,
        manifest: Option<(NamedTempFile, String)>,
        os_list: Option<&OsListSource>,
    ) -> Result<Published, ReleaseError> {
        let dir = self.out_dir.clone();
        let mut entries: Vec<(String, String)> = self
            .artifacts()
            .iter()
            .map(|a| (a.file.clone(), a.sha256.clone()))
            .collect();
        if let Some((tmp, name)) = &manifest {
            let (_, sum) = sums::sha256_file(tmp.path()).map_err(io("reading the manifest"))?;
            entries.push((name.clone(), sum));
        }
        for (_, name, sum) in &self.extra {
            entries.push((name.clone(), sum.clone()));
        }
        let os_list_tmp = match os_list {
            Some(src) => {
                let entry = oslist::entry(&oslist::EntryInput {
                    image_name: self
                        .image_name
                        .strip_suffix(".img")
                        .unwrap_or(&self.image_name),
                    description: &src.description,
                    board_description: &src.board_description,
                    devices: &src.devices,
                    source_date_epoch: src.source_date_epoch,
                    url_base: src.url_base.as_deref(),
                    compressed_file: &self.zst.1.file,
                    image_size: self.image.size,
                    image_sha256: &self.image.sha256,
                    compressed_size: self.zst.1.size,
                    compressed_sha256: &self.zst.1.sha256,
                });
                let existing = fs::read_to_string(dir.join(oslist::FILE)).ok();
                let text = oslist::render(existing.as_deref(), entry);
                let mut tmp = temp(&dir, oslist::FILE)?;
                tmp.write_all(text.as_bytes())
                    .map_err(io(format!("writing {}", oslist::FILE)))?;
                entries.push((oslist::FILE.into(), sums::sha256_hex(text.as_bytes())));
                Some(tmp)
            }
            None => None,
        };
        let existing = fs::read_to_string(dir.join(sums::FILE)).unwrap_or_default();
        let mut sums_tmp = temp(&dir, sums::FILE)?;
        sums_tmp
            .write_all(sums::render(&existing, &entries).as_bytes())
            .map_err(io(format!("writing {}", sums::FILE)))?;

        if crate::interrupt::requested() {
            return Err(ReleaseError::Interrupted);
        }
        let put = |tmp: NamedTempFile, name: &str| -> Result<PathBuf, ReleaseError> {
            let path = dir.join(name);
            // Published files are readable by all (temporary files are 0600).
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o644))
                .map_err(io(format!("making {name} readable")))?;
            tmp.persist(&path).map_err(|e| ReleaseError::Io {
                context: format!("moving {} into place", path.display()),
                source: e.error,
            })?;
            Ok(path)
        };
        let bmap = put(self.bmap.0, &self.bmap.1.file)?;
        let zst = put(self.zst.0, &self.zst.1.file)?;
        if let Some(tmp) = image_tmp {
            put(tmp, &self.image_name)?;
        }
        if let Some((tmp, name)) = manifest {
            put(tmp, &name)?;
        }
        for (tmp, name, _) in self.extra {
            put(tmp, &name)?;
        }
        let os_list = match os_list_tmp {
            Some(tmp) => Some(put(tmp, oslist::FILE)?),
            None => None,
        };
        let sums = put(sums_tmp, sums::FILE)?;
        Ok(Published {
            bmap,
            zst,
            os_list,
            sums,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_added_file_is_published_and_listed_in_the_sums() {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("x.img");
        let mut bytes = vec![0u8; 1 << 20];
        bytes[..4].copy_from_slice(b"CLIC");
        fs::write(&image, &bytes).unwrap();
        let mut pending = prepare(&image, "x.img", dir.path(), None).unwrap();
        pending
            .add_file("x.poster.html", b"<p>poster</p>\n")
            .unwrap();
        let published = pending.publish(None, None, None).unwrap();

        let poster = dir.path().join("x.poster.html");
        assert_eq!(fs::read(&poster).unwrap(), b"<p>poster</p>\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&poster).unwrap().permissions().mode() & 0o777,
            0o644
        );
        let listed = sums::parse(&fs::read_to_string(&published.sums).unwrap());
        assert_eq!(
            listed.get("x.poster.html").map(String::as_str),
            Some(sums::sha256_hex(b"<p>poster</p>\n").as_str())
        );
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                "SHA256SUMS",
                "x.img",
                "x.img.bmap",
                "x.img.zst",
                "x.poster.html"
            ],
            "no temporary file left"
        );
    }
}
