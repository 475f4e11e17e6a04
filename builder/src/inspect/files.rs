//! Files inside the image's filesystems, read without mounting: FAT with
//! `fatfs` over the partition's bytes, ext2/3/4 with `debugfs` pointed at
//! the partition's offset in the image (`IMAGE?offset=N`, read-only).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::fs::Filesystem;
use super::table::TablePartition;
use crate::cmd::{Cmd, CmdError};
use crate::disk::region::Region;

/// Symbolic links followed before giving up.
const MAX_LINKS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink(String),
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub size: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{part}: opening {image}: {source}")]
    Open {
        part: String,
        image: String,
        source: io::Error,
    },
    #[error("{part}: reading FAT file {path}: {source}")]
    Fat {
        part: String,
        path: String,
        source: io::Error,
    },
    #[error("{part}: {source}")]
    Debugfs { part: String, source: CmdError },
    #[error("{part}: {path} is {size} bytes, more than the {max} this check reads")]
    TooLarge {
        part: String,
        path: String,
        size: u64,
        max: u64,
    },
    #[error("{part}: {path}: not a FAT or ext filesystem")]
    NoFilesystem { part: String, path: String },
}

/// `partition 3 ('clic-root')`.
pub fn part_name(p: &TablePartition) -> String {
    match &p.name {
        Some(n) if !n.is_empty() => format!("partition {} ('{n}')", p.number),
        _ => format!("partition {}", p.number),
    }
}

/// The filesystem of one partition of an image file.
pub struct PartFs<'a> {
    pub image: &'a Path,
    pub part: &'a TablePartition,
    pub fs: Option<&'a Filesystem>,
}

/// Where a path led after following symbolic links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The links followed, as `path -> target`.
    pub links: Vec<String>,
    pub path: String,
    /// `None`: nothing there (or a loop of links).
    pub entry: Option<Entry>,
}

impl PartFs<'_> {
    fn name(&self) -> String {
        part_name(self.part)
    }

    pub fn stat(&self, path: &str) -> Result<Option<Entry>, FileError> {
        match self.fs {
            Some(f) if f.is_fat() => self.fat_stat(path),
            Some(f) if f.is_ext() => self.ext_stat(path),
            _ => Err(self.no_fs(path)),
        }
    }

    /// The whole file, refused when larger than `max` bytes.
    pub fn read(&self, path: &str, max: u64) -> Result<Vec<u8>, FileError> {
        match self.fs {
            Some(f) if f.is_fat() => self.fat_read(path, max),
            Some(f) if f.is_ext() => self.ext_read(path, max),
            _ => Err(self.no_fs(path)),
        }
    }

    /// `stat` after following symbolic links (relative ones from the
    /// link's directory, absolute ones from the filesystem's root).
    pub fn resolve(&self, path: &str) -> Result<Resolved, FileError> {
        let mut path = absolute(path);
        let mut links = Vec::new();
        for _ in 0..=MAX_LINKS {
            match self.stat(&path)? {
                Some(Entry {
                    kind: EntryKind::Symlink(target),
                    ..
                }) => {
                    let next = if target.starts_with('/') {
                        normalise(&target)
                    } else {
                        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                        normalise(&format!("{dir}/{target}"))
                    };
                    links.push(format!("{path} -> {target}"));
                    path = next;
                }
                entry => {
                    return Ok(Resolved { links, path, entry });
                }
            }
        }
        Ok(Resolved {
            links,
            path,
            entry: None,
        })
    }

    fn no_fs(&self, path: &str) -> FileError {
        FileError::NoFilesystem {
            part: self.name(),
            path: path.to_owned(),
        }
    }

    fn fat_err(&self, path: &str) -> impl FnOnce(io::Error) -> FileError {
        let (part, path) = (self.name(), path.to_owned());
        move |source| FileError::Fat { part, path, source }
    }

    /// Run `f` on the FAT filesystem, opened read-only for this call.
    fn with_fat<T>(
        &self,
        path: &str,
        f: impl FnOnce(&fatfs::FileSystem<Region<'_, File>>) -> io::Result<T>,
    ) -> Result<T, FileError> {
        let mut file = File::open(self.image).map_err(|source| FileError::Open {
            part: self.name(),
            image: self.image.display().to_string(),
            source,
        })?;
        let region =
            Region::new(&mut file, self.part.start, self.part.size).map_err(self.fat_err(path))?;
        let fs =
            fatfs::FileSystem::new(region, fatfs::FsOptions::new()).map_err(self.fat_err(path))?;
        f(&fs).map_err(self.fat_err(path))
    }

    fn fat_stat(&self, path: &str) -> Result<Option<Entry>, FileError> {
        let rel = path.trim_matches('/');
        if rel.is_empty() {
            return Ok(Some(Entry {
                kind: EntryKind::Dir,
                size: 0,
            }));
        }
        let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
        self.with_fat(path, |fs| {
            let root = fs.root_dir();
            let dir = if dir.is_empty() {
                root
            } else {
                match root.open_dir(dir) {
                    Ok(d) => d,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(e),
                }
            };
            for e in dir.iter() {
                let e = e?;
                if e.file_name().eq_ignore_ascii_case(name)
                    || e.short_file_name().eq_ignore_ascii_case(name)
                {
                    let kind = if e.is_dir() {
                        EntryKind::Dir
                    } else {
                        EntryKind::File
                    };
                    return Ok(Some(Entry {
                        kind,
                        size: e.len(),
                    }));
                }
            }
            Ok(None)
        })
    }

    fn fat_read(&self, path: &str, max: u64) -> Result<Vec<u8>, FileError> {
        let data = self.with_fat(path, |fs| {
            let mut f = fs.root_dir().open_file(path.trim_matches('/'))?;
            let size = f.seek(SeekFrom::End(0))?;
            if size > max {
                return Ok(Err(size));
            }
            f.seek(SeekFrom::Start(0))?;
            let mut v = Vec::new();
            f.read_to_end(&mut v)?;
            Ok(Ok(v))
        })?;
        data.map_err(|size| self.too_large(path, size, max))
    }

    fn too_large(&self, path: &str, size: u64, max: u64) -> FileError {
        FileError::TooLarge {
            part: self.name(),
            path: path.to_owned(),
            size,
            max,
        }
    }

    fn debugfs(&self, request: &str, path: &str) -> Result<Vec<u8>, FileError> {
        let err = |source| FileError::Debugfs {
            part: self.name(),
            source,
        };
        // debugfs splits its request on blanks unless quoted.
        let quoted = format!("{request} \"{}\"", absolute(path).replace('"', "\\\""));
        // `?` starts debugfs's I/O options: hide such a name behind a link.
        let link_dir;
        let image = if self.image.to_string_lossy().contains('?') {
            link_dir = tempfile::tempdir().map_err(|e| {
                err(CmdError::Io {
                    cmdline: "debugfs".into(),
                    source: e,
                })
            })?;
            let link = link_dir.path().join("image");
            let target = std::fs::canonicalize(self.image).unwrap_or(self.image.to_owned());
            std::os::unix::fs::symlink(target, &link).map_err(|e| {
                err(CmdError::Io {
                    cmdline: "debugfs".into(),
                    source: e,
                })
            })?;
            link
        } else {
            self.image.to_owned()
        };
        Cmd::new("debugfs")
            .args(["-c", "-R"])
            .arg(quoted)
            .arg(format!("{}?offset={}", image.display(), self.part.start))
            .run()
            .map_err(err)
    }

    fn ext_stat(&self, path: &str) -> Result<Option<Entry>, FileError> {
        let out = self.debugfs("stat", path)?;
        let text = String::from_utf8_lossy(&out);
        let Some(mut entry) = parse_debugfs_stat(&text) else {
            return Ok(None);
        };
        if let EntryKind::Symlink(t) = &entry.kind {
            if t.is_empty() {
                // A slow link: its target is its content.
                let target = self.debugfs("cat", path)?;
                entry.kind = EntryKind::Symlink(String::from_utf8_lossy(&target).into_owned());
            }
        }
        Ok(Some(entry))
    }

    fn ext_read(&self, path: &str, max: u64) -> Result<Vec<u8>, FileError> {
        if let Some(e) = self.ext_stat(path)? {
            if e.size > max {
                return Err(self.too_large(path, e.size, max));
            }
        }
        self.debugfs("cat", path)
    }
}

/// The type and size from `debugfs -R stat`; `None` when it found nothing.
/// Fast symbolic links carry their target; slow ones an empty string.
pub fn parse_debugfs_stat(text: &str) -> Option<Entry> {
    let first = text.lines().next()?;
    if !first.starts_with("Inode:") {
        return None;
    }
    let field = |line: &str, key: &str| -> Option<String> {
        let at = line.find(key)? + key.len();
        line[at..].split_whitespace().next().map(str::to_owned)
    };
    let kind = match field(first, "Type:").as_deref() {
        Some("regular") => EntryKind::File,
        Some("directory") => EntryKind::Dir,
        Some("symlink") => {
            let target = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("Fast link dest:"))
                .map(|t| t.trim().trim_matches('"').to_owned())
                .unwrap_or_default();
            EntryKind::Symlink(target)
        }
        _ => EntryKind::Other,
    };
    let size = text
        .lines()
        .find(|l| l.starts_with("User:"))
        .and_then(|l| field(l, "Size:"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Some(Entry { kind, size })
}

fn absolute(path: &str) -> String {
    normalise(&format!("/{path}"))
}

/// `/a/./b/../c` -> `/a/c`.
fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debugfs_stat_output() {
        let link = "Inode: 17   Type: symlink    Mode:  0777   Flags: 0x0\n\
                    Generation: 0    Version: 0x00000000:00000000\n\
                    User:     0   Group:     0   Project:     0   Size: 14\n\
                    Fragment:  Address: 0    Number: 0    Size: 0\n\
                    Fast link dest: \"boot/vmlinuz-x\"\n";
        assert_eq!(
            parse_debugfs_stat(link),
            Some(Entry {
                kind: EntryKind::Symlink("boot/vmlinuz-x".into()),
                size: 14
            })
        );
        let file = "Inode: 15   Type: regular    Mode:  0644   Flags: 0x80000\n\
                    User:     0   Group:     0   Project:     0   Size: 3\n";
        assert_eq!(
            parse_debugfs_stat(file),
            Some(Entry {
                kind: EntryKind::File,
                size: 3
            })
        );
        let slow =
            "Inode: 13   Type: symlink    Mode:  0777\nUser: 0 Size: 85\nEXTENTS:\n(0):1650\n";
        assert_eq!(
            parse_debugfs_stat(slow).map(|e| e.kind),
            Some(EntryKind::Symlink(String::new()))
        );
        assert_eq!(parse_debugfs_stat(""), None);
    }

    #[test]
    fn paths_normalise() {
        assert_eq!(normalise("/a/./b/../c"), "/a/c");
        assert_eq!(normalise("/../x"), "/x");
        assert_eq!(absolute("boot/grub/"), "/boot/grub");
        assert_eq!(absolute(""), "/");
    }
}
