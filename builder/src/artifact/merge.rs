//! `clic release merge DIR... --out DIR`: one release from the output
//! directories of several builds (one CI job per board): every file their
//! `SHA256SUMS` list but the raw images (a release publishes `NAME.img.zst`
//! and `NAME.img.bmap`; the raw image's sha256 stays in the manifest, the
//! block map and `os_list.json`, and a CI job need not carry it), one
//! `os_list.json` with every Pi image's entry, one `SHA256SUMS`. Two files
//! of one name with different bytes are refused; each file is checked
//! against its sum as it is copied; the release appears whole or not at
//! all.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::oslist::{self, OsEntry};
use super::sums;

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: no SHA256SUMS: not the output directory of a clic build", .0.display())]
    NoSums(PathBuf),
    #[error("{}: {detail}", path.display())]
    Bad { path: PathBuf, detail: String },
    #[error(
        "`{name}` differs between {} ({a}) and {} ({b}): two builds made a file of the same name; give each image its own name",
        first.display(),
        second.display()
    )]
    Conflict {
        name: String,
        first: PathBuf,
        a: String,
        second: PathBuf,
        b: String,
    },
    #[error("{}: its sha256 is {got}, SHA256SUMS says {want}", path.display())]
    Changed {
        path: PathBuf,
        want: String,
        got: String,
    },
    #[error("{}: exists and is not empty", .0.display())]
    OutExists(PathBuf),
    #[error("interrupted")]
    Interrupted,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MergeError + '_ {
    move |source| MergeError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What one build's output directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub dir: PathBuf,
    /// File name to sha256, from its `SHA256SUMS` (without `SHA256SUMS`
    /// and `os_list.json`, which the merge writes anew).
    pub files: BTreeMap<String, String>,
    pub os_list: Vec<OsEntry>,
    /// `(image name, board)` of each manifest it holds.
    pub images: Vec<(String, String)>,
}

/// Read an output directory (only its small files).
pub fn read_input(dir: &Path) -> Result<Input, MergeError> {
    let sums_path = dir.join("SHA256SUMS");
    if !sums_path.is_file() {
        return Err(MergeError::NoSums(dir.to_owned()));
    }
    let mut files = sums::parse(&fs::read_to_string(&sums_path).map_err(io(&sums_path))?);
    files.remove("SHA256SUMS");
    files.remove(oslist::FILE);
    files = release_files(files);
    for name in files.keys() {
        if name.contains('/') || name.starts_with('.') {
            return Err(MergeError::Bad {
                path: sums_path.clone(),
                detail: format!("`{name}` is not a plain file name"),
            });
        }
    }
    let list_path = dir.join(oslist::FILE);
    let os_list = if list_path.is_file() {
        let text = fs::read_to_string(&list_path).map_err(io(&list_path))?;
        oslist::parse(&text).map_err(|e| MergeError::Bad {
            path: list_path.clone(),
            detail: e.to_string(),
        })?
    } else {
        Vec::new()
    };
    let mut images = Vec::new();
    for name in files.keys().filter(|n| n.ends_with(".manifest.json")) {
        let m = super::manifest::read(&dir.join(name)).map_err(|e| MergeError::Bad {
            path: dir.join(name),
            detail: e.to_string(),
        })?;
        images.push((m.name, m.board));
    }
    Ok(Input {
        dir: dir.to_owned(),
        files,
        os_list,
        images,
    })
}

/// A build's listed files less its raw images: `NAME.img` where
/// `NAME.img.zst` is listed too (pure).
fn release_files(files: BTreeMap<String, String>) -> BTreeMap<String, String> {
    let raw: Vec<String> = files
        .keys()
        .filter(|n| n.ends_with(".img") && files.contains_key(&format!("{n}.zst")))
        .cloned()
        .collect();
    files
        .into_iter()
        .filter(|(n, _)| !raw.contains(n))
        .collect()
}

/// The merged release (pure): each file name with the directory it is
/// copied from and its sha256; the os_list entries, by name; the images.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub files: BTreeMap<String, (PathBuf, String)>,
    pub os_list: Vec<OsEntry>,
    pub images: Vec<(String, String)>,
}

pub fn merge(inputs: &[Input]) -> Result<Merged, MergeError> {
    let mut files: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for i in inputs {
        for (name, hash) in &i.files {
            match files.get(name) {
                Some((dir, have)) if have != hash => {
                    return Err(MergeError::Conflict {
                        name: name.clone(),
                        first: dir.clone(),
                        a: have.clone(),
                        second: i.dir.clone(),
                        b: hash.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    files.insert(name.clone(), (i.dir.clone(), hash.clone()));
                }
            }
        }
    }
    let mut os_list: Vec<OsEntry> = Vec::new();
    for e in inputs.iter().flat_map(|i| &i.os_list) {
        // The same image in two inputs (the same bytes, checked above).
        if !os_list.iter().any(|o| o == e) {
            os_list.push(e.clone());
        }
    }
    os_list.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.url.cmp(&b.url)));
    let mut images: Vec<(String, String)> = inputs.iter().flat_map(|i| i.images.clone()).collect();
    images.sort();
    images.dedup();
    Ok(Merged {
        files,
        os_list,
        images,
    })
}

/// The expected `(image name, board)` pairs a merged release lacks (pure).
pub fn missing(expected: &[(String, String)], merged: &Merged) -> Vec<(String, String)> {
    expected
        .iter()
        .filter(|e| !merged.images.contains(e))
        .cloned()
        .collect()
}

/// Write the merged release into `out` (which must not exist, or be
/// empty): files copied and checked against their sums in a hidden
/// directory beside it, renamed into place when complete.
pub fn write(merged: &Merged, out: &Path) -> Result<(), MergeError> {
    if out.exists() {
        let empty = fs::read_dir(out).map_err(io(out))?.next().is_none();
        if !empty {
            return Err(MergeError::OutExists(out.to_owned()));
        }
        fs::remove_dir(out).map_err(io(out))?;
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(io(&parent))?;
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "release".into());
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{base}."))
        .tempdir_in(&parent)
        .map_err(io(&parent))?;
    let mut listed = Vec::new();
    for (name, (dir, want)) in &merged.files {
        let got = copy_hashed(&dir.join(name), &tmp.path().join(name))?;
        if &got != want {
            return Err(MergeError::Changed {
                path: dir.join(name),
                want: want.clone(),
                got,
            });
        }
        listed.push((name.clone(), got));
    }
    if !merged.os_list.is_empty() {
        let text = oslist::text(&merged.os_list);
        let p = tmp.path().join(oslist::FILE);
        fs::write(&p, &text).map_err(io(&p))?;
        listed.push((oslist::FILE.into(), sums::sha256_hex(text.as_bytes())));
    }
    let p = tmp.path().join("SHA256SUMS");
    fs::write(&p, sums::render("", &listed)).map_err(io(&p))?;
    let kept = tmp.keep();
    fs::rename(&kept, out).map_err(|source| {
        let _ = fs::remove_dir_all(&kept);
        MergeError::Io {
            path: out.to_owned(),
            source,
        }
    })
}

/// Copy `from` to `to`, returning the sha256 of what was read.
fn copy_hashed(from: &Path, to: &Path) -> Result<String, MergeError> {
    let mut r = BufReader::with_capacity(1 << 20, File::open(from).map_err(io(from))?);
    let mut w = BufWriter::with_capacity(1 << 20, File::create(to).map_err(io(to))?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if crate::interrupt::requested() {
            return Err(MergeError::Interrupted);
        }
        let n = r.read(&mut buf).map_err(io(from))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(io(to))?;
    }
    w.flush().map_err(io(to))?;
    Ok(hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: &str, files: &[(&str, &str)], images: &[(&str, &str)]) -> Input {
        Input {
            dir: PathBuf::from(dir),
            files: files
                .iter()
                .map(|(n, h)| (n.to_string(), h.repeat(64)))
                .collect(),
            os_list: Vec::new(),
            images: images
                .iter()
                .map(|(n, b)| (n.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn files_of_every_input_and_the_same_bytes_twice_are_one() {
        let a = input(
            "a",
            &[("x.img.zst", "1"), ("common.txt", "3")],
            &[("x", "rpi4")],
        );
        let b = input(
            "b",
            &[("y.img.zst", "2"), ("common.txt", "3")],
            &[("y", "ordinosaure-amd64")],
        );
        let m = merge(&[a, b]).unwrap();
        assert_eq!(
            m.files.keys().collect::<Vec<_>>(),
            ["common.txt", "x.img.zst", "y.img.zst"]
        );
        assert_eq!(m.files["y.img.zst"].0, PathBuf::from("b"));
        assert_eq!(m.files["common.txt"].0, PathBuf::from("a"));
        let expected = vec![
            ("x".to_owned(), "rpi4".to_owned()),
            ("x".to_owned(), "rpi3".to_owned()),
        ];
        assert_eq!(
            missing(&expected, &m),
            vec![("x".to_owned(), "rpi3".to_owned())]
        );
    }

    #[test]
    fn raw_images_are_left_out_and_other_files_kept() {
        let listed = |names: &[&str]| -> BTreeMap<String, String> {
            names
                .iter()
                .map(|n| (n.to_string(), "1".repeat(64)))
                .collect()
        };
        let kept = release_files(listed(&[
            "x.img",
            "x.img.zst",
            "x.img.bmap",
            "alone.img",
            "x.manifest.json",
        ]));
        assert_eq!(
            kept.keys().collect::<Vec<_>>(),
            ["alone.img", "x.img.bmap", "x.img.zst", "x.manifest.json"]
        );
    }

    #[test]
    fn one_name_with_two_contents_is_refused() {
        let a = input("a", &[("clic.img.zst", "1")], &[]);
        let b = input("b", &[("clic.img.zst", "2")], &[]);
        match merge(&[a, b]) {
            Err(MergeError::Conflict {
                name,
                first,
                second,
                ..
            }) => {
                assert_eq!(name, "clic.img.zst");
                assert_eq!((first, second), (PathBuf::from("a"), PathBuf::from("b")));
            }
            other => panic!("{other:?}"),
        }
    }
}
